//! Fault injection: the admin endpoint that adds a fault, and the middleware that
//! counts every request and applies the faults before the endpoint sees the request.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::faults::{Fault, FaultKind, endpoint_of};
use crate::state::AppState;

/// In front of every route: counts the request under its endpoint's name, then
/// answers as the next fault for that endpoint says, or passes the request on.
pub(crate) async fn middleware(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = endpoint_of(request.uri().path());
    state.count_endpoint(endpoint);
    let Some(fault) = state.faults.take(endpoint) else {
        return next.run(request).await;
    };
    if fault.delay_ms > 0 && fault.kind != FaultKind::SlowBody {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    injected_response(fault)
}

/// What the endpoint answers instead, as `fault` says.
fn injected_response(fault: Fault) -> Response {
    match fault.kind {
        FaultKind::Status => {
            let status = fault
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let body = json!({
                "error": "temporarily_unavailable",
                "error_description": format!("AADSTS50196: injected fault ({status})."),
                "error_codes": [50196],
            });
            let mut response = (status, Json(body)).into_response();
            if let Some(value) = fault
                .retry_after
                .and_then(|v| HeaderValue::from_str(&v).ok())
            {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        FaultKind::Malformed => {
            (StatusCode::OK, "{\"access_token\": \"eyJ.truncated").into_response()
        }
        FaultKind::ErrorAndToken => Json(json!({
            "error": "invalid_grant",
            "error_description": "AADSTS70000: injected: an error next to a token.",
            "error_codes": [70000],
            "access_token": "eyJhbGciOiJub25lIn0.eyJpbmplY3RlZCI6dHJ1ZX0.",
            "expires_in": 3600,
        }))
        .into_response(),
        FaultKind::SlowBody => {
            let delay = Duration::from_millis(fault.delay_ms);
            let start = futures_util::stream::iter([Ok::<_, std::io::Error>(
                axum::body::Bytes::from_static(b"{\"token_type\": \"Bearer\", "),
            )]);
            let rest = futures_util::stream::once(async move {
                tokio::time::sleep(delay).await;
                Ok(axum::body::Bytes::from_static(
                    b"\"error\": \"temporarily_unavailable\", \"error_description\": \"AADSTS50196: injected slow body.\"}",
                ))
            });
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(Body::from_stream(futures_util::StreamExt::chain(
                    start, rest,
                )))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        FaultKind::Drop => {
            let broken = futures_util::stream::iter([
                Ok(axum::body::Bytes::from_static(
                    b"{\"token_type\": \"Bearer\", ",
                )),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected drop",
                )),
            ]);
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(Body::from_stream(broken))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// `POST /admin/faults`: a [`Fault`] as JSON.
pub(crate) async fn post_fault(
    State(state): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Response {
    match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => {
            state.faults.add(fault);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_request", "error_description": format!("not a fault: {e}")}))).into_response(),
    }
}
