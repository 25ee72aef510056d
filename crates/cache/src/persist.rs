//! Where a cache lives between runs: one trait, [`Persistence`], with memory, file,
//! callback and (feature `keyring`) OS keystore backends.

use std::fmt;
use std::sync::Mutex;

use tokenhop_core::{Error, Result};

/// A place that stores the serialized cache.
///
/// [`Persistence::update`] is load-merge-save in one step: backends that other
/// processes share (a file) hold a cross-process lock around it, so that concurrent
/// writers lose nothing.
pub trait Persistence: Send + Sync + fmt::Debug {
    /// The stored blob, if any.
    fn load(&self) -> Result<Option<String>>;

    /// Reads the stored blob, lets `merge` compute the new one, stores it.
    fn update(&self, merge: &mut dyn FnMut(Option<String>) -> Result<String>) -> Result<()>;

    /// The stored blob is not a cache: keep it somewhere it will not be overwritten, if
    /// the backend can. The default does nothing (the blob is replaced on the next save).
    fn quarantine(&self, _reason: &str) {}
}

/// Keeps the blob in memory: for tests and short-lived processes.
#[derive(Debug, Default)]
pub struct MemoryPersistence {
    blob: Mutex<Option<String>>,
}

impl MemoryPersistence {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Persistence for MemoryPersistence {
    fn load(&self) -> Result<Option<String>> {
        Ok(lock(&self.blob).clone())
    }

    fn update(&self, merge: &mut dyn FnMut(Option<String>) -> Result<String>) -> Result<()> {
        let mut blob = lock(&self.blob);
        *blob = Some(merge(blob.clone())?);
        Ok(())
    }
}

/// Starts from a blob the host gives and hands every changed cache to the host's
/// callback: how a host with its own config store (a home-automation system…) keeps it.
pub struct CallbackPersistence {
    current: Mutex<Option<String>>,
    persist: Box<dyn Fn(String) + Send + Sync>,
}

impl CallbackPersistence {
    /// Starts from `initial` (e.g. what the host stored last time) and calls `persist`
    /// with the serialized cache whenever it changed.
    pub fn new(initial: Option<String>, persist: impl Fn(String) + Send + Sync + 'static) -> Self {
        Self {
            current: Mutex::new(initial),
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

impl Persistence for CallbackPersistence {
    fn load(&self) -> Result<Option<String>> {
        Ok(lock(&self.current).clone())
    }

    fn update(&self, merge: &mut dyn FnMut(Option<String>) -> Result<String>) -> Result<()> {
        let mut current = lock(&self.current);
        let next = merge(current.clone())?;
        (self.persist)(next.clone());
        *current = Some(next);
        Ok(())
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
