//! The document parser against serde_json: what it reads it reads alike (escapes,
//! control characters, any value under any name, compact or pretty), and what serde_json
//! rejects it rejects, with where.

use proptest::prelude::*;
use serde_json::{Value, json};

use tokenhop_cache::{CacheOptions, Section, TokenCache};

fn parses(text: &str) -> bool {
    TokenCache::deserialize(text, CacheOptions::default()).is_ok()
}

#[test]
fn decodes_escapes_as_serde_json_does() {
    let text = r#"{"AccessToken": {"k\"ey\u00e9": {"secret": "a\"b\\c\/d\b\f\n\r\t\u0001\u00e9\ud83d\ude00 end", "cached_at": 17, "realm": null, "x": [1, {"y": "\u0041"}]}}}"#;
    let cache = TokenCache::deserialize(text, CacheOptions::default()).unwrap();
    let (key, entry) = cache.entries(Section::AccessToken).next().unwrap();
    assert_eq!(key, "k\"eyé");
    let expected: Value = serde_json::from_str(text).unwrap();
    let expected = &expected["AccessToken"]["k\"eyé"];
    assert_eq!(serde_json::to_value(entry).unwrap(), *expected);
    assert_eq!(
        entry.get(tokenhop_cache::entry::Field::Secret),
        expected["secret"].as_str()
    );
}

#[test]
fn rejects_what_serde_json_rejects() {
    for bad in [
        "{",
        "{\"AccessToken\": {}",
        "{\"AccessToken\": {\"k\": {\"secret\": \"a\u{1}b\"}}}",
        "{\"AccessToken\": {\"k\": {\"secret\": \"\\x\"}}}",
        "{\"AccessToken\": {\"k\": {\"secret\": \"\\ud800\"}}}",
        "{\"AccessToken\": {\"k\": {\"secret\": \"\\udc00\"}}}",
        "{\"AccessToken\": {\"k\": {\"secret\": \"\\u12\"}}}",
        "{\"AccessToken\": {\"k\": {\"secret\": nul}}}",
        "{\"AccessToken\": {\"k\": {\"secret\": 01}}}",
        "{\"AccessToken\": {\"k\": {\"secret\": \"s\",}}}",
        "{\"AccessToken\": {\"k\": 1}}",
        "{\"AccessToken\": []}",
        "{\"Future\": tru}",
        "{\"AccessToken\": {}} x",
        "{} {}",
        "[]",
        "{'a': 1}",
    ] {
        assert!(serde_json::from_str::<Value>(bad).is_err() || !parses(bad));
        assert!(!parses(bad), "{bad}");
    }
    let error = TokenCache::deserialize("{\n  \"AccessToken\": 5}", CacheOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("line 2 column 18"), "{error}");
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Floats that serde_json reads back exactly (without `float_roundtrip`).
        (-4000i32..4000).prop_map(|i| Value::from(f64::from(i) / 8.0)),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any strings (escapes, control characters, non-ASCII) and any values under any
    /// names come back as serde_json reads them, written compactly or pretty.
    #[test]
    fn reads_what_serde_json_reads(
        fields in prop::collection::vec((
            prop_oneof![Just("secret".to_owned()), Just("realm".to_owned()), any::<String>()],
            json_value(),
        ), 0..6),
        key in any::<String>(),
        pretty in any::<bool>(),
    ) {
        let entry: serde_json::Map<String, Value> = fields.into_iter().collect();
        let doc = json!({"AccessToken": {key.clone(): entry}, "Zzz": {"n": [1.5, "x"]}});
        let text = if pretty {
            serde_json::to_string_pretty(&doc).unwrap()
        } else {
            serde_json::to_string(&doc).unwrap()
        };
        let mut cache = TokenCache::deserialize(&text, CacheOptions::default()).unwrap();
        let back: Value = serde_json::from_str(&cache.serialize()).unwrap();
        prop_assert_eq!(back, doc);
    }

    /// Cutting a document anywhere never panics, and is an error unless what is
    /// left is itself a document.
    #[test]
    fn truncated_documents_are_errors(cut in 0usize..1000) {
        let text = r#"{"AccessToken": {"k": {"secret": "a\"b\u00e9", "cached_at": 5, "x": [1, {"y": null}]}}, "Account": {}}"#;
        let cut = cut % text.len();
        let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let head = &text[..cut];
        prop_assert_eq!(parses(head), head.trim().is_empty());
    }
}

/// Field names are guessed from the entry before; a guess that is wrong (another order,
/// an escaped name, an unknown field in between) must not change what is read.
#[test]
fn entries_in_any_field_order_read_alike() {
    let text = r#"{"RefreshToken": {
        "a": {"secret": "1", "client_id": "c", "target": "t", "x_new": 1},
        "b": {"secret": "2", "client_id": "c", "target": "t", "x_new": 2},
        "c": {"client_id": "c", "secret": "3", "x_new": 3, "target": "t"},
        "d": {"secr\u0065t": "4", "client_id": "c\"q", "targe": "no", "target": "t"},
        "e": {"secret": "5", "client_id": null, "target": ["t"]},
        "f": {},
        "g": {"secret": "7", "client_id": "c", "target": "t"}
    }}"#;
    let mut cache = TokenCache::deserialize(text, CacheOptions::default()).unwrap();
    let back: Value = serde_json::from_str(&cache.serialize()).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
}
