//! Fault injection (`POST /admin/faults`) and the middleware that counts every request
//! and applies the faults before the endpoint sees the request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::state::State;

/// What a fault does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer `status` (with `Retry-After` if given) and an error body in Entra's shape.
    Status,
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Send the headers, then break the connection in the middle of the body.
    Drop,
    /// Answer 200 with a body holding both `error` and `access_token`.
    ErrorAndToken,
}

/// A fault for one endpoint (`token`, `discovery`, `jwks`, `authorize`, `devicecode`,
/// `me`, `imds`, `app_service`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Fault {
    /// Which endpoint.
    pub endpoint: String,
    /// What happens.
    pub kind: FaultKind,
    /// The status for [`FaultKind::Status`] (default 503).
    #[serde(default)]
    pub status: Option<u16>,
    /// The `Retry-After` header value, if any.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// How many requests it affects; none means every one until reset.
    #[serde(default)]
    pub times: Option<u32>,
    /// A delay before answering (or before the fault), in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
}

impl Fault {
    /// A fault of `kind` for every request to `endpoint` until reset.
    pub fn new(endpoint: &str, kind: FaultKind) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            kind,
            status: None,
            retry_after: None,
            times: None,
            delay_ms: 0,
        }
    }

    /// The status of a [`FaultKind::Status`] fault.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The `Retry-After` header.
    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }

    /// Only the next `times` requests.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    /// A delay before answering.
    pub fn delay_ms(mut self, delay_ms: u64) -> Self {
        self.delay_ms = delay_ms;
        self
    }
}

#[derive(Default)]
pub(crate) struct Faults(Mutex<Vec<Fault>>);

impl Faults {
    pub(crate) fn add(&self, fault: Fault) {
        self.lock().push(fault);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The fault for the next request to `endpoint`, counting it down.
    fn take(&self, endpoint: &str) -> Option<Fault> {
        let mut faults = self.lock();
        let index = faults.iter().position(|f| f.endpoint == endpoint)?;
        let fault = faults[index].clone();
        match &mut faults[index].times {
            Some(1) => {
                faults.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The endpoint name of a request path, for counters and faults.
pub(crate) fn endpoint_of(path: &str) -> &'static str {
    if path.ends_with("/oauth2/v2.0/token") {
        "token"
    } else if path.ends_with("/.well-known/openid-configuration") {
        "discovery"
    } else if path.ends_with("/discovery/v2.0/keys") {
        "jwks"
    } else if path == "/metadata/identity/oauth2/token" {
        "imds"
    } else if path == "/msi/token" {
        "app_service"
    } else if path.ends_with("/oauth2/v2.0/authorize") {
        "authorize"
    } else if path.ends_with("/oauth2/v2.0/devicecode") {
        "devicecode"
    } else if path == "/v1.0/me" {
        "me"
    } else if path.starts_with("/admin/") {
        "admin"
    } else {
        "other"
    }
}

pub(crate) async fn middleware(
    AxumState(state): AxumState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = endpoint_of(request.uri().path());
    state.count_endpoint(endpoint);
    let Some(fault) = state.faults.take(endpoint) else {
        return next.run(request).await;
    };
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
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

pub(crate) async fn post_fault(
    AxumState(state): AxumState<Arc<State>>,
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
