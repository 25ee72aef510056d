//! The device code flow's endpoints: the device authorization endpoint, the device
//! code grant at the token endpoint, approval through the admin API and the
//! `/devicelogin` page ([`crate::device_codes`] keeps the codes and the polling rules).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::device_codes::IssuedDeviceCode;
use crate::entra_error::EntraError;
use crate::extract::AuthorityRealm;
use crate::form::{self, Form, required};
use crate::realm::Realm;
use crate::state::AppState;
use crate::user_tokens::{self, DelegatedScopes};

/// `POST {authority}/oauth2/v2.0/devicecode`.
pub(crate) async fn start(
    State(state): State<Arc<AppState>>,
    AuthorityRealm(realm): AuthorityRealm,
    body: Bytes,
) -> Response {
    match start_flow(&state, realm, &body) {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn start_flow(state: &AppState, realm: Realm, body: &[u8]) -> Result<Value, EntraError> {
    let form = form::parse(body);
    let client_id = required(&form, "client_id")?;
    if state.config.app_by_client_id(client_id).is_none() {
        return Err(EntraError::unknown_client(&state.config, client_id));
    }
    let scope = required(&form, "scope")?;
    DelegatedScopes::parse(state, scope)?;
    let device_code = format!(
        "DAQABAAEAAA{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let user_code = user_code();
    let settings = &state.config.device_code;
    let verification_uri = format!("{}/devicelogin", state.base_url);
    state.device_codes.insert(
        device_code.clone(),
        IssuedDeviceCode {
            user_code: user_code.clone(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            realm,
            expires_at: state.now() + settings.lifetime_secs,
            interval_secs: settings.interval_secs,
        },
    );
    Ok(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "expires_in": settings.lifetime_secs,
        "interval": settings.interval_secs,
        "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."),
    }))
}

/// Nine characters from an alphabet without look-alikes, as Entra's user codes.
fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(9)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// The device code grant at the token endpoint.
pub(crate) fn poll(state: &AppState, form: &Form) -> Result<Value, EntraError> {
    let client_id = required(form, "client_id")?;
    let device_code = required(form, "device_code")?;
    let approved = state
        .device_codes
        .poll(device_code, client_id, state.now())?;
    user_tokens::issue_remembered(
        state,
        &approved.realm,
        client_id,
        &approved.user,
        &approved.scope,
        None,
        form,
    )
}

/// The body of `POST /admin/device/approve` and `/deny`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    /// The user code; none means the latest pending code.
    #[serde(default)]
    user_code: Option<String>,
    /// The user who signs in (approve only), by name.
    #[serde(default)]
    user: Option<String>,
    /// Polls that still see it pending after the approval (approve only).
    #[serde(default)]
    after_polls: u32,
}

/// `POST /admin/device/approve`: `{"user_code"?, "user", "after_polls"?}`.
pub(crate) async fn approve(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    decide(&state, &body, true)
}

/// `POST /admin/device/deny`: `{"user_code"?}`.
pub(crate) async fn deny(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    decide(&state, &body, false)
}

fn decide(state: &AppState, body: &[u8], approve: bool) -> Response {
    let bad = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": message})),
        )
            .into_response()
    };
    let decision: Decision = match serde_json::from_slice(body) {
        Ok(d) => d,
        Err(e) => return bad(format!("expected {{\"user_code\", \"user\"}}: {e}")),
    };
    let user_code = decision.user_code.as_deref();
    let decided = if approve {
        let Some(user) = decision.user.filter(|u| state.config.user(u).is_some()) else {
            return bad("approve needs \"user\": the name of a configured user".into());
        };
        state
            .device_codes
            .approve(user_code, &user, decision.after_polls)
    } else {
        state.device_codes.deny(user_code)
    };
    if decided {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "error_description": "no such pending device code"})),
        )
            .into_response()
    }
}

/// Approves a device code as the configured user named `user` (see [`approve`]); false
/// when there is no such user or code.
pub(crate) fn approve_as(
    state: &AppState,
    user_code: Option<&str>,
    user: &str,
    after_polls: u32,
) -> bool {
    state.config.user(user).is_some() && state.device_codes.approve(user_code, user, after_polls)
}

const DEVICE_LOGIN_FORM: &str = "<!doctype html><html><head><title>Enter code</title></head><body><h1>Sign in a device</h1>{problem}<form method=\"post\" action=\"/devicelogin\"><label>Code <input name=\"user_code\"></label><label>User <input name=\"login\"></label><label>Password <input name=\"password\" type=\"password\"></label><button type=\"submit\">Sign in</button></form></body></html>";

/// `GET /devicelogin`: the page a device code's message sends the user to.
pub(crate) async fn login_page() -> axum::response::Html<String> {
    axum::response::Html(DEVICE_LOGIN_FORM.replace("{problem}", ""))
}

/// `POST /devicelogin`: a user enters the code and signs in, which approves it.
pub(crate) async fn login(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let form = form::parse(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let user = state
        .config
        .user_by_upn(field("login"))
        .or_else(|| state.config.user(field("login")))
        .filter(|user| user.password == field("password"));
    let problem = match user {
        None => "AADSTS50126: Error validating credentials due to invalid username or password.",
        Some(user) if approve_as(&state, Some(field("user_code")), &user.name, 0) => {
            return axum::response::Html(
                "<!doctype html><html><body><p>You have signed in. You can close this window.</p></body></html>".to_owned(),
            )
            .into_response();
        }
        Some(_) => "That code is not valid. Check it and try again.",
    };
    (
        StatusCode::BAD_REQUEST,
        axum::response::Html(
            DEVICE_LOGIN_FORM.replace("{problem}", &format!("<p role=\"alert\">{problem}</p>")),
        ),
    )
        .into_response()
}
