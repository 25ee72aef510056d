//! The fleet's single flight between caches that share nothing but Redis (each has its
//! own connection, and its own id in Redis's eyes, as separate processes do).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::Digest;
use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{AccessToken, Cached, Passage, TokenFlights, Wait, from_epoch_seconds};

use crate::common::*;

/// A credential's flights on `cache`, through its gate.
fn flights(cache: &SharedTokenCache) -> Arc<TokenFlights<String>> {
    let gate = cache.fetch_gate().expect("a Redis cache has a gate");
    Arc::new(TokenFlights::with_gate(gate, |k: &String| {
        format!("test|{k}")
    }))
}

/// `callers` concurrent token requests on each of `caches`; returns the fetches made
/// and the tokens returned.
pub async fn burst(caches: &[SharedTokenCache], callers: usize) -> (usize, Vec<String>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for cache in caches {
        let flights = flights(cache);
        for _ in 0..callers {
            let (cache, flights, fetches) =
                (cache.clone(), Arc::clone(&flights), Arc::clone(&fetches));
            tasks.push(tokio::spawn(async move {
                let lookup = || async {
                    Ok(match app_secret(&cache, "app").await? {
                        Some(secret) => {
                            Cached::Fresh(AccessToken::new(secret, from_epoch_seconds(NOW + 3600)))
                        }
                        None => Cached::Missing,
                    })
                };
                flights
                    .acquire("app".to_owned(), false, lookup, || async {
                        let n = fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let secret = format!("token-{n}");
                        add_app_token(&cache, "app", &secret).await;
                        Ok(AccessToken::new(secret, from_epoch_seconds(NOW + 3600)))
                    })
                    .await
                    .unwrap()
                    .secret
                    .expose_secret()
                    .to_owned()
            }));
        }
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap());
    }
    (fetches.load(Ordering::SeqCst), tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn caches_that_share_only_redis_make_one_request_for_all_their_callers() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let caches: Vec<_> = (0..4)
        .map(|_| cache(settings(&server.url(), "fleet")))
        .collect();
    let (fetches, tokens) = burst(&caches, 15).await;
    assert_eq!(fetches, 1, "one request for 4 caches × 15 callers");
    assert!(tokens.iter().all(|t| t == "token-0"), "{tokens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_caches_write_reaches_this_ones_memory() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = (
        cache(settings(&server.url(), "seen")),
        cache(settings(&server.url(), "seen")),
    );
    add_app_token(&a, "app", "first").await;
    assert_eq!(
        app_secret(&b, "app").await.unwrap().as_deref(),
        Some("first")
    );
    // Let b's subscription settle, so that what follows is the write's own event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    add_app_token(&a, "other", "unrelated").await;
    let partition = b.partition(&app_partition("app"));
    assert!(
        partition.read_if_current(|_| ()).is_some(),
        "b's memory is current"
    );
    // a replaces the token: b hears of it and loads the partition before its next lookup.
    add_app_token(&a, "app", "second").await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while partition.read_if_current(|_| ()).is_some() {
        assert!(Instant::now() < deadline, "b never heard of a's write");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        app_secret(&b, "app").await.unwrap().as_deref(),
        Some("second")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_dies_delays_the_others_by_one_lease_at_most() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // A holder took the token's lease and died: nobody renews it or lets it go.
    let digest = sha2::Sha256::digest(b"token");
    let hash: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    server.cli(&[
        "SET",
        &format!("dies:lease:{hash}"),
        "4242-dead:0",
        "PX",
        "1500",
    ]);
    let other = cache(settings(&server.url(), "dies"));
    let started = Instant::now();
    let passage = other
        .fetch_gate()
        .unwrap()
        .enter("token", Wait::ForHolder { round: 0 })
        .await;
    let waited = started.elapsed();
    assert!(matches!(passage, Passage::Fetch(_)), "{passage:?}");
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_millis(4000),
        "waited {waited:?} for a lease of 1.5 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_ahead_never_waits_for_another_holder() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = (
        cache(settings(&server.url(), "ahead")),
        cache(settings(&server.url(), "ahead")),
    );
    let held = a.fetch_gate().unwrap().enter("token", Wait::No).await;
    assert!(matches!(held, Passage::Fetch(_)));
    let started = Instant::now();
    let other = b.fetch_gate().unwrap().enter("token", Wait::No).await;
    assert!(matches!(other, Passage::Busy), "{other:?}");
    assert!(started.elapsed() < Duration::from_millis(500));
    drop(held);
}
