//! The small core of tokenhop: what a *token provider* is, and the types every layer
//! shares.
//!
//! A [`TokenCredential`] gets access tokens for scopes (every OAuth flow in
//! `tokenhop-flows` is one). Binding a credential to scopes gives a provider: a
//! callable with no arguments that yields a current token, either async
//! ([`TokenProvider`]) or blocking ([`BlockingTokenProvider`]). Closures implement both
//! provider traits, so code that takes a provider can be tested with a stub and no
//! network. [`TokenFlights`] is the single-flight mechanism every flow's request goes
//! through (concurrent callers share one request and its outcome, refresh ahead with
//! the still-valid token as fallback); [`CachingCredential`] puts it, with a cache in
//! memory, in front of any credential; a cache that processes share extends the flight
//! across them with a [`FetchGate`]. [`Secret`] keeps tokens and keys out of logs and error messages.
//!
//! This crate does no I/O and pulls in no HTTP or crypto crates: depend on it alone to
//! accept a provider.
//!
//! # Example: stubbing auth with a closure
//!
//! ```
//! use tokenhop_core::{BlockingTokenProvider, TokenProvider};
//!
//! // An async provider that always yields the same token.
//! let provider = || async { Ok("stub-token") };
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let token = runtime.block_on(provider.token())?;
//! assert_eq!(token.secret.expose_secret(), "stub-token");
//!
//! // A blocking one.
//! let blocking = || Ok(String::from("stub-token"));
//! assert_eq!(blocking.token_blocking()?.secret.expose_secret(), "stub-token");
//!
//! // Neither prints the token by accident.
//! assert!(!format!("{token:?}").contains("stub-token"));
//! # Ok::<(), tokenhop_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod caching;
mod error;
mod flights;
mod gate;
mod protocol;
mod provider;
pub mod secret;
mod token;

pub use caching::CachingCredential;
pub use error::{Error, Result};
pub use flights::{Cached, TokenFlights};
pub use gate::{FetchGate, FetchPermit, HeldPermit, Passage, Wait};
pub use protocol::{ClientId, Scope, Scopes, TenantId};
pub use provider::{
    AsyncToBlocking, BlockingToAsync, BlockingTokenProvider, BoxFuture, ScopedProvider,
    TokenCredential, TokenCredentialExt, TokenProvider, TokenRequestOptions, async_to_blocking,
    blocking_to_async,
};
pub use secret::{REDACTED, Secret};
pub use token::{
    AccessToken, Clock, DEFAULT_REFRESH_MARGIN, ManualClock, SystemClock, epoch_seconds,
    from_epoch_seconds,
};
