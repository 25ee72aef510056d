//! OAuth errors in Entra's shape: `error`, an `AADSTS…` description, `error_codes`,
//! `timestamp`, `trace_id`, `correlation_id`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::EmulatorConfig;

/// An error the token endpoint answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    /// HTTP status (400, or 401 for client authentication failures).
    pub status: StatusCode,
    /// The OAuth `error` code.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u64,
    /// The human part of the description.
    pub message: String,
}

impl EntraError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        code: u64,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid_request(code: u64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", code, message)
    }

    pub(crate) fn server_error(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            message,
        )
    }

    pub(crate) fn unknown_tenant(tenant: Option<&String>) -> Self {
        Self::invalid_request(
            90002,
            format!(
                "Tenant '{}' not found.",
                tenant.map(String::as_str).unwrap_or_default()
            ),
        )
    }

    pub(crate) fn unknown_client(config: &EmulatorConfig, client_id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                config.tenant_domain
            ),
        )
    }

    pub(crate) fn invalid_client(code: u64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
    }
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let timestamp = unix_seconds_now();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        });
        (self.status, Json(body)).into_response()
    }
}

/// The wall clock in seconds since the Unix epoch, for the error's `timestamp`. Entra
/// writes "YYYY-MM-DD hh:mm:ssZ"; the exact form does not matter to clients.
fn unix_seconds_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs}")
}
