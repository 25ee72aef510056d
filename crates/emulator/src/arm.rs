//! An Azure Resource Manager-like resource: the two lists `az login` asks for after it
//! signs in, `GET /arm/subscriptions` and `GET /arm/tenants`, for an ARM token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

/// The app id URI whose tokens the ARM-like resource accepts.
pub(crate) const ARM_RESOURCE: &str = "https://management.core.windows.net/";

/// Where the ARM-like resource lives under the emulator's URL (a cloud's
/// `endpoint_resource_manager` is `{url}/arm/`).
pub(crate) const ARM_PATH: &str = "/arm";

/// The claims of the request's ARM token, or ARM's 401.
fn arm_claims(state: &AppState, headers: &HeaderMap) -> Result<Value, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    token
        .and_then(|token| state.verify_issued(token, ARM_RESOURCE))
        .ok_or_else(|| {
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": {
                    "code": "InvalidAuthenticationToken",
                    "message": "The access token is missing, expired or not for Azure Resource Manager."
                }})),
            )
                .into_response()
        })
}

/// `GET /arm/subscriptions`: the subscriptions of the token's tenant.
pub(crate) async fn subscriptions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    let claims = match arm_claims(&state, &headers) {
        Ok(claims) => claims,
        Err(refusal) => return refusal,
    };
    let tenant = claims["tid"].as_str().unwrap_or_default();
    let value: Vec<Value> = state
        .config
        .subscriptions
        .iter()
        .filter(|s| s.tenant_id == tenant)
        .map(|s| {
            json!({
                "id": format!("/subscriptions/{}", s.subscription_id),
                "subscriptionId": s.subscription_id,
                "tenantId": s.tenant_id,
                "displayName": s.display_name,
                "state": "Enabled",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Emulator", "spendingLimit": "Off"},
                "authorizationSource": "RoleBased",
            })
        })
        .collect();
    Json(json!({ "value": value })).into_response()
}

/// `GET /arm/tenants`: every tenant the emulator serves.
pub(crate) async fn tenants(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = arm_claims(&state, &headers) {
        return refusal;
    }
    let config = &state.config;
    let main = (&config.tenant_id, &config.tenant_domain);
    let value: Vec<Value> = std::iter::once(main)
        .chain(
            config
                .other_tenants
                .iter()
                .map(|t| (&t.tenant_id, &t.domain)),
        )
        .map(|(tenant_id, domain)| {
            json!({
                "id": format!("/tenants/{tenant_id}"),
                "tenantId": tenant_id,
                "displayName": domain,
                "defaultDomain": domain,
                "domains": [domain],
                "tenantCategory": "Home",
            })
        })
        .collect();
    Json(json!({ "value": value })).into_response()
}
