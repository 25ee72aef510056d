//! IMDS, the VM's Instance Metadata Service: `GET /metadata/identity/oauth2/token`,
//! header `Metadata: true`, api-version `2018-02-01`; `410 Gone` while it is being
//! upgraded (`imds_upgrade_secs` after start, by the emulator's clock).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{ErrorShape, Host, IdKind, respond};
use crate::state::AppState;

const IMDS: Host = Host {
    name: "IMDS",
    api_versions: &["2018-02-01", "2019-08-01"],
    shape: ErrorShape::OAuth,
};

/// `GET /metadata/identity/oauth2/token`.
pub(crate) async fn imds(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if state.now() < state.started_at() + state.config.imds_upgrade_secs {
        return IMDS
            .refuse(
                StatusCode::GONE,
                "upgrade_in_progress",
                "the Instance Metadata Service is being upgraded; retry later",
            )
            .into_response();
    }
    respond((|| {
        if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
            return Err(
                IMDS.bad_request("invalid_request", "Required metadata header not specified")
            );
        }
        IMDS.check_api_version(&query)?;
        let resource = IMDS.resource(&state, &query, "invalid_request")?;
        let names = [
            ("client_id", IdKind::Client),
            ("object_id", IdKind::Object),
            ("msi_res_id", IdKind::Resource),
        ];
        let identity = IMDS.identity(&state, &query, &names, "invalid_request")?;
        Ok(IMDS.issue(&state, identity, &resource)?.imds_body())
    })())
}
