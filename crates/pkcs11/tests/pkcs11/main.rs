//! tokenhop-pkcs11 against a real PKCS#11 token: SoftHSM2, a fresh token per test, keys
//! generated inside it; signatures checked by openssl, by the in-memory signer and by
//! the emulator.

mod certificates;
mod common;
mod errors;
mod flows;
mod signing;
mod softhsm;
