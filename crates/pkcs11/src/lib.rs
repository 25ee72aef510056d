//! Client assertions signed by a key that never leaves its PKCS#11 token: HSMs, cloud
//! HSM clients, smart cards, YubiKeys and TPMs (through `tpm2-pkcs11`) all speak
//! PKCS#11, and [`Pkcs11Signer`] makes any of them a [`tokenhop_cert::Signer`].
//!
//! The key is named by an RFC 7512 URI ([`Pkcs11Uri`]) and the vendor's module path;
//! the PIN comes from an environment variable or a file ([`PinSource`]), never from an
//! argument, and never appears in an error, `Debug` output or a log. The key's
//! certificate is read from the token (the certificate object with the key's
//! `CKA_ID`) or given as a file, and the result is a
//! [`tokenhop_cert::ClientCertificate`] every certificate flow accepts.
//!
//! ```no_run
//! use tokenhop_pkcs11::{PinSource, Pkcs11Signer, Pkcs11Uri};
//!
//! let uri: Pkcs11Uri = "pkcs11:token=prod-hsm;object=daemon-key".parse()?;
//! let signer = Pkcs11Signer::open(
//!     "/usr/lib/softhsm/libsofthsm2.so",
//!     &uri,
//!     &PinSource::env("DAEMON_HSM_PIN"),
//! )?;
//! let certificate = signer.client_certificate()?;
//! println!("x5t#S256 {}", certificate.certificate().sha256_thumbprint().to_base64url());
//! # Ok::<(), tokenhop_pkcs11::Pkcs11Error>(())
//! ```
//!
//! This crate depends on `tokenhop-cert` alone among tokenhop's crates.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod module;
mod pin;
mod pool;
mod signer;
mod token;
mod uri;

pub use error::Pkcs11Error;
pub use pin::PinSource;
pub use signer::{KeyProtection, Pkcs11Signer};
pub use uri::Pkcs11Uri;
