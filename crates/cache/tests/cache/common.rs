//! What the modules share: writing an app token the way a client-credentials flow
//! does, looking it up, and a file cache whose clock reads [`NOW`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokenhop_cache::{
    AccessTokenLookup, AccessTokenQuery, FilePersistence, SharedTokenCache, TokenCache, TokenEvent,
};
use tokenhop_core::ManualClock;

pub const ENV: &str = "login.microsoftonline.com";
pub const TENANT: &str = "t1";
pub const NOW: u64 = 1_800_000_000;

/// Adds an app token for `client_id` with `secret`, valid for an hour from [`NOW`].
pub fn app_token(cache: &mut TokenCache, client_id: &str, secret: &str) {
    let response = json!({"access_token": secret, "expires_in": 3600, "token_type": "Bearer"});
    cache.add(&TokenEvent {
        client_id,
        environment: ENV,
        realm: TENANT,
        scopes: &["https://graph.microsoft.com/.default"],
        grant_type: "client_credentials",
        response: response.as_object().unwrap(),
        extra_fields: &[],
        now: NOW,
    });
}

/// The secret of `client_id`'s app token, if one is a hit at [`NOW`].
pub fn app_secret(cache: &TokenCache, client_id: &str) -> Option<String> {
    app_secret_at(cache, client_id, NOW)
}

/// The secret of `client_id`'s app token, if one is a hit at `now`.
pub fn app_secret_at(cache: &TokenCache, client_id: &str, now: u64) -> Option<String> {
    let query = AccessTokenQuery {
        home_account_id: None,
        environment: ENV,
        client_id,
        realm: TENANT,
        scopes: &["https://graph.microsoft.com/.default"],
        ext_cache_key: None,
    };
    match cache.find_access_token(&query, now) {
        AccessTokenLookup::Hit(entry) => entry
            .get(tokenhop_cache::entry::Field::Secret)
            .map(str::to_owned),
        _ => None,
    }
}

/// A clock that reads [`NOW`] until moved.
pub fn clock_at_now() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
    ))
}

/// The cache in the file at `path`, pruning by a clock that reads [`NOW`] (so the
/// tokens written at [`NOW`] have not expired, whatever the date).
pub fn file_cache(path: impl AsRef<Path>) -> SharedTokenCache {
    SharedTokenCache::builder(FilePersistence::new(path.as_ref()))
        .clock(clock_at_now())
        .build()
}

/// [`app_secret`] through a shared cache (which reads the file again if it changed).
pub fn secret_in(cache: &SharedTokenCache, client_id: &str) -> Option<String> {
    cache.read(|c| app_secret(c, client_id)).unwrap()
}
