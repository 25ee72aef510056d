//! OpenID Connect discovery and the JWKS, per tenant (and B2C policy).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::extract::AuthorityRealm;
use crate::state::AppState;

/// `GET {authority}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn discovery(
    State(state): State<Arc<AppState>>,
    AuthorityRealm(realm): AuthorityRealm,
) -> Response {
    let authority = realm.authority(&state.base_url);
    Json(json!({
        "issuer": realm.issuer(&state.base_url),
        "token_endpoint": format!("{authority}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{authority}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{authority}/oauth2/v2.0/devicecode"),
        "jwks_uri": format!("{authority}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "tenant_region_scope": "EU",
    }))
    .into_response()
}

/// `GET {authority}/discovery/v2.0/keys`.
pub(crate) async fn jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.signing_key.jwks())
}
