//! The cache-backed token factory: from a serialized cache blob, silent tokens for the
//! first account, the host's persist callback called only when the cache changed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Error, ManualClock, Scopes, TokenProvider};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::Authority;
use tokenhop_flows::CachedTokenFactory;
use tokenhop_flows::PublicClient;

fn scopes() -> Scopes {
    Scopes::new(["User.Read"]).unwrap()
}

fn client_id(emulator: &EmulatorHandle) -> ClientId {
    crate::common::client_id(emulator, names::PUBLIC_CLIENT)
}

/// A cache blob in which alice signed in (at `authority`).
async fn signed_in_blob(emulator: &EmulatorHandle, authority: &str) -> String {
    let cache = SharedTokenCache::in_memory();
    let client = PublicClient::builder(client_id(emulator), Authority::parse(authority).unwrap())
        .cache(cache.clone())
        .device_code_wait(Arc::new(|_| Box::pin(async {})))
        .build()
        .unwrap();
    crate::common::sign_in(emulator, &client, &scopes(), names::ALICE).await;
    cache.write(|c| c.serialize()).unwrap()
}

async fn scenario(authority_of: fn(&EmulatorHandle) -> String) {
    let emulator = Emulator::builder().start().await.unwrap();
    let authority = authority_of(&emulator);
    let blob = signed_in_blob(&emulator, &authority).await;
    emulator.reset_counters();
    let persisted: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&persisted);
    let clock = Arc::new(ManualClock::new(std::time::SystemTime::now()));
    let factory = CachedTokenFactory::builder(
        client_id(&emulator),
        Authority::parse(&authority).unwrap(),
        scopes(),
    )
    .cache_blob(Some(blob))
    .persist(move |blob| sink.lock().unwrap().push(blob))
    .clock(clock.clone())
    .build()
    .unwrap();
    let provider: &dyn TokenProvider = &factory;

    provider.token().await.unwrap();
    assert_eq!(emulator.counters().endpoint("token"), 0, "a cache hit");
    assert!(
        persisted.lock().unwrap().is_empty(),
        "nothing changed, nothing persisted"
    );

    emulator.advance_clock(3600);
    clock.advance(Duration::from_secs(3600));
    provider.token().await.unwrap();
    assert_eq!(emulator.counters().grant("refresh_token"), 1);
    assert_eq!(
        persisted.lock().unwrap().len(),
        1,
        "persisted once after the refresh"
    );
    provider.token().await.unwrap();
    assert_eq!(persisted.lock().unwrap().len(), 1);
    let stored: serde_json::Value = serde_json::from_str(&persisted.lock().unwrap()[0]).unwrap();
    assert_eq!(
        stored["AccessToken"].as_object().unwrap().len(),
        1,
        "the refreshed token replaced the old"
    );
}

fn tenant(emulator: &EmulatorHandle) -> String {
    emulator.authority()
}

fn b2c(emulator: &EmulatorHandle) -> String {
    emulator.b2c_authority().unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_current_thread_runtime_hits_then_refreshes_and_persists_once() {
    scenario(tenant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_with_a_b2c_authority() {
    scenario(b2c).await;
}

#[tokio::test]
async fn an_empty_cache_is_an_authentication_error() {
    let emulator = Emulator::builder().start().await.unwrap();
    let factory = CachedTokenFactory::builder(
        client_id(&emulator),
        Authority::parse(&emulator.authority()).unwrap(),
        scopes(),
    )
    .build()
    .unwrap();
    let err = factory.token().await.unwrap_err();
    assert!(
        matches!(&err, Error::Authentication { reason } if reason.contains("sign in")),
        "{err}"
    );
    assert_eq!(emulator.counters().endpoint("token"), 0);
}

#[tokio::test]
async fn refreshed_token_forces_a_refresh() {
    let emulator = Emulator::builder().start().await.unwrap();
    let authority = emulator.authority();
    let blob = signed_in_blob(&emulator, &authority).await;
    let factory = CachedTokenFactory::builder(
        client_id(&emulator),
        Authority::parse(&authority).unwrap(),
        scopes(),
    )
    .cache_blob(Some(blob))
    .build()
    .unwrap();
    let provider: &dyn TokenProvider = &factory;
    let cached = provider.token().await.unwrap();
    emulator.reset_counters();
    let refreshed = provider.refreshed_token().await.unwrap();
    assert_eq!(emulator.counters().grant("refresh_token"), 1);
    assert_ne!(refreshed.secret, cached.secret);
}
