//! An MSAL-compatible token cache that does not slow down as it grows.
//!
//! The format is MSAL's unified cache (sections `AccessToken`, `RefreshToken`,
//! `IdToken`, `Account`, `AppMetadata`), so a file written by MSAL Python or the Azure
//! CLI is read here and the other way round; unknown fields and sections are kept.
//! Keys and entries are computed exactly as MSAL computes them ([`TokenCache::add`]),
//! and lookups follow MSAL's rules (a token with less than 5 minutes left counts as
//! expired, `refresh_on` means "refresh, keep this as a fallback") but use indexes: an
//! access-token hit costs the same with 10 entries or 100,000.
//!
//! [`SharedTokenCache`] loads lazily and persists every change through a
//! [`Persistence`] backend: memory, a file (atomic, owner-only, corrupt files kept
//! aside), a host callback, or (feature `keyring`) the OS keystore or a file encrypted
//! with a key kept there. A file is shared with other processes as msal-extensions
//! shares it (MSAL Python apps, the Azure CLI): the same lock (`<file>.lockfile`, with a
//! bounded wait and stale locks taken over), a reload whenever the file's [`Stamp`]
//! changed (checked before each lookup and under the lock before each write), so that
//! what any process removed stays removed. Each save drops expired access tokens and
//! keeps the bounds of [`CacheOptions`].
//!
//! # Example
//!
//! ```
//! use tokenhop_cache::{AccessTokenLookup, AccessTokenQuery, SharedTokenCache, TokenEvent};
//!
//! let cache = SharedTokenCache::in_memory();
//! let response = serde_json::json!({"access_token": "eyJ...", "expires_in": 3600, "token_type": "Bearer"});
//! cache.write(|c| {
//!     c.add(&TokenEvent {
//!         client_id: "my-app",
//!         environment: "login.microsoftonline.com",
//!         realm: "contoso.onmicrosoft.com",
//!         scopes: &["https://graph.microsoft.com/.default"],
//!         grant_type: "client_credentials",
//!         response: response.as_object().unwrap(),
//!         extra_fields: &[],
//!         now: 1_800_000_000,
//!     })
//! })?;
//! let hit = cache.read(|c| {
//!     let query = AccessTokenQuery {
//!         home_account_id: None,
//!         environment: "login.microsoftonline.com",
//!         client_id: "my-app",
//!         realm: "contoso.onmicrosoft.com",
//!         scopes: &["https://graph.microsoft.com/.default"],
//!         ext_cache_key: None,
//!     };
//!     matches!(c.find_access_token(&query, 1_800_000_100), AccessTokenLookup::Hit(_))
//! })?;
//! assert!(hit);
//! # Ok::<(), tokenhop_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod cache;
mod document;
#[cfg(feature = "keyring")]
mod encrypted;
pub mod entry;
mod entry_key;
mod entry_serde;
mod file;
mod index;
mod json_escape;
mod json_reader;
mod json_writer;
#[cfg(feature = "keyring")]
mod keyring;
pub mod keys;
mod lock;
mod owner_only;
mod partition;
mod persist;
mod prune;
mod read;
mod section;
mod shared;
mod stamp;
pub mod synthetic;
#[cfg(test)]
mod test_support;
mod write;

pub use cache::{CacheOptions, TokenCache};
#[cfg(feature = "keyring")]
pub use encrypted::EncryptedFilePersistence;
pub use file::{DEFAULT_LOCK_TIMEOUT, FilePersistence, default_path};
#[cfg(feature = "keyring")]
pub use keyring::KeyringPersistence;
pub use partition::{
    ACCOUNT_DIRECTORY, DEFAULT_MEMORY_PARTITIONS, PartitionedPersistence, partition_key,
    user_partition_key,
};
pub use persist::{Blob, CallbackPersistence, MemoryPersistence, Persistence, Stored};
pub use read::{AccessTokenLookup, AccessTokenQuery, Account};
pub use section::{ScopeMatching, Section};
pub use shared::{PartitionedCacheBuilder, SharedTokenCache, SharedTokenCacheBuilder};
pub use stamp::Stamp;
pub use write::{Added, TokenEvent};
