//! Partitions in Redis: MSAL's JSON under MSAL.NET's keys, living as long as their
//! longest token; users listed in the directory; a value that is not a cache ignored
//! with a warning and replaced by the next write.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokenhop_cache::{ACCOUNT_DIRECTORY, TokenEvent};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_tokens_are_msal_json_under_msal_dotnets_key_living_as_long_as_the_token() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = cache(settings(&server.url(), "apps"));
    add_app_token(&cache, "app", "token-of-app").await;
    let key = format!("apps:{{{}}}", app_partition("app"));
    let stored: Value = serde_json::from_str(&server.cli(&["GET", &key])).unwrap();
    let tokens = stored["AccessToken"].as_object().unwrap();
    assert_eq!(tokens.len(), 1);
    let (_, token) = tokens.iter().next().unwrap();
    assert_eq!(token["secret"], "token-of-app");
    assert_eq!(token["client_id"], "app");
    let ttl_ms: u64 = server.cli(&["PTTL", &key]).trim().parse().unwrap();
    assert!(
        (3_590_000..=3_600_000).contains(&ttl_ms),
        "TTL {ttl_ms} ms: the token's hour"
    );
    assert_eq!(
        app_secret(&cache, "app").await.unwrap().as_deref(),
        Some("token-of-app")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_partition_and_the_directory_keep_their_refresh_token_and_account() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = cache(settings(&server.url(), "users"));
    let client_info = URL_SAFE_NO_PAD.encode(json!({"uid": "u1", "utid": TENANT}).to_string());
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"preferred_username": "ada@contoso", "oid": "u1", "tid": TENANT}).to_string(),
    );
    let response = json!({
        "access_token": "at-u1", "expires_in": 3600, "refresh_token": "rt-u1",
        "client_info": client_info, "id_token": format!("e30.{claims}.sig"),
    });
    let writer = cache.clone();
    tokio::task::spawn_blocking(move || {
        writer.add(&TokenEvent {
            client_id: "public",
            environment: ENV,
            realm: TENANT,
            scopes: &["User.Read"],
            grant_type: "authorization_code",
            response: response.as_object().unwrap(),
            extra_fields: &[],
            now: NOW,
        })
    })
    .await
    .unwrap()
    .unwrap();
    let user_key = format!("users:{{u1.{TENANT}}}");
    assert!(server.cli(&["GET", &user_key]).contains("rt-u1"));
    assert_eq!(
        server.cli(&["PTTL", &user_key]).trim(),
        "-1",
        "a refresh token does not expire"
    );
    let directory = server.cli(&["GET", &format!("users:{{{ACCOUNT_DIRECTORY}}}")]);
    assert!(directory.contains("ada@contoso") && !directory.contains("rt-u1"));
    let reader = cache.clone();
    let accounts = tokio::task::spawn_blocking(move || reader.read(|c| c.accounts(ENV)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(accounts[0].username, "ada@contoso");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_that_is_not_a_cache_is_ignored_with_a_warning_and_overwritten() {
    let logs = logs();
    let Some(server) = RedisServer::start() else {
        return;
    };
    let key = format!("junk:{{{}}}", app_partition("app"));
    server.cli(&["SET", &key, "this is not { json"]);
    let cache = cache(settings(&server.url(), "junk"));
    assert_eq!(
        app_secret(&cache, "app").await.unwrap(),
        None,
        "ignored, not an error"
    );
    let warned = logs.lines_with(&["WARN", "does not parse", &key]);
    assert!(!warned.is_empty(), "a warning names the partition");
    add_app_token(&cache, "app", "fresh").await;
    let stored: Value = serde_json::from_str(&server.cli(&["GET", &key])).unwrap();
    assert!(
        stored["AccessToken"].to_string().contains("fresh"),
        "the next write replaced it"
    );
}
