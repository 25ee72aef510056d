//! [`Form`]: an `application/x-www-form-urlencoded` body whose `Debug` redacts secrets.

use std::fmt;

use tokenhop_core::{REDACTED, Secret};

/// Form fields whose values are secrets whatever way they were added.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "assertion",
    "refresh_token",
    "code",
    "code_verifier",
    "device_code",
    "password",
    "user_federated_identity_credential",
];

/// A form body. Add secret values with [`Form::secret`]; `Debug` prints them (and any
/// field named in [`SECRET_FIELDS`]) as `[redacted]`.
#[derive(Clone, Default)]
pub(crate) struct Form {
    fields: Vec<(String, Value)>,
}

#[derive(Clone)]
enum Value {
    Plain(String),
    Secret(Secret),
}

impl Value {
    fn expose(&self) -> &str {
        match self {
            Value::Plain(value) => value,
            Value::Secret(secret) => secret.expose_secret(),
        }
    }
}

impl Form {
    /// An empty form.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a plain field.
    pub(crate) fn field(mut self, name: &str, value: impl Into<String>) -> Self {
        self.fields
            .push((name.to_owned(), Value::Plain(value.into())));
        self
    }

    /// Adds a secret field.
    pub(crate) fn secret(mut self, name: &str, value: &Secret) -> Self {
        self.fields
            .push((name.to_owned(), Value::Secret(value.clone())));
        self
    }

    /// The value of a field (exposing secrets): for tests and the grant type in logs.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.expose())
    }

    /// The encoded body, with secrets in the clear: only for the wire.
    pub(crate) fn encode(&self) -> Secret {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.fields {
            serializer.append_pair(name, value.expose());
        }
        Secret::new(serializer.finish())
    }
}

/// Form fields that hold personal data: shown in logs only with `log_pii`.
const PII_FIELDS: &[&str] = &["username", "user_id", "login_hint", "fmi_path"];

/// What logs show of personal data they may not show.
pub(crate) const PII: &str = "[pii]";

impl Form {
    /// The form as logs show it: secrets redacted, personal data too unless `log_pii`.
    pub(crate) fn loggable(&self, log_pii: bool) -> LoggableForm<'_> {
        LoggableForm {
            form: self,
            log_pii,
        }
    }
}

/// A [`Form`]'s `Debug` for logs (see [`Form::loggable`]).
pub(crate) struct LoggableForm<'a> {
    form: &'a Form,
    log_pii: bool,
}

impl fmt::Debug for LoggableForm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.form.fields {
            match value {
                Value::Plain(_) if !self.log_pii && PII_FIELDS.contains(&name.as_str()) => {
                    map.entry(name, &PII)
                }
                Value::Plain(plain) if !SECRET_FIELDS.contains(&name.as_str()) => {
                    map.entry(name, plain)
                }
                _ => map.entry(name, &REDACTED),
            };
        }
        map.finish()
    }
}

impl fmt::Debug for Form {
    /// Secrets and personal data redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.loggable(false).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secret_values_and_secret_names() {
        let form = Form::new()
            .field("grant_type", "refresh_token")
            .secret("client_secret", &Secret::new("cs-123"))
            .field("refresh_token", "rt-456");
        let text = format!("{form:?}");
        assert!(text.contains(r#""refresh_token": "[redacted]""#), "{text}");
        assert!(
            !text.contains("cs-123") && !text.contains("rt-456"),
            "{text}"
        );
        assert!(text.contains("grant_type"));
    }

    #[test]
    fn personal_data_is_logged_only_when_asked() {
        let form = Form::new()
            .field("username", "alice@contoso.example")
            .field("fmi_path", "agent-0001")
            .field("scope", "User.Read");
        let hidden = format!("{:?}", form.loggable(false));
        assert!(
            !hidden.contains("alice@")
                && !hidden.contains("agent-0001")
                && hidden.contains("[pii]"),
            "{hidden}"
        );
        assert_eq!(format!("{form:?}"), hidden);
        let shown = format!("{:?}", form.loggable(true));
        assert!(
            shown.contains("alice@contoso.example") && shown.contains("agent-0001"),
            "{shown}"
        );
    }

    #[test]
    fn encodes_every_field() {
        let form = Form::new()
            .field("scope", "a b")
            .secret("client_secret", &Secret::new("x&y"));
        assert_eq!(
            form.encode().expose_secret(),
            "scope=a+b&client_secret=x%26y"
        );
    }
}
