//! Azure Machine Learning (and legacy App Service): `GET /msi/auth` (`MSI_ENDPOINT`),
//! header `secret` (`MSI_SECRET`), api-version `2017-09-01`, a user-assigned identity by
//! `clientid` only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{ErrorShape, Host, IdKind, respond};
use crate::state::AppState;

const MACHINE_LEARNING: Host = Host {
    name: "Machine Learning",
    api_versions: &["2017-09-01"],
    shape: ErrorShape::StatusCode,
};

/// `GET /msi/auth`.
pub(crate) async fn machine_learning(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    respond((|| {
        MACHINE_LEARNING.check_header(
            &headers,
            "secret",
            &state.config.msi_secret,
            (StatusCode::UNAUTHORIZED, "unauthorized"),
        )?;
        MACHINE_LEARNING.check_api_version(&query)?;
        let resource = MACHINE_LEARNING.resource(&state, &query, "invalid_request")?;
        let names = [("clientid", IdKind::Client)];
        let identity = MACHINE_LEARNING.identity(&state, &query, &names, "invalid_request")?;
        let issued = MACHINE_LEARNING.issue(&state, identity, &resource)?;
        Ok(json!({
            "access_token": issued.token, "expires_on": issued.expires_on.to_string(),
            "resource": issued.resource, "token_type": "Bearer",
        }))
    })())
}
