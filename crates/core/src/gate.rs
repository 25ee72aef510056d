//! [`FetchGate`]: how the leader of a [`crate::TokenFlights`] flight agrees with other
//! processes that share its cache (a fleet of replicas on one Redis) before it asks the
//! identity provider, so that one process fetches and the others read what it stored.
//!
//! A cache only one process uses needs no gate: [`crate::TokenFlights::new`] has none,
//! and every leader fetches. A shared cache's backend implements the trait (the Redis
//! backend takes a lease with `SET NX PX` and waits for the holder's write); flights
//! built with [`crate::TokenFlights::with_gate`] go through it, so every flow gets the
//! same cross-process single-flight from the one mechanism.

use std::fmt;

use crate::BoxFuture;

/// What a leader asks the gate for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// The cache has nothing usable: wait for another process's fetch rather than
    /// fetching too. `round` counts the times this caller already looked again after
    /// waiting (a gate may let a caller that looked again and still found nothing
    /// fetch at once).
    ForHolder {
        /// How many times this caller looked in the cache again after a wait.
        round: u32,
    },
    /// Refresh ahead: the cached token is still valid, so never wait; when another
    /// process is fetching, keep using the cached one.
    No,
}

/// The gate's answer.
#[non_exhaustive]
pub enum Passage {
    /// Fetch now. Keep the permit until the token is stored; then call
    /// [`FetchPermit::fetched`] (or drop it when the fetch failed, so another process
    /// may try at once).
    Fetch(FetchPermit),
    /// Another process fetched and stored the token meanwhile: look in the cache again.
    LookAgain,
    /// Another process is fetching and the caller would not wait ([`Wait::No`]).
    Busy,
}

impl fmt::Debug for Passage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fetch(_) => f.write_str("Fetch"),
            Self::LookAgain => f.write_str("LookAgain"),
            Self::Busy => f.write_str("Busy"),
        }
    }
}

/// Coordinates the fetches of one token among the processes that share a cache.
///
/// `token` names the token the same way in every process (the credential's client,
/// authority and the flight's key). Implementations bound every wait (a holder that
/// died must delay the others by a bounded time) and answer [`Passage::Fetch`] with an
/// empty permit when they cannot coordinate (their store is unreachable): a gate never
/// fails a token request.
pub trait FetchGate: Send + Sync + fmt::Debug {
    /// Before the leader of a local flight for `token` asks the identity provider.
    fn enter<'a>(&'a self, token: &'a str, wait: Wait) -> BoxFuture<'a, Passage>;
}

/// What a gate holds for a fetcher (a lease), released when the fetch is over.
pub trait HeldPermit: Send {
    /// The fetch is over: `stored` when the token was fetched and stored (the others
    /// will find it in the cache), false when it failed or was abandoned.
    ///
    /// The release starts at once (a dropped permit does not wait for it); the future
    /// ends when it is done or given up (bounded), so that a fetcher that stored the
    /// token can wait for the others to be told before it goes on, or exits: a
    /// short-lived process (a CLI call) must not leave its lease held behind it.
    fn release(self: Box<Self>, stored: bool) -> BoxFuture<'static, ()>;
}

/// Leave to fetch, from [`FetchGate::enter`]. Dropping it releases what the gate holds
/// as a failed fetch; [`FetchPermit::fetched`] releases it as a stored one.
pub struct FetchPermit {
    held: Option<Box<dyn HeldPermit>>,
}

impl FetchPermit {
    /// A permit that holds `held` until the fetch is over.
    pub fn new(held: impl HeldPermit + 'static) -> Self {
        Self {
            held: Some(Box::new(held)),
        }
    }

    /// A permit that holds nothing: the gate could not coordinate (its store is
    /// unreachable), so the caller fetches on its own.
    pub fn alone() -> Self {
        Self { held: None }
    }

    /// The token was fetched and stored: release the hold so that the others look,
    /// and wait until they have been told.
    pub async fn fetched(mut self) {
        if let Some(held) = self.held.take() {
            held.release(true).await;
        }
    }
}

impl Drop for FetchPermit {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            // The release goes on without anyone waiting for it.
            drop(held.release(false));
        }
    }
}

impl fmt::Debug for FetchPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchPermit")
            .field("held", &self.held.is_some())
            .finish()
    }
}
