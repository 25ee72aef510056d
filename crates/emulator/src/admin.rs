//! The admin API under `/admin`: counters, reset, clock, revocation (faults, device
//! approval and federated tokens live with what they drive).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sessions::Revocation;
use crate::state::{AppState, Counters};

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_request", "error_description": message})),
    )
        .into_response()
}

/// `GET /admin/counters`.
pub(crate) async fn counters(State(state): State<Arc<AppState>>) -> Json<Counters> {
    Json(state.counters())
}

/// `POST /admin/reset`: counters, faults, revocations and an Arc realm are forgotten.
pub(crate) async fn reset(State(state): State<Arc<AppState>>) -> StatusCode {
    state.reset_counters();
    state.faults.clear();
    state.revocations.clear();
    state.arc_keys.set_realm(None);
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance_secs: i64,
}

/// `POST /admin/clock` `{"advance_secs": N}`.
pub(crate) async fn clock(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockRequest>(&body) {
        Ok(request) => {
            state.advance_clock(request.advance_secs);
            Json(json!({"now": state.now()})).into_response()
        }
        Err(e) => bad_request(format!("expected {{\"advance_secs\": N}}: {e}")),
    }
}

/// `POST /admin/revoke` `{"user"?, "client"?, "token"?, "block"?}` → `{"revoked": N}`.
pub(crate) async fn revoke(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let revocation = match serde_json::from_slice::<Revocation>(&body) {
        Ok(r) => r,
        Err(e) => {
            return bad_request(format!(
                "expected {{\"user\", \"client\", \"token\", \"block\"}}: {e}"
            ));
        }
    };
    match revoke_tokens(&state, &revocation) {
        Ok(count) => Json(json!({ "revoked": count })).into_response(),
        Err(message) => bad_request(message),
    }
}

/// Revokes what `revocation` names; the number of tokens revoked, or what is wrong with
/// the request.
pub(crate) fn revoke_tokens(state: &AppState, revocation: &Revocation) -> Result<usize, String> {
    if revocation.user.is_none() && revocation.client.is_none() && revocation.token.is_none() {
        return Err("name a \"user\", a \"client\" or a \"token\"".into());
    }
    let user_object_id = match &revocation.user {
        Some(name) => Some(
            state
                .config
                .user(name)
                .map(|u| u.object_id.clone())
                .ok_or_else(|| format!("no user named '{name}'"))?,
        ),
        None => None,
    };
    let token_uti = revocation
        .token
        .as_deref()
        .and_then(|t| state.signing_key.verify_signature_only(t))
        .and_then(|claims| claims["uti"].as_str().map(str::to_owned));
    Ok(state.revocations.revoke(
        &state.refresh_tokens,
        revocation,
        user_object_id.as_deref(),
        token_uti.as_deref(),
    ))
}
