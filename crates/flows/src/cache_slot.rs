//! Where a credential's tokens live in the shared token cache: the lookup and the store
//! that every flow does, with the blocking parts off the executor, in the partition of a
//! partitioned cache they belong to; and the flights of a credential, which go through
//! the cache's gate when other processes share it.

use std::time::{Duration, SystemTime};

use crate::cloud::environment_aliases;
use serde_json::{Map, Value};
use tokenhop_cache::entry::{Entry, Field};
use tokenhop_cache::{
    AccessTokenLookup, AccessTokenQuery, SharedTokenCache, TokenCache, TokenEvent,
};
use tokenhop_core::{
    AccessToken, Cached, Error, Result, Scopes, TokenFlights, epoch_seconds, from_epoch_seconds,
};

use crate::response::MAX_LIFETIME_SECS;

/// Where a credential's tokens live in the cache: MSAL's environment, realm and client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CacheSlot {
    pub environment: String,
    pub realm: String,
    pub client_id: String,
}

impl CacheSlot {
    /// What the cache holds for `scopes` (and extended key): an app token, or with
    /// `home_account_id` a user's — fresh, due for refresh (past `refresh_on`), or none.
    /// Entries under another host of the same cloud count too (MSAL's environment
    /// aliases: `login.microsoftonline.com`, `login.windows.net`, …).
    pub async fn lookup(
        &self,
        cache: &SharedTokenCache,
        home_account_id: Option<&str>,
        scopes: &[&str],
        ext: Option<&str>,
        now: SystemTime,
    ) -> Result<Cached> {
        // Only a partitioned cache needs the partition's name: no allocation on the hits
        // of a file or memory cache.
        let partition;
        let cache = if cache.is_partitioned() {
            partition = cache.partition(&tokenhop_cache::partition_key(
                &self.client_id,
                &self.realm,
                home_account_id,
                ext,
            ));
            &partition
        } else {
            cache
        };
        read_cache(cache, |c| {
            for environment in environment_aliases(&self.environment) {
                let query = AccessTokenQuery {
                    home_account_id,
                    environment: &environment,
                    client_id: &self.client_id,
                    realm: &self.realm,
                    scopes,
                    ext_cache_key: ext,
                };
                match c.find_access_token(&query, epoch_seconds(now)) {
                    AccessTokenLookup::Hit(entry) => {
                        return Cached::Fresh(access_token_from(entry));
                    }
                    AccessTokenLookup::Aging(entry) => {
                        return Cached::RefreshDue(access_token_from(entry));
                    }
                    AccessTokenLookup::Miss => {}
                }
            }
            Cached::Missing
        })
        .await
    }

    /// Writes a token response (as MSAL's `add` would) and returns the token.
    pub async fn store(
        &self,
        cache: &SharedTokenCache,
        grant_type: &'static str,
        granted: Vec<String>,
        response: Map<String, Value>,
        extra: Vec<(String, String)>,
        now: SystemTime,
    ) -> Result<()> {
        let (slot, cache) = (self.clone(), cache.clone());
        run_blocking(move || {
            let granted: Vec<&str> = granted.iter().map(String::as_str).collect();
            let extra: Vec<(&str, &str)> = extra
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            cache.add(&TokenEvent {
                client_id: &slot.client_id,
                environment: &slot.environment,
                realm: &slot.realm,
                scopes: &granted,
                grant_type,
                response: &response,
                extra_fields: &extra,
                now: epoch_seconds(now),
            })?;
            Ok(())
        })
        .await
    }

    /// The single-flight mechanism of a credential whose tokens live here: through
    /// the cache's gate when other processes share the cache (a fleet on one Redis),
    /// naming each flight's token by this slot and the flight's key.
    pub fn flights(&self, cache: &SharedTokenCache) -> TokenFlights<String> {
        match cache.fetch_gate() {
            Some(gate) => {
                let slot = format!("{}|{}|{}", self.environment, self.realm, self.client_id);
                TokenFlights::with_gate(gate, move |flight: &String| format!("{slot}|{flight}"))
            }
            None => TokenFlights::new(),
        }
    }
}

/// Reads the cache without blocking an executor thread: from memory when it is current
/// (one `stat` of a file backend), else after loading it again on the blocking pool
/// (another process saved, or nothing is loaded yet). A file that keeps changing while
/// we load is answered from the copy just loaded.
pub(crate) async fn read_cache<R>(
    cache: &SharedTokenCache,
    f: impl Fn(&TokenCache) -> R,
) -> Result<R> {
    const RELOADS: usize = 3;
    for _ in 0..RELOADS {
        if let Some(value) = cache.read_if_current(&f) {
            return Ok(value);
        }
        let shared = cache.clone();
        run_blocking(move || shared.read(|_| ())).await?;
    }
    loop {
        if let Some(value) = cache.read_loaded(&f) {
            return Ok(value);
        }
        // A write holds the copy this instant; it does no file I/O under that lock.
        tokio::task::yield_now().await;
    }
}

/// Runs cache work that may read or write a file, or call a host's callback, on the
/// blocking pool.
pub(crate) async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Cancelled {
            reason: format!("a token cache task failed: {e}"),
        })?
}

/// An [`AccessToken`] for a fresh response: expiry and refresh time from now, each
/// lifetime clamped to [`MAX_LIFETIME_SECS`] (a server's absurd `expires_in` must not
/// overflow the clock).
pub(crate) fn access_token_for(
    secret: tokenhop_core::Secret,
    token_type: &str,
    expires_in: u64,
    refresh_in: Option<u64>,
    scopes: Scopes,
    now: SystemTime,
) -> AccessToken {
    let after = |seconds: u64| now + Duration::from_secs(seconds.min(MAX_LIFETIME_SECS));
    let mut token = AccessToken::new(secret, after(expires_in)).with_scopes(scopes);
    token.token_type = token_type.to_owned();
    if let Some(refresh_in) = refresh_in {
        token = token.with_refresh_on(after(refresh_in.min(expires_in)));
    }
    token
}

fn access_token_from(entry: &Entry) -> AccessToken {
    let expires_on = entry
        .get_u64(Field::ExpiresOn)
        .map(from_epoch_seconds)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut token = AccessToken::new(entry.get(Field::Secret).unwrap_or_default(), expires_on)
        .with_scopes(
            Scopes::parse(entry.get(Field::Target).unwrap_or_default()).unwrap_or_default(),
        );
    token.token_type = entry.get(Field::TokenType).unwrap_or("Bearer").to_owned();
    if let Some(refresh_on) = entry.get_u64(Field::RefreshOn) {
        token = token.with_refresh_on(from_epoch_seconds(refresh_on));
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_expires_in_is_clamped_not_an_overflow() {
        let now = SystemTime::now();
        let token = access_token_for(
            tokenhop_core::Secret::new("t"),
            "Bearer",
            u64::MAX,
            Some(u64::MAX),
            Scopes::default(),
            now,
        );
        assert!(token.expires_on > now);
        assert!(token.refresh_on.is_some_and(|r| r <= token.expires_on));
    }
}
