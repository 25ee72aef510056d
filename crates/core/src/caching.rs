//! [`CachingCredential`]: in-memory caching, single-flight and refresh-ahead in front of
//! any [`TokenCredential`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{
    AccessToken, BoxFuture, Clock, Result, Scopes, SystemClock, TenantId, TokenCredential,
    TokenRequestOptions,
};

/// Wraps a credential with a per-scope-set token cache in memory.
///
/// - **Single-flight**: concurrent callers that miss wait for one inner request.
/// - **Refresh ahead**: a token is refreshed at its `refresh_on`, or 5 minutes before
///   it expires; while one caller refreshes, the others keep getting the still-valid
///   token, and if the refresh fails the old token is returned (and the failure logged)
///   until it really expires.
/// - [`TokenRequestOptions::force_refresh`] and [`CachingCredential::invalidate`] serve
///   the 401-retry path; concurrent forced refreshes of the same token also make one
///   request.
/// - Requests with a claims challenge bypass the cache.
pub struct CachingCredential<C> {
    inner: C,
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<SlotKey, Arc<Slot>>>,
}

type SlotKey = (Scopes, Option<TenantId>);

#[derive(Default)]
struct Slot {
    current: Mutex<Option<AccessToken>>,
    // Bumped whenever `current` changes, so a waiter can tell that someone else fetched.
    generation: AtomicU64,
    fetching: tokio::sync::Mutex<()>,
}

impl Slot {
    fn current(&self) -> Option<AccessToken> {
        lock(&self.current).clone()
    }

    fn replace(&self, token: Option<AccessToken>) {
        *lock(&self.current) = token;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<C: TokenCredential> CachingCredential<C> {
    /// Caches `inner`'s tokens, using the system clock.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            clock: Arc::new(SystemClock),
            slots: Mutex::new(HashMap::new()),
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
        if let Some(slot) = lock(&self.slots).get(&(scopes.clone(), None)) {
            slot.replace(None);
        }
    }

    fn slot(&self, key: SlotKey) -> Arc<Slot> {
        Arc::clone(lock(&self.slots).entry(key).or_default())
    }

    async fn get(&self, scopes: &Scopes, options: &TokenRequestOptions) -> Result<AccessToken> {
        if options.claims.is_some() {
            return self.inner.get_token(scopes, options).await;
        }
        let slot = self.slot((scopes.clone(), options.tenant_id.clone()));
        let seen_generation = slot.generation.load(Ordering::Acquire);
        let cached = slot.current();

        if !options.force_refresh
            && let Some(token) = &cached
        {
            let now = self.clock.now();
            if token.is_valid_at(now) && !token.needs_refresh_at(now) {
                return Ok(token.clone());
            }
            if token.is_valid_at(now) {
                // Refresh ahead; if another caller is already at it, the old token will do.
                return match slot.fetching.try_lock() {
                    Ok(_guard) => {
                        self.fetch(&slot, scopes, options, Some(token.clone()))
                            .await
                    }
                    Err(_) => Ok(token.clone()),
                };
            }
        }

        let _guard = slot.fetching.lock().await;
        if let Some(token) = slot.current() {
            let now = self.clock.now();
            let someone_else_fetched = slot.generation.load(Ordering::Acquire) != seen_generation;
            let usable = if options.force_refresh {
                someone_else_fetched && token.is_valid_at(now)
            } else {
                token.is_valid_at(now) && !token.needs_refresh_at(now)
            };
            if usable {
                return Ok(token);
            }
        }
        self.fetch(&slot, scopes, options, None).await
    }

    async fn fetch(
        &self,
        slot: &Slot,
        scopes: &Scopes,
        options: &TokenRequestOptions,
        still_valid: Option<AccessToken>,
    ) -> Result<AccessToken> {
        match self.inner.get_token(scopes, options).await {
            Ok(token) => {
                slot.replace(Some(token.clone()));
                Ok(token)
            }
            Err(error) => match still_valid {
                Some(old) if old.is_valid_at(self.clock.now()) => {
                    tracing::warn!(%error, scopes = %scopes, "proactive token refresh failed; using the cached token until it expires");
                    Ok(old)
                }
                _ => Err(error),
            },
        }
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
