//! Writes the cache document as MSAL does (`json.dumps(indent=4)` layout) straight from
//! the entries: no serde layer between the fields and the bytes, and strings that need
//! no escaping (nearly all) copied in one go. At 100,000 entries this is most of the
//! cost of saving a cache.

use serde_json::Value;

use crate::entry::{Entry, FieldValue, MEMBER_PREFIXES};
use crate::json_escape::{first_special, push_escaped};

const INDENT: &str = "    ";

fn newline(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str(INDENT);
    }
}

/// A JSON string literal, escaped as serde_json escapes.
pub(crate) fn string(out: &mut String, text: &str) {
    out.push('"');
    match first_special(text.as_bytes(), 0) {
        None => out.push_str(text),
        Some(first) => push_escaped(out, text, first),
    }
    out.push('"');
}

/// Any JSON value, pretty-printed at nesting `level` (rare: unknown fields and
/// sections, non-string values).
pub(crate) fn value(out: &mut String, value: &Value, level: usize) {
    let formatter = serde_json::ser::PrettyFormatter::with_indent(INDENT.as_bytes());
    let mut text = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
    // Serializing a `Value` into a Vec cannot fail, and serde_json writes UTF-8.
    let text = match serde::Serialize::serialize(value, &mut serializer) {
        Ok(()) => String::from_utf8(text).unwrap_or_else(|_| "null".to_owned()),
        Err(_) => "null".to_owned(),
    };
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            newline(out, level);
        }
        out.push_str(line);
    }
}

/// Writes an object's members one by one: `{`, then `"name": ` for each, then `}`
/// (`{}` when there were none).
pub(crate) struct Object {
    level: usize,
    empty: bool,
}

impl Object {
    /// Opens an object at nesting `level`.
    pub(crate) fn open(out: &mut String, level: usize) -> Self {
        out.push('{');
        Self { level, empty: true }
    }

    /// Starts the member `name`; its value comes next.
    pub(crate) fn member(&mut self, out: &mut String, name: &str) {
        self.member_known(out, name, false);
    }

    /// Starts the member `name`, known to need no escaping when `clean`.
    pub(crate) fn member_known(&mut self, out: &mut String, name: &str, clean: bool) {
        if !self.empty {
            out.push(',');
        }
        self.empty = false;
        newline(out, self.level + 1);
        if clean {
            out.push('"');
            out.push_str(name);
            out.push('"');
        } else {
            string(out, name);
        }
        out.push_str(": ");
    }

    /// The nesting level of member values.
    pub(crate) fn value_level(&self) -> usize {
        self.level + 1
    }

    /// Closes the object.
    pub(crate) fn close(self, out: &mut String) {
        if !self.empty {
            newline(out, self.level);
        }
        out.push('}');
    }
}

/// The nesting level of entries in the document (document, section, entry).
pub(crate) const ENTRY_LEVEL: usize = 2;

/// One entry, at [`ENTRY_LEVEL`]. Field names and indentation are one copy each, and
/// the values of an entry that needs no escaping are copied as they are: this loop is
/// most of the time a large cache takes to save.
pub(crate) fn entry(out: &mut String, entry: &Entry) {
    let escape_free = entry.is_escape_free();
    let mut empty = true;
    out.push('{');
    for (index, field) in entry.fields() {
        let prefix = MEMBER_PREFIXES[index];
        // The first member has no comma before it.
        out.push_str(if empty {
            prefix.strip_prefix(',').unwrap_or(prefix)
        } else {
            prefix
        });
        empty = false;
        match field {
            FieldValue::Null => out.push_str("null"),
            FieldValue::Str(text) if escape_free => {
                out.push('"');
                out.push_str(text);
                out.push('"');
            }
            FieldValue::Str(text) => string(out, text),
            FieldValue::Other(other) => value(out, other, ENTRY_LEVEL + 1),
        }
    }
    let mut rest = Object {
        level: ENTRY_LEVEL,
        empty,
    };
    for (name, extra) in entry.extra() {
        rest.member(out, name);
        value(out, extra, ENTRY_LEVEL + 1);
    }
    rest.close(out);
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde_json::{Map, Value, json};

    use crate::entry::{Entry, Field};
    use crate::{Section, TokenCache};

    /// What serde_json's pretty printer (4-space indent) makes of the same document.
    fn serde_json_pretty(cache: &TokenCache) -> String {
        let mut document = Map::new();
        for section in Section::ALL {
            let entries: Map<String, Value> = cache
                .entries(section)
                .map(|(k, e)| (k.to_owned(), serde_json::to_value(e).unwrap()))
                .collect();
            if !entries.is_empty() {
                document.insert(section.name().to_owned(), Value::Object(entries));
            }
        }
        for (name, value) in &cache.unknown_sections {
            document.insert(name.clone(), value.clone());
        }
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        Value::Object(document)
            .serialize(&mut serde_json::Serializer::with_formatter(
                &mut out, formatter,
            ))
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_byte_for_byte_what_serde_json_writes() {
        let mut cache = crate::synthetic::build(300).cache;
        let mut tricky = Entry::new();
        tricky.set(
            Field::Secret,
            "quote \" backslash \\ newline \n tab \t bell \u{7} é 😀 \u{1f}",
        );
        tricky.set_null(Field::HomeAccountId);
        let with_extra: Entry = serde_json::from_value(json!({
            "client_id": "c", "cached_at": 17, "x_nested": {"a": [1, {"b": null}], "c": "d"}, "x_empty": {}
        }))
        .unwrap();
        cache.insert(Section::AccessToken, "tricky \"key\"".into(), tricky);
        cache.insert(Section::AppMetadata, "extra".into(), with_extra);
        cache
            .unknown_sections
            .push(("FutureSection".into(), json!({"k": {"v": [1, 2]}})));
        assert_eq!(cache.to_json(), serde_json_pretty(&cache));
        assert_eq!(TokenCache::new().to_json(), "{}");
    }
}
