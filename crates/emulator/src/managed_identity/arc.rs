//! Azure Arc's agent: `GET /arc/metadata/identity/oauth2/token` (`IDENTITY_ENDPOINT`),
//! header `Metadata: true`, api-version `2020-06-01` (or `2019-11-01`). A request without
//! `Authorization` gets `401` with `WWW-Authenticate: Basic realm=<key file>`; the
//! client repeats it with `Authorization: Basic <the file's content>`. System-assigned
//! only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ErrorShape, Host, HostError, IdKind};
use crate::state::AppState;

const ARC: Host = Host {
    name: "Azure Arc",
    api_versions: &["2020-06-01", "2019-11-01"],
    shape: ErrorShape::OAuth,
};

/// The id parameters a newer agent would take; this one refuses them.
const ID_PARAMETERS: [(&str, IdKind); 3] = [
    ("client_id", IdKind::Client),
    ("object_id", IdKind::Object),
    ("msi_res_id", IdKind::Resource),
];

/// `GET /arc/metadata/identity/oauth2/token`.
pub(crate) async fn arc(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match answer(&state, &headers, &query) {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

fn answer(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Response, HostError> {
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return Err(ARC.bad_request("invalid_request", "Required metadata header not specified"));
    }
    ARC.check_api_version(query)?;
    if let Some((name, _)) = ID_PARAMETERS.iter().find(|(n, _)| query.contains_key(*n)) {
        return Err(ARC.bad_request(
            "invalid_request",
            &format!("{name}: only the system-assigned identity is supported"),
        ));
    }
    let secret = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    if !secret.is_some_and(|s| state.arc_keys.accepts(s)) {
        return challenge(state);
    }
    let resource = ARC.resource(state, query, "invalid_request")?;
    let identity = ARC.identity(state, query, &[], "invalid_request")?;
    Ok(Json(ARC.issue(state, identity, &resource)?.imds_body()).into_response())
}

/// `401` naming a fresh key file (or the realm a test set).
fn challenge(state: &AppState) -> Result<Response, HostError> {
    let realm = state.arc_keys.challenge().map_err(|message| {
        ARC.refuse(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &message)
    })?;
    let value = HeaderValue::from_str(&format!("Basic realm={realm}")).map_err(|_| {
        ARC.refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the key file's path cannot be put in a header",
        )
    })?;
    let mut response = ARC
        .refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "read the key file the WWW-Authenticate realm names and send its content as Authorization: Basic",
        )
        .into_response();
    response.headers_mut().insert("www-authenticate", value);
    Ok(response)
}

/// `POST /admin/arc/realm` `{"realm": PATH|null}`: later challenges name `PATH` instead
/// of a fresh key file (a hostile agent), or fresh key files again.
pub(crate) async fn set_arc_realm(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RealmRequest {
        realm: Option<String>,
    }
    match serde_json::from_slice::<RealmRequest>(&body) {
        Ok(request) => {
            state.arc_keys.set_realm(request.realm);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": format!("expected {{\"realm\": PATH|null}}: {e}")})),
        )
            .into_response(),
    }
}
