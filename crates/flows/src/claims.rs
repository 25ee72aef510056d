//! Claims: what a token request's `claims` parameter carries — a claims challenge from a
//! resource, merged with the client's capabilities as MSAL merges them — and how a
//! resource's `insufficient_claims` challenge is read from `WWW-Authenticate`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use tokenhop_core::{Error, Result};

use crate::http::Form;

/// The `claims` a token request sends: the challenge (`claims`, JSON) with the client's
/// `capabilities` merged in as `access_token.xms_cc.values`, as MSAL does; `None` when
/// there is neither. Without capabilities the challenge goes as it came.
pub(crate) fn merged(capabilities: &[String], challenge: Option<&str>) -> Result<Option<String>> {
    if capabilities.is_empty() {
        return Ok(challenge.map(str::to_owned));
    }
    let mut claims = match challenge {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => object,
            _ => {
                return Err(Error::configuration(
                    "claims: the claims challenge is not a JSON object; pass the JSON a resource's insufficient_claims challenge decodes to",
                ));
            }
        },
        None => Map::new(),
    };
    let access_token = claims
        .entry("access_token")
        .or_insert_with(|| Value::Object(Map::new()));
    if !access_token.is_object() {
        *access_token = Value::Object(Map::new());
    }
    access_token["xms_cc"] = json!({ "values": capabilities });
    Ok(Some(Value::Object(claims).to_string()))
}

/// `form` with the `claims` field a request of a client with `capabilities` carries for
/// `challenge`, if any.
pub(crate) fn with_claims(
    form: Form,
    capabilities: &[String],
    challenge: Option<&str>,
) -> Result<Form> {
    Ok(match merged(capabilities, challenge)? {
        Some(claims) => form.field("claims", claims),
        None => form,
    })
}

/// Checks client capabilities as a builder or a file gives them: each a non-empty word.
pub(crate) fn checked_capabilities(
    capabilities: impl IntoIterator<Item = impl Into<String>>,
) -> Result<Vec<String>> {
    let capabilities: Vec<String> = capabilities
        .into_iter()
        .map(|c| c.into().trim().to_owned())
        .collect();
    if let Some(bad) = capabilities
        .iter()
        .find(|c| c.is_empty() || c.contains(char::is_whitespace))
    {
        return Err(Error::configuration(format!(
            "client_capabilities: {bad:?} is not a capability (e.g. cp1)"
        )));
    }
    Ok(capabilities)
}

/// The claims (JSON) of an `insufficient_claims` challenge in a `WWW-Authenticate`
/// header: `Bearer … error="insufficient_claims", claims="<base64>"`, the base64
/// standard or url-safe, padded or not. `None` for any other header.
pub(crate) fn insufficient_claims(header: &str) -> Option<String> {
    let params = bearer_params(header)?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    if param("error") != Some("insufficient_claims") {
        return None;
    }
    let encoded = param("claims")?.trim();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(encoded).ok())?;
    let text = String::from_utf8(bytes).ok()?;
    serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object)
        .map(|_| text)
}

/// The auth-params of the `Bearer` challenge in a `WWW-Authenticate` value (RFC 9110:
/// `scheme key=value, key="quoted \" value", …`).
fn bearer_params(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.trim_start();
    let scheme_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if !rest[..scheme_end].eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut chars = rest[scheme_end..].chars().peekable();
    let mut params = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_owned();
        if key.is_empty() {
            return Some(params);
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    other => value.push(other),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_owned();
        }
        params.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NBF: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}"#;

    #[test]
    fn capabilities_merge_into_the_challenge_as_msal_merges_them() {
        let cp1 = vec!["cp1".to_owned()];
        assert_eq!(merged(&[], None).unwrap(), None);
        assert_eq!(merged(&[], Some(NBF)).unwrap().as_deref(), Some(NBF));
        let alone: Value = serde_json::from_str(&merged(&cp1, None).unwrap().unwrap()).unwrap();
        assert_eq!(
            alone,
            json!({"access_token": {"xms_cc": {"values": ["cp1"]}}})
        );
        let both: Value = serde_json::from_str(&merged(&cp1, Some(NBF)).unwrap().unwrap()).unwrap();
        assert_eq!(
            both,
            json!({"access_token": {
                "nbf": {"essential": true, "value": "1604106651"},
                "xms_cc": {"values": ["cp1"]},
            }})
        );
        let id_token = r#"{"id_token":{"auth_time":{"essential":true}}}"#;
        let kept: Value =
            serde_json::from_str(&merged(&cp1, Some(id_token)).unwrap().unwrap()).unwrap();
        assert_eq!(kept["id_token"]["auth_time"]["essential"], true);
        assert!(merged(&cp1, Some("not json")).is_err());
    }

    #[test]
    fn a_challenge_is_read_in_every_base64_shape() {
        for encoded in [
            STANDARD.encode(NBF),
            STANDARD_NO_PAD.encode(NBF),
            URL_SAFE.encode(NBF),
            URL_SAFE_NO_PAD.encode(NBF),
        ] {
            let header = format!(
                r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="{encoded}""#
            );
            assert_eq!(
                insufficient_claims(&header).as_deref(),
                Some(NBF),
                "{header}"
            );
        }
        // '?' encodes to a '/' or '_' in base64: both alphabets are needed.
        let awkward = r#"{"access_token":{"acrs":{"essential":true,"value":"c1??>"}}}"#;
        for encoded in [STANDARD.encode(awkward), URL_SAFE_NO_PAD.encode(awkward)] {
            let header = format!(r#"bearer error=insufficient_claims, claims="{encoded}""#);
            assert_eq!(insufficient_claims(&header).as_deref(), Some(awkward));
        }
    }

    #[test]
    fn other_challenges_and_broken_claims_are_not_claims_challenges() {
        let nbf = STANDARD.encode(NBF);
        for header in [
            r#"Bearer realm="", error="invalid_token", error_description="expired""#.to_owned(),
            format!(r#"Basic realm="x", error="insufficient_claims", claims="{nbf}""#),
            r#"Bearer error="insufficient_claims""#.to_owned(),
            r#"Bearer error="insufficient_claims", claims="!!!""#.to_owned(),
            format!(
                r#"Bearer error="insufficient_claims", claims="{}""#,
                STANDARD.encode("[1]")
            ),
            String::new(),
        ] {
            assert_eq!(insufficient_claims(&header), None, "{header}");
        }
    }

    #[test]
    fn quoted_values_may_hold_commas_and_escapes() {
        let params = bearer_params(r#"Bearer a="x, \"y\"", b=plain , c="""#).unwrap();
        assert_eq!(
            params,
            [
                ("a".to_owned(), r#"x, "y""#.to_owned()),
                ("b".to_owned(), "plain".to_owned()),
                ("c".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn capabilities_are_words() {
        assert_eq!(
            checked_capabilities(["cp1", " CP1 "]).unwrap(),
            ["cp1", "CP1"]
        );
        assert!(checked_capabilities(["cp 1"]).is_err());
        assert!(checked_capabilities([""]).is_err());
    }
}
