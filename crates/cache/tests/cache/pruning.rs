//! A cache that sees many on-behalf-of calls stays bounded: expired access tokens go
//! on save, a user's on-behalf-of tokens are bounded, and a bound on access tokens
//! drops the least recently used.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokenhop_cache::{
    AccessTokenLookup, AccessTokenQuery, CacheOptions, CallbackPersistence, FilePersistence,
    Section, SharedTokenCache, TokenCache, TokenEvent, keys,
};

use crate::common::{ENV, NOW, TENANT, app_secret, app_secret_at, app_token, clock_at_now};

const API: &str = "api://downstream/.default";

/// What the middle tier's on-behalf-of call writes for `user`'s `assertion`: as
/// tokenhop's flow does, the access token under an extended key of the assertion, and
/// the user's refresh token, id token and account.
fn on_behalf_of(cache: &mut TokenCache, user: usize, assertion: usize, now: u64) {
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let oid = format!("user-{user}");
    let response = json!({
        "access_token": format!("at-{user}-{assertion}"),
        "expires_in": 3600,
        "refresh_token": format!("rt-{user}"),
        "id_token": format!("{}.{}.sig", b64(json!({"alg": "none"})), b64(json!({"oid": oid, "tid": TENANT}))),
        "client_info": b64(json!({"uid": oid, "utid": TENANT})),
    });
    let digest = format!("assertion-{assertion}");
    cache.add(&TokenEvent {
        client_id: "middle-tier",
        environment: ENV,
        realm: TENANT,
        scopes: &[API],
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        response: response.as_object().unwrap(),
        extra_fields: &[("obo_assertion_sha256", &digest)],
        now,
    });
}

#[test]
fn ten_thousand_on_behalf_of_calls_with_expiring_tokens_leave_a_bounded_file() {
    // Every save's size, as a file would have it (a file backend's fsync per save
    // would make this test take minutes).
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let saved = Arc::clone(&sizes);
    let clock = clock_at_now();
    let cache = SharedTokenCache::builder(CallbackPersistence::new(None, move |blob| {
        saved.lock().unwrap().push(blob.len())
    }))
    .clock(clock.clone())
    .build();
    // 50 users, each calling with a new incoming token every 50 calls; 36 s pass per
    // call, so each access token (an hour) outlives 100 calls: 100 hours in all.
    for call in 0..10_000u64 {
        let now = NOW + call * 36;
        clock.set(std::time::UNIX_EPOCH + Duration::from_secs(now));
        cache
            .write(|c| on_behalf_of(c, (call % 50) as usize, call as usize, now))
            .unwrap();
    }
    let sizes = sizes.lock().unwrap();
    assert_eq!(sizes.len(), 10_000);
    let (largest, final_size) = (*sizes.iter().max().unwrap(), *sizes.last().unwrap());
    let (tokens, others) = cache
        .read(|c| {
            (
                c.len(Section::AccessToken),
                c.len(Section::RefreshToken) + c.len(Section::IdToken) + c.len(Section::Account),
            )
        })
        .unwrap();
    eprintln!(
        "10,000 on-behalf-of calls: {tokens} access tokens and {others} other entries left; \
         the saved cache peaked at {largest} bytes and ends at {final_size} bytes"
    );
    assert!(
        tokens <= 101,
        "{tokens} access tokens: expired ones were kept"
    );
    assert_eq!(
        others, 150,
        "one refresh token, id token and account per user"
    );
    assert!(largest < 200_000, "the saved cache grew to {largest} bytes");
}

#[test]
fn a_users_on_behalf_of_tokens_are_bounded_while_still_valid() {
    let mut cache =
        TokenCache::with_options(CacheOptions::default().with_max_on_behalf_of_tokens_per_user(4));
    for assertion in 0..20 {
        on_behalf_of(&mut cache, 7, assertion, NOW + assertion as u64);
    }
    assert_eq!(cache.prune(NOW + 20), 16);
    assert_eq!(cache.len(Section::AccessToken), 4);
    // The newest four are kept.
    for assertion in 16..20 {
        let ext = keys::ext_cache_key([(
            "obo_assertion_sha256",
            format!("assertion-{assertion}").as_str(),
        )]);
        let query = AccessTokenQuery {
            home_account_id: Some(&format!("user-7.{TENANT}")),
            environment: ENV,
            client_id: "middle-tier",
            realm: TENANT,
            scopes: &[API],
            ext_cache_key: ext.as_deref(),
        };
        assert!(
            matches!(
                cache.find_access_token(&query, NOW + 20),
                AccessTokenLookup::Hit(_)
            ),
            "assertion {assertion}"
        );
    }
}

#[test]
fn the_access_token_bound_holds_and_keeps_the_token_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = SharedTokenCache::builder(FilePersistence::new(&path))
        .options(CacheOptions::default().with_max_access_tokens(100))
        .clock(clock_at_now())
        .build();
    cache.write(|c| app_token(c, "hot", "at-hot")).unwrap();
    for i in 0..1_000 {
        cache
            .write(|c| app_token(c, &format!("client-{i}"), &format!("at-{i}")))
            .unwrap();
        // Every token was cached at NOW; "hot" is used after.
        assert!(
            cache
                .read(|c| app_secret_at(c, "hot", NOW + 1))
                .unwrap()
                .is_some(),
            "round {i}"
        );
        assert!(cache.read(|c| c.len(Section::AccessToken)).unwrap() <= 100);
    }
    let on_disk = TokenCache::deserialize(
        &std::fs::read_to_string(&path).unwrap(),
        CacheOptions::default(),
    )
    .unwrap();
    assert_eq!(on_disk.len(Section::AccessToken), 100);
    assert_eq!(app_secret(&on_disk, "hot").as_deref(), Some("at-hot"));
}
