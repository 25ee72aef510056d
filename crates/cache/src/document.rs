//! Reading and writing the JSON document: MSAL's layout (`indent=4`), unknown sections
//! kept in place.

use crate::cache::{CacheOptions, TokenCache};
use crate::section::Section;
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

    /// Serializes into `out` (emptied first) as [`TokenCache::serialize`] does. A host
    /// that saves often can keep `out` from one save to the next: a large cache is then
    /// written into memory the process already has rather than into new pages, which
    /// the kernel must first fill with zeros (half the time of a 100,000-entry save on
    /// Linux).
    pub fn serialize_into(&mut self, out: &mut String) {
        self.write_json(out);
        self.changed = false;
    }

    /// The JSON text, without touching the change flag.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        out.clear();
        out.reserve(self.estimated_json_len());
        let mut document = json_writer::Object::open(out, 0);
        for section in Section::ALL {
            let entries = &self.sections[section as usize];
            if entries.is_empty() {
                continue;
            }
            document.member(out, section.name());
            let mut object = json_writer::Object::open(out, document.value_level());
            for (key, entry) in entries {
                object.member_known(out, key, entry.is_key_escape_free());
                json_writer::entry(out, entry);
            }
            object.close(out);
        }
        for (name, value) in &self.unknown_sections {
            document.member(out, name);
            json_writer::value(out, value, document.value_level());
        }
        document.close(out);
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

#[cfg(test)]
mod tests {
    use crate::Section;
    use crate::entry::{Entry, Field};

    #[test]
    fn serialize_into_writes_what_serialize_writes_and_keeps_the_buffer() {
        let mut cache = crate::synthetic::build(120).cache;
        let mut expected = crate::synthetic::build(120).cache;
        let mut out = String::from("left over from before");
        cache.serialize_into(&mut out);
        assert_eq!(out, expected.serialize());
        assert!(!cache.has_state_changed());

        let mut entry = Entry::new();
        entry.set(Field::Secret, "s");
        cache.insert(Section::AccessToken, "k".into(), entry);
        assert!(cache.has_state_changed());
        out.reserve(out.len());
        let buffer = out.as_ptr();
        cache.serialize_into(&mut out);
        assert_eq!(
            out.as_ptr(),
            buffer,
            "a buffer large enough is written in place"
        );
        assert_eq!(out, cache.to_json());
        assert!(!cache.has_state_changed());
    }

    #[test]
    fn values_past_the_slots_reach_are_kept() {
        let big = "x".repeat(70_000);
        let mut entry = Entry::new();
        entry.set(Field::Target, "a b");
        entry.set(Field::Secret, &big);
        entry.set(Field::Realm, "r");
        assert_eq!(entry.get(Field::Secret), Some(big.as_str()));
        assert_eq!(entry.get(Field::Realm), Some("r"));
        let text = serde_json::to_string(&entry).unwrap();
        let back: Entry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, entry);
        let mut cache = crate::TokenCache::new();
        cache.insert(crate::Section::AccessToken, "k".into(), entry.clone());
        let again = crate::TokenCache::deserialize(&cache.to_json(), Default::default()).unwrap();
        assert_eq!(again.get(crate::Section::AccessToken, "k"), Some(&entry));
    }
}
