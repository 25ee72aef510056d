//! CachingCredential: single-flight, refresh-ahead, fallback and invalidation, on a
//! manual clock so no test sleeps for expiry.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::{ScriptedCredential, scopes};
use tokenhop_core::{
    AccessToken, CachingCredential, Clock, Error, ManualClock, TokenCredential,
    TokenRequestOptions, from_epoch_seconds,
};

const START: u64 = 1_800_000_000;

fn at(offset: u64) -> SystemTime {
    from_epoch_seconds(START + offset)
}

fn token(name: &str, expires_in: u64) -> AccessToken {
    AccessToken::new(name, at(expires_in))
}

fn caching(
    inner: &Arc<ScriptedCredential>,
) -> (CachingCredential<Arc<ScriptedCredential>>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(at(0)));
    let credential =
        CachingCredential::new(Arc::clone(inner)).with_clock(Arc::clone(&clock) as Arc<dyn Clock>);
    (credential, clock)
}

async fn get(
    credential: &CachingCredential<Arc<ScriptedCredential>>,
) -> tokenhop_core::Result<String> {
    let token = credential
        .get_token(&scopes(), &TokenRequestOptions::default())
        .await?;
    Ok(token.secret.expose_secret().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_concurrent_misses_make_exactly_one_inner_call() {
    let inner = Arc::new(ScriptedCredential {
        delay: Some(Duration::from_millis(50)),
        ..ScriptedCredential::answering(vec![Ok(token("only", 3600))])
    });
    let credential = Arc::new(CachingCredential::new(Arc::clone(&inner)));
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let credential = Arc::clone(&credential);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                credential
                    .get_token(&scopes(), &TokenRequestOptions::default())
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().secret.expose_secret(), "only");
    }
    assert_eq!(inner.calls(), 1);
}

#[tokio::test]
async fn a_fresh_token_is_served_from_memory() {
    let inner = Arc::new(ScriptedCredential::answering(vec![Ok(token("a", 3600))]));
    let (credential, clock) = caching(&inner);
    assert_eq!(get(&credential).await.unwrap(), "a");
    clock.advance(Duration::from_secs(3600 - 301));
    assert_eq!(get(&credential).await.unwrap(), "a");
    assert_eq!(inner.calls(), 1);
}

#[tokio::test]
async fn refreshes_five_minutes_before_expiry_without_refresh_on() {
    let inner = Arc::new(ScriptedCredential::answering(vec![
        Ok(token("a", 3600)),
        Ok(token("b", 7200)),
    ]));
    let (credential, clock) = caching(&inner);
    assert_eq!(get(&credential).await.unwrap(), "a");
    clock.advance(Duration::from_secs(3600 - 300));
    assert_eq!(get(&credential).await.unwrap(), "b");
    assert_eq!(inner.calls(), 2);
}

#[tokio::test]
async fn refreshes_at_refresh_on_when_the_server_gave_one() {
    let first = token("a", 7200).with_refresh_on(at(3600));
    let inner = Arc::new(ScriptedCredential::answering(vec![
        Ok(first),
        Ok(token("b", 9000)),
    ]));
    let (credential, clock) = caching(&inner);
    assert_eq!(get(&credential).await.unwrap(), "a");
    clock.advance(Duration::from_secs(3599));
    assert_eq!(get(&credential).await.unwrap(), "a");
    clock.advance(Duration::from_secs(1));
    assert_eq!(get(&credential).await.unwrap(), "b");
}

#[tokio::test]
async fn a_failed_proactive_refresh_falls_back_to_the_still_valid_token() {
    let inner = Arc::new(ScriptedCredential::answering(vec![
        Ok(token("old", 3600)),
        Err(Error::transport("identity provider down")),
        Ok(token("new", 9000)),
    ]));
    let (credential, clock) = caching(&inner);
    assert_eq!(get(&credential).await.unwrap(), "old");
    clock.advance(Duration::from_secs(3600 - 60));
    assert_eq!(
        get(&credential).await.unwrap(),
        "old",
        "fallback while still valid"
    );
    assert_eq!(
        get(&credential).await.unwrap(),
        "new",
        "the next call tries again"
    );
    assert_eq!(inner.calls(), 3);
}

#[tokio::test]
async fn a_failed_refresh_after_expiry_is_an_error() {
    let inner = Arc::new(ScriptedCredential::answering(vec![
        Ok(token("old", 3600)),
        Err(Error::transport("identity provider down")),
    ]));
    let (credential, clock) = caching(&inner);
    get(&credential).await.unwrap();
    clock.advance(Duration::from_secs(3600));
    let err = get(&credential).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
}

#[tokio::test]
async fn force_refresh_and_invalidate_bypass_the_cached_token() {
    let inner = Arc::new(ScriptedCredential::answering(vec![
        Ok(token("a", 3600)),
        Ok(token("b", 3600)),
        Ok(token("c", 3600)),
    ]));
    let (credential, _clock) = caching(&inner);
    assert_eq!(get(&credential).await.unwrap(), "a");
    let forced = credential
        .get_token(&scopes(), &TokenRequestOptions::force_refresh())
        .await
        .unwrap();
    assert_eq!(forced.secret.expose_secret(), "b");
    assert_eq!(
        get(&credential).await.unwrap(),
        "b",
        "the forced token is cached"
    );
    credential.invalidate(&scopes());
    assert_eq!(get(&credential).await.unwrap(), "c");
    assert_eq!(inner.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_forced_refreshes_of_one_token_make_one_request() {
    let inner = Arc::new(ScriptedCredential {
        delay: Some(Duration::from_millis(50)),
        ..ScriptedCredential::answering(vec![Ok(token("a", 3600)), Ok(token("b", 3600))])
    });
    let credential = Arc::new(CachingCredential::new(Arc::clone(&inner)));
    credential
        .get_token(&scopes(), &TokenRequestOptions::default())
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let credential = Arc::clone(&credential);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                credential
                    .get_token(&scopes(), &TokenRequestOptions::force_refresh())
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().secret.expose_secret(), "b");
    }
    assert_eq!(inner.calls(), 2);
}

#[tokio::test]
async fn claims_challenges_bypass_the_cache_and_their_token_replaces_the_cached_one() {
    let inner = Arc::new(ScriptedCredential::answering(vec![
        Ok(token("a", 3600)),
        Ok(token("b", 3600)),
    ]));
    let (credential, _clock) = caching(&inner);
    assert_eq!(get(&credential).await.unwrap(), "a");
    let options = TokenRequestOptions::default()
        .with_claims(r#"{"access_token":{"acrs":{"essential":true}}}"#);
    let challenged = credential.get_token(&scopes(), &options).await.unwrap();
    assert_eq!(challenged.secret.expose_secret(), "b");
    assert_eq!(
        get(&credential).await.unwrap(),
        "b",
        "the old token did not satisfy the resource; the new one is cached"
    );
    assert_eq!(inner.calls(), 2);
}
