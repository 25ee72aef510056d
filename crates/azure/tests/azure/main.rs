//! tokenhop credentials in the Azure SDK for Rust and `azure_identity` credentials in
//! tokenhop, against the emulator and Azurite, Microsoft's storage emulator (started by
//! the tests; see `common::azurite`).

mod adapters;
mod azure_identity;
mod common;
mod storage;
