//! App-only tokens: the resource a client-credentials `scope` names, and the token
//! response for an app (or an agent identity) to that resource.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::cae::RequestedClaims;
use crate::entra_error::EntraError;
use crate::form::{Form, required};
use crate::realm::Realm;
use crate::state::AppState;
use crate::token_version::follow_resource_version;

/// The resource of a client-credentials `scope` (`{resource}/.default`), if known.
pub(crate) fn app_resource(state: &AppState, form: &Form) -> Result<String, EntraError> {
    let scope = required(form, "scope")?;
    let resource = scope.strip_suffix("/.default").filter(|_| !scope.contains(' ')).ok_or_else(|| {
        EntraError::invalid_request(1002012, format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."))
    })?;
    match state.config.resource(resource) {
        Some(found) => Ok(found.app_id_uri.clone()),
        None => Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {}.",
                state.config.tenant_domain
            ),
        )),
    }
}

/// An app-only token for `client_id` to `resource` in `realm`'s tenant, satisfying the
/// request's `claims` (`requested`); `extra` claims override the defaults.
pub(crate) fn app_token(
    state: &AppState,
    realm: &Realm,
    client_id: &str,
    resource: &str,
    extra: Map<String, Value>,
    requested: &RequestedClaims,
) -> Result<Value, EntraError> {
    let now = state.now();
    let lifetime = requested.lifetime(state, resource);
    let uti = uuid::Uuid::new_v4().simple().to_string();
    let service_principal = service_principal_id(client_id);
    let mut claims = json!({
        "aud": resource,
        "iss": realm.issuer(&state.base_url),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "tid": realm.tenant_id,
        "oid": service_principal,
        "sub": service_principal,
        "azp": client_id,
        "appid": client_id,
        "idtyp": "app",
        "ver": "2.0",
        "uti": uti,
    });
    if let Some(object) = claims.as_object_mut() {
        object.extend(extra);
    }
    requested.stamp(state, resource, &mut claims);
    follow_resource_version(state, &mut claims);
    state.revocations.record(
        &uti,
        &service_principal,
        client_id,
        requested.is_cae(state, resource),
    );
    state.access_token_response(&claims, None, lifetime)
}

/// A stable object id for an app's service principal, derived from its client id.
fn service_principal_id(client_id: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, client_id.as_bytes()).to_string()
}
