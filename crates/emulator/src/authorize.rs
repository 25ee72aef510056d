//! The authorization endpoint: a small sign-in form (or an automatic sign-in for
//! headless tests), authorization codes bound to PKCE S256, and their redemption.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest;

use crate::auth_codes::CodeGrant;
use crate::config::UserConfig;
use crate::entra_error::EntraError;
use crate::extract::AuthorityRealm;
use crate::form::{self, Form, required};
use crate::realm::Realm;
use crate::state::AppState;
use crate::user_tokens::{self, DelegatedScopes};

/// How long a code can be redeemed, in seconds.
const CODE_LIFETIME_SECS: u64 = 600;

/// A checked authorization request.
struct AuthorizeRequest {
    realm: Realm,
    params: Form,
    redirect_uri: String,
}

impl AuthorizeRequest {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Sends the browser back to the client with `fields` (and `state`), as a redirect
    /// (`query`) or an auto-submitted form (`form_post`).
    fn respond(&self, mut fields: Vec<(&str, String)>) -> Response {
        if let Some(state) = self.param("state") {
            fields.push(("state", state.to_owned()));
        }
        if self.param("response_mode") == Some("form_post") {
            let inputs: String = fields
                .iter()
                .map(|(name, value)| {
                    format!(
                        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                        escape(name),
                        escape(value)
                    )
                })
                .collect();
            return Html(format!(
                "<!doctype html><html><body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}<noscript><button>Continue</button></noscript></form></body></html>",
                escape(&self.redirect_uri)
            ))
            .into_response();
        }
        let mut location = self.redirect_uri.clone();
        location.push(if location.contains('?') { '&' } else { '?' });
        location.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
                .finish(),
        );
        (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
    }

    fn error(&self, error: &EntraError) -> Response {
        self.respond(vec![
            ("error", error.error.to_owned()),
            (
                "error_description",
                format!("AADSTS{}: {}", error.code, error.message),
            ),
        ])
    }
}

/// An error page for requests that cannot be sent back to the client (no valid
/// `redirect_uri` to send them to).
fn error_page(error: &EntraError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><html><body><h1>Sign-in failed</h1><p>AADSTS{}: {}</p></body></html>",
            error.code,
            escape(&error.message)
        )),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Loopback redirect URIs are accepted for every app on any port, as Entra does for
/// `http://localhost` registrations.
fn is_loopback_redirect(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|url| {
        url.scheme() == "http"
            && match url.host() {
                Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    })
}

fn check(state: &AppState, realm: Realm, params: Form) -> Result<AuthorizeRequest, Box<Response>> {
    let client_id = required(&params, "client_id").map_err(|e| Box::new(error_page(&e)))?;
    if state.config.app_by_client_id(client_id).is_none() {
        return Err(Box::new(error_page(&EntraError::unknown_client(
            &state.config,
            client_id,
        ))));
    }
    let redirect_uri = required(&params, "redirect_uri").map_err(|e| Box::new(error_page(&e)))?;
    if !is_loopback_redirect(redirect_uri) {
        return Err(Box::new(error_page(&EntraError::invalid_request(
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application."
            ),
        ))));
    }
    let request = AuthorizeRequest {
        redirect_uri: redirect_uri.to_owned(),
        realm,
        params,
    };
    if request.param("response_type") != Some("code") {
        return Err(Box::new(request.error(&EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            700054,
            "response_type 'code' is the only one this app may use.",
        ))));
    }
    if let Some(method) = request.param("code_challenge_method")
        && method != "S256"
    {
        return Err(Box::new(request.error(&EntraError::invalid_request(
            50125,
            "code_challenge_method must be S256.",
        ))));
    }
    let scope = request.param("scope").unwrap_or_default();
    if let Err(error) = DelegatedScopes::parse(state, scope) {
        return Err(Box::new(request.error(&error)));
    }
    Ok(request)
}

/// `GET {authority}/oauth2/v2.0/authorize`.
pub(crate) async fn authorize(
    State(state): State<Arc<AppState>>,
    realm: Result<AuthorityRealm, EntraError>,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let realm = match realm {
        Ok(AuthorityRealm(realm)) => realm,
        Err(error) => return error_page(&error),
    };
    let query = query.unwrap_or_default();
    let params = form::parse(query.as_bytes());
    let request = match check(&state, realm, params) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let auto = state
        .config
        .auto_sign_in
        .as_deref()
        .and_then(|name| state.config.user(name));
    match auto {
        Some(user) => issue_code(&state, &request, user),
        None => sign_in_form(uri.path(), &query, request.param("login_hint"), None),
    }
}

fn sign_in_form(
    action: &str,
    query: &str,
    login_hint: Option<&str>,
    problem: Option<&str>,
) -> Response {
    let problem = problem
        .map(|p| format!("<p role=\"alert\">{}</p>", escape(p)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html><head><title>Sign in</title></head><body><h1>Sign in to the Entra emulator</h1>{problem}<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"request\" value=\"{}\"><label>User <input name=\"login\" value=\"{}\"></label><label>Password <input name=\"password\" type=\"password\"></label><button type=\"submit\">Sign in</button></form></body></html>",
        escape(action),
        escape(query),
        escape(login_hint.unwrap_or_default()),
    ))
    .into_response()
}

/// `POST {authority}/oauth2/v2.0/authorize`: the sign-in form's submission.
pub(crate) async fn sign_in(
    State(state): State<Arc<AppState>>,
    realm: Result<AuthorityRealm, EntraError>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let realm = match realm {
        Ok(AuthorityRealm(realm)) => realm,
        Err(error) => return error_page(&error),
    };
    let form = form::parse(&body);
    let query = form.get("request").cloned().unwrap_or_default();
    let params = form::parse(query.as_bytes());
    let request = match check(&state, realm, params) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let login = form.get("login").map(String::as_str).unwrap_or_default();
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    let user = state
        .config
        .user_by_upn(login)
        .or_else(|| state.config.user(login))
        .filter(|user| user.password == password);
    match user {
        Some(user) => issue_code(&state, &request, user),
        None => sign_in_form(
            uri.path(),
            &query,
            Some(login),
            Some("AADSTS50126: Error validating credentials due to invalid username or password."),
        ),
    }
}

fn issue_code(state: &AppState, request: &AuthorizeRequest, user: &UserConfig) -> Response {
    let code = format!(
        "0.emu.{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let grant = CodeGrant {
        client_id: request.param("client_id").unwrap_or_default().to_owned(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.param("scope").unwrap_or_default().to_owned(),
        nonce: request.param("nonce").map(str::to_owned),
        code_challenge: request.param("code_challenge").map(str::to_owned),
        realm: request.realm.clone(),
        user: user.name.clone(),
        expires_at: state.now() + CODE_LIFETIME_SECS,
    };
    state.auth_codes.insert(code.clone(), grant);
    request.respond(vec![("code", code)])
}

fn invalid_grant(code: u64, message: &str) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
}

/// The authorization code grant at the token endpoint; the client is authenticated
/// already (or is public).
pub(crate) fn redeem(
    state: &AppState,
    form: &Form,
    client_id: &str,
) -> Result<serde_json::Value, EntraError> {
    let code = required(form, "code")?;
    let grant = state.auth_codes.take(code).ok_or_else(|| {
        invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed or is unknown.",
        )
    })?;
    if state.now() >= grant.expires_at {
        return Err(invalid_grant(
            70008,
            "The provided authorization code has expired.",
        ));
    }
    if grant.client_id != client_id {
        return Err(invalid_grant(
            70000,
            "The authorization code was issued to another client.",
        ));
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(invalid_grant(
            70000,
            "The redirect_uri does not match the one of the authorization request.",
        ));
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = form
            .get("code_verifier")
            .map(String::as_str)
            .unwrap_or_default();
        let computed = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        if computed != *challenge {
            return Err(invalid_grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    user_tokens::issue_remembered(
        state,
        &grant.realm,
        client_id,
        &grant.user,
        &grant.scope,
        grant.nonce.as_deref(),
        form,
    )
}
