//! The cache-backed token factory: a host that keeps a serialized MSAL cache in its own
//! store (a home-automation integration's config entry, say) gets an async provider
//! that signs nobody in, only refreshes silently, and hands the cache back to the host
//! only when it changed.

use std::fmt;
use std::sync::Arc;

use tokenhop_cache::{CacheOptions, CallbackPersistence, SharedTokenCache};
use tokenhop_core::{
    AccessToken, BoxFuture, ClientId, Clock, Error, Result, Scopes, SystemClock, TokenProvider,
    TokenRequestOptions,
};

use crate::authority::Authority;
use crate::http::HttpClient;
use crate::public_client::PublicClient;

/// Builds a [`CachedTokenFactory`]. Building does no I/O.
pub struct CachedTokenFactoryBuilder {
    client_id: ClientId,
    authority: Authority,
    scopes: Scopes,
    cache_blob: Option<String>,
    persist: Arc<dyn Fn(String) + Send + Sync>,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for CachedTokenFactoryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedTokenFactoryBuilder")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl CachedTokenFactoryBuilder {
    /// The serialized MSAL cache the host stored (none: an empty cache).
    pub fn cache_blob(mut self, blob: Option<String>) -> Self {
        self.cache_blob = blob;
        self
    }

    /// Called with the serialized cache whenever it changed (never on a cache hit).
    /// It runs on the blocking pool, so it may write to disk.
    pub fn persist(mut self, persist: impl Fn(String) + Send + Sync + 'static) -> Self {
        self.persist = Arc::new(persist);
        self
    }

    /// Sends requests through `http`.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Uses `clock` for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The factory.
    pub fn build(self) -> Result<CachedTokenFactory> {
        let persist = Arc::clone(&self.persist);
        let cache = SharedTokenCache::new(
            CallbackPersistence::new(self.cache_blob, move |blob| persist(blob)),
            CacheOptions::default(),
        );
        let mut client = PublicClient::builder(self.client_id, self.authority)
            .cache(cache)
            .clock(self.clock);
        if let Some(http) = self.http {
            client = client.http(http);
        }
        Ok(CachedTokenFactory {
            client: client.build()?,
            scopes: self.scopes,
        })
    }
}

/// Gets a token silently for the cache's first account on every call: the cached
/// token, else a refresh. No account, or a refresh the server refuses, is
/// [`Error::Authentication`] (the user must sign in again, elsewhere). As a
/// [`TokenProvider`], `refreshed_token` forces a refresh and `token_with_claims` asks
/// with the claims, past the cached token.
#[derive(Debug)]
pub struct CachedTokenFactory {
    client: PublicClient,
    scopes: Scopes,
}

impl CachedTokenFactory {
    /// A builder for `client_id` at `authority` (a B2C policy authority works), for
    /// `scopes`.
    pub fn builder(
        client_id: ClientId,
        authority: Authority,
        scopes: Scopes,
    ) -> CachedTokenFactoryBuilder {
        CachedTokenFactoryBuilder {
            client_id,
            authority,
            scopes,
            cache_blob: None,
            persist: Arc::new(|_| {}),
            http: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// A token for the first account.
    pub async fn token(&self) -> Result<AccessToken> {
        self.token_with(&TokenRequestOptions::default()).await
    }

    /// A token for the first account, with `options` (a forced refresh, claims).
    pub async fn token_with(&self, options: &TokenRequestOptions) -> Result<AccessToken> {
        let accounts = self.client.accounts().await?;
        let account = accounts.first().ok_or_else(|| Error::Authentication {
            reason: "the token cache has no signed-in account: sign in first".into(),
        })?;
        self.client
            .acquire_token_silent(&self.scopes, account, options)
            .await
    }
}

impl TokenProvider for CachedTokenFactory {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken>> {
        Box::pin(CachedTokenFactory::token(self))
    }

    fn refreshed_token(&self) -> BoxFuture<'_, Result<AccessToken>> {
        Box::pin(async move { self.token_with(&TokenRequestOptions::force_refresh()).await })
    }

    fn token_with_claims<'a>(&'a self, claims: &'a str) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            self.token_with(&TokenRequestOptions::default().with_claims(claims))
                .await
        })
    }
}
