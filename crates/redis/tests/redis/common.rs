//! What the modules share: a server, caches on it (each its own process as far as
//! Redis can tell), app tokens written and read the way a client-credentials flow
//! does, and the warnings the caches log.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokenhop_cache::entry::Field;
use tokenhop_cache::{AccessTokenLookup, AccessTokenQuery, SharedTokenCache, TokenEvent};
use tokenhop_core::ManualClock;
use tokenhop_redis::{RedisCache, RedisSettings};
pub use tokenhop_test_redis::{RedisCluster, RedisServer};

pub const ENV: &str = "login.microsoftonline.com";
pub const TENANT: &str = "t1";
pub const SCOPE: &str = "https://graph.microsoft.com/.default";
pub const NOW: u64 = 1_800_000_000;

/// A clock that reads [`NOW`].
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
    ))
}

/// The settings of a cache on `url` under `prefix` (one per test, so tests that share
/// a server do not meet).
pub fn settings(url: &str, prefix: &str) -> RedisSettings {
    RedisSettings::new(url)
        .with_prefix(format!("{prefix}:"))
        .with_lease(Duration::from_millis(1500))
}

/// A cache of its own (its own connection and process id as Redis sees it).
pub fn cache(settings: RedisSettings) -> SharedTokenCache {
    RedisCache::builder(settings)
        .clock(clock())
        .build()
        .unwrap()
}

/// The partition of `client`'s app tokens, as MSAL.NET names it.
pub fn app_partition(client: &str) -> String {
    format!("{client}_{TENANT}_AppTokenCache")
}

/// Writes `client`'s app token (on a blocking thread, as the flows do).
pub async fn add_app_token(cache: &SharedTokenCache, client: &str, secret: &str) {
    let (cache, client, secret) = (cache.clone(), client.to_owned(), secret.to_owned());
    tokio::task::spawn_blocking(move || add_app_token_blocking(&cache, &client, &secret))
        .await
        .unwrap();
}

pub fn add_app_token_blocking(cache: &SharedTokenCache, client: &str, secret: &str) {
    let response = json!({"access_token": secret, "expires_in": 3600, "token_type": "Bearer"});
    cache
        .add(&TokenEvent {
            client_id: client,
            environment: ENV,
            realm: TENANT,
            scopes: &[SCOPE],
            grant_type: "client_credentials",
            response: response.as_object().unwrap(),
            extra_fields: &[],
            now: NOW,
        })
        .unwrap();
}

/// `client`'s app token, if its partition has one (loading it when it changed).
pub async fn app_secret(
    cache: &SharedTokenCache,
    client: &str,
) -> tokenhop_core::Result<Option<String>> {
    let partition = cache.partition(&app_partition(client));
    let client = client.to_owned();
    tokio::task::spawn_blocking(move || partition.read(|c| secret_of(c, &client)))
        .await
        .unwrap()
}

pub fn secret_of(cache: &tokenhop_cache::TokenCache, client: &str) -> Option<String> {
    let query = AccessTokenQuery {
        home_account_id: None,
        environment: ENV,
        client_id: client,
        realm: TENANT,
        scopes: &[SCOPE],
        ext_cache_key: None,
    };
    match cache.find_access_token(&query, NOW) {
        AccessTokenLookup::Hit(entry) => entry.get(Field::Secret).map(str::to_owned),
        _ => None,
    }
}

/// Every line the caches of this test process log (they log from their own runtime's
/// thread, so the subscriber is the global one).
pub fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

/// Captured log lines.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// The lines that hold every one of `words`.
    pub fn lines_with(&self, words: &[&str]) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| words.iter().all(|w| line.contains(w)))
            .map(str::to_owned)
            .collect()
    }
}
