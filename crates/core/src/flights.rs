//! [`TokenFlights`]: the one single-flight mechanism on the request path. Every flow in
//! `tokenhop-flows` and [`crate::CachingCredential`] get their tokens through it.
//!
//! Callers that want the same token at the same time share one request *and its
//! outcome*: the leader's token, or the leader's error, reaches every waiter, so a
//! hundred callers during an outage make as many requests as one caller does. A token
//! past its refresh time but still valid is refreshed by one caller while the others
//! keep using it, and when that refresh fails the still-valid token is served (MSAL's
//! rule for `refresh_on`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OnceCell;

use crate::{AccessToken, Result};

/// What a credential's cache holds for a request, as [`TokenFlights::acquire`] asks it.
#[derive(Clone, Debug)]
pub enum Cached {
    /// A token to return as it is.
    Fresh(AccessToken),
    /// A token that is still valid but due for refresh (past `refresh_on`, or close to
    /// expiry): one caller refreshes, everyone else keeps using this one, and it is the
    /// fallback when the refresh fails.
    RefreshDue(AccessToken),
    /// Nothing usable: the token must be fetched.
    Missing,
}

/// One request in the air; its outcome is kept for every caller that joined it.
type Flight = Arc<OnceCell<Result<AccessToken>>>;

/// Which flight: forced refreshes never share a flight with ordinary misses, because a
/// miss's leader may answer from the cache and a forced caller wants a new token.
type FlightKey<K> = (K, bool);

/// Single-flight token acquisition with refresh-ahead, keyed by whatever identifies a
/// token in the caller's cache. Flights are forgotten when they land, so the map holds
/// only the requests in the air.
pub struct TokenFlights<K> {
    flights: Mutex<HashMap<FlightKey<K>, Flight>>,
}

impl<K> Default for TokenFlights<K> {
    fn default() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> fmt::Debug for TokenFlights<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFlights")
            .field("in_flight", &lock(&self.flights).len())
            .finish()
    }
}

impl<K: Eq + Hash + Clone> TokenFlights<K> {
    /// No flights yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token for `key`.
    ///
    /// Unless `force_refresh`, `lookup` is asked first: a [`Cached::Fresh`] token is
    /// returned at once; a [`Cached::RefreshDue`] one is refreshed by this caller if
    /// nobody else is at it (and returned when that refresh fails), or returned as it
    /// is while somebody is; on [`Cached::Missing`] the caller joins the flight for
    /// `key`, whose leader looks once more (a flight that just landed may have filled
    /// the cache) and then runs `fetch`. `fetch` stores what it gets; its outcome,
    /// success or error, is every waiter's outcome.
    ///
    /// With `force_refresh` the cache is not asked: the caller joins the forced flight
    /// for `key`, so concurrent forced refreshes of one token make one request.
    ///
    /// A leader whose future is dropped hands the flight to the next waiter, which runs
    /// its own `fetch`.
    pub async fn acquire<L, LF, F, FF>(
        &self,
        key: K,
        force_refresh: bool,
        lookup: L,
        fetch: F,
    ) -> Result<AccessToken>
    where
        L: Fn() -> LF,
        LF: Future<Output = Result<Cached>>,
        F: FnOnce() -> FF,
        FF: Future<Output = Result<AccessToken>>,
    {
        if force_refresh {
            return self.fly((key, true), fetch).await;
        }
        match lookup().await? {
            Cached::Fresh(token) => return Ok(token),
            Cached::RefreshDue(token) => return self.refresh_ahead(key, token, fetch).await,
            Cached::Missing => {}
        }
        self.fly((key, false), || async move {
            match lookup().await? {
                Cached::Fresh(token) => Ok(token),
                Cached::RefreshDue(_) | Cached::Missing => fetch().await,
            }
        })
        .await
    }

    /// How many flights are in the air (for tests and metrics).
    pub fn len(&self) -> usize {
        lock(&self.flights).len()
    }

    /// True when no request is in the air.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn refresh_ahead<F, FF>(
        &self,
        key: K,
        still_valid: AccessToken,
        fetch: F,
    ) -> Result<AccessToken>
    where
        F: FnOnce() -> FF,
        FF: Future<Output = Result<AccessToken>>,
    {
        let key = (key, false);
        let flight = {
            let mut flights = lock(&self.flights);
            if flights.contains_key(&key) {
                // Somebody is refreshing (or fetching): the valid token will do meanwhile.
                return Ok(still_valid);
            }
            Arc::clone(flights.entry(key.clone()).or_default())
        };
        match self.land(key, flight, fetch).await {
            Ok(token) => Ok(token),
            Err(error) => {
                tracing::warn!(%error, "proactive token refresh failed; using the cached token until it expires");
                Ok(still_valid)
            }
        }
    }

    async fn fly<F, FF>(&self, key: FlightKey<K>, fetch: F) -> Result<AccessToken>
    where
        F: FnOnce() -> FF,
        FF: Future<Output = Result<AccessToken>>,
    {
        let flight = Arc::clone(lock(&self.flights).entry(key.clone()).or_default());
        self.land(key, flight, fetch).await
    }

    /// Runs `fetch` if this caller leads `flight` (else waits for the leader), and
    /// forgets the flight when it lands, so the next miss starts a new one.
    async fn land<F, FF>(&self, key: FlightKey<K>, flight: Flight, fetch: F) -> Result<AccessToken>
    where
        F: FnOnce() -> FF,
        FF: Future<Output = Result<AccessToken>>,
    {
        flight
            .get_or_init(|| async {
                let outcome = fetch().await;
                let mut flights = lock(&self.flights);
                if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                    flights.remove(&key);
                }
                outcome
            })
            .await
            .clone()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use crate::{Error, from_epoch_seconds};

    fn token(name: &str) -> AccessToken {
        AccessToken::new(name, from_epoch_seconds(4_000_000_000))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn waiters_share_the_leaders_error() {
        let flights = Arc::new(TokenFlights::<&'static str>::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (flights, calls) = (Arc::clone(&flights), Arc::clone(&calls));
                tokio::spawn(async move {
                    flights
                        .acquire(
                            "k",
                            false,
                            || async { Ok(Cached::Missing) },
                            || async {
                                calls.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                Err::<AccessToken, _>(Error::transport("down"))
                            },
                        )
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert!(matches!(task.await.unwrap(), Err(Error::Transport { .. })));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(flights.is_empty(), "the flight is forgotten once it landed");
    }

    #[tokio::test]
    async fn other_keys_fly_on_their_own_and_landed_flights_are_forgotten() {
        let flights = TokenFlights::new();
        for key in 0..100 {
            let got = flights
                .acquire(
                    key,
                    false,
                    || async { Ok(Cached::Missing) },
                    || async move { Ok(token(&key.to_string())) },
                )
                .await
                .unwrap();
            assert_eq!(got.secret.expose_secret(), key.to_string());
        }
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn a_due_token_is_the_fallback_when_its_refresh_fails() {
        let flights = TokenFlights::new();
        let got = flights
            .acquire(
                "k",
                false,
                || async { Ok(Cached::RefreshDue(token("old"))) },
                || async { Err(Error::transport("down")) },
            )
            .await
            .unwrap();
        assert_eq!(got.secret.expose_secret(), "old");
    }
}
