//! `tokenhop decode`: a JWT's header and claims, with its times made readable. The
//! signature is never printed, and nothing is verified.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::cli::{DecodeArgs, GlobalArgs};
use crate::failure::{Failure, Outcome};
use crate::output;

/// The claims that hold times (seconds since the epoch).
const TIME_CLAIMS: [&str; 4] = ["iat", "nbf", "exp", "auth_time"];

/// Runs `decode`.
pub fn run(global: &GlobalArgs, args: &DecodeArgs) -> Outcome {
    let token = match args.token.as_deref() {
        Some(token) if token != "-" => token.to_owned(),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure::Other(format!("cannot read the token from stdin: {e}")))?;
            text
        }
    };
    let (header, claims) = split(token.trim())?;
    if global.json {
        return output::json(&serde_json::json!({"header": header, "claims": claims}));
    }
    let mut text = format!(
        "header:\n{}\nclaims:\n{}\n",
        pretty(&header),
        pretty(&claims)
    );
    for name in TIME_CLAIMS {
        if let Some(seconds) = claims.get(name).and_then(Value::as_u64) {
            text.push_str(&format!("{name}: {}\n", output::when(seconds)));
        }
    }
    output::bytes(text.as_bytes())
}

/// The header and claims of a compact JWS (`header.claims.signature`).
fn split(token: &str) -> Outcome<(Map<String, Value>, Map<String, Value>)> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, _signature] = parts.as_slice() else {
        return Err(Failure::Other(format!(
            "the input is not a JWT: it has {} dot-separated parts, not 3{}",
            parts.len(),
            if parts.len() == 5 {
                " (an encrypted JWE cannot be decoded without its key)"
            } else {
                ""
            }
        )));
    };
    Ok((part(header, "header")?, part(claims, "claims")?))
}

fn part(encoded: &str, what: &str) -> Outcome<Map<String, Value>> {
    let invalid = |why: &str| Failure::Other(format!("the input is not a JWT: its {what} {why}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| invalid("is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid("is not a JSON object")),
    }
}

fn pretty(map: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(map).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_jws_and_refuses_anything_else() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"exp":1}"#);
        let (h, c) = split(&format!("{header}.{claims}.c2ln")).unwrap();
        assert_eq!(h["alg"], "RS256");
        assert_eq!(c["exp"], 1);
        for bad in ["", "a.b", "a.b.c.d.e", "!!.e30.x", "e30.WzFd.x"] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }
}
