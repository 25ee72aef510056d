//! Serde for a single [`Entry`] (whole documents go through `json_reader` and
//! `json_writer`, which are faster).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::entry::{Entry, Field, FieldValue, NAMES};

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (index, value) in self.fields() {
            match value {
                FieldValue::Null => map.serialize_entry(NAMES[index], &())?,
                FieldValue::Str(s) => map.serialize_entry(NAMES[index], s)?,
                FieldValue::Other(v) => map.serialize_entry(NAMES[index], v)?,
            }
        }
        for (name, value) in self.extra() {
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

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token cache entry (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut entry = Entry::default();
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match Field::from_name(&name) {
                Some(field) => match map.next_value::<Value>()? {
                    Value::String(s) => entry.set(field, s),
                    Value::Null => entry.set_null(field),
                    other => entry.set_value(field, other),
                },
                None => entry.push_extra(name.into_owned(), map.next_value()?),
            }
        }
        Ok(entry)
    }
}
