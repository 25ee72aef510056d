//! Reading and writing the JSON document: MSAL's layout (`indent=4`), unknown sections
//! kept in place.

use crate::cache::{CacheOptions, Section, TokenCache};
use crate::{json_reader, json_writer};

impl TokenCache {
    /// Parses a serialized cache (MSAL's format). An empty string is an empty cache.
    /// Clears [`TokenCache::has_state_changed`].
    ///
    /// The lookup indexes are built by the first lookup, not here: a cache loaded only
    /// to be changed and saved again never pays for them.
    pub fn deserialize(text: &str, options: CacheOptions) -> Result<Self, serde_json::Error> {
        let mut cache = TokenCache::with_options(options);
        if text.trim().is_empty() {
            return Ok(cache);
        }
        let (sections, unknown) = json_reader::document(text)?;
        cache.replace_sections(sections, unknown);
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
        let mut out = String::with_capacity(self.estimated_json_len());
        let mut document = json_writer::Object::open(&mut out, 0);
        for section in Section::ALL {
            let entries = &self.sections[section as usize];
            if entries.is_empty() {
                continue;
            }
            document.member(&mut out, section.name());
            let mut object = json_writer::Object::open(&mut out, document.value_level());
            for (key, entry) in entries {
                object.member_known(&mut out, key, entry.is_key_escape_free());
                json_writer::entry(&mut out, entry);
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

    /// About the size of the JSON text (a guess at fields' names and indentation), so
    /// that the text is written without being moved as it grows.
    fn estimated_json_len(&self) -> usize {
        self.sections
            .iter()
            .flatten()
            .map(|(key, entry)| key.len() + entry.text_len() + 40 * entry.field_count() + 64)
            .sum::<usize>()
            + 64
    }
}
