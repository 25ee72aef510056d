//! Claims requests and continuous access evaluation (CAE): what a token request's
//! `claims` parameter asks for (the `cp1` client capability, an `nbf` after a critical
//! event, authentication contexts), the long lifetime and `xms_cc` claim of CAE tokens,
//! and the `insufficient_claims` challenge a CAE-capable resource answers older CAE
//! tokens with after a critical event.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::entra_error::EntraError;
use crate::form::Form;
use crate::state::AppState;

/// The client capability that makes a client CAE-aware.
const CP1: &str = "cp1";

/// What a token request's `claims` parameter (JSON) asks of the access token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestedClaims {
    /// The client declared the `cp1` capability (`access_token.xms_cc.values`).
    client_capable: bool,
    /// The token must be issued no earlier than this (`access_token.nbf.value`): what a
    /// CAE challenge asks for after a critical event.
    not_before: Option<u64>,
    /// Authentication context class references the token must carry (`access_token.acrs`).
    acrs: Vec<String>,
}

impl RequestedClaims {
    /// The `claims` of a token request (none asked when the parameter is absent); a
    /// `claims` that is not a JSON object is Entra's invalid request.
    pub(crate) fn from_form(form: &Form) -> Result<Self, EntraError> {
        let Some(text) = form.get("claims").filter(|c| !c.trim().is_empty()) else {
            return Ok(Self::default());
        };
        let invalid = |why: &str| {
            EntraError::invalid_request(
                90100,
                format!("The 'claims' parameter is not valid: {why}."),
            )
        };
        let claims: Value = serde_json::from_str(text).map_err(|_| invalid("it is not JSON"))?;
        if !claims.is_object() {
            return Err(invalid("it is not a JSON object"));
        }
        let access_token = &claims["access_token"];
        let client_capable = access_token["xms_cc"]["values"]
            .as_array()
            .is_some_and(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|v| v.eq_ignore_ascii_case(CP1))
            });
        let not_before = match &access_token["nbf"]["value"] {
            Value::Null => None,
            Value::Number(n) => n.as_u64(),
            Value::String(s) => Some(
                s.trim()
                    .parse()
                    .map_err(|_| invalid("access_token.nbf.value is not a time"))?,
            ),
            _ => return Err(invalid("access_token.nbf.value is not a time")),
        };
        let acrs = &access_token["acrs"];
        let acrs = acrs["values"]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .or_else(|| acrs["value"].as_str().map(|v| vec![v.to_owned()]))
            .unwrap_or_default();
        Ok(Self {
            client_capable,
            not_before,
            acrs,
        })
    }

    /// Whether a token for `resource` is a CAE token: the client declared `cp1` and the
    /// resource evaluates access continuously.
    pub(crate) fn is_cae(&self, state: &AppState, resource: &str) -> bool {
        self.client_capable && state.config.is_cae_capable(resource)
    }

    /// The lifetime of a token for `resource`: long for a CAE token, the configured one
    /// otherwise.
    pub(crate) fn lifetime(&self, state: &AppState, resource: &str) -> u64 {
        if self.is_cae(state, resource) {
            state.config.cae_token_lifetime_secs
        } else {
            state.config.token_lifetime_secs
        }
    }

    /// Makes the claims of a token for `resource` satisfy the request: `xms_cc` for a
    /// CAE token, `iat`/`nbf` no earlier than asked, the `acrs` asked for.
    pub(crate) fn stamp(&self, state: &AppState, resource: &str, claims: &mut Value) {
        if self.is_cae(state, resource) {
            claims["xms_cc"] = json!([CP1]);
        }
        if let Some(not_before) = self.not_before {
            for claim in ["iat", "nbf"] {
                let issued = claims[claim].as_u64().unwrap_or(0);
                claims[claim] = json!(issued.max(not_before));
            }
        }
        if !self.acrs.is_empty() {
            claims["acrs"] = json!(self.acrs);
        }
    }
}

/// Whether a token's claims make it a CAE token (`xms_cc` holds `cp1`).
pub(crate) fn is_cae_token(claims: &Value) -> bool {
    claims["xms_cc"].as_array().is_some_and(|values| {
        values
            .iter()
            .filter_map(Value::as_str)
            .any(|v| v.eq_ignore_ascii_case(CP1))
    })
}

/// The answer of a CAE-capable resource to a CAE token issued before a critical event
/// for its subject: `401` with `WWW-Authenticate: Bearer … error="insufficient_claims",
/// claims="<base64>"`, the claims asking for a token issued after the event, as Graph
/// answers.
pub(crate) fn challenge(state: &AppState, claims: &Value) -> Option<Response> {
    let resource = claims["aud"].as_str()?;
    if !is_cae_token(claims) || !state.config.is_cae_capable(resource) {
        return None;
    }
    let event = state.revocations.critical_event_for(claims)?;
    let wanted = json!({"access_token": {"nbf": {"essential": true, "value": event.to_string()}}});
    let header = format!(
        "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", error=\"insufficient_claims\", claims=\"{}\"",
        state.base_url,
        STANDARD.encode(wanted.to_string())
    );
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {
            "code": "InvalidAuthenticationToken",
            "message": "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
        }})),
    )
        .into_response();
    let value = HeaderValue::from_str(&header).ok()?;
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, value);
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(claims: &str) -> Form {
        [("claims".to_owned(), claims.to_owned())]
            .into_iter()
            .collect()
    }

    #[test]
    fn reads_capabilities_nbf_and_acrs_as_msal_sends_them() {
        let requested = RequestedClaims::from_form(&form(
            r#"{"access_token": {"nbf": {"essential": true, "value": "1604106651"}, "xms_cc": {"values": ["CP1"]}, "acrs": {"essential": true, "value": "c1"}}}"#,
        ))
        .unwrap();
        assert_eq!(
            requested,
            RequestedClaims {
                client_capable: true,
                not_before: Some(1_604_106_651),
                acrs: vec!["c1".into()],
            }
        );
        assert_eq!(
            RequestedClaims::from_form(&Form::new()).unwrap(),
            RequestedClaims::default()
        );
    }

    #[test]
    fn refuses_claims_that_are_not_a_json_object() {
        for bad in [
            "not json",
            "[1]",
            r#"{"access_token":{"nbf":{"value":"soon"}}}"#,
        ] {
            let error = RequestedClaims::from_form(&form(bad)).unwrap_err();
            assert_eq!(error.error, "invalid_request", "{bad}");
        }
    }
}
