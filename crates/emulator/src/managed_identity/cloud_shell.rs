//! Cloud Shell: `POST /cloudshell/oauth2/token` (`MSI_ENDPOINT` without `MSI_SECRET`),
//! form `resource=…`, header `Metadata: true`, no api-version. Its tokens are the
//! signed-in user's (`cloud_shell_user`); there is no user-assigned identity.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{ErrorShape, Host, respond};
use crate::state::AppState;

/// The client id Cloud Shell's tokens carry as `azp`.
pub(crate) const CLOUD_SHELL_CLIENT_ID: &str = "c0c0c0c0-5e11-4c10-8d00-00000000c5e1";

const CLOUD_SHELL: Host = Host {
    name: "Cloud Shell",
    api_versions: &[],
    shape: ErrorShape::Nested,
};

/// `POST /cloudshell/oauth2/token`.
pub(crate) async fn cloud_shell(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = crate::form::parse(&body);
    respond((|| {
        if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
            return Err(
                CLOUD_SHELL.bad_request("BadRequest", "Required metadata header not specified")
            );
        }
        if let Some(name) = ["client_id", "object_id", "msi_res_id", "mi_res_id"]
            .into_iter()
            .find(|n| form.contains_key(*n))
        {
            return Err(CLOUD_SHELL.bad_request(
                "BadRequest",
                &format!("{name}: Cloud Shell has the signed-in user's identity only"),
            ));
        }
        let resource = CLOUD_SHELL.resource(&state, &form, "BadRequest")?;
        let user = state
            .config
            .cloud_shell_user
            .as_deref()
            .and_then(|name| state.config.user(name))
            .ok_or_else(|| {
                CLOUD_SHELL.refuse(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "no user is signed in to Cloud Shell (cloud_shell_user)",
                )
            })?;
        let claims = json!({
            "tid": state.config.tenant_id, "oid": user.object_id, "sub": user.object_id,
            "azp": CLOUD_SHELL_CLIENT_ID, "appid": CLOUD_SHELL_CLIENT_ID, "idtyp": "user",
            "upn": user.upn, "preferred_username": user.upn, "name": user.display_name,
            "scp": "user_impersonation",
        });
        let issued = CLOUD_SHELL.sign(
            &state,
            claims,
            &resource,
            &user.object_id,
            CLOUD_SHELL_CLIENT_ID,
        )?;
        Ok(issued.imds_body())
    })())
}
