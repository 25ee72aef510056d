//! [`TokenFlights`]: the one single-flight mechanism on the request path. Every flow in
//! `tokenhop-flows` and [`crate::CachingCredential`] get their tokens through it.
//!
//! Callers that want the same token at the same time share one request *and its
//! outcome*: the leader's token, or the leader's error, reaches every waiter, so a
//! hundred callers during an outage make as many requests as one caller does. A token
//! past its refresh time but still valid is refreshed by one caller while the others
//! keep using it, and when that refresh fails the still-valid token is served (MSAL's
//! rule for `refresh_on`).
//!
//! Processes that share a cache (a fleet on one Redis) extend the flight across
//! processes through the cache's [`FetchGate`] ([`TokenFlights::with_gate`]): before a
//! leader fetches it asks the gate, which lets one process fetch while the others wait
//! for its write and look again; refresh-ahead asks it too, and keeps serving the valid
//! token while another process refreshes.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OnceCell;

use crate::gate::{FetchGate, FetchPermit, Passage, Wait};
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

/// How many times a caller that waited at the gate looks in the cache again before it
/// fetches on its own (each wait is bounded by the gate).
const GATE_ROUNDS: u32 = 4;

/// Single-flight token acquisition with refresh-ahead, keyed by whatever identifies a
/// token in the caller's cache. Flights are forgotten when they land, so the map holds
/// only the requests in the air.
pub struct TokenFlights<K> {
    flights: Mutex<HashMap<FlightKey<K>, Flight>>,
    gate: Option<Gated<K>>,
}

/// A gate, and how a flight's key names its token to the other processes.
struct Gated<K> {
    gate: Arc<dyn FetchGate>,
    name: Box<dyn Fn(&K) -> String + Send + Sync>,
}

impl<K> Default for TokenFlights<K> {
    fn default() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
            gate: None,
        }
    }
}

impl<K> fmt::Debug for TokenFlights<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFlights")
            .field("in_flight", &lock(&self.flights).len())
            .field("gate", &self.gate.as_ref().map(|g| &g.gate))
            .finish()
    }
}

impl<K: Eq + Hash + Clone> TokenFlights<K> {
    /// No flights yet, and no gate: every leader fetches (a cache no other process
    /// shares).
    pub fn new() -> Self {
        Self::default()
    }

    /// No flights yet; leaders go through `gate` before they fetch, naming the token
    /// with `name` (which must name it the same way in every process that shares the
    /// cache: include the client and the authority).
    pub fn with_gate(
        gate: Arc<dyn FetchGate>,
        name: impl Fn(&K) -> String + Send + Sync + 'static,
    ) -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
            gate: Some(Gated {
                gate,
                name: Box::new(name),
            }),
        }
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
    /// With a gate ([`TokenFlights::with_gate`]) the leader asks it before `fetch`:
    /// it fetches when the gate says so, and otherwise looks in the cache again after
    /// another process's fetch landed (and fetches after a few such rounds that still
    /// found nothing). A refresh ahead that the gate finds busy returns the valid token.
    ///
    /// With `force_refresh` the cache is not asked: the caller joins the forced flight
    /// for `key`, so concurrent forced refreshes of one token make one request (forced
    /// refreshes do not go through the gate: the caller wants a new token, not the one
    /// another process stored).
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
        let name = self.gate_name(&key);
        self.fly((key, false), || async move {
            match lookup().await? {
                Cached::Fresh(token) => Ok(token),
                Cached::RefreshDue(_) | Cached::Missing => {
                    self.fetch_through_gate(name, &lookup, fetch).await
                }
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

    fn gate_name(&self, key: &K) -> Option<String> {
        self.gate.as_ref().map(|gated| (gated.name)(key))
    }

    /// The leader's fetch on a miss: through the gate when there is one.
    async fn fetch_through_gate<L, LF, F, FF>(
        &self,
        name: Option<String>,
        lookup: &L,
        fetch: F,
    ) -> Result<AccessToken>
    where
        L: Fn() -> LF,
        LF: Future<Output = Result<Cached>>,
        F: FnOnce() -> FF,
        FF: Future<Output = Result<AccessToken>>,
    {
        let (Some(gated), Some(name)) = (&self.gate, name) else {
            return fetch().await;
        };
        for round in 0..GATE_ROUNDS {
            match gated.gate.enter(&name, Wait::ForHolder { round }).await {
                Passage::Fetch(permit) => {
                    // The gate may have waited (for a holder that stored the token and
                    // died before letting go): look once more before asking.
                    if let Cached::Fresh(token) = lookup().await? {
                        permit.fetched().await;
                        return Ok(token);
                    }
                    return released(permit, fetch().await).await;
                }
                Passage::LookAgain | Passage::Busy => {
                    if let Cached::Fresh(token) = lookup().await? {
                        return Ok(token);
                    }
                }
            }
        }
        tracing::debug!(
            token = %name,
            "the cache still has no token after waiting for other processes; fetching"
        );
        fetch().await
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
        let name = self.gate_name(&key.0);
        let valid = still_valid.clone();
        let refreshed = self.land(key, flight, || async move {
            let (Some(gated), Some(name)) = (&self.gate, name) else {
                return fetch().await;
            };
            match gated.gate.enter(&name, Wait::No).await {
                Passage::Fetch(permit) => released(permit, fetch().await).await,
                // Another process refreshes; its write reaches this cache.
                Passage::Busy | Passage::LookAgain => Ok(valid),
            }
        });
        match refreshed.await {
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

/// Releases a gate's permit as the fetch's outcome says, and returns the outcome.
async fn released(permit: FetchPermit, outcome: Result<AccessToken>) -> Result<AccessToken> {
    match &outcome {
        Ok(_) => permit.fetched().await,
        Err(_) => drop(permit),
    }
    outcome
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

    use crate::gate::HeldPermit;
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

    /// Two "processes" (two flights) sharing a cache and a lease, as a fleet on one
    /// store does: the lease is a slot in a map, its waiters woken by a `Notify`.
    #[derive(Debug, Default)]
    struct SharedLease {
        held: Mutex<Option<String>>,
        released: tokio::sync::Notify,
        stored: Mutex<Option<AccessToken>>,
    }

    #[derive(Debug)]
    struct LeaseGate(Arc<SharedLease>);

    struct Held(Arc<SharedLease>);

    impl HeldPermit for Held {
        fn release(self: Box<Self>, _stored: bool) -> crate::BoxFuture<'static, ()> {
            *lock(&self.0.held) = None;
            self.0.released.notify_waiters();
            Box::pin(async {})
        }
    }

    impl FetchGate for LeaseGate {
        fn enter<'a>(&'a self, token: &'a str, wait: Wait) -> crate::BoxFuture<'a, Passage> {
            Box::pin(async move {
                let released = self.0.released.notified();
                {
                    let mut held = lock(&self.0.held);
                    if held.is_none() {
                        *held = Some(token.to_owned());
                        return Passage::Fetch(FetchPermit::new(Held(Arc::clone(&self.0))));
                    }
                }
                if wait == Wait::No {
                    return Passage::Busy;
                }
                released.await;
                Passage::LookAgain
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_gate_makes_one_fetch_for_every_process_sharing_the_cache() {
        let shared = Arc::new(SharedLease::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let processes: Vec<Arc<TokenFlights<&'static str>>> = (0..3)
            .map(|_| {
                let gate: Arc<dyn FetchGate> = Arc::new(LeaseGate(Arc::clone(&shared)));
                Arc::new(TokenFlights::with_gate(gate, |k: &&str| format!("app|{k}")))
            })
            .collect();
        let mut tasks = Vec::new();
        for flights in &processes {
            for _ in 0..10 {
                let (flights, calls, shared) =
                    (Arc::clone(flights), Arc::clone(&calls), Arc::clone(&shared));
                tasks.push(tokio::spawn(async move {
                    let lookup = || async {
                        Ok(match lock(&shared.stored).clone() {
                            Some(token) => Cached::Fresh(token),
                            None => Cached::Missing,
                        })
                    };
                    flights
                        .acquire("k", false, lookup, || async {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            let fetched = token("shared");
                            *lock(&shared.stored) = Some(fetched.clone());
                            Ok(fetched)
                        })
                        .await
                }));
            }
        }
        for task in tasks {
            assert_eq!(
                task.await.unwrap().unwrap().secret.expose_secret(),
                "shared"
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one fetch for all three");
        assert!(lock(&shared.held).is_none(), "the lease was released");
    }

    #[tokio::test]
    async fn a_refresh_ahead_the_gate_finds_busy_serves_the_valid_token() {
        let shared = Arc::new(SharedLease::default());
        *lock(&shared.held) = Some("another process".into());
        let gate: Arc<dyn FetchGate> = Arc::new(LeaseGate(Arc::clone(&shared)));
        let flights = TokenFlights::with_gate(gate, |k: &&str| k.to_string());
        let got = flights
            .acquire(
                "k",
                false,
                || async { Ok(Cached::RefreshDue(token("old"))) },
                || async { panic!("another process is refreshing") },
            )
            .await
            .unwrap();
        assert_eq!(got.secret.expose_secret(), "old");
    }

    /// A gate that lets the caller fetch only after another process stored the token
    /// (its holder died before letting go, and the lease expired).
    #[derive(Debug)]
    struct StoredWhileWaiting(Arc<SharedLease>);

    impl FetchGate for StoredWhileWaiting {
        fn enter<'a>(&'a self, _token: &'a str, _wait: Wait) -> crate::BoxFuture<'a, Passage> {
            Box::pin(async move {
                *lock(&self.0.stored) = Some(token("stored by the dead holder"));
                Passage::Fetch(FetchPermit::alone())
            })
        }
    }

    #[tokio::test]
    async fn a_caller_let_through_after_waiting_looks_once_more_before_fetching() {
        let shared = Arc::new(SharedLease::default());
        let gate: Arc<dyn FetchGate> = Arc::new(StoredWhileWaiting(Arc::clone(&shared)));
        let flights = TokenFlights::with_gate(gate, |k: &&str| k.to_string());
        let got = flights
            .acquire(
                "k",
                false,
                || async {
                    Ok(match lock(&shared.stored).clone() {
                        Some(token) => Cached::Fresh(token),
                        None => Cached::Missing,
                    })
                },
                || async { panic!("the token was stored while this caller waited") },
            )
            .await
            .unwrap();
        assert_eq!(got.secret.expose_secret(), "stored by the dead holder");
    }

    #[tokio::test]
    async fn a_failed_fetch_releases_the_gate_for_the_next_caller() {
        let shared = Arc::new(SharedLease::default());
        let gate: Arc<dyn FetchGate> = Arc::new(LeaseGate(Arc::clone(&shared)));
        let flights = TokenFlights::with_gate(gate, |k: &&str| k.to_string());
        let failed = flights
            .acquire(
                "k",
                false,
                || async { Ok(Cached::Missing) },
                || async { Err(Error::transport("down")) },
            )
            .await;
        assert!(failed.is_err());
        assert!(lock(&shared.held).is_none(), "a failed fetch lets go");
        let got = flights
            .acquire(
                "k",
                false,
                || async { Ok(Cached::Missing) },
                || async { Ok(token("second")) },
            )
            .await
            .unwrap();
        assert_eq!(got.secret.expose_secret(), "second");
    }
}
