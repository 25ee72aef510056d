//! Reading and writing the JSON document: MSAL's layout (`indent=4`), unknown sections
//! kept in place.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserializer;
use serde::de::{MapAccess, Visitor};
use serde_json::Value;

use crate::cache::{CacheOptions, Section, TokenCache};
use crate::entry::Entry;
use crate::json_writer;

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
            String::with_capacity(self.sections.iter().map(|s| s.len() * 1024).sum::<usize>() + 64);
        let mut document = json_writer::Object::open(&mut out, 0);
        for section in Section::ALL {
            let entries = &self.sections[section as usize];
            if entries.is_empty() {
                continue;
            }
            document.member(&mut out, section.name());
            let mut object = json_writer::Object::open(&mut out, document.value_level());
            for (key, entry) in entries {
                object.member(&mut out, key);
                json_writer::entry(&mut out, entry, object.value_level());
            }
            object.close(&mut out);
        }
        for (name, value) in &self.unknown_sections {
            document.member(&mut out, name);
            json_writer::value(&mut out, value, document.value_level());
        }
        document.close(&mut out);
        out
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
