//! A Graph-like protected resource: `GET /v1.0/me`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::cae;
use crate::state::AppState;

/// The app id URI whose tokens `/v1.0/me` accepts.
pub(crate) const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"\", error=\"invalid_token\", error_description=\"The access token is expired, revoked or invalid\"",
            ),
        );
    }
    response
}

/// `GET /v1.0/me`: the signed-in user for a delegated token; 400 for an app-only
/// token; 401 `InvalidAuthenticationToken` for an expired, revoked or invalid one; 401
/// with an `insufficient_claims` challenge for a CAE token issued before a critical
/// event.
pub(crate) async fn me(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let Some(token) = token else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty.",
        );
    };
    let Some(claims) = state.verify_issued(token, GRAPH_RESOURCE) else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token has expired, was revoked, or is not valid for this resource.",
        );
    };
    if let Some(challenge) = cae::challenge(&state, &claims) {
        return challenge;
    }
    if claims["idtyp"].as_str() != Some("user") {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        );
    }
    let user = claims["oid"]
        .as_str()
        .and_then(|oid| state.config.user_by_object_id(oid));
    match user {
        Some(user) => Json(json!({
            "@odata.context": format!("{}/v1.0/$metadata#users/$entity", state.base_url),
            "id": user.object_id,
            "displayName": user.display_name,
            "userPrincipalName": user.upn,
            "mail": user.upn,
        }))
        .into_response(),
        None => graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            "The user of this token does not exist.",
        ),
    }
}
