//! [`CachingCredential`]: in-memory caching, single-flight and refresh-ahead in front of
//! any [`TokenCredential`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::flights::lock;
use crate::{
    AccessToken, BoxFuture, Cached, Clock, Result, Scopes, SystemClock, TenantId, TokenCredential,
    TokenFlights, TokenRequestOptions,
};

/// Wraps a credential with a per-scope-set token cache in memory, on the same
/// [`TokenFlights`] every flow uses:
///
/// - **Single-flight**: concurrent callers that miss wait for one inner request and
///   share its outcome, success or error.
/// - **Refresh ahead**: a token is refreshed at its `refresh_on`, or 5 minutes before
///   it expires; while one caller refreshes, the others keep getting the still-valid
///   token, and if the refresh fails the old token is returned (and the failure logged)
///   until it really expires.
/// - [`TokenRequestOptions::force_refresh`] and [`CachingCredential::invalidate`] serve
///   the 401-retry path; concurrent forced refreshes of the same token also make one
///   request.
/// - Requests with a claims challenge bypass the cache; the token they get replaces the
///   cached one (the old one did not satisfy the resource).
pub struct CachingCredential<C> {
    inner: C,
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<SlotKey, AccessToken>>,
    flights: TokenFlights<SlotKey>,
}

type SlotKey = (Scopes, Option<TenantId>);

impl<C: TokenCredential> CachingCredential<C> {
    /// Caches `inner`'s tokens, using the system clock.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            clock: Arc::new(SystemClock),
            slots: Mutex::new(HashMap::new()),
            flights: TokenFlights::new(),
        }
    }

    /// Uses `clock` for every expiry decision (tests pass a [`crate::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The wrapped credential.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Forgets the cached token for `scopes` (in the credential's own tenant).
    pub fn invalidate(&self, scopes: &Scopes) {
        lock(&self.slots).remove(&(scopes.clone(), None));
    }

    fn cached(&self, key: &SlotKey) -> Cached {
        let Some(token) = lock(&self.slots).get(key).cloned() else {
            return Cached::Missing;
        };
        let now = self.clock.now();
        match (token.is_valid_at(now), token.needs_refresh_at(now)) {
            (true, false) => Cached::Fresh(token),
            (true, true) => Cached::RefreshDue(token),
            (false, _) => Cached::Missing,
        }
    }

    async fn get(&self, scopes: &Scopes, options: &TokenRequestOptions) -> Result<AccessToken> {
        let key: SlotKey = (scopes.clone(), options.tenant_id.clone());
        if options.claims.is_some() {
            let token = self.inner.get_token(scopes, options).await?;
            lock(&self.slots).insert(key, token.clone());
            return Ok(token);
        }
        self.flights
            .acquire(
                key.clone(),
                options.force_refresh,
                || std::future::ready(Ok(self.cached(&key))),
                || async {
                    let token = self.inner.get_token(scopes, options).await?;
                    lock(&self.slots).insert(key.clone(), token.clone());
                    Ok(token)
                },
            )
            .await
    }
}

impl<C: TokenCredential> TokenCredential for CachingCredential<C> {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.get(scopes, options))
    }
}

impl<C> fmt::Debug for CachingCredential<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = lock(&self.slots).len();
        f.debug_struct("CachingCredential")
            .field("scope_sets", &cached)
            .finish_non_exhaustive()
    }
}
