//! [`Entry`]: one cache entry of any section. MSAL's fields live in fixed slots (fast to
//! read and to parse); fields this version does not know are kept in order and written
//! back unchanged; `null` stays `null` and an absent field stays absent.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

macro_rules! fields {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The fields MSAL's schema names, across all sections.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum F { $($variant),* }

        const FIELD_COUNT: usize = [$($name),*].len();
        const NAMES: [&str; FIELD_COUNT] = [$($name),*];

        impl F {
            fn from_name(name: &str) -> Option<F> {
                match name {
                    $($name => Some(F::$variant),)*
                    _ => None,
                }
            }

            const ALL: [F; FIELD_COUNT] = [$(F::$variant),*];
        }
    };
}

fields! {
    CredentialType => "credential_type",
    Secret => "secret",
    HomeAccountId => "home_account_id",
    Environment => "environment",
    ClientId => "client_id",
    Target => "target",
    Realm => "realm",
    TokenType => "token_type",
    CachedAt => "cached_at",
    ExpiresOn => "expires_on",
    ExtendedExpiresOn => "extended_expires_on",
    RefreshOn => "refresh_on",
    ExtCacheKey => "ext_cache_key",
    KeyId => "key_id",
    FamilyId => "family_id",
    LastModificationTime => "last_modification_time",
    LocalAccountId => "local_account_id",
    Username => "username",
    AuthorityType => "authority_type",
    AccountSource => "account_source",
}

/// A field's value: usually a string, sometimes `null`, anything else kept as JSON.
#[derive(Clone, PartialEq)]
pub enum FieldValue {
    /// `null`.
    Null,
    /// A string.
    Str(String),
    /// Any other JSON value (numbers from other writers, …), boxed: it is rare, and
    /// every entry has a slot for each field.
    Other(Box<Value>),
}

// Values may be secrets: Debug shows their kind, not their content.
impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("Null"),
            Self::Str(s) => write!(f, "Str(<{} bytes>)", s.len()),
            Self::Other(_) => f.write_str("Other(..)"),
        }
    }
}

/// One entry of a cache section.
#[derive(Clone, Default, PartialEq)]
pub struct Entry {
    slots: [Option<FieldValue>; FIELD_COUNT],
    extra: Vec<(String, Value)>,
}

impl Entry {
    /// An empty entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A field as text: `None` when absent, `null`, or not a string.
    pub fn get(&self, field: F) -> Option<&str> {
        match &self.slots[field as usize] {
            Some(FieldValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A field as an integer: strings of digits (MSAL's timestamps) or JSON numbers.
    pub fn get_u64(&self, field: F) -> Option<u64> {
        match &self.slots[field as usize] {
            Some(FieldValue::Str(s)) => s.trim().parse().ok(),
            Some(FieldValue::Other(v)) => v.as_u64(),
            _ => None,
        }
    }

    /// Sets a string field.
    pub fn set(&mut self, field: F, value: impl Into<String>) {
        self.slots[field as usize] = Some(FieldValue::Str(value.into()));
    }

    /// Sets a field to `null` (MSAL writes `"home_account_id": null` for app tokens).
    pub fn set_null(&mut self, field: F) {
        self.slots[field as usize] = Some(FieldValue::Null);
    }

    /// Sets a field to a string or to `null`.
    pub fn set_opt(&mut self, field: F, value: Option<impl Into<String>>) {
        match value {
            Some(v) => self.set(field, v),
            None => self.set_null(field),
        }
    }

    /// The raw slot.
    pub fn raw(&self, field: F) -> Option<&FieldValue> {
        self.slots[field as usize].as_ref()
    }

    /// The present MSAL fields with their JSON names, in schema order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'static str, &FieldValue)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.as_ref().map(|value| (NAMES[i], value)))
    }

    /// Fields this version does not know, in file order.
    pub fn extra(&self) -> &[(String, Value)] {
        &self.extra
    }

    /// Overlays `other`'s present fields onto `self` (MSAL's `dict(old, **new)`).
    pub fn merge_from(&mut self, other: &Entry) {
        for (slot, value) in self.slots.iter_mut().zip(other.slots.iter()) {
            if value.is_some() {
                slot.clone_from(value);
            }
        }
        for (name, value) in &other.extra {
            match self.extra.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => existing.clone_from(value),
                None => self.extra.push((name.clone(), value.clone())),
            }
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for field in F::ALL {
            if let Some(value) = &self.slots[field as usize] {
                let shown: &dyn fmt::Debug = match (field, value) {
                    (F::Secret, _) => &"[redacted]",
                    (_, FieldValue::Null) => &"null",
                    (_, FieldValue::Str(s)) => s,
                    (_, FieldValue::Other(v)) => v.as_ref(),
                };
                map.entry(&NAMES[field as usize], shown);
            }
        }
        map.entries(self.extra.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let present = self.slots.iter().filter(|s| s.is_some()).count();
        let mut map = serializer.serialize_map(Some(present + self.extra.len()))?;
        for (i, slot) in self.slots.iter().enumerate() {
            match slot {
                None => {}
                Some(FieldValue::Null) => map.serialize_entry(NAMES[i], &())?,
                Some(FieldValue::Str(s)) => map.serialize_entry(NAMES[i], s)?,
                Some(FieldValue::Other(v)) => map.serialize_entry(NAMES[i], v.as_ref())?,
            }
        }
        for (name, value) in &self.extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

/// A value that is read as a string when it is one, without building a `Value`.
enum Scalar {
    Str(String),
    Other(Value),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Strings and `null` (nearly every value in a cache) go straight into place; anything
/// else is collected as a JSON value.
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other(Value::Null))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other(Value::Bool(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Other(Value::from(v)))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Other(Value::from(v)))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other(Value::from(v)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
        let value = Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Scalar::Other(value))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
        let value = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Scalar::Other(value))
    }
}

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token cache entry (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut entry = Entry::default();
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match F::from_name(&name) {
                Some(field) => {
                    entry.slots[field as usize] = Some(match map.next_value::<Scalar>()? {
                        Scalar::Str(s) => FieldValue::Str(s),
                        Scalar::Other(Value::Null) => FieldValue::Null,
                        Scalar::Other(v) => FieldValue::Other(Box::new(v)),
                    });
                }
                None => entry.extra.push((name.into_owned(), map.next_value()?)),
            }
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nulls_absences_and_unknown_fields() {
        let text = r#"{"secret":"s","home_account_id":null,"expires_on":"123","x_new":{"a":[1,2]},"cached_at":5}"#;
        let entry: Entry = serde_json::from_str(text).unwrap();
        assert_eq!(entry.get(F::Secret), Some("s"));
        assert_eq!(entry.raw(F::HomeAccountId), Some(&FieldValue::Null));
        assert_eq!(entry.raw(F::Realm), None);
        assert_eq!(entry.get_u64(F::ExpiresOn), Some(123));
        assert_eq!(entry.get_u64(F::CachedAt), Some(5));
        let back: Value = serde_json::to_value(&entry).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn debug_redacts_the_secret() {
        let mut entry = Entry::new();
        entry.set(F::Secret, "at-very-secret");
        entry.set(F::ClientId, "c");
        let text = format!("{entry:?}");
        assert!(
            !text.contains("at-very-secret") && text.contains("client_id"),
            "{text}"
        );
    }
}
