//! Reading and writing the JSON document: MSAL's layout (`indent=4`), unknown sections
//! kept in place.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::cache::{CacheOptions, Section, TokenCache};
use crate::entry::Entry;

impl TokenCache {
    /// Parses a serialized cache (MSAL's format). An empty string is an empty cache.
    /// Clears [`TokenCache::has_state_changed`].
    pub fn deserialize(text: &str, options: CacheOptions) -> Result<Self, serde_json::Error> {
        let mut cache = TokenCache::with_options(options);
        if text.trim().is_empty() {
            return Ok(cache);
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let (sections, unknown) = deserializer.deserialize_map(DocumentVisitor)?;
        deserializer.end()?;
        cache.sections = sections;
        cache.unknown_sections = unknown;
        cache.rebuild_indexes();
        cache.mark_persisted();
        Ok(cache)
    }

    /// Serializes as MSAL does (JSON, 4-space indent). Clears
    /// [`TokenCache::has_state_changed`].
    pub fn serialize(&mut self) -> String {
        let text = self.to_json();
        self.changed = false;
        text
    }

    /// The JSON text, without touching the change flag.
    pub fn to_json(&self) -> String {
        let mut out =
            Vec::with_capacity(self.sections.iter().map(|s| s.len() * 512).sum::<usize>() + 64);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Writing JSON into a Vec cannot fail, and entries hold only JSON values.
        if self.serialize_document(&mut serializer).is_err() {
            return String::from("{}");
        }
        String::from_utf8(out).unwrap_or_else(|_| String::from("{}"))
    }

    fn serialize_document<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let present: Vec<Section> = Section::ALL
            .into_iter()
            .filter(|s| !self.sections[*s as usize].is_empty())
            .collect();
        let mut map =
            serializer.serialize_map(Some(present.len() + self.unknown_sections.len()))?;
        for section in present {
            map.serialize_entry(
                section.name(),
                &SectionRef(&self.sections[section as usize]),
            )?;
        }
        for (name, value) in &self.unknown_sections {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

struct SectionRef<'a>(&'a IndexMap<crate::cache::Key, Entry, crate::cache::FastState>);

impl Serialize for SectionRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter())
    }
}

type Document = (
    [IndexMap<crate::cache::Key, Entry, crate::cache::FastState>; 5],
    Vec<(String, Value)>,
);

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an MSAL token cache (a JSON object of sections)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut sections: crate::cache::Sections = Default::default();
        let mut unknown = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            match Section::from_name(&name) {
                Some(section) => sections[section as usize] = map.next_value()?,
                None => unknown.push((name, map.next_value()?)),
            }
        }
        Ok((sections, unknown))
    }
}
