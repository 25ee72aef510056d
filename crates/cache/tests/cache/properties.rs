//! Serialize → deserialize is the identity on generated caches; arbitrary input never
//! makes the parser panic.

use proptest::prelude::*;
use serde_json::{Value, json};
use tokenhop_cache::{CacheOptions, TokenCache};

fn entry() -> impl Strategy<Value = Value> {
    (
        "[a-z0-9.-]{0,12}",
        prop::option::of("[a-zA-Z./ ]{0,30}"),
        prop::option::of(0u64..4_000_000_000),
        prop::bool::ANY,
        prop::option::of((
            "[a-z_]{1,8}",
            prop_oneof![
                Just(json!(null)),
                Just(json!([1, "two"])),
                Just(json!({"k": true}))
            ],
        )),
    )
        .prop_map(|(client, target, expires, null_home, extra)| {
            let mut e =
                json!({"credential_type": "AccessToken", "secret": "s", "client_id": client});
            if let Some(t) = target {
                e["target"] = json!(t);
            }
            if let Some(x) = expires {
                e["expires_on"] = json!(x.to_string());
            }
            if null_home {
                e["home_account_id"] = Value::Null;
            }
            if let Some((name, value)) = extra {
                e[format!("x_{name}")] = value;
            }
            e
        })
}

fn document() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map("[a-z0-9-]{1,20}", entry(), 0..8),
        prop::collection::btree_map("[a-z]{1,6}", entry(), 0..3),
        prop::option::of("[A-Z][a-z]{2,8}"),
    )
        .prop_map(|(ats, accounts, unknown)| {
            let mut doc = json!({"AccessToken": ats, "Account": accounts});
            if let Some(name) = unknown {
                doc[format!("Future{name}")] = json!({"k": {"v": 1}});
            }
            doc
        })
}

proptest! {
    #[test]
    fn serialize_after_deserialize_is_the_identity(doc in document()) {
        let text = serde_json::to_string(&doc).unwrap();
        let mut cache = TokenCache::deserialize(&text, CacheOptions::default()).unwrap();
        let back: Value = serde_json::from_str(&cache.serialize()).unwrap();
        // Empty sections are not written, as MSAL writes none it never used.
        let mut expected = doc.clone();
        expected.as_object_mut().unwrap().retain(|_, v| v.as_object().is_none_or(|o| !o.is_empty()));
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        let _ = TokenCache::deserialize(&text, CacheOptions::default());
    }

    #[test]
    fn arbitrary_json_never_panics(value in prop_oneof![
        Just(json!([])), Just(json!({"AccessToken": 5})), Just(json!({"AccessToken": {"k": 1}})),
        Just(json!({"AccessToken": {"k": {"expires_on": {}}}})), Just(json!({"RefreshToken": {"k": {"home_account_id": 1}}}))
    ]) {
        let _ = TokenCache::deserialize(&value.to_string(), CacheOptions::default());
    }
}
