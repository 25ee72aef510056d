//! Writes the cache document as MSAL does (`json.dumps(indent=4)` layout) straight from
//! the entries: no serde layer between the fields and the bytes, and strings that need
//! no escaping (nearly all) copied in one go. At 100,000 entries this is most of the
//! cost of saving a cache.

use serde_json::Value;

use crate::entry::{Entry, FieldValue};

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
    if needs_escaping(text.as_bytes()) {
        escaped(out, text);
    } else {
        out.push_str(text);
    }
    out.push('"');
}

/// Whether any byte is `"`, `\` or a control character, eight bytes at a time.
fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        // A byte below 0x20 has no bit among 0xe0 set; a byte equal to c xors to zero.
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS != 0;
        if below_space
            || has_zero(x ^ (ONES * u64::from(b'"')))
            || has_zero(x ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
}

/// Any JSON value, pretty-printed at nesting `level` (rare: unknown fields and
/// sections, non-string values).
pub(crate) fn value(out: &mut String, value: &Value, level: usize) {
    let formatter = serde_json::ser::PrettyFormatter::with_indent(INDENT.as_bytes());
    let mut text = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
    // Serializing a `Value` into a Vec cannot fail.
    let text = match serde::Serialize::serialize(value, &mut serializer) {
        Ok(()) => String::from_utf8(text).unwrap_or_default(),
        Err(_) => String::new(),
    };
    if text.is_empty() {
        out.push_str("null");
        return;
    }
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
        if !self.empty {
            out.push(',');
        }
        self.empty = false;
        newline(out, self.level + 1);
        string(out, name);
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

/// One entry at nesting `level`.
pub(crate) fn entry(out: &mut String, entry: &Entry, level: usize) {
    let mut object = Object::open(out, level);
    for (name, field) in entry.fields() {
        object.member(out, name);
        match field {
            FieldValue::Null => out.push_str("null"),
            FieldValue::Str(text) => string(out, text),
            FieldValue::Other(other) => value(out, other, level + 1),
        }
    }
    for (name, extra) in entry.extra() {
        object.member(out, name);
        value(out, extra, level + 1);
    }
    object.close(out);
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde_json::{Map, Value, json};

    use crate::cache::{Section, TokenCache};
    use crate::entry::{Entry, F};

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
            F::Secret,
            "quote \" backslash \\ newline \n tab \t bell \u{7} é 😀 \u{1f}",
        );
        tricky.set_null(F::HomeAccountId);
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
