//! A token cache in Redis for a fleet of processes, in which one process asks the
//! identity provider for each token and the others read what it stored.
//!
//! - **MSAL's format, MSAL.NET's partitions.** Each partition is an MSAL cache document
//!   of its own, keyed as MSAL.NET keys its distributed cache: app tokens under
//!   `{client id}_{tenant}_AppTokenCache`, a user's tokens under their home account id,
//!   on-behalf-of tokens under a hash of the incoming assertion (see
//!   [`tokenhop_cache::partition_key`]), all under a prefix, each with a TTL from its
//!   longest-lived token. The partitions a process uses stay in memory (a bounded
//!   number), kept current by the writes other processes publish, so a hit costs no
//!   round trip.
//! - **One request per token lifetime for the fleet.** A miss takes the token's lease
//!   (`SET NX PX`); the holder asks the identity provider and writes the partition,
//!   the others wait for the write (published, with polling as the fallback) and read
//!   it. The lease is let go by a compare-and-delete script and expires if its holder
//!   dies, so a crashed holder delays the others by at most the lease time.
//!   Refresh-ahead works the same way: one process refreshes, the rest keep serving
//!   the valid token. This is the [`tokenhop_core::FetchGate`] every flow's
//!   `TokenFlights` asks.
//! - **Redis down never fails a token request.** Every call is bounded by a timeout;
//!   when one fails the cache serves what it has in memory and the flows ask the
//!   identity provider directly, with one warning per outage, and shares again when
//!   Redis is back.
//! - **Encryption at rest, optional**: AES-256-GCM with a key from the configuration,
//!   its id stored with each value so keys can rotate ([`EncryptionKey`]). Without it
//!   values are MSAL's JSON, readable by other MSAL-format consumers.
//! - `rediss://` for TLS (the system's roots, plus a CA of yours); Redis Cluster, whose
//!   slots the keys pick through hash tags (a partition's value and its write lock share
//!   one).
//!
//! ```no_run
//! use tokenhop_redis::{EncryptionKey, RedisCache, RedisSettings};
//!
//! let key = EncryptionKey::parse(&std::env::var("TOKEN_CACHE_KEY").unwrap_or_default())?;
//! let cache = RedisCache::builder(
//!     RedisSettings::new("rediss://cache.internal:6380/0").with_encryption_key(key),
//! )
//! .build()?;
//! // Give `cache` to every credential: `ConfidentialClient::builder(..).cache(cache)`.
//! # Ok::<(), tokenhop_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod cache;
mod envelope;
mod lease;
mod link;
mod partition;
mod settings;

pub use cache::{RedisCache, RedisCacheBuilder};
pub use settings::{DEFAULT_LEASE, DEFAULT_PREFIX, DEFAULT_TIMEOUT, EncryptionKey, RedisSettings};
