//! Client authentication at the token endpoint: a secret, a certificate assertion, or
//! a federated token from the emulator's federation issuer (workload identity).

use crate::app_certificate;
use crate::config::AppConfig;
use crate::entra_error::EntraError;
use crate::federation::{self, TOKEN_EXCHANGE};
use crate::form::{Form, JWT_BEARER, required};
use crate::state::AppState;

/// The credential a request carries.
pub(crate) enum Credential<'f> {
    None,
    Secret(&'f str),
    Assertion(&'f str),
}

/// The one credential in `form`: refuses both at once (AADSTS9002324), and an assertion
/// without the jwt-bearer assertion type.
pub(crate) fn credential(form: &Form) -> Result<Credential<'_>, EntraError> {
    let secret = form.get("client_secret").filter(|s| !s.is_empty());
    let assertion = form.get("client_assertion").filter(|s| !s.is_empty());
    match (secret, assertion) {
        (Some(_), Some(_)) => Err(EntraError::invalid_request(
            9002324,
            "Only one client credential may be sent: client_secret or client_assertion.",
        )),
        (None, None) => Ok(Credential::None),
        (Some(secret), None) => Ok(Credential::Secret(secret)),
        (None, Some(assertion)) => {
            if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
                return Err(EntraError::invalid_request(
                    900144,
                    format!(
                        "The request body must contain the following parameter: 'client_assertion_type' = '{JWT_BEARER}'."
                    ),
                ));
            }
            Ok(Credential::Assertion(assertion))
        }
    }
}

/// Whether an app must authenticate (it has a credential registered).
pub(crate) fn is_confidential(state: &AppState, app: &AppConfig) -> bool {
    app.secret.is_some()
        || app.has_certificates()
        || state
            .config
            .federated_credentials
            .iter()
            .any(|f| f.app == app.name)
}

/// Finds the app named by `client_id` and checks its credential; returns the app.
/// Public clients pass without one when `allow_public` is set.
pub(crate) fn authenticate<'s>(
    state: &'s AppState,
    form: &Form,
    token_endpoint: &str,
    allow_public: bool,
) -> Result<&'s AppConfig, EntraError> {
    let client_id = required(form, "client_id")?;
    let app = state
        .config
        .app_by_client_id(client_id)
        .ok_or_else(|| EntraError::unknown_client(&state.config, client_id))?;
    match credential(form)? {
        Credential::None if allow_public && !is_confidential(state, app) => Ok(app),
        Credential::None => Err(EntraError::invalid_client(
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        )),
        Credential::Secret(sent) => match &app.secret {
            Some(registered) if constant_time_eq(sent.as_bytes(), registered.as_bytes()) => Ok(app),
            _ => Err(EntraError::invalid_client(
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            )),
        },
        Credential::Assertion(assertion) if federation::is_federated(state, assertion) => {
            verify_federated(state, app, assertion)?;
            Ok(app)
        }
        Credential::Assertion(assertion) => {
            let certificates = state.certificates.get(client_id).ok_or_else(|| {
                EntraError::invalid_client(700027, "Client assertion failed signature validation. [Reason - No certificate is registered for the app.]")
            })?;
            app_certificate::verify(certificates, client_id, token_endpoint, assertion)?;
            Ok(app)
        }
    }
}

/// A federated token: signed by the federation issuer, for `api://AzureADTokenExchange`,
/// current, with a subject the app trusts.
fn verify_federated(state: &AppState, app: &AppConfig, assertion: &str) -> Result<(), EntraError> {
    let claims = state
        .federation_key
        .verify(assertion, TOKEN_EXCHANGE, state.now())
        .ok_or_else(|| {
            EntraError::invalid_client(
                700024,
                "Client assertion is not within its valid time range, or its signature or audience does not verify.",
            )
        })?;
    let subject = claims["sub"].as_str().unwrap_or_default();
    let trusted = state
        .config
        .federated_credentials
        .iter()
        .any(|f| f.app == app.name && f.subject == subject);
    if trusted {
        Ok(())
    } else {
        Err(EntraError::invalid_client(
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{subject}'. Assertion Audience: '{TOKEN_EXCHANGE}'.",
                federation::issuer(state)
            ),
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
