//! Reading token endpoint answers: the OAuth error first, then the token.

use std::fmt;

use serde_json::{Map, Value};
use tokenhop_core::{Error, Result, Secret};

use crate::http::HttpResponse;

/// A successful token response. `Debug` shows no token.
#[derive(Clone)]
pub(crate) struct TokenResponse {
    /// The access token.
    pub access_token: Secret,
    /// Usually `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Seconds after which to refresh proactively, if given.
    pub refresh_in: Option<u64>,
    /// The granted scopes, space-separated, if given.
    pub scope: Option<String>,
    /// A refresh token, for user flows.
    pub refresh_token: Option<Secret>,
    /// An id token, for user flows.
    pub id_token: Option<Secret>,
    /// The FOCI family id (`"1"`), if the app is in a family.
    pub foci: Option<String>,
    /// The whole JSON body, for the cache's write path. Holds secrets.
    pub raw: Map<String, Value>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_in", &self.refresh_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| tokenhop_core::REDACTED),
            )
            .field(
                "id_token",
                &self.id_token.as_ref().map(|_| tokenhop_core::REDACTED),
            )
            .field("foci", &self.foci)
            .finish_non_exhaustive()
    }
}

/// Parses a token endpoint response. `hop` names the hop of a chain in errors.
///
/// An `error` field wins over everything else — even a body that also holds an
/// `access_token` is an error.
pub(crate) fn parse_token_response(
    response: &HttpResponse,
    endpoint: &str,
    hop: Option<u8>,
) -> Result<TokenResponse> {
    let object = json_object(response, endpoint)?;
    if let Some(error) = oauth_error(&object, hop, &response.request_id) {
        return Err(error);
    }
    let invalid = |reason: &str| Error::InvalidResponse {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    if !(200..300).contains(&response.status) {
        return Err(invalid(&format!(
            "HTTP {} without an OAuth error",
            response.status
        )));
    }
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => Secret::new(token.as_str()),
        _ => return Err(invalid("no access_token in the response")),
    };
    let expires_in = number_field(&object, "expires_in")
        .ok_or_else(|| invalid("no valid expires_in in the response"))?;
    Ok(TokenResponse {
        access_token,
        token_type: string_field(&object, "token_type").unwrap_or_else(|| "Bearer".to_owned()),
        expires_in,
        refresh_in: number_field(&object, "refresh_in"),
        scope: string_field(&object, "scope"),
        refresh_token: string_field(&object, "refresh_token")
            .filter(|s| !s.is_empty())
            .map(Secret::new),
        id_token: string_field(&object, "id_token")
            .filter(|s| !s.is_empty())
            .map(Secret::new),
        foci: string_field(&object, "foci"),
        raw: object,
    })
}

/// The body as a JSON object, or an error that does not quote the body (it may hold tokens).
pub(crate) fn json_object(response: &HttpResponse, endpoint: &str) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(Error::InvalidResponse {
            endpoint: endpoint.to_owned(),
            reason: format!(
                "HTTP {} with a body that is not a JSON object ({} bytes, content-type {})",
                response.status,
                response.body.len(),
                response.header("content-type").unwrap_or("none")
            ),
        }),
    }
}

/// The OAuth error in a response body, if it has one. Its correlation id is the body's,
/// else the `client-request-id` the request was sent with (which Entra echoes).
pub(crate) fn oauth_error(
    object: &Map<String, Value>,
    hop: Option<u8>,
    request_id: &str,
) -> Option<Error> {
    let error = object.get("error")?;
    let error = match error {
        Value::String(code) => code.clone(),
        // Graph-style {"error": {"code": ...}} bodies from a misdirected request.
        Value::Object(inner) => inner
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error")
            .to_owned(),
        other => other.to_string(),
    };
    let error_codes = object
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|codes| codes.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    Some(Error::TokenExchange {
        hop,
        error,
        description: string_field(object, "error_description").unwrap_or_default(),
        error_codes,
        correlation_id: string_field(object, "correlation_id")
            .or_else(|| (!request_id.is_empty()).then(|| request_id.to_owned())),
    })
}

pub(crate) fn string_field(object: &Map<String, Value>, name: &str) -> Option<String> {
    object.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// A non-negative integer that may arrive as a JSON number or a numeric string.
pub(crate) fn number_field(object: &Map<String, Value>, name: &str) -> Option<u64> {
    match object.get(name)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            request_id: "test-request".into(),
            status,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn reads_a_success_with_string_expires_in() {
        let r = parse_token_response(
            &response(200, r#"{"token_type":"Bearer","access_token":"at-1","expires_in":"3599","refresh_in":1800,"scope":"a b","foci":"1"}"#),
            "token",
            None,
        )
        .unwrap();
        assert_eq!(r.access_token.expose_secret(), "at-1");
        assert_eq!(r.expires_in, 3599);
        assert_eq!(r.refresh_in, Some(1800));
        assert_eq!(r.foci.as_deref(), Some("1"));
        assert!(!format!("{r:?}").contains("at-1"));
    }

    #[test]
    fn error_wins_over_access_token() {
        let err = parse_token_response(
            &response(200, r#"{"error":"invalid_client","error_description":"AADSTS7000215: bad secret","error_codes":[7000215],"correlation_id":"c1","access_token":"at-should-not-be-used","expires_in":1}"#),
            "token",
            Some(2),
        )
        .unwrap_err();
        match &err {
            Error::TokenExchange {
                hop,
                error,
                error_codes,
                correlation_id,
                ..
            } => {
                assert_eq!(*hop, Some(2));
                assert_eq!(error, "invalid_client");
                assert_eq!(error_codes, &vec![7000215]);
                assert_eq!(correlation_id.as_deref(), Some("c1"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!err.to_string().contains("at-should-not-be-used"));
    }

    #[test]
    fn malformed_bodies_are_clear_errors_that_do_not_quote_the_body() {
        for body in [
            "",
            "not json at-secret",
            "[1,2]",
            r#"{"access_token":"at-secret"}"#,
            r#"{"access_token":"","expires_in":5}"#,
        ] {
            let err = parse_token_response(&response(200, body), "token", None).unwrap_err();
            assert!(
                matches!(err, Error::InvalidResponse { .. }),
                "{body}: {err:?}"
            );
            assert!(!err.to_string().contains("at-secret"), "{err}");
        }
        let err = parse_token_response(&response(503, "{}"), "token", None).unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..256)) {
            let r = HttpResponse { status, headers: Default::default(), body, request_id: String::new() };
            let _ = parse_token_response(&r, "token", None);
        }
    }
}
