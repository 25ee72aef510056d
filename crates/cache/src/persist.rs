//! Where a cache lives between runs: one trait, [`Persistence`], with memory, file,
//! callback and (feature `keyring`) OS keystore backends.

use std::fmt;
use std::sync::Mutex;

use tokenhop_core::{Error, Result};
use zeroize::Zeroizing;

use crate::stamp::Stamp;

/// A serialized cache. It holds every token, so it is wiped when dropped.
pub type Blob = Zeroizing<String>;

/// A place that stores the serialized cache.
///
/// [`Persistence::update`] is "look at what is stored, then save" in one step: backends
/// that other processes share (a file) hold a cross-process lock around it, so that
/// concurrent writers lose nothing. [`Persistence::stamp`] lets a cache tell cheaply
/// whether another process saved since it loaded.
pub trait Persistence: Send + Sync + fmt::Debug {
    /// The stored blob, if any. A backend may read it without its cross-process lock,
    /// and so meet a writer that writes in place (msal-extensions does): an error or a
    /// blob that does not parse is then read again under the lock, by
    /// [`Persistence::update`], before it counts.
    fn load(&self) -> Result<Option<Blob>>;

    /// The stamp of the stored blob: it changes whenever any process saves. `None`: the
    /// backend cannot tell cheaply; a cache then takes its memory as current for
    /// lookups, and loads again under the lock before each write. The default.
    fn stamp(&self) -> Result<Option<Stamp>> {
        Ok(None)
    }

    /// Under the backend's cross-process lock (if it has one), shows `change` what is
    /// stored, and saves the blob it returns (`None`: nothing to save). Returns the
    /// stamp of what is stored afterwards (`None` as for [`Persistence::stamp`]).
    fn update(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<Stamp>>;

    /// The stored blob is not a cache: keep it somewhere it will not be overwritten, if
    /// the backend can. The default does nothing (the blob is replaced on the next save).
    fn quarantine(&self, _reason: &str) {}
}

/// What is stored, as [`Persistence::update`] shows it: its stamp, and the blob itself
/// only if asked for (a cache whose memory has the same stamp does not ask).
pub struct Stored<'a> {
    stamp: Option<Stamp>,
    load: &'a dyn Fn() -> Result<Option<Blob>>,
}

impl<'a> Stored<'a> {
    /// The stored state with this stamp, whose blob `load` reads.
    pub fn new(stamp: Option<Stamp>, load: &'a dyn Fn() -> Result<Option<Blob>>) -> Self {
        Self { stamp, load }
    }

    /// The stamp of what is stored (`None`: the backend cannot tell).
    pub fn stamp(&self) -> Option<Stamp> {
        self.stamp
    }

    /// The stored blob.
    pub fn load(&self) -> Result<Option<Blob>> {
        (self.load)()
    }
}

impl fmt::Debug for Stored<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stored")
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

/// A blob and how many saves made it: the state of a backend that has no other writer,
/// whose stamp is that count.
#[derive(Debug, Default)]
struct Counted {
    blob: Option<Blob>,
    saves: u64,
}

impl Counted {
    fn stamp(&self) -> Option<Stamp> {
        Some(Stamp::counter(self.saves))
    }

    /// Runs `change` on the stored blob; saves what it returns with `save`.
    fn update(
        &mut self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
        save: impl FnOnce(&Blob),
    ) -> Result<Option<Stamp>> {
        let current = self.blob.clone();
        let load = move || Ok(current.clone());
        if let Some(next) = change(&Stored::new(self.stamp(), &load))? {
            save(&next);
            self.blob = Some(next);
            self.saves += 1;
        }
        Ok(self.stamp())
    }
}

/// Keeps the blob in memory: for tests and short-lived processes.
#[derive(Debug, Default)]
pub struct MemoryPersistence {
    state: Mutex<Counted>,
}

impl MemoryPersistence {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Persistence for MemoryPersistence {
    fn load(&self) -> Result<Option<Blob>> {
        Ok(lock(&self.state).blob.clone())
    }

    fn stamp(&self) -> Result<Option<Stamp>> {
        Ok(lock(&self.state).stamp())
    }

    fn update(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<Stamp>> {
        lock(&self.state).update(change, |_| {})
    }
}

/// Starts from a blob the host gives and hands every changed cache to the host's
/// callback: how a host with its own config store (a home-automation system…) keeps it.
pub struct CallbackPersistence {
    memory: MemoryPersistence,
    persist: Box<dyn Fn(String) + Send + Sync>,
}

impl CallbackPersistence {
    /// Starts from `initial` (e.g. what the host stored last time) and calls `persist`
    /// with the serialized cache whenever it changed (the host then owns that copy of
    /// the tokens).
    pub fn new(initial: Option<String>, persist: impl Fn(String) + Send + Sync + 'static) -> Self {
        let memory = MemoryPersistence {
            state: Mutex::new(Counted {
                blob: initial.map(Zeroizing::new),
                saves: 0,
            }),
        };
        Self {
            memory,
            persist: Box::new(persist),
        }
    }
}

impl fmt::Debug for CallbackPersistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackPersistence")
            .finish_non_exhaustive()
    }
}

/// The blob is kept as [`MemoryPersistence`] keeps it; each save also goes to the host.
impl Persistence for CallbackPersistence {
    fn load(&self) -> Result<Option<Blob>> {
        self.memory.load()
    }

    fn stamp(&self) -> Result<Option<Stamp>> {
        self.memory.stamp()
    }

    fn update(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<Stamp>> {
        lock(&self.memory.state).update(change, |next| (self.persist)(next.to_string()))
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn cache_error(message: impl Into<String>) -> Error {
    Error::Cache {
        message: message.into(),
    }
}
