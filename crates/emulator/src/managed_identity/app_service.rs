//! App Service, Functions and Automation: `GET /msi/token` (`IDENTITY_ENDPOINT`), header
//! `X-IDENTITY-HEADER` (`IDENTITY_HEADER`), api-version `2019-08-01`, `mi_res_id`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{ErrorShape, Host, IdKind, respond};
use crate::state::AppState;

const APP_SERVICE: Host = Host {
    name: "App Service",
    api_versions: &["2019-08-01"],
    shape: ErrorShape::StatusCode,
};

/// `GET /msi/token`.
pub(crate) async fn app_service(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    respond((|| {
        APP_SERVICE.check_header(
            &headers,
            "x-identity-header",
            &state.config.identity_header,
            (StatusCode::UNAUTHORIZED, "unauthorized"),
        )?;
        APP_SERVICE.check_api_version(&query)?;
        let resource = APP_SERVICE.resource(&state, &query, "invalid_request")?;
        let names = [
            ("client_id", IdKind::Client),
            ("object_id", IdKind::Object),
            ("mi_res_id", IdKind::Resource),
        ];
        let identity = APP_SERVICE.identity(&state, &query, &names, "invalid_request")?;
        let issued = APP_SERVICE.issue(&state, identity, &resource)?;
        Ok(json!({
            "access_token": issued.token, "expires_on": issued.expires_on.to_string(),
            "resource": issued.resource, "token_type": "Bearer", "client_id": identity.client_id,
        }))
    })())
}
