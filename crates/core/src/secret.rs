//! [`Secret`]: a string that never prints itself.

use std::fmt;

use zeroize::Zeroizing;

/// What `Debug` and `Display` print instead of a secret's value.
pub const REDACTED: &str = "[redacted]";

/// A secret string: an access or refresh token, a client secret, an assertion, a key.
///
/// `Debug` and `Display` print [`REDACTED`]; the memory is zeroized on drop;
/// [`Secret::expose_secret`] is the one way to read the value, so every place that
/// reads it is easy to find.
///
/// Serde support is explicit: `Secret` deserializes from a plain string (so config
/// files and caches can hold secrets), but it does not implement `Serialize`; a
/// field that must be written out opts in with
/// `#[serde(serialize_with = "tokenhop_core::secret::serialize_exposed")]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret value. Call this only where the value goes on the wire or to storage.
    pub fn expose_secret(&self) -> &str {
        self.0.as_str()
    }

    /// True when the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// Serializes a [`Secret`]'s value. Use it with `#[serde(serialize_with = ...)]` on the
/// fields that must be written out in the clear, such as a token cache entry.
pub fn serialize_exposed<S: serde::Serializer>(
    secret: &Secret,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &str = "s3cr3t-value-9f2c";

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new(KNOWN);
        assert!(!format!("{secret:?}").contains(KNOWN));
        assert!(!secret.to_string().contains(KNOWN));
        assert!(!format!("{secret:#?}").contains(KNOWN));
        assert_eq!(secret.to_string(), REDACTED);
    }

    #[test]
    fn expose_secret_returns_the_value() {
        assert_eq!(Secret::from(KNOWN).expose_secret(), KNOWN);
    }

    #[test]
    fn deserializes_from_a_string_and_serializes_only_on_request() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct Holder {
            #[serde(serialize_with = "serialize_exposed")]
            value: Secret,
        }
        let holder: Holder = serde_json::from_str(&format!(r#"{{"value":"{KNOWN}"}}"#)).unwrap();
        assert_eq!(holder.value.expose_secret(), KNOWN);
        assert_eq!(
            serde_json::to_string(&holder).unwrap(),
            format!(r#"{{"value":"{KNOWN}"}}"#)
        );
    }
}
