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
//! It serves every grant of Entra's v2 protocol that tokenhop and MSAL use: client
//! credentials (secret, certificate assertion, federated token, Agent ID hops 1–2),
//! device code, authorization code with PKCE (a sign-in form, or automatic sign-in for
//! headless tests), refresh tokens with FOCI families, on-behalf-of and `user_fic`
//! (Agent ID hop 3); managed identity endpoints (IMDS, App Service, Service Fabric over
//! TLS, Machine Learning, Azure Arc with its key-file challenge, Cloud Shell); a Graph-like
//! `GET /v1.0/me`; B2C policy authorities; optional TLS with a generated CA; and an
//! admin API for counters, faults, device approval, revocation and the clock (see the
//! crate README). The `tokenhop-emulator` binary serves the same over a port.
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

mod admin;
mod agent_id;
mod app_certificate;
mod app_tokens;
mod arc_keys;
mod arm;
mod auth_codes;
mod authorize;
mod cae;
mod client_auth;
mod client_credentials;
mod config;
mod default_config;
mod device;
mod device_codes;
mod discovery;
mod entra_error;
mod error;
mod extract;
mod fault_injection;
mod faults;
mod federation;
mod form;
mod graph;
mod managed_identity;
mod realm;
mod server;
mod sessions;
mod signing;
mod state;
mod tls;
mod token;
mod token_version;
mod user_grants;
mod user_tokens;

pub use app_certificate::AppCertificate;
pub use config::{
    AgentIdentityConfig, AppConfig, B2cConfig, DeviceCodeConfig, EmulatorConfig,
    FederatedCredentialConfig, ManagedIdentityConfig, ResourceConfig, SubscriptionConfig,
    TenantConfig, TokenVersion, UserConfig, names,
};
pub use entra_error::EntraError;
pub use error::EmulatorError;
pub use faults::{Fault, FaultKind};
pub use server::{EmulatorBuilder, EmulatorHandle, MAX_BODY_BYTES};
pub use sessions::Revocation;
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
