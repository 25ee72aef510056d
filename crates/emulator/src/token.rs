//! The token endpoint: form parsing, client authentication, grants.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::app_certificate;
use crate::config::AgentIdentityConfig;
use crate::entra_error::EntraError;
use crate::state::State;

type Form = HashMap<String, String>;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let audience = format!("{}/{tenant}/oauth2/v2.0/token", state.base_url);
    match answer(&state, &tenant, &audience, &body) {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

fn answer(state: &State, tenant: &str, audience: &str, body: &[u8]) -> Result<Value, EntraError> {
    if !state.config.is_tenant(tenant) {
        return Err(EntraError::invalid_request(
            90002,
            format!("Tenant '{tenant}' not found."),
        ));
    }
    let form: Form = url::form_urlencoded::parse(body).into_owned().collect();
    let grant_type = form.get("grant_type").ok_or_else(|| {
        EntraError::invalid_request(
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
    })?;
    state.count_grant(grant_type);
    match grant_type.as_str() {
        "client_credentials" => client_credentials(state, &form, audience),
        other => Err(EntraError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

fn required<'f>(form: &'f Form, name: &str) -> Result<&'f str, EntraError> {
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

/// Checks the client and its credential; returns the client id.
fn authenticate_client<'f>(
    state: &State,
    form: &'f Form,
    audience: &str,
) -> Result<&'f str, EntraError> {
    let client_id = required(form, "client_id")?;
    let app = state.config.app_by_client_id(client_id).ok_or_else(|| {
        EntraError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                state.config.tenant_domain
            ),
        )
    })?;
    let secret = form.get("client_secret").filter(|s| !s.is_empty());
    let assertion = form.get("client_assertion").filter(|s| !s.is_empty());
    match (secret, assertion) {
        (Some(_), Some(_)) => Err(EntraError::invalid_request(
            9002324,
            "Only one client credential may be sent: client_secret or client_assertion.",
        )),
        (None, None) => Err(EntraError::invalid_client(
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        )),
        (Some(sent), None) => match &app.secret {
            Some(registered) if constant_time_eq(sent.as_bytes(), registered.as_bytes()) => {
                Ok(client_id)
            }
            _ => Err(EntraError::invalid_client(
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            )),
        },
        (None, Some(assertion)) => {
            if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
                return Err(EntraError::invalid_request(
                    900144,
                    format!(
                        "The request body must contain the following parameter: 'client_assertion_type' = '{JWT_BEARER}'."
                    ),
                ));
            }
            let certificate = state.certificates.get(client_id).ok_or_else(|| {
                EntraError::invalid_client(700027, "Client assertion failed signature validation. [Reason - No certificate is registered for the app.]")
            })?;
            app_certificate::verify(
                certificate,
                client_id,
                audience,
                assertion,
                &state.seen_assertions,
            )?;
            Ok(client_id)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The audience of Agent ID's intermediate tokens.
const TOKEN_EXCHANGE: &str = "api://AzureADTokenExchange";

fn client_credentials(state: &State, form: &Form, audience: &str) -> Result<Value, EntraError> {
    if let Some(agent) = form
        .get("client_id")
        .and_then(|id| state.config.agent_by_client_id(id))
    {
        return agent_identity_token(state, form, agent);
    }
    let client_id = authenticate_client(state, form, audience)?;
    let resource = app_resource(state, form)?;
    let is_blueprint = state.config.agent_identities.iter().any(|agent| {
        state
            .config
            .app(&agent.blueprint)
            .is_some_and(|app| app.client_id == client_id)
    });
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

/// Hop 2 of an Agent ID chain: the agent identity presents T1 (a token its blueprint got
/// for it) as its client assertion.
fn agent_identity_token(
    state: &State,
    form: &Form,
    agent: &AgentIdentityConfig,
) -> Result<Value, EntraError> {
    let secret = form.get("client_secret").filter(|s| !s.is_empty());
    let assertion = form.get("client_assertion").filter(|s| !s.is_empty());
    let assertion = match (secret, assertion) {
        (Some(_), Some(_)) => {
            return Err(EntraError::invalid_request(
                9002324,
                "Only one client credential may be sent: client_secret or client_assertion.",
            ));
        }
        (_, None) => {
            return Err(EntraError::invalid_client(
                7000216,
                "An agent identity authenticates with a token from its blueprint as 'client_assertion'.",
            ));
        }
        (None, Some(assertion)) => assertion,
    };
    let t1 = state
        .key
        .verify(assertion, TOKEN_EXCHANGE, state.now())
        .ok_or_else(|| EntraError::invalid_client(700027, "Client assertion failed signature validation (not a valid, current token exchange token)."))?;
    let blueprint = state
        .config
        .app(&agent.blueprint)
        .map(|app| app.client_id.clone())
        .unwrap_or_default();
    let expected = format!(
        "/eid1/c/pub/t/{}/a/{blueprint}/{}",
        state.config.tenant_id, agent.client_id
    );
    if t1["sub"].as_str() != Some(expected.as_str()) {
        return Err(EntraError::invalid_client(
            7002137,
            format!(
                "No matching federated identity record found for presented assertion subject '{}'.",
                t1["sub"].as_str().unwrap_or_default()
            ),
        ));
    }
    let resource = app_resource(state, form)?;
    let mut extra = Map::new();
    extra.insert("xms_par_app_azp".into(), json!(blueprint));
    extra.insert("xms_act_fct".into(), json!("11"));
    extra.insert("xms_sub_fct".into(), json!("11"));
    app_token(state, &agent.client_id, &resource, extra)
}

/// The resource of a client-credentials `scope` (`{resource}/.default`), if known.
fn app_resource(state: &State, form: &Form) -> Result<String, EntraError> {
    let scope = required(form, "scope")?;
    let resource = scope.strip_suffix("/.default").filter(|_| !scope.contains(' ')).ok_or_else(|| {
        EntraError::invalid_request(1002012, format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."))
    })?;
    if !state.config.resources.iter().any(|r| r == resource) {
        return Err(EntraError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {}.",
                state.config.tenant_domain
            ),
        ));
    }
    Ok(resource.to_owned())
}

/// An app-only token for `client_id` to `resource`; `extra` claims override the defaults.
fn app_token(
    state: &State,
    client_id: &str,
    resource: &str,
    extra: Map<String, Value>,
) -> Result<Value, EntraError> {
    let now = state.now();
    let lifetime = state.config.token_lifetime_secs;
    let mut claims = json!({
        "aud": resource,
        "iss": state.issuer(),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "tid": state.config.tenant_id,
        "oid": service_principal_id(client_id),
        "sub": service_principal_id(client_id),
        "azp": client_id,
        "appid": client_id,
        "idtyp": "app",
        "ver": "2.0",
        "uti": uuid::Uuid::new_v4().simple().to_string(),
    });
    if let Some(object) = claims.as_object_mut() {
        object.extend(extra);
    }
    let access_token = state.key.sign(&claims).map_err(|e| {
        EntraError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            e.to_string(),
        )
    })?;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    }))
}

/// A stable object id for an app's service principal, derived from its client id.
fn service_principal_id(client_id: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, client_id.as_bytes()).to_string()
}
