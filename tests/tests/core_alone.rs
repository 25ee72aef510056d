//! The fine-grained-dependency promise: a crate that depends on `tokenhop-core` alone
//! (this test crate has no other tokenhop dependency) can accept a provider and stub
//! auth with a closure, with no network.

use tokenhop_core::{BlockingTokenProvider, TokenProvider};

/// What a storage backend or SDK client that takes a provider looks like.
async fn authorization_header(provider: &dyn TokenProvider) -> tokenhop_core::Result<String> {
    let token = provider.token().await?;
    Ok(format!(
        "{} {}",
        token.token_type,
        token.secret.expose_secret()
    ))
}

#[tokio::test]
async fn a_closure_stubs_auth_for_code_that_takes_a_provider() {
    let header = authorization_header(&|| async { Ok("stubbed") })
        .await
        .unwrap();
    assert_eq!(header, "Bearer stubbed");
}

#[test]
fn a_blocking_closure_stubs_auth_too() {
    let provider: &dyn BlockingTokenProvider = &|| Ok("stubbed-sync");
    assert_eq!(
        provider.token_blocking().unwrap().secret.expose_secret(),
        "stubbed-sync"
    );
}
