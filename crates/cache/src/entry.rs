//! [`Entry`]: one cache entry of any section. MSAL's fields live in fixed slots (fast to
//! read and to parse); fields this version does not know are kept in order and written
//! back unchanged; `null` stays `null` and an absent field stays absent.
//!
//! All string values of an entry share one buffer: a cache of 100,000 entries then
//! costs 100,000 allocations to load, not a million.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use zeroize::Zeroize;

use crate::entry_key::EntryKey;

macro_rules! fields {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The fields MSAL's schema names, across all sections.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Field { $($variant),* }

        pub(crate) const FIELD_COUNT: usize = [$($name),*].len();
        pub(crate) const NAMES: [&str; FIELD_COUNT] = [$($name),*];
        /// What precedes a field's value in an entry of the document (`indent=4`, the
        /// entry at depth 2), comma included: written with one copy.
        pub(crate) const MEMBER_PREFIXES: [&str; FIELD_COUNT] =
            [$(concat!(",\n            \"", $name, "\": ")),*];

        impl Field {
            pub(crate) fn from_name(name: &str) -> Option<Field> {
                match name {
                    $($name => Some(Field::$variant),)*
                    _ => None,
                }
            }

            pub(crate) const ALL: [Field; FIELD_COUNT] = [$(Field::$variant),*];
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
#[derive(Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// `null`.
    Null,
    /// A string.
    Str(&'a str),
    /// Any other JSON value (numbers from other writers, …), or a string too long for
    /// the entry's own text (tens of kilobytes).
    Other(&'a Value),
}

// Values may be secrets: Debug shows their kind, not their content.
impl fmt::Debug for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("Null"),
            Self::Str(s) => write!(f, "Str(<{} bytes>)", s.len()),
            Self::Other(_) => f.write_str("Other(..)"),
        }
    }
}

/// Where a field's value is: a range of the entry's text, or (lengths past
/// [`Slot::MAX_LEN`]) absent, `null`, or the index of a non-string value. Sixteen bits
/// keep entries small (moving and dropping 100,000 of them is part of every load);
/// the rare entry with more text keeps the rest as JSON values.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot {
    start: u16,
    len: u16,
}

impl Slot {
    const ABSENT: Slot = Slot {
        start: 0,
        len: u16::MAX,
    };
    const NULL: Slot = Slot {
        start: 0,
        len: u16::MAX - 1,
    };
    const OTHER_LEN: u16 = u16::MAX - 2;
    const MAX_LEN: u16 = u16::MAX - 3;
}

/// What few entries have, kept out of line so that the others stay small.
#[derive(Clone, Debug, Default, PartialEq)]
struct Rare {
    others: Vec<Value>,
    extra: Vec<(String, Value)>,
}

/// An entry's string values: its own, or (an entry read from a document) after its
/// key's text in the allocation it shares with the key.
#[derive(Clone)]
enum Text {
    Own(String),
    Shared(Arc<str>),
}

// The text holds the entry's secret: wiped when it goes (a shared text by whichever of
// the entry and its key lets go of it last).
impl Drop for Text {
    fn drop(&mut self) {
        match self {
            Self::Own(text) => text.zeroize(),
            Self::Shared(shared) => crate::entry_key::wipe_if_last(shared),
        }
    }
}

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Self::Own(text) => text,
            Self::Shared(text) => text,
        }
    }

    /// The text, as a string of its own (copied the first time).
    fn own(&mut self) -> &mut String {
        match self {
            Self::Own(text) => text,
            Self::Shared(shared) => {
                *self = Self::Own(String::from(&**shared));
                self.own()
            }
        }
    }
}

/// When a lookup last found an entry (epoch seconds, 0: not since it was loaded or
/// written): what least-recently-used pruning goes by. In memory only, and set through
/// `&self`, so that lookups stay reads.
#[derive(Debug, Default)]
struct LastUse(AtomicU64);

impl Clone for LastUse {
    fn clone(&self) -> Self {
        Self(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

/// One entry of a cache section.
#[derive(Clone)]
pub struct Entry {
    text: Text,
    slots: [Slot; FIELD_COUNT],
    rare: Option<Box<Rare>>,
    /// No string value needs escaping in JSON: the writer copies them as they are.
    escape_free: bool,
    /// Nor does the key the entry is stored under (kept up to date by the cache's
    /// insert and by the parser; `false` when not known).
    key_escape_free: bool,
    last_use: LastUse,
}

impl Default for Entry {
    fn default() -> Self {
        Self {
            text: Text::Own(String::new()),
            slots: [Slot::ABSENT; FIELD_COUNT],
            rare: None,
            escape_free: true,
            key_escape_free: false,
            last_use: LastUse::default(),
        }
    }
}

impl Entry {
    /// An empty entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A field as text: `None` when absent, `null`, or not a string.
    pub fn get(&self, field: Field) -> Option<&str> {
        // Lookups read several fields of every candidate: strings first.
        let slot = self.slots[field as usize];
        if slot.len <= Slot::MAX_LEN {
            return self.str_at(slot);
        }
        match self.raw(field)? {
            FieldValue::Other(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// A field as an integer: strings of digits (MSAL's timestamps) or JSON numbers.
    pub fn get_u64(&self, field: Field) -> Option<u64> {
        match self.raw(field)? {
            FieldValue::Str(s) => s.trim().parse().ok(),
            FieldValue::Other(v) => v.as_u64(),
            FieldValue::Null => None,
        }
    }

    /// Sets a string field.
    pub fn set(&mut self, field: Field, value: impl AsRef<str>) {
        let value = value.as_ref();
        let clean = !crate::json_escape::needs_escaping(value.as_bytes());
        self.set_parsed(field, value, clean);
        if self.text_len() > 2 * self.live_len() + 256 {
            self.compact();
        }
    }

    /// Sets a field to `null` (MSAL writes `"home_account_id": null` for app tokens).
    pub fn set_null(&mut self, field: Field) {
        self.slots[field as usize] = Slot::NULL;
    }

    /// Sets a field to a string or to `null`.
    pub fn set_opt(&mut self, field: Field, value: Option<impl AsRef<str>>) {
        match value {
            Some(v) => self.set(field, v),
            None => self.set_null(field),
        }
    }

    /// The raw value of a field, `None` when absent.
    pub fn raw(&self, field: Field) -> Option<FieldValue<'_>> {
        let slot = self.slots[field as usize];
        match slot.len {
            len if len <= Slot::MAX_LEN => self.str_at(slot).map(FieldValue::Str),
            Slot::OTHER_LEN => self
                .rare
                .as_ref()
                .and_then(|rare| rare.others.get(usize::from(slot.start)))
                .map(FieldValue::Other),
            len if len == Slot::NULL.len => Some(FieldValue::Null),
            _ => None,
        }
    }

    fn str_at(&self, slot: Slot) -> Option<&str> {
        let start = usize::from(slot.start);
        self.text.as_str().get(start..start + usize::from(slot.len))
    }

    /// The present MSAL fields with their index and JSON name, in schema order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (usize, FieldValue<'_>)> {
        self.slots
            .iter()
            .zip(Field::ALL)
            .filter(|(slot, _)| **slot != Slot::ABSENT)
            .filter_map(|(_, f)| self.raw(f).map(|value| (f as usize, value)))
    }

    /// How many MSAL fields are present.
    pub(crate) fn field_count(&self) -> usize {
        self.slots.iter().filter(|s| **s != Slot::ABSENT).count()
    }

    /// The length of the entry's text (string values, and any overwritten ones).
    pub(crate) fn text_len(&self) -> usize {
        self.text.as_str().len()
    }

    /// True when no string value needs escaping in JSON.
    pub(crate) fn is_escape_free(&self) -> bool {
        self.escape_free
    }

    /// True when the key the entry is stored under is known to need no escaping.
    pub(crate) fn is_key_escape_free(&self) -> bool {
        self.key_escape_free
    }

    /// Records whether the key the entry is stored under needs escaping.
    pub(crate) fn set_key_escape_free(&mut self, clean: bool) {
        self.key_escape_free = clean;
    }

    /// Records that a lookup found the entry at `now` (epoch seconds). Written at most
    /// once a second, so that threads finding the same token do not contend.
    pub(crate) fn note_use(&self, now: u64) {
        if self.last_use.0.load(Ordering::Relaxed) < now {
            self.last_use.0.store(now, Ordering::Relaxed);
        }
    }

    /// When the entry was last used: found by a lookup, or else cached (`cached_at`).
    pub(crate) fn last_used(&self) -> u64 {
        let cached_at = self.get_u64(Field::CachedAt).unwrap_or(0);
        self.last_use.0.load(Ordering::Relaxed).max(cached_at)
    }

    /// Fields this version does not know, in file order.
    pub fn extra(&self) -> &[(String, Value)] {
        self.rare.as_ref().map_or(&[], |rare| &rare.extra)
    }

    /// Overlays `other`'s present fields onto `self` (MSAL's `dict(old, **new)`).
    pub fn merge_from(&mut self, other: &Entry) {
        for field in Field::ALL {
            match other.raw(field) {
                None => {}
                Some(FieldValue::Null) => self.set_null(field),
                Some(FieldValue::Str(s)) => self.set_parsed(field, s, other.escape_free),
                Some(FieldValue::Other(v)) => self.set_value(field, v.clone()),
            }
        }
        for (name, value) in other.extra() {
            let rare = self.rare.get_or_insert_with(Box::default);
            match rare.extra.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => existing.clone_from(value),
                None => rare.extra.push((name.clone(), value.clone())),
            }
        }
        self.compact();
    }

    /// Sets a string field whose need for escaping is known (`clean`: none).
    pub(crate) fn set_parsed(&mut self, field: Field, value: &str, clean: bool) {
        let text_len = self.text_len();
        let end = text_len + value.len();
        match (u16::try_from(text_len), u16::try_from(value.len())) {
            (Ok(start), Ok(len)) if end <= usize::from(Slot::MAX_LEN) => {
                push_wiping(self.text.own(), value);
                self.slots[field as usize] = Slot { start, len };
                self.escape_free &= clean;
            }
            // Beyond the slots' reach: kept as a JSON value.
            _ => self.set_value(field, Value::String(value.to_owned())),
        }
    }

    /// Sets a field to any JSON value (`null` and strings as [`Entry::set_null`] and
    /// [`Entry::set`] would).
    pub(crate) fn set_value(&mut self, field: Field, value: Value) {
        // Only a field given thousands of times over (in one JSON object) gets here.
        if self
            .rare
            .as_ref()
            .is_some_and(|r| r.others.len() >= usize::from(u16::MAX))
        {
            self.compact();
        }
        let rare = self.rare.get_or_insert_with(Box::default);
        let start = u16::try_from(rare.others.len()).unwrap_or(u16::MAX);
        self.slots[field as usize] = Slot {
            start,
            len: Slot::OTHER_LEN,
        };
        rare.others.push(value);
    }

    /// Appends a field this version does not know.
    pub(crate) fn push_extra(&mut self, name: String, value: Value) {
        let rare = self.rare.get_or_insert_with(Box::default);
        rare.extra.push((name, value));
    }

    /// Starts building an entry (the parser builds each in one scratch entry) whose
    /// text begins with its key's.
    pub(crate) fn start_with_key(&mut self, key: &str) {
        self.clear();
        self.text.own().push_str(key);
    }

    /// The entry built since [`Entry::start_with_key`], and its key (the first
    /// `key_len` bytes of the text), sharing one allocation of the exact size. The rare
    /// parts are moved out.
    pub(crate) fn finish_with_key(&mut self, key_len: usize) -> (EntryKey, Entry) {
        let text: Arc<str> = Arc::from(self.text.as_str());
        let entry = Entry {
            text: Text::Shared(Arc::clone(&text)),
            slots: self.slots,
            rare: self.rare.take(),
            escape_free: self.escape_free,
            key_escape_free: self.key_escape_free,
            last_use: LastUse::default(),
        };
        (EntryKey::prefix_of(text, key_len), entry)
    }

    /// Empties the entry, keeping its buffer when it has one of its own.
    pub(crate) fn clear(&mut self) {
        match &mut self.text {
            Text::Own(text) => text.zeroize(),
            Text::Shared(_) => self.text = Text::Own(String::new()),
        }
        self.slots = [Slot::ABSENT; FIELD_COUNT];
        self.rare = None;
        self.escape_free = true;
    }

    fn live_len(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.len <= Slot::MAX_LEN)
            .map(|s| usize::from(s.len))
            .sum()
    }

    /// Drops the text and values of overwritten fields.
    fn compact(&mut self) {
        let mut rare = self.rare.take().map(|rare| *rare).unwrap_or_default();
        let mut compacted = Entry {
            key_escape_free: self.key_escape_free,
            last_use: self.last_use.clone(),
            ..Entry::default()
        };
        compacted.text.own().reserve_exact(self.live_len());
        for field in Field::ALL {
            let slot = self.slots[field as usize];
            if slot.len == Slot::OTHER_LEN {
                let value = rare
                    .others
                    .get_mut(usize::from(slot.start))
                    .map(std::mem::take);
                compacted.set_value(field, value.unwrap_or_default());
            } else if let Some(FieldValue::Str(s)) = self.raw(field) {
                compacted.set_parsed(field, s, self.escape_free);
            } else {
                compacted.slots[field as usize] = slot;
            }
        }
        if !rare.extra.is_empty() {
            compacted.rare.get_or_insert_with(Box::default).extra = rare.extra;
        }
        *self = compacted;
    }
}

/// Appends to an entry's text; a text that must grow is moved into a larger buffer and
/// the old one wiped (a plain `push_str` would free it with the secret in it).
fn push_wiping(text: &mut String, value: &str) {
    let needed = text.len() + value.len();
    if needed > text.capacity() {
        let mut larger = String::with_capacity(needed.next_power_of_two().max(64));
        larger.push_str(text);
        text.zeroize();
        *text = larger;
    }
    text.push_str(value);
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        Field::ALL.into_iter().all(|f| self.raw(f) == other.raw(f)) && self.extra() == other.extra()
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (index, value) in self.fields() {
            let shown: &dyn fmt::Debug = match (Field::ALL[index], &value) {
                (Field::Secret, _) => &"[redacted]",
                (_, FieldValue::Null) => &"null",
                (_, FieldValue::Str(s)) => s,
                (_, FieldValue::Other(v)) => v,
            };
            map.entry(&NAMES[index], shown);
        }
        map.entries(self.extra().iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nulls_absences_and_unknown_fields() {
        let text = r#"{"secret":"s","home_account_id":null,"expires_on":"123","x_new":{"a":[1,2]},"cached_at":5}"#;
        let entry: Entry = serde_json::from_str(text).unwrap();
        assert_eq!(entry.get(Field::Secret), Some("s"));
        assert_eq!(entry.raw(Field::HomeAccountId), Some(FieldValue::Null));
        assert_eq!(entry.raw(Field::Realm), None);
        assert_eq!(entry.get_u64(Field::ExpiresOn), Some(123));
        assert_eq!(entry.get_u64(Field::CachedAt), Some(5));
        let back: Value = serde_json::to_value(&entry).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn debug_redacts_the_secret() {
        let mut entry = Entry::new();
        entry.set(Field::Secret, "at-very-secret");
        entry.set(Field::ClientId, "c");
        let text = format!("{entry:?}");
        assert!(
            !text.contains("at-very-secret") && text.contains("client_id"),
            "{text}"
        );
    }

    #[test]
    fn overwrites_and_merges_do_not_grow_the_text_without_bound() {
        let mut entry = Entry::new();
        entry.set(Field::Secret, "first");
        entry.set_value(Field::CachedAt, Value::from(5));
        for round in 0..1000 {
            let mut update = Entry::new();
            update.set(Field::Secret, format!("secret-{round}"));
            update.set(Field::ClientId, "c");
            entry.merge_from(&update);
            entry.set(Field::Target, format!("scope-{round}"));
        }
        assert_eq!(entry.get(Field::Secret), Some("secret-999"));
        assert_eq!(entry.get(Field::Target), Some("scope-999"));
        assert_eq!(entry.get_u64(Field::CachedAt), Some(5));
        assert!(entry.text_len() < 300, "{}", entry.text_len());
        let mut same = Entry::new();
        same.set(Field::Target, "scope-999");
        same.set(Field::ClientId, "c");
        same.set(Field::Secret, "secret-999");
        same.set_value(Field::CachedAt, Value::from(5));
        assert_eq!(entry, same, "equality compares values, not buffers");
    }
}
