//! Cache keys exactly as MSAL computes them, and the extended key (`ext_cache_key`) for
//! requests with extra fields such as `fmi_path`.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Request fields that never go into the extended key (MSAL's exclusion list).
const EXT_KEY_EXCLUDED: &[&str] = &[
    "client_id",
    "grant_type",
    "scope",
    "claims",
    "username",
    "password",
    "refresh_token",
    "code",
    "redirect_uri",
    "code_verifier",
    "device_code",
    "assertion",
    "requested_token_use",
    "client_assertion",
    "client_assertion_type",
    "client_secret",
    "token_type",
    "req_cnf",
    "key_id",
    "user_federated_identity_credential",
    "user_id",
    "client_info",
];

/// The extended cache key of a request's extra fields: for each non-standard field with
/// a non-empty value, sorted by name, `{len(name)}:{name}{len(value)}:{value}` (byte
/// lengths), hashed with SHA-256, unpadded base64url, lowercased. `None` when no field
/// counts.
pub fn ext_cache_key<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut parts: Vec<(&str, &str)> = fields
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && !EXT_KEY_EXCLUDED.contains(k))
        .collect();
    if parts.is_empty() {
        return None;
    }
    parts.sort_by(|a, b| a.0.cmp(b.0));
    let mut serialized = String::new();
    for (name, value) in parts {
        serialized.push_str(&format!("{}:{name}{}:{value}", name.len(), value.len()));
    }
    Some(
        URL_SAFE_NO_PAD
            .encode(Sha256::digest(serialized.as_bytes()))
            .to_lowercase(),
    )
}

/// `{home}-{env}-accesstoken-{client}-{realm}-{target}[-{ext}]`, lowercased (`atext` when extended).
pub fn access_token_key(
    home: &str,
    environment: &str,
    client_id: &str,
    realm: &str,
    target: &str,
    ext: Option<&str>,
) -> String {
    let kind = if ext.is_some() {
        "atext"
    } else {
        "AccessToken"
    };
    let mut key = [home, environment, kind, client_id, realm, target].join("-");
    if let Some(ext) = ext {
        key.push('-');
        key.push_str(ext);
    }
    key.to_lowercase()
}

/// `{home}-{env}-refreshtoken-{client}--{target}`, lowercased.
pub fn refresh_token_key(home: &str, environment: &str, client_id: &str, target: &str) -> String {
    [home, environment, "RefreshToken", client_id, "", target]
        .join("-")
        .to_lowercase()
}

/// `{home}-{env}-idtoken-{client}-{realm}-`, lowercased.
pub fn id_token_key(home: &str, environment: &str, client_id: &str, realm: &str) -> String {
    [home, environment, "IdToken", client_id, realm, ""]
        .join("-")
        .to_lowercase()
}

/// `{home}-{env}-{realm}`, lowercased.
pub fn account_key(home: &str, environment: &str, realm: &str) -> String {
    [home, environment, realm].join("-").to_lowercase()
}

/// `appmetadata-{env}-{client}` (not lowercased).
pub fn app_metadata_key(environment: &str, client_id: &str) -> String {
    format!("appmetadata-{environment}-{client_id}")
}

/// The JSON object in a base64url part (padded or not): `client_info`, a JWT payload.
pub fn decode_json_part(part: &str) -> Option<Map<String, Value>> {
    let trimmed = part.trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE.decode(part))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The claims of an id token (not verified: MSAL does not verify them either).
pub fn id_token_claims(id_token: &str) -> Map<String, Value> {
    id_token
        .split('.')
        .nth(1)
        .and_then(decode_json_part)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_cache_key_matches_msal_for_fmi_paths() {
        // Keys taken from the MSAL-written fixture confidential.json.
        assert_eq!(
            ext_cache_key([("fmi_path", "agent-0001")]).unwrap(),
            "zupmzl2ehcmhqr6pdwrsgfm2wnilrdxfmawjdbqm164"
        );
        assert_eq!(
            ext_cache_key([("fmi_path", "agent-0002")]).unwrap(),
            "xsuxefmvvspuwgudjthpdqlotrstxv1nslzgqechaji"
        );
    }

    #[test]
    fn standard_and_empty_fields_do_not_count() {
        assert_eq!(
            ext_cache_key([("client_id", "x"), ("scope", "y"), ("fmi_path", "")]),
            None
        );
        assert_eq!(
            ext_cache_key([("fmi_path", "a"), ("client_assertion", "z")]),
            ext_cache_key([("fmi_path", "a")])
        );
    }

    #[test]
    fn keys_are_lowercased_except_app_metadata() {
        assert_eq!(
            access_token_key("", "Login.X", "C", "R", "A B", None),
            "-login.x-accesstoken-c-r-a b"
        );
        assert_eq!(
            access_token_key("", "e", "c", "r", "t", Some("k")),
            "-e-atext-c-r-t-k"
        );
        assert_eq!(
            refresh_token_key("h", "e", "C", "T"),
            "h-e-refreshtoken-c--t"
        );
        assert_eq!(app_metadata_key("e", "Client"), "appmetadata-e-Client");
    }
}
