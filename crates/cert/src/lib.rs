//! Certificates, thumbprints, signers and JWT client assertions for Entra ID
//! confidential clients.
//!
//! Load a certificate and its key from PEM or PFX ([`ClientCertificate`]; the key is
//! checked against the certificate at load time), compute thumbprints
//! ([`Thumbprint`], [`compute_cert_thumbprint`]), and build the signed JWT a client
//! sends instead of a secret ([`ClientAssertionBuilder`]). Signing goes through the
//! [`Signer`] trait, so a key that lives in an HSM or an OS key store can sign without
//! ever being loaded; [`RsaKeySigner`] is the in-memory implementation.
//!
//! This crate depends on no other tokenhop crate: it can be vendored alone. RSA comes
//! from `rsa` 0.10, whose constant-time arithmetic closes RUSTSEC-2023-0071.
//!
//! # Example
//!
//! ```
//! use tokenhop_cert::{ClientAssertionBuilder, ClientCertificate, KeySize, generate_self_signed};
//!
//! let generated = generate_self_signed("my-daemon", 30, KeySize::Rsa2048)?;
//! let pem = format!("{}{}", generated.certificate_pem, generated.private_key_pem.expose_secret());
//! let certificate = ClientCertificate::from_pem(pem.as_bytes(), None)?;
//!
//! let assertion = ClientAssertionBuilder::new(
//!     "00000000-0000-0000-0000-000000000001",
//!     "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
//!     &certificate,
//! )
//! .build()?;
//! assert_eq!(assertion.expose_secret().split('.').count(), 3);
//! assert!(!format!("{assertion:?}").contains(assertion.expose_secret()));
//! # Ok::<(), tokenhop_cert::CertError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod assertion;
mod certificate;
mod error;
mod generate;
mod load;
mod secret;
mod signer;
mod thumbprint;

pub use assertion::{
    ClientAssertion, ClientAssertionBuilder, MAX_ASSERTION_LIFETIME, build_client_assertion,
};
pub use certificate::Certificate;
pub use error::CertError;
pub use generate::{GeneratedCertificate, KeySize, generate_self_signed, self_signed_certificate};
pub use load::ClientCertificate;
pub use secret::SecretString;
pub use signer::{RsaKeySigner, Signer, SigningAlgorithm};
pub use thumbprint::{Thumbprint, compute_cert_thumbprint};
