//! What the unit tests of several modules write: an app token.

use serde_json::json;

use crate::{TokenCache, TokenEvent};

/// Adds an app token of `client` with `secret`, expiring `expires_in` seconds after
/// `now` (epoch seconds).
pub(crate) fn app_token(
    cache: &mut TokenCache,
    client: &str,
    secret: &str,
    expires_in: u64,
    now: u64,
) {
    let response = json!({"access_token": secret, "expires_in": expires_in});
    cache.add(&TokenEvent {
        client_id: client,
        environment: "login.microsoftonline.com",
        realm: "t",
        scopes: &["s"],
        grant_type: "client_credentials",
        response: response.as_object().unwrap_or(&serde_json::Map::new()),
        extra_fields: &[],
        now,
    });
}
