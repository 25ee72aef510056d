//! Form bodies and query strings (`application/x-www-form-urlencoded`) as the
//! endpoints read them, and the protocol's fixed parameter values.

use std::collections::HashMap;

use crate::entra_error::EntraError;

/// A decoded form: each parameter's last value by name.
pub(crate) type Form = HashMap<String, String>;

/// The `client_assertion_type` of a JWT client assertion.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Decodes a form body or query string; invalid UTF-8 is replaced, never refused.
pub(crate) fn parse(bytes: &[u8]) -> Form {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// The non-empty value of `name`, or Entra's "must contain the parameter" error.
pub(crate) fn required<'f>(form: &'f Form, name: &str) -> Result<&'f str, EntraError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            EntraError::invalid_request(
                900144,
                format!("The request body must contain the following parameter: '{name}'."),
            )
        })
}
