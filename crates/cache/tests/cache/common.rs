//! What the modules share: writing an app token the way a client-credentials flow
//! does, and looking it up.

use serde_json::json;
use tokenhop_cache::{AccessTokenLookup, AccessTokenQuery, TokenCache, TokenEvent};

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
    let query = AccessTokenQuery {
        home_account_id: None,
        environment: ENV,
        client_id,
        realm: TENANT,
        scopes: &["https://graph.microsoft.com/.default"],
        ext_cache_key: None,
    };
    match cache.find_access_token(&query, NOW) {
        AccessTokenLookup::Hit(entry) => entry
            .get(tokenhop_cache::entry::Field::Secret)
            .map(str::to_owned),
        _ => None,
    }
}
