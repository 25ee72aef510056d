//! The emulator's federation issuer (`{url}/federation`): it stands in for a
//! Kubernetes service account issuer, so workload identity can be tested end to end.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::entra_error::EntraError;
use crate::state::AppState;

/// The audience federated tokens (and Agent ID's intermediate tokens) are issued for.
pub(crate) const TOKEN_EXCHANGE: &str = "api://AzureADTokenExchange";

/// The `iss` of federated tokens.
pub(crate) fn issuer(state: &AppState) -> String {
    format!("{}/federation", state.base_url)
}

/// Whether an assertion claims to come from the federation issuer (its signature is
/// checked later).
pub(crate) fn is_federated(state: &AppState, assertion: &str) -> bool {
    unverified_claims(assertion)
        .is_some_and(|claims| claims["iss"].as_str() == Some(&issuer(state)))
}

/// A federated token for `subject`, valid for an hour of emulator time.
pub(crate) fn federated_token(state: &AppState, subject: &str) -> Result<String, EntraError> {
    let now = state.now();
    let claims = json!({
        "iss": issuer(state),
        "sub": subject,
        "aud": TOKEN_EXCHANGE,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    state
        .federation_key
        .sign(&claims)
        .map_err(|e| EntraError::server_error(e.to_string()))
}

/// The payload of a JWT, without checking anything.
fn unverified_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FederatedTokenRequest {
    subject: String,
}

/// `POST /admin/federated-token` `{"subject"}` → `{"token"}`.
pub(crate) async fn post_federated_token(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Response {
    match serde_json::from_slice::<FederatedTokenRequest>(&body) {
        Ok(request) => match federated_token(&state, &request.subject) {
            Ok(token) => Json(json!({ "token": token })).into_response(),
            Err(error) => error.into_response(),
        },
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": format!("expected {{\"subject\"}}: {e}")})),
        )
            .into_response(),
    }
}
