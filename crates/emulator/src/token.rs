//! The token endpoint: it reads the form and hands it to the grant its `grant_type`
//! names.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::entra_error::EntraError;
use crate::extract::AuthorityRealm;
use crate::form::{self, required};
use crate::realm::Realm;
use crate::state::AppState;
use crate::{agent_id, authorize, client_auth, client_credentials, device, user_grants};

/// RFC 8628's name for the device code grant. Entra also takes the short
/// `device_code`, which msal-node and MSAL.NET send.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `POST {authority}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    AuthorityRealm(realm): AuthorityRealm,
    body: Bytes,
) -> Response {
    match answer(&state, &realm, &body) {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

fn answer(state: &AppState, realm: &Realm, body: &[u8]) -> Result<Value, EntraError> {
    let form = form::parse(body);
    let grant_type = required(&form, "grant_type")?;
    state.count_grant(grant_type);
    let token_endpoint = realm.token_endpoint(&state.base_url);
    match grant_type {
        "client_credentials" => client_credentials::grant(state, &form, &token_endpoint),
        "authorization_code" => {
            let app = client_auth::authenticate(state, &form, &token_endpoint, true)?;
            authorize::redeem(state, &form, &app.client_id)
        }
        DEVICE_CODE_GRANT | "device_code" => {
            client_auth::authenticate(state, &form, &token_endpoint, true)?;
            device::poll(state, &form)
        }
        "refresh_token" => user_grants::refresh(state, realm, &form, &token_endpoint),
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
