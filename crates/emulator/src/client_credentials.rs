//! The client credentials grant: an app's own token, the token a blueprint gets for
//! one of its agent identities (Agent ID hop 1), and an agent identity's app token
//! (hop 2).

use serde_json::{Map, Value};

use crate::agent_id;
use crate::app_tokens::{app_resource, app_token};
use crate::cae::RequestedClaims;
use crate::client_auth;
use crate::entra_error::EntraError;
use crate::federation::TOKEN_EXCHANGE;
use crate::form::Form;
use crate::realm::Realm;
use crate::state::AppState;

/// `grant_type=client_credentials` at `realm`'s token endpoint `token_endpoint`.
pub(crate) fn grant(
    state: &AppState,
    realm: &Realm,
    form: &Form,
    token_endpoint: &str,
) -> Result<Value, EntraError> {
    if let Some(agent) = form
        .get("client_id")
        .and_then(|id| state.config.agent_by_client_id(id))
    {
        return agent_id::agent_app_token(state, realm, form, agent);
    }
    let app = client_auth::authenticate(state, form, token_endpoint, false)?;
    let client_id = app.client_id.as_str();
    let resource = app_resource(state, form)?;
    let is_blueprint = state
        .config
        .agent_identities
        .iter()
        .any(|agent| agent.blueprint == app.name);
    let extra = if resource == TOKEN_EXCHANGE && is_blueprint {
        agent_id::blueprint_exchange_claims(state, form, client_id)?
    } else {
        Map::new()
    };
    let requested = RequestedClaims::from_form(form)?;
    app_token(state, realm, client_id, &resource, extra, &requested)
}
