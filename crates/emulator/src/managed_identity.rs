//! The managed identity endpoints: IMDS (`/metadata/identity/oauth2/token`, header
//! `Metadata: true`) and App Service (`/msi/token`, header `X-IDENTITY-HEADER`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::ManagedIdentityConfig;
use crate::state::AppState;
use crate::token_version::follow_resource_version;

/// An error in the managed identity endpoints' shape: `{"error", "error_description"}`.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn refuse(status: StatusCode, error: &'static str, description: &str) -> Refusal {
    Refusal {
        status,
        error,
        description: description.to_owned(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

/// Which identity a request names: by client id, object id or resource id (each
/// endpoint has its own name for the last), else the system-assigned one.
fn identity<'c>(
    state: &'c AppState,
    query: &HashMap<String, String>,
    resource_id_param: &str,
) -> Option<&'c ManagedIdentityConfig> {
    let identities = &state.config.managed_identities;
    if let Some(id) = query.get("client_id") {
        identities.iter().find(|i| &i.client_id == id)
    } else if let Some(id) = query.get("object_id") {
        identities.iter().find(|i| &i.object_id == id)
    } else if let Some(id) = query.get(resource_id_param) {
        identities
            .iter()
            .find(|i| i.resource_id.eq_ignore_ascii_case(id))
    } else {
        identities.iter().find(|i| i.system_assigned)
    }
}

fn issue(
    state: &AppState,
    query: &HashMap<String, String>,
    resource_id_param: &str,
) -> Result<(String, u64, String), Refusal> {
    let resource = query
        .get("resource")
        .map(|r| r.trim_end_matches('/').to_owned())
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Required query variable 'resource' is missing",
            )
        })?;
    if state.config.resource(&resource).is_none() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            "AADSTS500011: The resource principal was not found in the tenant.",
        ));
    }
    let identity = identity(state, query, resource_id_param).ok_or_else(|| {
        refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        )
    })?;
    let now = state.now();
    let expires_on = now + state.config.token_lifetime_secs;
    let uti = uuid::Uuid::new_v4().simple().to_string();
    let mut claims = json!({
        "aud": resource, "iss": state.issuer(), "iat": now, "nbf": now, "exp": expires_on,
        "tid": state.config.tenant_id, "oid": identity.object_id, "sub": identity.object_id,
        "azp": identity.client_id, "appid": identity.client_id, "idtyp": "app", "ver": "2.0",
        "xms_mirid": identity.resource_id, "uti": uti,
    });
    follow_resource_version(state, &mut claims);
    state
        .revocations
        .record(&uti, &identity.object_id, &identity.client_id);
    let token = state.signing_key.sign(&claims).map_err(|e| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        )
    })?;
    Ok((token, expires_on, resource))
}

pub(crate) async fn imds(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        )
        .into_response();
    }
    match issue(&state, &query, "msi_res_id") {
        Ok((token, expires_on, resource)) => {
            let lifetime = state.config.token_lifetime_secs;
            Json(json!({
                "access_token": token, "refresh_token": "", "expires_in": lifetime.to_string(),
                "expires_on": expires_on.to_string(), "not_before": state.now().to_string(),
                "resource": resource, "token_type": "Bearer",
            }))
            .into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

pub(crate) async fn app_service(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let header = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if header != Some(state.config.identity_header.as_str())
        || state.config.identity_header.is_empty()
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong"})),
        )
            .into_response();
    }
    match issue(&state, &query, "mi_res_id") {
        Ok((token, expires_on, resource)) => Json(json!({
            "access_token": token, "expires_on": expires_on.to_string(), "resource": resource, "token_type": "Bearer",
        }))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}
