//! The two abstractions every consumer sees: a [`TokenCredential`] gets tokens for
//! scopes; a provider ([`TokenProvider`], [`BlockingTokenProvider`]) yields a current
//! token with no arguments. Closures implement the provider traits directly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{AccessToken, Error, Result, Scopes, TenantId};

/// A boxed, sendable future: what the object-safe traits here return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Per-request options for [`TokenCredential::get_token`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRequestOptions {
    /// Skip every cache and ask the token endpoint.
    pub force_refresh: bool,
    /// A claims challenge (JSON) from a resource, passed to the token endpoint.
    pub claims: Option<String>,
    /// Ask another tenant than the credential's own.
    pub tenant_id: Option<TenantId>,
}

impl TokenRequestOptions {
    /// Options that force a refresh.
    pub fn force_refresh() -> Self {
        Self {
            force_refresh: true,
            ..Self::default()
        }
    }

    /// Adds a claims challenge.
    pub fn with_claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    /// Asks another tenant.
    pub fn with_tenant(mut self, tenant_id: TenantId) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }
}

/// Gets access tokens for scopes. Every flow implements it; [`crate::CachingCredential`]
/// wraps one; [`TokenCredentialExt::into_provider`] binds one to scopes.
pub trait TokenCredential: Send + Sync {
    /// A token for `scopes`.
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>>;
}

impl<C: TokenCredential + ?Sized> TokenCredential for Arc<C> {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        (**self).get_token(scopes, options)
    }
}

impl<C: TokenCredential + ?Sized> TokenCredential for Box<C> {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        (**self).get_token(scopes, options)
    }
}

/// Yields a current access token, asynchronously, with no arguments.
///
/// `|| async { Ok("token") }` is a provider: a closure whose future returns anything
/// that converts into an [`AccessToken`] (a `String` or `&str` becomes a token that
/// never expires).
pub trait TokenProvider: Send + Sync {
    /// A current token; whoever owns the token decides whether it comes from a cache.
    fn token(&self) -> BoxFuture<'_, Result<AccessToken>>;

    /// A token that is not the one most recently returned: called once after a resource
    /// rejected the token. The default asks [`TokenProvider::token`] again.
    fn refreshed_token(&self) -> BoxFuture<'_, Result<AccessToken>> {
        self.token()
    }

    /// A token that satisfies `claims` (JSON: a resource's claims challenge, e.g. a CAE
    /// `nbf` after a critical event), asked for past every cache: called once after a
    /// resource answered `insufficient_claims`. The default cannot ask for claims and
    /// says so: [`Error::InsufficientClaims`] with the claims, for the caller to pass on.
    fn token_with_claims<'a>(&'a self, claims: &'a str) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(std::future::ready(Err(cannot_ask_for_claims(claims))))
    }
}

/// What a provider that cannot ask for claims answers a claims challenge with.
fn cannot_ask_for_claims(claims: &str) -> Error {
    Error::InsufficientClaims {
        claims: claims.to_owned(),
        reason: "this token provider cannot ask for claims".into(),
    }
}

impl<F, Fut, T> TokenProvider for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Into<AccessToken>,
{
    fn token(&self) -> BoxFuture<'_, Result<AccessToken>> {
        let future = self();
        Box::pin(async move { future.await.map(Into::into) })
    }
}

/// Yields a current access token, blocking the calling thread, with no arguments.
///
/// `|| Ok("token")` is a provider. Never call it on an async executor thread; use
/// [`blocking_to_async`] to use one from async code.
pub trait BlockingTokenProvider: Send + Sync {
    /// A current token.
    fn token_blocking(&self) -> Result<AccessToken>;

    /// A token other than the one most recently returned; see
    /// [`TokenProvider::refreshed_token`].
    fn refreshed_token_blocking(&self) -> Result<AccessToken> {
        self.token_blocking()
    }

    /// A token that satisfies `claims`; see [`TokenProvider::token_with_claims`]. The
    /// default cannot ask for claims: [`Error::InsufficientClaims`].
    fn token_with_claims_blocking(&self, claims: &str) -> Result<AccessToken> {
        Err(cannot_ask_for_claims(claims))
    }
}

impl<F, T> BlockingTokenProvider for F
where
    F: Fn() -> Result<T> + Send + Sync,
    T: Into<AccessToken>,
{
    fn token_blocking(&self) -> Result<AccessToken> {
        self().map(Into::into)
    }
}

/// A credential bound to scopes: the provider that [`TokenCredentialExt::into_provider`]
/// returns. Construction does no I/O; the first call acquires.
#[derive(Debug)]
pub struct ScopedProvider<C> {
    credential: C,
    scopes: Scopes,
}

impl<C> ScopedProvider<C> {
    /// The scopes it asks for.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// The credential it asks.
    pub fn credential(&self) -> &C {
        &self.credential
    }
}

impl<C: TokenCredential> TokenProvider for ScopedProvider<C> {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken>> {
        Box::pin(async move {
            let options = TokenRequestOptions::default();
            self.credential.get_token(&self.scopes, &options).await
        })
    }

    fn refreshed_token(&self) -> BoxFuture<'_, Result<AccessToken>> {
        Box::pin(async move {
            let options = TokenRequestOptions::force_refresh();
            self.credential.get_token(&self.scopes, &options).await
        })
    }

    fn token_with_claims<'a>(&'a self, claims: &'a str) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            let options = TokenRequestOptions::default().with_claims(claims);
            self.credential.get_token(&self.scopes, &options).await
        })
    }
}

/// Binds credentials to scopes.
pub trait TokenCredentialExt: TokenCredential + Sized {
    /// A provider that asks this credential for `scopes` on every call.
    fn into_provider(self, scopes: Scopes) -> ScopedProvider<Self> {
        ScopedProvider {
            credential: self,
            scopes,
        }
    }
}

impl<C: TokenCredential + Sized> TokenCredentialExt for C {}

/// Uses a blocking provider from async code: each call runs on tokio's blocking pool
/// (`spawn_blocking`), never on an executor thread. Needs a tokio runtime.
pub fn blocking_to_async<P>(provider: P) -> BlockingToAsync<P>
where
    P: BlockingTokenProvider + 'static,
{
    BlockingToAsync(Arc::new(provider))
}

/// See [`blocking_to_async`].
#[derive(Debug)]
pub struct BlockingToAsync<P>(Arc<P>);

/// Which of a provider's questions an adapter passes on.
#[derive(Clone, Debug)]
enum Ask {
    Token,
    Refreshed,
    WithClaims(String),
}

impl<P: BlockingTokenProvider + 'static> BlockingToAsync<P> {
    fn run(&self, ask: Ask) -> BoxFuture<'_, Result<AccessToken>> {
        let provider = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || match ask {
                Ask::Token => provider.token_blocking(),
                Ask::Refreshed => provider.refreshed_token_blocking(),
                Ask::WithClaims(claims) => provider.token_with_claims_blocking(&claims),
            })
            .await
            .map_err(|join| Error::Cancelled {
                reason: format!("the blocking token provider's task failed: {join}"),
            })?
        })
    }
}

impl<P: BlockingTokenProvider + 'static> TokenProvider for BlockingToAsync<P> {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken>> {
        self.run(Ask::Token)
    }

    fn refreshed_token(&self) -> BoxFuture<'_, Result<AccessToken>> {
        self.run(Ask::Refreshed)
    }

    fn token_with_claims<'a>(&'a self, claims: &'a str) -> BoxFuture<'a, Result<AccessToken>> {
        self.run(Ask::WithClaims(claims.to_owned()))
    }
}

/// Uses an async provider from sync code. The provider runs on a small runtime of the
/// adapter's own (one worker thread), so a call neither panics nor deadlocks when it
/// is made from inside another tokio runtime — though it does block that thread.
pub fn async_to_blocking<P>(provider: P) -> Result<AsyncToBlocking<P>>
where
    P: TokenProvider + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("tokenhop-provider")
        .enable_all()
        .build()
        .map_err(|e| Error::Cancelled {
            reason: format!("could not start the provider's runtime: {e}"),
        })?;
    Ok(AsyncToBlocking {
        provider: Arc::new(provider),
        runtime: Some(runtime),
    })
}

/// See [`async_to_blocking`].
#[derive(Debug)]
pub struct AsyncToBlocking<P> {
    provider: Arc<P>,
    // `Option` so that `Drop` can shut it down without blocking (dropping a runtime
    // inside another runtime would panic).
    runtime: Option<tokio::runtime::Runtime>,
}

impl<P: TokenProvider + 'static> AsyncToBlocking<P> {
    fn run(&self, ask: Ask) -> Result<AccessToken> {
        let runtime = self.runtime.as_ref().ok_or_else(|| Error::Cancelled {
            reason: "the provider's runtime is shut down".into(),
        })?;
        let provider = Arc::clone(&self.provider);
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let result = match ask {
                Ask::Token => provider.token().await,
                Ask::Refreshed => provider.refreshed_token().await,
                Ask::WithClaims(claims) => provider.token_with_claims(&claims).await,
            };
            // The receiver only disappears if the caller's thread died; nothing to tell then.
            let _ = sender.send(result);
        });
        receiver.recv().map_err(|_| Error::Cancelled {
            reason: "the async token provider's task ended without a result".into(),
        })?
    }
}

impl<P: TokenProvider + 'static> BlockingTokenProvider for AsyncToBlocking<P> {
    fn token_blocking(&self) -> Result<AccessToken> {
        self.run(Ask::Token)
    }

    fn refreshed_token_blocking(&self) -> Result<AccessToken> {
        self.run(Ask::Refreshed)
    }

    fn token_with_claims_blocking(&self, claims: &str) -> Result<AccessToken> {
        self.run(Ask::WithClaims(claims.to_owned()))
    }
}

impl<P> Drop for AsyncToBlocking<P> {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
