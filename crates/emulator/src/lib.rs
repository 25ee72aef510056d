//! A local Microsoft Entra ID for tests and demos.
//!
//! The emulator is a real HTTP server on loopback that speaks Entra's v2 protocol:
//! per-tenant OpenID discovery, a JWKS, and a token endpoint that answers with RS256
//! JWTs or with errors in Entra's shape (`AADSTS…` codes, trace and correlation ids).
//! Counters tell a test how many requests a client made; the clock can be moved so
//! that tokens expire without anyone sleeping. Start one per test on an ephemeral port;
//! it stops when its handle is dropped.
//!
//! It shares no code with the tokenhop client crates: it signs with its own key through
//! `jsonwebtoken`, so a bug on the client side cannot be hidden by the same bug here.
//!
//! This version serves the client-credentials grant with client secrets and with
//! certificate assertions (PS256/RS256, `x5t#S256`/`x5t`, audience, lifetime and `jti`
//! replay checked), and managed identity tokens from its IMDS and App Service endpoints;
//! user flows, faults and TLS are still to come.
//!
//! # Example
//!
//! ```
//! use tokenhop_emulator::{Emulator, names};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let emulator = Emulator::builder().start().await?;
//! let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
//! println!("authority {} client {}", emulator.authority(), app.client_id);
//! assert_eq!(emulator.counters().endpoint("token"), 0);
//! # Ok::<(), tokenhop_emulator::EmulatorError>(())
//! # }).unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod app_certificate;
mod config;
mod entra_error;
mod faults;
mod managed_identity;
mod server;
mod signing;
mod state;
mod token;

pub use app_certificate::AppCertificate;
pub use config::{AgentIdentityConfig, AppConfig, EmulatorConfig, ManagedIdentityConfig, names};
pub use entra_error::EntraError;
pub use faults::{Fault, FaultKind};
pub use server::{EmulatorBuilder, EmulatorHandle, MAX_BODY_BYTES};
pub use state::Counters;

/// Entry point: `Emulator::builder()…start().await`.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the built-in directory, listening on `127.0.0.1:0`.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Why the emulator could not start or sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// Binding or key generation failed.
    #[error("the emulator could not start: {0}")]
    Startup(String),
    /// Signing a token failed.
    #[error("the emulator could not sign a token: {0}")]
    Signing(String),
}
