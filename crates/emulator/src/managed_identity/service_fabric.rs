//! Service Fabric: `GET /servicefabric/token` on its own https listener whose
//! self-signed certificate's thumbprint is what `IDENTITY_SERVER_THUMBPRINT` holds;
//! header `Secret` (`IDENTITY_HEADER`), api-version `2019-07-01-preview`. The cluster
//! chooses the identity: id parameters are not looked at.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{ErrorShape, Host, respond};
use crate::state::AppState;

/// Its path on the Service Fabric listener.
pub(crate) const SERVICE_FABRIC_PATH: &str = "/servicefabric/token";

const SERVICE_FABRIC: Host = Host {
    name: "Service Fabric",
    api_versions: &["2019-07-01-preview", "2020-05-01"],
    shape: ErrorShape::Nested,
};

/// `GET /servicefabric/token`.
pub(crate) async fn service_fabric(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    respond((|| {
        SERVICE_FABRIC.check_header(
            &headers,
            "secret",
            &state.config.identity_header,
            (StatusCode::UNAUTHORIZED, "SecretHeaderNotFound"),
        )?;
        SERVICE_FABRIC.check_api_version(&query)?;
        let resource = SERVICE_FABRIC.resource(&state, &query, "ArgumentNullOrEmpty")?;
        let identity = SERVICE_FABRIC.identity(&state, &query, &[], "ManagedIdentityNotFound")?;
        let issued = SERVICE_FABRIC.issue(&state, identity, &resource)?;
        Ok(json!({
            "access_token": issued.token, "expires_on": issued.expires_on,
            "resource": issued.resource, "token_type": "Bearer",
        }))
    })())
}
