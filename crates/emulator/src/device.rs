//! The device code flow: the device authorization endpoint, polling rules
//! (`authorization_pending`, `slow_down`, `expired_token`, `authorization_declined`)
//! and approval through the admin API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::entra_error::EntraError;
use crate::realm::{AuthorityRealm, Realm};
use crate::state::State;
use crate::token::{Form, required};
use crate::user_tokens::{self, DelegatedScopes};

#[derive(Clone, Debug)]
enum Status {
    Pending,
    /// Approved by a user; the first `pending_polls` polls still see it pending.
    Approved {
        user: String,
        pending_polls: u32,
    },
    Denied,
}

#[derive(Clone, Debug)]
struct DeviceGrant {
    user_code: String,
    client_id: String,
    scope: String,
    realm: Realm,
    expires_at: u64,
    interval_secs: u64,
    last_poll: Option<Instant>,
    status: Status,
    issued: u64,
}

/// Device codes by `device_code`.
#[derive(Default)]
pub(crate) struct DeviceCodes {
    codes: Mutex<HashMap<String, DeviceGrant>>,
    /// Orders codes, so that "the latest pending one" is well defined.
    sequence: AtomicU64,
}

impl DeviceCodes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DeviceGrant>> {
        self.codes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the status of the code with `user_code`, or of the latest pending one when
    /// none is named. False when there is no such code.
    fn decide(&self, user_code: Option<&str>, status: Status) -> bool {
        let mut codes = self.lock();
        let grant = match user_code {
            Some(code) => codes
                .values_mut()
                .find(|g| g.user_code.eq_ignore_ascii_case(code)),
            None => codes
                .values_mut()
                .filter(|g| matches!(g.status, Status::Pending))
                .max_by_key(|g| g.issued),
        };
        match grant {
            Some(grant) => {
                grant.status = status;
                true
            }
            None => false,
        }
    }
}

/// `POST {authority}/oauth2/v2.0/devicecode`.
pub(crate) async fn start(
    AxumState(state): AxumState<Arc<State>>,
    AuthorityRealm(realm): AuthorityRealm,
    body: Bytes,
) -> Response {
    match start_flow(&state, realm, &body) {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn start_flow(state: &State, realm: Realm, body: &[u8]) -> Result<Value, EntraError> {
    let form: Form = url::form_urlencoded::parse(body).into_owned().collect();
    let client_id = required(&form, "client_id")?;
    if state.config.app_by_client_id(client_id).is_none() {
        return Err(EntraError::unknown_client(state, client_id));
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
    let issued = state.device_codes.sequence.fetch_add(1, Ordering::Relaxed);
    state.device_codes.lock().insert(
        device_code.clone(),
        DeviceGrant {
            user_code: user_code.clone(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            realm,
            expires_at: state.now() + settings.lifetime_secs,
            interval_secs: settings.interval_secs,
            last_poll: None,
            status: Status::Pending,
            issued,
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

fn poll_error(error: &'static str, code: u64, message: &str) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, error, code, message)
}

/// The device code grant at the token endpoint.
pub(crate) fn poll(state: &State, form: &Form) -> Result<Value, EntraError> {
    let client_id = required(form, "client_id")?;
    let device_code = required(form, "device_code")?;
    let mut codes = state.device_codes.lock();
    let Some(grant) = codes.get_mut(device_code) else {
        return Err(poll_error(
            "invalid_grant",
            9002313,
            "Invalid request. The device code is unknown or was already redeemed.",
        ));
    };
    if grant.client_id != client_id {
        return Err(poll_error(
            "invalid_grant",
            70000,
            "The device code was issued to another client.",
        ));
    }
    if state.now() >= grant.expires_at {
        codes.remove(device_code);
        return Err(poll_error(
            "expired_token",
            70019,
            "Verification code expired.",
        ));
    }
    let too_fast = grant
        .last_poll
        .is_some_and(|last| last.elapsed().as_millis() < u128::from(grant.interval_secs) * 500);
    grant.last_poll = Some(Instant::now());
    let user = match &mut grant.status {
        Status::Denied => {
            codes.remove(device_code);
            return Err(poll_error(
                "authorization_declined",
                70000,
                "The user declined the sign-in.",
            ));
        }
        Status::Approved {
            pending_polls: 0,
            user,
        } => user.clone(),
        Status::Approved { pending_polls, .. } => {
            *pending_polls -= 1;
            return Err(pending_or_slow_down(grant, too_fast));
        }
        Status::Pending => return Err(pending_or_slow_down(grant, too_fast)),
    };
    let Some(grant) = codes.remove(device_code) else {
        return Err(poll_error(
            "invalid_grant",
            9002313,
            "The device code vanished.",
        ));
    };
    drop(codes);
    user_tokens::issue_remembered(
        state,
        &grant.realm,
        client_id,
        &user,
        &grant.scope,
        None,
        form,
    )
}

/// While pending: `slow_down` (and a longer interval) for a client that polls faster
/// than half the interval, `authorization_pending` otherwise.
fn pending_or_slow_down(grant: &mut DeviceGrant, too_fast: bool) -> EntraError {
    if too_fast {
        grant.interval_secs += 5;
        poll_error(
            "slow_down",
            70000,
            "The client is polling too fast; wait 5 seconds longer between polls.",
        )
    } else {
        poll_error(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )
    }
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
pub(crate) async fn approve(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    decide(&state, &body, true)
}

/// `POST /admin/device/deny`: `{"user_code"?}`.
pub(crate) async fn deny(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    decide(&state, &body, false)
}

fn decide(state: &State, body: &[u8], approve: bool) -> Response {
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
    let status = if approve {
        let Some(user) = decision.user.filter(|u| state.config.user(u).is_some()) else {
            return bad("approve needs \"user\": the name of a configured user".into());
        };
        Status::Approved {
            user,
            pending_polls: decision.after_polls,
        }
    } else {
        Status::Denied
    };
    if state
        .device_codes
        .decide(decision.user_code.as_deref(), status)
    {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "error_description": "no such pending device code"})),
        )
            .into_response()
    }
}

impl State {
    /// Approves a device code as `user` (see [`approve`]).
    pub(crate) fn approve_device_code(
        &self,
        user_code: Option<&str>,
        user: &str,
        after_polls: u32,
    ) -> bool {
        self.config.user(user).is_some()
            && self.device_codes.decide(
                user_code,
                Status::Approved {
                    user: user.to_owned(),
                    pending_polls: after_polls,
                },
            )
    }

    /// Denies a device code.
    pub(crate) fn deny_device_code(&self, user_code: Option<&str>) -> bool {
        self.device_codes.decide(user_code, Status::Denied)
    }
}

const DEVICE_LOGIN_FORM: &str = "<!doctype html><html><head><title>Enter code</title></head><body><h1>Sign in a device</h1>{problem}<form method=\"post\" action=\"/devicelogin\"><label>Code <input name=\"user_code\"></label><label>User <input name=\"login\"></label><label>Password <input name=\"password\" type=\"password\"></label><button type=\"submit\">Sign in</button></form></body></html>";

/// `GET /devicelogin`: the page a device code's message sends the user to.
pub(crate) async fn login_page() -> axum::response::Html<String> {
    axum::response::Html(DEVICE_LOGIN_FORM.replace("{problem}", ""))
}

/// `POST /devicelogin`: a user enters the code and signs in, which approves it.
pub(crate) async fn login(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let form: Form = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let user = state
        .config
        .user_by_upn(field("login"))
        .or_else(|| state.config.user(field("login")))
        .filter(|user| user.password == field("password"));
    let problem = match user {
        None => "AADSTS50126: Error validating credentials due to invalid username or password.",
        Some(user) if state.approve_device_code(Some(field("user_code")), &user.name, 0) => {
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
