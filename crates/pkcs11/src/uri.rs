//! [`Pkcs11Uri`]: which token and which private key, as an RFC 7512 URI
//! (`pkcs11:token=My%20HSM;object=app-key` or `pkcs11:token=My%20HSM;id=%01%02`).

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::Pkcs11Error;

/// A PKCS#11 URI naming one private key: the token by its label, manufacturer, model,
/// serial or slot, and the key by its label (`object`, `CKA_LABEL`) and/or id (`id`,
/// `CKA_ID`, percent-encoded bytes). The key's certificate is the certificate object
/// with the same id, so the URI names the key (`type=private`, or no `type`).
///
/// A PIN in the URI (`pin-value`, `pin-source`) is refused: give it through a
/// [`PinSource`](crate::PinSource). The module is given by its path, so `module-name`
/// and `module-path` are refused too. Errors never repeat the URI.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    token: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    serial: Option<String>,
    slot_id: Option<u64>,
    slot_description: Option<String>,
    slot_manufacturer: Option<String>,
    object: Option<String>,
    id: Option<Vec<u8>>,
}

impl Pkcs11Uri {
    /// The token label (`token`).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The key's label (`object`, `CKA_LABEL`).
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }

    /// The key's id (`id`, `CKA_ID`), decoded.
    pub fn id(&self) -> Option<&[u8]> {
        self.id.as_deref()
    }

    /// The slot id (`slot-id`).
    pub fn slot_id(&self) -> Option<u64> {
        self.slot_id
    }

    /// The token attributes as `(name, value)` pairs, for matching and messages.
    pub(crate) fn token_attributes(&self) -> Vec<(&'static str, &str)> {
        [
            ("token", &self.token),
            ("manufacturer", &self.manufacturer),
            ("model", &self.model),
            ("serial", &self.serial),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }

    /// The slot attributes as `(name, value)` pairs.
    pub(crate) fn slot_attributes(&self) -> Vec<(&'static str, &str)> {
        [
            ("slot-description", &self.slot_description),
            ("slot-manufacturer", &self.slot_manufacturer),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }

    /// The object part alone (`object=…;id=…`), for messages about the key.
    pub(crate) fn describe_object(&self) -> String {
        let mut parts = Vec::new();
        if let Some(object) = &self.object {
            parts.push(format!("object={}", encode(object.as_bytes())));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id={}", encode(id)));
        }
        parts.join(";")
    }

    /// The token part alone, for messages about the token.
    pub(crate) fn describe_token(&self) -> String {
        let mut parts: Vec<String> = self
            .token_attributes()
            .into_iter()
            .chain(self.slot_attributes())
            .map(|(name, value)| format!("{name}={}", encode(value.as_bytes())))
            .collect();
        if let Some(slot) = self.slot_id {
            parts.push(format!("slot-id={slot}"));
        }
        if parts.is_empty() {
            "any token".into()
        } else {
            parts.join(";")
        }
    }
}

impl FromStr for Pkcs11Uri {
    type Err = Pkcs11Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| Pkcs11Error::InvalidUri { reason };
        let rest = text
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("pkcs11:"))
            .map(|_| &text[7..])
            .ok_or_else(|| invalid("it does not start with `pkcs11:`".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Self::default();
        for attribute in path.split(';').filter(|a| !a.is_empty()) {
            // Never repeat an attribute without a name: it might be a pasted PIN.
            let (name, value) = attribute
                .split_once('=')
                .ok_or_else(|| invalid("a path attribute has no `name=`".into()))?;
            uri.set_path_attribute(name, value)?;
        }
        if let Some(attribute) = query.split('&').find(|a| !a.is_empty()) {
            let name = attribute.split_once('=').map_or(attribute, |(n, _)| n);
            return Err(invalid(match name {
                "pin-value" | "pin-source" => "a PIN in the URI is refused; give it in an environment variable or a file".into(),
                "module-name" | "module-path" => "the module is given by its path (--pkcs11-module or the config's `module`), not in the URI".into(),
                other => format!("the query attribute `{}` is not supported", safe_name(other)),
            }));
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(invalid(
                "it names no key; add `object=LABEL` or `id=%01…` (the key's CKA_LABEL or CKA_ID)"
                    .into(),
            ));
        }
        Ok(uri)
    }
}

impl Pkcs11Uri {
    fn set_path_attribute(&mut self, name: &str, value: &str) -> Result<(), Pkcs11Error> {
        let invalid = |reason: String| Pkcs11Error::InvalidUri { reason };
        let text = || decode_text(name, value);
        let slot = match name {
            "token" => &mut self.token,
            "manufacturer" => &mut self.manufacturer,
            "model" => &mut self.model,
            "serial" => &mut self.serial,
            "slot-description" => &mut self.slot_description,
            "slot-manufacturer" => &mut self.slot_manufacturer,
            "object" => &mut self.object,
            "id" => {
                return set_once(&mut self.id, name, decode(name, value)?);
            }
            "slot-id" => {
                let id = text()?
                    .parse::<u64>()
                    .map_err(|_| invalid("`slot-id` must be a decimal number".into()))?;
                return set_once(&mut self.slot_id, name, id);
            }
            "type" => {
                return match text()?.as_str() {
                    "private" => Ok(()),
                    other => Err(invalid(format!(
                        "`type={other}`: the URI names the private key (`type=private`); its certificate is found by the key's id"
                    ))),
                };
            }
            "library-manufacturer" | "library-description" | "library-version" => {
                return Err(invalid(format!(
                    "`{name}` is not supported: the module is chosen by its path"
                )));
            }
            other => {
                return Err(invalid(format!(
                    "the path attribute `{}` is not supported",
                    safe_name(other)
                )));
            }
        };
        set_once(slot, name, text()?)
    }
}

impl fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.token_attributes().len() + self.slot_attributes().len() > 0
            || self.slot_id.is_some()
        {
            parts.push(self.describe_token());
        }
        parts.push(self.describe_object());
        write!(f, "pkcs11:{}", parts.join(";"))
    }
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pkcs11Uri({self})")
    }
}

/// RFC 7512's `pk11-pchar` leaves unreserved characters and a few sub-delimiters
/// unencoded; everything else is percent-encoded.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b'=')
    .remove(b'&');

fn encode(bytes: &[u8]) -> String {
    // Bytes that are not UTF-8 (an id) are encoded byte by byte.
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => {
            utf8_percent_encode(text, ENCODE).to_string()
        }
        _ => bytes.iter().map(|b| format!("%{b:02X}")).collect(),
    }
}

fn decode(name: &str, value: &str) -> Result<Vec<u8>, Pkcs11Error> {
    let bytes = value.as_bytes();
    let hex_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' && !(hex_at(i + 1) && hex_at(i + 2)) {
            return Err(Pkcs11Error::InvalidUri {
                reason: format!("`{name}` has a `%` not followed by two hex digits"),
            });
        }
    }
    Ok(percent_decode_str(value).collect())
}

fn decode_text(name: &str, value: &str) -> Result<String, Pkcs11Error> {
    String::from_utf8(decode(name, value)?).map_err(|_| Pkcs11Error::InvalidUri {
        reason: format!("`{name}` is not UTF-8 once decoded"),
    })
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), Pkcs11Error> {
    if slot.replace(value).is_some() {
        return Err(Pkcs11Error::InvalidUri {
            reason: format!("`{name}` appears twice"),
        });
    }
    Ok(())
}

/// An attribute's name for a message (never its value, which might be a PIN), when it
/// looks like a name.
fn safe_name(name: &str) -> &str {
    let plain = name.len() <= 40 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if plain { name } else { "(unreadable)" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pkcs11Uri, String> {
        text.parse::<Pkcs11Uri>().map_err(|e| e.to_string())
    }

    #[test]
    fn token_object_and_id_decode_and_print_back() {
        let uri = parse("pkcs11:token=My%20HSM;object=app%3Bkey;id=%01%a2;type=private").unwrap();
        assert_eq!(uri.token(), Some("My HSM"));
        assert_eq!(uri.object(), Some("app;key"));
        assert_eq!(uri.id(), Some(&[0x01, 0xa2][..]));
        assert_eq!(
            uri.to_string(),
            "pkcs11:token=My%20HSM;object=app%3Bkey;id=%01%A2"
        );
        assert_eq!(parse(&uri.to_string()).unwrap(), uri);
        let by_id = parse("PKCS11:id=%00;serial=abc;slot-id=3").unwrap();
        assert_eq!((by_id.slot_id(), by_id.object()), (Some(3), None));
        assert_eq!(by_id.to_string(), "pkcs11:serial=abc;slot-id=3;id=%00");
    }

    #[test]
    fn malformed_uris_and_pins_in_uris_are_refused_without_repeating_them() {
        for (text, expected) in [
            ("file:token=a;object=b", "does not start with `pkcs11:`"),
            ("pkcs11:token=a", "names no key"),
            ("pkcs11:object=a;object=b", "`object` appears twice"),
            ("pkcs11:object=a%2", "two hex digits"),
            ("pkcs11:object=a%zz", "two hex digits"),
            ("pkcs11:object=%ff", "not UTF-8"),
            ("pkcs11:id=%01;type=cert", "`type=cert`"),
            ("pkcs11:object=a;slot-id=x", "decimal"),
            ("pkcs11:object=a;x-vendor=1", "`x-vendor` is not supported"),
            ("pkcs11:object=a;library-version=1", "chosen by its path"),
            ("pkcs11:object=a;token", "has no `name=`"),
            ("pkcs11:object=a?module-path=/lib/x.so", "given by its path"),
            ("pkcs11:object=a?other=1", "`other` is not supported"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
        for text in [
            "pkcs11:object=a?pin-value=S3cret-4711",
            "pkcs11:object=a?pin-source=file:/S3cret-4711",
            "pkcs11:object=a;S3cret-4711",
        ] {
            let error = parse(text).unwrap_err();
            assert!(!error.contains("S3cret-4711"), "{error}");
        }
    }
}
