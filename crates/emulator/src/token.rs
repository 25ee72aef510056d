//! The token endpoint: form parsing, grant dispatch, and app-only tokens.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::client_auth::{self, TOKEN_EXCHANGE};
use crate::entra_error::EntraError;
use crate::realm::{AuthorityRealm, Realm};
use crate::state::State;
use crate::{agent_id, authorize, device, user_grants};

pub(crate) type Form = HashMap<String, String>;

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `POST {authority}/oauth2/v2.0/token`.
pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    AuthorityRealm(realm): AuthorityRealm,
    body: Bytes,
) -> Response {
    match answer(&state, &realm, &body) {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

fn answer(state: &State, realm: &Realm, body: &[u8]) -> Result<Value, EntraError> {
    let form: Form = url::form_urlencoded::parse(body).into_owned().collect();
    let grant_type = required(&form, "grant_type")?;
    state.count_grant(grant_type);
    let token_endpoint = realm.token_endpoint(state);
    match grant_type {
        "client_credentials" => client_credentials(state, &form, &token_endpoint),
        "authorization_code" => {
            let app = client_auth::authenticate(state, &form, &token_endpoint, true)?;
            authorize::redeem(state, &form, &app.client_id)
        }
        DEVICE_CODE_GRANT => {
            client_auth::authenticate(state, &form, &token_endpoint, true)?;
            device::poll(state, &form)
        }
        "refresh_token" => user_grants::refresh(state, &form, &token_endpoint),
        JWT_BEARER_GRANT => user_grants::on_behalf_of(state, realm, &form, &token_endpoint),
        "user_fic" => agent_id::agent_user_token(state, realm, &form),
        other => Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

pub(crate) fn required<'f>(form: &'f Form, name: &str) -> Result<&'f str, EntraError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            EntraError::invalid_request(
                900144,
                format!("The request body must contain the following parameter: '{name}'."),
            )
        })
}

fn client_credentials(
    state: &State,
    form: &Form,
    token_endpoint: &str,
) -> Result<Value, EntraError> {
    if let Some(agent) = form
        .get("client_id")
        .and_then(|id| state.config.agent_by_client_id(id))
    {
        return agent_id::agent_app_token(state, form, agent);
    }
    let app = client_auth::authenticate(state, form, token_endpoint, false)?;
    let client_id = app.client_id.as_str();
    let resource = app_resource(state, form)?;
    let is_blueprint = state
        .config
        .agent_identities
        .iter()
        .any(|agent| agent.blueprint == app.name);
    let mut extra = Map::new();
    if resource == TOKEN_EXCHANGE && is_blueprint {
        // Hop 1 of an Agent ID chain: a token for one agent identity, named by fmi_path.
        let fmi_path = form.get("fmi_path").filter(|p| !p.is_empty()).ok_or_else(|| {
            EntraError::invalid_request(82008, "A blueprint must name the agent identity (fmi_path) when it asks for a token exchange token.")
        })?;
        extra.insert(
            "sub".into(),
            json!(format!(
                "/eid1/c/pub/t/{}/a/{client_id}/{fmi_path}",
                state.config.tenant_id
            )),
        );
        extra.insert("xms_act_fct".into(), json!("11"));
    }
    app_token(state, client_id, &resource, extra)
}

/// The resource of a client-credentials `scope` (`{resource}/.default`), if known.
pub(crate) fn app_resource(state: &State, form: &Form) -> Result<String, EntraError> {
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

/// An app-only token for `client_id` to `resource`; `extra` claims override the defaults.
pub(crate) fn app_token(
    state: &State,
    client_id: &str,
    resource: &str,
    extra: Map<String, Value>,
) -> Result<Value, EntraError> {
    let now = state.now();
    let lifetime = state.config.token_lifetime_secs;
    let uti = uuid::Uuid::new_v4().simple().to_string();
    let service_principal = service_principal_id(client_id);
    let mut claims = json!({
        "aud": resource,
        "iss": state.issuer(),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "tid": state.config.tenant_id,
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
    state
        .revocations
        .record(&uti, &service_principal, client_id);
    let mut response = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": state.sign(&claims)?,
    });
    if lifetime >= 7200 {
        response["refresh_in"] = json!(lifetime / 2);
    }
    Ok(response)
}

/// A stable object id for an app's service principal, derived from its client id.
pub(crate) fn service_principal_id(client_id: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, client_id.as_bytes()).to_string()
}
