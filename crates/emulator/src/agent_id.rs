//! Entra Agent ID: a blueprint gets T1, a token exchange token for one of its agent
//! identities named by `fmi_path` (hop 1); the agent identity authenticates with T1 and
//! gets an app token (hop 2) or, presenting its own T2 as
//! `user_federated_identity_credential`, a token for its agent user (hop 3).

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::app_tokens::{app_resource, app_token};
use crate::cae::RequestedClaims;
use crate::client_auth::{Credential, credential};
use crate::config::{AgentIdentityConfig, UserConfig};
use crate::entra_error::EntraError;
use crate::federation::TOKEN_EXCHANGE;
use crate::form::{Form, required};
use crate::realm::Realm;
use crate::state::AppState;
use crate::user_tokens::{self, DelegatedScopes, UserGrant};

/// `xms_act_fct`/`xms_sub_fct` value of an agent identity.
const AGENT_IDENTITY_FACET: &str = "11";
/// `xms_sub_fct` value of an agent user.
const AGENT_USER_FACET: &str = "13";

/// Hop 1: the claims that make a blueprint's token exchange token T1 for the agent
/// identity its `fmi_path` names.
pub(crate) fn blueprint_exchange_claims(
    state: &AppState,
    form: &Form,
    blueprint_client_id: &str,
) -> Result<Map<String, Value>, EntraError> {
    let fmi_path = form.get("fmi_path").filter(|p| !p.is_empty()).ok_or_else(|| {
        EntraError::invalid_request(82008, "A blueprint must name the agent identity (fmi_path) when it asks for a token exchange token.")
    })?;
    let mut claims = Map::new();
    claims.insert(
        "sub".into(),
        json!(format!(
            "/eid1/c/pub/t/{}/a/{blueprint_client_id}/{fmi_path}",
            state.config.tenant_id
        )),
    );
    claims.insert("xms_act_fct".into(), json!(AGENT_IDENTITY_FACET));
    Ok(claims)
}

/// Checks T1, the agent's client assertion; returns the blueprint's client id.
fn authenticate_agent(
    state: &AppState,
    form: &Form,
    agent: &AgentIdentityConfig,
) -> Result<String, EntraError> {
    let assertion = match credential(form)? {
        Credential::Assertion(assertion) => assertion,
        _ => {
            return Err(EntraError::invalid_client(
                7000216,
                "An agent identity authenticates with a token from its blueprint as 'client_assertion'.",
            ));
        }
    };
    let t1 = state.verify_issued(assertion, TOKEN_EXCHANGE).ok_or_else(|| {
        EntraError::invalid_client(
            700027,
            "Client assertion failed signature validation (not a valid, current token exchange token).",
        )
    })?;
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
    Ok(blueprint)
}

fn agent_claims(blueprint: &str, subject_facet: &str) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("xms_par_app_azp".into(), json!(blueprint));
    extra.insert("xms_act_fct".into(), json!(AGENT_IDENTITY_FACET));
    extra.insert("xms_sub_fct".into(), json!(subject_facet));
    extra
}

/// Hop 2: client credentials for an agent identity → an app token (T2, or the
/// resource token of the two-hop chain).
pub(crate) fn agent_app_token(
    state: &AppState,
    realm: &Realm,
    form: &Form,
    agent: &AgentIdentityConfig,
) -> Result<Value, EntraError> {
    let blueprint = authenticate_agent(state, form, agent)?;
    let resource = app_resource(state, form)?;
    app_token(
        state,
        realm,
        &agent.client_id,
        &resource,
        agent_claims(&blueprint, AGENT_IDENTITY_FACET),
        &RequestedClaims::from_form(form)?,
    )
}

fn invalid_grant(code: u64, message: impl Into<String>) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
}

/// Hop 3: the `user_fic` grant → a delegated token for the agent's agent user.
pub(crate) fn agent_user_token(
    state: &AppState,
    realm: &Realm,
    form: &Form,
) -> Result<Value, EntraError> {
    let client_id = required(form, "client_id")?;
    let agent = state
        .config
        .agent_by_client_id(client_id)
        .ok_or_else(|| EntraError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!("'{client_id}' is not an agent identity; only agent identities may use the user_fic grant."),
        ))?;
    let blueprint = authenticate_agent(state, form, agent)?;
    let t2 = required(form, "user_federated_identity_credential")?;
    let t2_claims = state.verify_issued(t2, TOKEN_EXCHANGE).ok_or_else(|| {
        invalid_grant(
            50013,
            "The user federated identity credential is not a valid, current token exchange token.",
        )
    })?;
    if t2_claims["azp"].as_str() != Some(agent.client_id.as_str()) {
        return Err(invalid_grant(
            7002137,
            "The user federated identity credential was not issued to this agent identity.",
        ));
    }
    let user = agent_user(state, form)?;
    if agent.agent_user.as_deref() != Some(user.name.as_str()) {
        return Err(invalid_grant(
            65001,
            format!(
                "The user or administrator has not consented to use the application with ID '{}' for user '{}'.",
                agent.client_id, user.upn
            ),
        ));
    }
    let scopes = DelegatedScopes::parse(state, required(form, "scope")?)?;
    user_tokens::issue(
        state,
        UserGrant {
            realm,
            client_id: &agent.client_id,
            user,
            scopes: &scopes,
            nonce: None,
            client_info: user_tokens::asks_for_client_info(form),
            extra: agent_claims(&blueprint, AGENT_USER_FACET),
            requested: RequestedClaims::from_form(form)?,
        },
    )
}

/// The user `user_id` (object id) or `username` (UPN) names; exactly one of them.
fn agent_user<'s>(state: &'s AppState, form: &Form) -> Result<&'s UserConfig, EntraError> {
    let user_id = form.get("user_id").filter(|v| !v.is_empty());
    let username = form.get("username").filter(|v| !v.is_empty());
    let user = match (user_id, username) {
        (Some(_), Some(_)) => {
            return Err(EntraError::invalid_request(
                90015,
                "Send either 'user_id' or 'username', not both.",
            ));
        }
        (None, None) => {
            return Err(EntraError::invalid_request(
                900144,
                "The request body must contain the following parameter: 'user_id' or 'username'.",
            ));
        }
        (Some(id), None) if id.contains('@') => {
            return Err(EntraError::invalid_request(
                50000,
                "There was an error issuing a token: 'user_id' must be an object id; send a UPN as 'username'.",
            ));
        }
        (Some(id), None) => state.config.user_by_object_id(id),
        (None, Some(upn)) => state.config.user_by_upn(upn),
    };
    user.ok_or_else(|| invalid_grant(50034, "The user account does not exist in the directory."))
}
