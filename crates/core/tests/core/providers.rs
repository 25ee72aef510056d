//! Closures as providers, binding credentials to scopes, and the sync/async adapters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{ScriptedCredential, scopes};
use tokenhop_core::{
    AccessToken, BlockingTokenProvider, CachingCredential, Error, TokenCredentialExt,
    TokenProvider, async_to_blocking, blocking_to_async, from_epoch_seconds,
};

#[tokio::test]
async fn an_async_closure_is_a_provider() {
    let provider = || async { Ok("fixed-async-token") };
    let token = provider.token().await.unwrap();
    assert_eq!(token.secret.expose_secret(), "fixed-async-token");
    assert_eq!(token.token_type, "Bearer");
}

#[test]
fn a_blocking_closure_is_a_provider() {
    let provider = || Ok(String::from("fixed-sync-token"));
    assert_eq!(
        provider.token_blocking().unwrap().secret.expose_secret(),
        "fixed-sync-token"
    );
}

#[test]
fn a_closure_can_return_a_full_access_token_or_an_error() {
    let expires = from_epoch_seconds(4_000_000_000);
    let provider = move || Ok(AccessToken::new("t", expires));
    assert_eq!(provider.token_blocking().unwrap().expires_on, expires);
    let failing =
        || -> tokenhop_core::Result<String> { Err(tokenhop_core::Error::configuration("no")) };
    assert!(failing.token_blocking().is_err());
}

#[tokio::test]
async fn a_provider_can_be_shared_as_a_trait_object() {
    let shared: Arc<dyn TokenProvider> = Arc::new(|| async { Ok("shared") });
    assert_eq!(
        shared.token().await.unwrap().secret.expose_secret(),
        "shared"
    );
}

#[tokio::test]
async fn binding_a_credential_gives_a_provider_that_forces_refresh_on_request() {
    let credential = Arc::new(ScriptedCredential::answering(vec![
        Ok("first".into()),
        Ok("second".into()),
    ]));
    let provider = Arc::clone(&credential).into_provider(scopes());
    assert_eq!(
        provider.token().await.unwrap().secret.expose_secret(),
        "first"
    );
    assert_eq!(
        provider
            .refreshed_token()
            .await
            .unwrap()
            .secret
            .expose_secret(),
        "second"
    );
    assert_eq!(credential.forced_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn binding_is_lazy_constructing_makes_no_call() {
    let credential = Arc::new(ScriptedCredential::default());
    let _provider = CachingCredential::new(Arc::clone(&credential)).into_provider(scopes());
    assert_eq!(credential.calls(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_provider_from_async_code_runs_off_the_executor_thread() {
    let executor_thread = std::thread::current().id();
    let provider = blocking_to_async(move || {
        assert_ne!(
            std::thread::current().id(),
            executor_thread,
            "ran on the executor thread"
        );
        Ok("from-blocking")
    });
    assert_eq!(
        provider.token().await.unwrap().secret.expose_secret(),
        "from-blocking"
    );
}

#[test]
fn async_provider_from_plain_sync_code() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let provider = async_to_blocking(move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok("from-async")
        }
    })
    .unwrap();
    assert_eq!(
        provider.token_blocking().unwrap().secret.expose_secret(),
        "from-async"
    );
    assert_eq!(
        provider
            .refreshed_token_blocking()
            .unwrap()
            .secret
            .expose_secret(),
        "from-async"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn async_provider_used_blocking_from_inside_a_current_thread_runtime() {
    // The one executor thread blocks in the call; the provider must still complete
    // (on the adapter's own runtime) and dropping the adapter here must not panic.
    let provider = async_to_blocking(|| async {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        Ok("inside")
    })
    .unwrap();
    assert_eq!(
        provider.token_blocking().unwrap().secret.expose_secret(),
        "inside"
    );
    drop(provider);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_provider_used_blocking_from_inside_a_multi_thread_runtime() {
    let provider = async_to_blocking(|| async { Ok("inside-mt") }).unwrap();
    let token = tokio::task::block_in_place(|| provider.token_blocking()).unwrap();
    assert_eq!(token.secret.expose_secret(), "inside-mt");
}

const CHALLENGE: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;

#[tokio::test]
async fn a_bound_credential_asks_with_the_claims_and_the_adapters_pass_them_on() {
    let inner = Arc::new(ScriptedCredential::answering(vec![
        Ok(AccessToken::new("a", from_epoch_seconds(4_000_000_000))),
        Ok(AccessToken::new("b", from_epoch_seconds(4_000_000_000))),
    ]));
    let provider = Arc::clone(&inner).into_provider(scopes());
    assert_eq!(
        provider
            .token_with_claims(CHALLENGE)
            .await
            .unwrap()
            .secret
            .expose_secret(),
        "a"
    );
    let blocking = async_to_blocking(provider).unwrap();
    let back = blocking_to_async(blocking);
    assert_eq!(
        back.token_with_claims(CHALLENGE)
            .await
            .unwrap()
            .secret
            .expose_secret(),
        "b"
    );
    assert_eq!(*inner.claims.lock().unwrap(), [CHALLENGE, CHALLENGE]);
}

#[tokio::test]
async fn a_closure_cannot_ask_for_claims_and_says_so_with_them() {
    let provider = || async { Ok("fixed") };
    let err = provider.token_with_claims(CHALLENGE).await.unwrap_err();
    assert!(
        matches!(&err, Error::InsufficientClaims { claims, .. } if claims == CHALLENGE),
        "{err:?}"
    );
    assert_eq!(err.claims(), Some(CHALLENGE));
    assert!(err.is_interaction_required());
}
