//! Claims requests: a claims challenge bypasses every cache, reaches the token endpoint
//! (merged with the client's capabilities, as MSAL merges them) and its token is stored.

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::unverified_claims;
use tokenhop_flows::{Authority, ConfidentialClient, PublicClient};

fn graph() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}

fn now() -> u64 {
    tokenhop_core::epoch_seconds(std::time::SystemTime::now())
}

/// The challenge a CAE resource sends after a critical event at `at`.
fn nbf_challenge(at: u64) -> String {
    format!(r#"{{"access_token":{{"nbf":{{"essential":true,"value":"{at}"}}}}}}"#)
}

fn claims_of(token: &tokenhop_core::AccessToken) -> serde_json::Map<String, serde_json::Value> {
    unverified_claims(token.secret.expose_secret()).unwrap()
}

fn secret_app(emulator: &EmulatorHandle, cache: SharedTokenCache) -> ConfidentialClient {
    crate::common::secret_builder(emulator, &emulator.authority())
        .cache(cache)
        .client_capabilities(["cp1"])
        .build()
        .unwrap()
}

#[tokio::test]
async fn claims_bypass_the_cache_and_reach_the_token_endpoint_and_the_result_is_stored() {
    let emulator = Emulator::builder().start().await.unwrap();
    let cache = SharedTokenCache::in_memory();
    let client = secret_app(&emulator, cache.clone());
    let cached = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        claims_of(&cached)["xms_cc"],
        serde_json::json!(["cp1"]),
        "cp1 on every request"
    );
    let later = now() + 60;
    let challenged = client
        .acquire_token_for_client(
            &graph(),
            &TokenRequestOptions::default().with_claims(nbf_challenge(later)),
        )
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        2,
        "past the cache"
    );
    assert_ne!(challenged.secret, cached.secret);
    let challenged_claims = claims_of(&challenged);
    assert!(
        challenged_claims["nbf"].as_u64().unwrap() >= later,
        "the claims reached the endpoint"
    );
    assert_eq!(
        challenged_claims["xms_cc"],
        serde_json::json!(["cp1"]),
        "merged with the capabilities"
    );
    let next = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        next.secret, challenged.secret,
        "the claims' token is what the cache holds now"
    );
}

#[tokio::test]
async fn a_user_claims_request_skips_the_cached_token_and_refreshes_with_the_claims() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = PublicClient::builder(
        crate::common::client_id(&emulator, names::PUBLIC_CLIENT),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .client_capabilities(["cp1"])
    .build()
    .unwrap();
    let scopes = Scopes::new(["User.Read"]).unwrap();
    crate::common::sign_in(&emulator, &client, &scopes, names::ALICE).await;
    let account = client.accounts().await.unwrap().remove(0);
    let later = now() + 60;
    let token = client
        .acquire_token_silent(
            &scopes,
            &account,
            &TokenRequestOptions::default().with_claims(nbf_challenge(later)),
        )
        .await
        .unwrap();
    assert_eq!(emulator.counters().grant("refresh_token"), 1);
    let claims = claims_of(&token);
    assert!(claims["nbf"].as_u64().unwrap() >= later);
    assert_eq!(claims["xms_cc"], serde_json::json!(["cp1"]));
    let lifetime = emulator.config().cae_token_lifetime_secs;
    let left = claims["exp"].as_u64().unwrap() - now();
    assert!(left > lifetime - 120, "a CAE token: {left} s left");
}
