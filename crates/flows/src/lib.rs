//! OAuth2 flows for Microsoft Entra ID and OpenID Connect providers.
//!
//! This crate turns an authority (an Entra tenant, a B2C policy, a CIAM tenant or any
//! OIDC issuer) and a client's credentials into access tokens: it validates the
//! authority (`https://` only, `http://` just for loopback hosts), discovers its
//! endpoints once, sends token requests through one pooled HTTP client with timeouts,
//! a response size cap and retries that honour `Retry-After`, and reads every answer
//! for an OAuth `error` before it looks for a token. Secrets in forms, headers and
//! responses never reach logs or errors.
//!
//! # Example
//!
//! ```
//! use tokenhop_flows::authority::{Authority, AuthorityKind};
//! use tokenhop_flows::http::Form;
//!
//! let authority = Authority::parse("https://contoso.b2clogin.com/tfp/contoso.onmicrosoft.com/B2C_1_signin")?;
//! assert_eq!(authority.kind(), AuthorityKind::B2c);
//! assert_eq!(authority.realm(), "contoso.onmicrosoft.com");
//!
//! // Plain http is only for loopback hosts such as the emulator.
//! assert!(Authority::parse("http://login.example.com/tenant").is_err());
//! assert!(Authority::parse("http://127.0.0.1:8443/tenant").is_ok());
//!
//! // Forms never print their secrets.
//! let form = Form::new().field("grant_type", "client_credentials").secret("client_secret", &"s3cret".into());
//! assert!(!format!("{form:?}").contains("s3cret"));
//! # Ok::<(), tokenhop_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod agent_id;
mod agent_user;
mod app_cache;
pub mod authority;
pub mod bearer;
pub mod certificate;
pub mod claims;
pub mod client_auth;
pub mod confidential;
#[cfg(feature = "config")]
pub mod config;
pub mod device_code;
pub mod endpoint;
pub mod graph_auth;
pub mod http;
#[cfg(feature = "interactive")]
pub mod interactive;
#[cfg(feature = "interactive")]
pub mod loopback;
pub mod managed_identity;
mod on_behalf_of;
pub mod pkce;
pub mod public_client;
pub mod response;
pub mod sign_in;
pub mod token_factory;
pub mod workload_identity;
