//! OpenID Connect discovery and the JWKS, per tenant (and B2C policy), and Entra's
//! instance discovery.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
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

/// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…`: Entra's
/// instance discovery. The emulator knows one instance, its own host and port; any
/// other host gets Entra's `invalid_instance`.
pub(crate) async fn instance_discovery(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let own = url::Url::parse(&state.base_url).ok();
    let asked = query
        .get("authorization_endpoint")
        .and_then(|endpoint| url::Url::parse(endpoint).ok());
    let known = match (&own, &asked) {
        (Some(own), Some(asked)) => {
            own.host_str() == asked.host_str()
                && own.port_or_known_default() == asked.port_or_known_default()
        }
        _ => false,
    };
    let Some(asked) = asked.filter(|_| known) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "invalid_instance",
                "error_description": "AADSTS50049: Unknown or invalid instance.",
                "error_codes": [50049],
            })),
        )
            .into_response();
    };
    let host = asked.host_str().unwrap_or_default().to_owned();
    let tenant_path = asked
        .path()
        .trim_end_matches("/oauth2/v2.0/authorize")
        .to_owned();
    Json(json!({
        "tenant_discovery_endpoint": format!(
            "{}{tenant_path}/v2.0/.well-known/openid-configuration",
            state.base_url
        ),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host],
        }],
    }))
    .into_response()
}
