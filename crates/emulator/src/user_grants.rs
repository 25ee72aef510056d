//! Grants that continue a user's session: refresh tokens (with FOCI families) and
//! on-behalf-of.

use axum::http::StatusCode;
use serde_json::Value;

use crate::client_auth;
use crate::config::UserConfig;
use crate::entra_error::EntraError;
use crate::form::{Form, required};
use crate::realm::Realm;
use crate::state::AppState;
use crate::user_tokens::{self, DelegatedScopes, UserGrant};

fn invalid_grant(code: u64, message: impl Into<String>) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
}

/// The refresh token grant: a member of the token's FOCI family may redeem it too.
pub(crate) fn refresh(
    state: &AppState,
    realm: &Realm,
    form: &Form,
    token_endpoint: &str,
) -> Result<Value, EntraError> {
    let app = client_auth::authenticate(state, form, token_endpoint, true)?;
    let refresh_token = required(form, "refresh_token")?;
    let grant = state.refresh_tokens.get(refresh_token).ok_or_else(|| {
        invalid_grant(
            9002313,
            "Invalid request. Request is malformed or invalid: the refresh token is unknown.",
        )
    })?;
    if grant.revoked {
        return Err(invalid_grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
        ));
    }
    if state.now() >= grant.expires_at {
        return Err(invalid_grant(
            700082,
            "The refresh token has expired due to inactivity.",
        ));
    }
    let same_family = grant.family.is_some() && app.family == grant.family;
    if grant.client_id != app.client_id && !same_family {
        return Err(invalid_grant(
            70000,
            "The refresh token was issued to a different client.",
        ));
    }
    let user = state
        .config
        .user_by_object_id(&grant.user_object_id)
        .ok_or_else(|| invalid_grant(50034, "The user account does not exist."))?;
    // The token is for the tenant the request names (a guest tenant too), as in Entra.
    issue_for_scope(state, realm, &app.client_id, user, form)
}

/// On-behalf-of: a confidential app exchanges a user token issued for its own API for
/// a token to another resource, for the same user.
pub(crate) fn on_behalf_of(
    state: &AppState,
    realm: &Realm,
    form: &Form,
    token_endpoint: &str,
) -> Result<Value, EntraError> {
    if form.get("requested_token_use").map(String::as_str) != Some("on_behalf_of") {
        return Err(EntraError::invalid_request(
            900144,
            "The request body must contain the following parameter: 'requested_token_use' = 'on_behalf_of'.",
        ));
    }
    let app = client_auth::authenticate(state, form, token_endpoint, false)?;
    let assertion = required(form, "assertion")?;
    let own_api = format!("api://{}", app.client_id);
    let incoming = state
        .verify_issued(assertion, &own_api)
        .or_else(|| state.verify_issued(assertion, &app.client_id))
        .ok_or_else(|| {
            invalid_grant(
                50013,
                format!("Assertion failed signature validation, has expired or was revoked, or its audience is not '{own_api}'."),
            )
        })?;
    let user = incoming["oid"]
        .as_str()
        .filter(|_| incoming["idtyp"].as_str() == Some("user"))
        .and_then(|oid| state.config.user_by_object_id(oid))
        .ok_or_else(|| {
            invalid_grant(
                50058,
                "The assertion is not a user's token; on-behalf-of needs a delegated token.",
            )
        })?;
    issue_for_scope(state, realm, &app.client_id, user, form)
}

/// The user's tokens for the request's `scope`.
fn issue_for_scope(
    state: &AppState,
    realm: &Realm,
    client_id: &str,
    user: &UserConfig,
    form: &Form,
) -> Result<Value, EntraError> {
    let scopes = DelegatedScopes::parse(state, required(form, "scope")?)?;
    user_tokens::issue(
        state,
        UserGrant {
            realm,
            client_id,
            user,
            scopes: &scopes,
            nonce: None,
            client_info: user_tokens::asks_for_client_info(form),
            extra: serde_json::Map::new(),
        },
    )
}
