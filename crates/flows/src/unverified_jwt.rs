//! Reading a JWT's claims without verifying it: for id tokens that came straight from
//! the token endpoint over TLS (OpenID Connect Core 3.1.3.7 allows that), and for
//! display. Never use it to trust a token someone handed you.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use tokenhop_core::{Error, Result};

/// The claims (payload) of a compact JWT.
pub fn unverified_claims(jwt: &str) -> Result<Map<String, Value>> {
    let invalid = |reason: &str| Error::InvalidResponse {
        endpoint: "token".into(),
        reason: format!("malformed JWT: {reason}"),
    };
    let mut parts = jwt.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("it does not have three parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| invalid("the payload is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(invalid("the payload is not a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"nonce":"n-1","oid":"x"}"#);
        let claims = unverified_claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(claims["nonce"], "n-1");
    }

    #[test]
    fn refuses_malformed_tokens() {
        for bad in ["", "a.b", "a.b.c.d", "e30.!!!.x", "e30.WzFd.x"] {
            assert!(unverified_claims(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(input in ".{0,200}") {
            let _ = unverified_claims(&input);
        }
    }
}
