//! Values sealed at rest: what `redis-cli` shows is neither JSON nor a token; a key
//! that did not seal a value is a clear error, never a panic; a rotated key still
//! opens what it sealed.

use tokenhop_redis::EncryptionKey;

use crate::common::*;

fn key(byte: u8) -> EncryptionKey {
    EncryptionKey::from_bytes([byte; 32])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_value_read_with_redis_cli_is_not_json_and_holds_no_token() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let secret = "eyJ0eXAiOiJKV1QifQ.the-token-itself.sig";
    let cache = cache(settings(&server.url(), "sealed").with_encryption_key(key(7)));
    add_app_token(&cache, "app", secret).await;
    let stored = server.cli(&["GET", &format!("sealed:{{{}}}", app_partition("app"))]);
    assert!(
        serde_json::from_str::<serde_json::Value>(&stored).is_err(),
        "{stored}"
    );
    for text in [secret, "the-token-itself", "AccessToken", "app_t1"] {
        assert!(!stored.contains(text), "{text} shows through");
    }
    assert!(stored.starts_with(&format!("tokenhop-redis-aes256gcm v1 {}", key(7).id())));
    let fresh = crate::common::cache(settings(&server.url(), "sealed").with_encryption_key(key(7)));
    assert_eq!(
        app_secret(&fresh, "app").await.unwrap().as_deref(),
        Some(secret)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_a_clear_error_and_a_rotated_one_still_opens() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let writer = cache(settings(&server.url(), "keys").with_encryption_key(key(1)));
    add_app_token(&writer, "app", "sealed-with-1").await;

    let wrong = cache(settings(&server.url(), "keys").with_encryption_key(key(2)));
    let error = app_secret(&wrong, "app").await.unwrap_err().to_string();
    assert!(
        error.contains(key(1).id()) && error.contains(key(2).id()),
        "{error}"
    );
    assert!(
        error.contains("encryption_key"),
        "it says what to do: {error}"
    );
    let unkeyed = cache(settings(&server.url(), "keys"));
    let error = app_secret(&unkeyed, "app").await.unwrap_err().to_string();
    assert!(error.contains("no key is configured"), "{error}");

    let rotated = cache(
        settings(&server.url(), "keys")
            .with_encryption_key(key(2))
            .with_decryption_key(key(1)),
    );
    assert_eq!(
        app_secret(&rotated, "app").await.unwrap().as_deref(),
        Some("sealed-with-1")
    );
    add_app_token(&rotated, "app", "sealed-with-2").await;
    let stored = server.cli(&["GET", &format!("keys:{{{}}}", app_partition("app"))]);
    assert!(stored.contains(key(2).id()), "rewritten with the new key");
}
