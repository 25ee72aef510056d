//! Partitioned caches: a store that keeps one cache per app (and tenant), per user and
//! per incoming on-behalf-of assertion, as MSAL.NET's distributed caches do, so that a
//! lookup loads only the small partition it needs ([`PartitionedPersistence`]), with
//! a bounded set of partitions kept in memory in front of it.
//!
//! Partition names are MSAL.NET's `SuggestedCacheKey`s ([`partition_key`]). The one
//! addition is the *account directory* ([`ACCOUNT_DIRECTORY`]): a partition that holds a
//! copy of each signed-in user's account entry (not their tokens), so that listing the
//! accounts, which MSAL.NET cannot do on a partitioned cache, still works.

use std::fmt;
use std::sync::Arc;

use tokenhop_core::FetchGate;

use crate::persist::Persistence;

/// The partition that lists the signed-in accounts of a partitioned store.
pub const ACCOUNT_DIRECTORY: &str = "AccountDirectory";

/// How many partitions a partitioned cache keeps in memory unless told otherwise.
pub const DEFAULT_MEMORY_PARTITIONS: usize = 1024;

/// A store that keeps a cache in partitions, each a serialized MSAL cache of its own
/// (Redis, in `tokenhop-redis`). [`crate::SharedTokenCache::partitioned`] puts a bounded
/// memory of loaded partitions in front of it.
pub trait PartitionedPersistence: Send + Sync + fmt::Debug {
    /// The persistence of the partition named `name` (see [`partition_key`]). Does no
    /// I/O: the partition loads on first use.
    fn partition(&self, name: &str) -> Box<dyn Persistence>;

    /// What coordinates the token requests of the processes that share the store (a
    /// lease), if anything does: flows hand it to their `TokenFlights`.
    fn fetch_gate(&self) -> Option<Arc<dyn FetchGate>> {
        None
    }
}

/// The partition a token lives in, as MSAL.NET names its distributed cache entries:
/// `{client_id}_{tenant}_AppTokenCache` for app tokens (`{client_id}_{tenant}_{ext}_AppTokenCache`
/// with an extended key, e.g. an Entra Agent ID `fmi_path`), the extended key for
/// on-behalf-of tokens (it hashes the incoming assertion), the home account id for a
/// user's tokens.
pub fn partition_key(
    client_id: &str,
    realm: &str,
    home_account_id: Option<&str>,
    ext_cache_key: Option<&str>,
) -> String {
    match (home_account_id.filter(|h| !h.is_empty()), ext_cache_key) {
        (None, None) => format!("{client_id}_{realm}_AppTokenCache"),
        (None, Some(ext)) => format!("{client_id}_{realm}_{ext}_AppTokenCache"),
        (Some(_), Some(ext)) => ext.to_owned(),
        (Some(home), None) => home.to_owned(),
    }
}

/// The partition of a user's own tokens (refresh tokens, id tokens, access tokens that
/// are not on-behalf-of).
pub fn user_partition_key(home_account_id: &str) -> String {
    home_account_id.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_keys_are_msal_dotnets() {
        assert_eq!(
            partition_key("app", "contoso", None, None),
            "app_contoso_AppTokenCache"
        );
        assert_eq!(
            partition_key("app", "contoso", Some(""), Some("ext")),
            "app_contoso_ext_AppTokenCache"
        );
        assert_eq!(partition_key("app", "contoso", Some("u.t"), Some("h")), "h");
        assert_eq!(partition_key("app", "contoso", Some("u.t"), None), "u.t");
        assert_eq!(user_partition_key("u.t"), "u.t");
    }
}
