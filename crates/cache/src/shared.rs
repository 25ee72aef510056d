//! [`SharedTokenCache`]: a [`TokenCache`] behind a lock, loaded lazily from a
//! [`Persistence`] and saved through it after every change.

use std::fmt;
use std::sync::{Arc, RwLock};

use tokenhop_core::Result;

use crate::file::FilePersistence;
use crate::persist::{MemoryPersistence, Persistence};
use crate::{CacheOptions, TokenCache};

/// A token cache shared by credentials, threads and (through a file) processes.
/// Creating one does no I/O: the first access loads.
///
/// Persistence is blocking I/O: async callers run [`SharedTokenCache::write`] and the
/// first [`SharedTokenCache::read`] on a blocking thread.
#[derive(Clone)]
pub struct SharedTokenCache {
    inner: Arc<Inner>,
}

struct Inner {
    cache: RwLock<Option<TokenCache>>,
    persistence: Box<dyn Persistence>,
    options: CacheOptions,
}

impl fmt::Debug for SharedTokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokenCache")
            .field("persistence", &self.inner.persistence)
            .finish_non_exhaustive()
    }
}

impl SharedTokenCache {
    /// A cache kept in `persistence`.
    pub fn new(persistence: impl Persistence + 'static, options: CacheOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                cache: RwLock::new(None),
                persistence: Box::new(persistence),
                options,
            }),
        }
    }

    /// A cache in memory only.
    pub fn in_memory() -> Self {
        Self::new(MemoryPersistence::new(), CacheOptions::default())
    }

    /// A cache in a file.
    pub fn file(path: impl Into<std::path::PathBuf>) -> Self {
        Self::new(FilePersistence::new(path), CacheOptions::default())
    }

    /// True once the cache is in memory: reads then do no I/O.
    pub fn is_loaded(&self) -> bool {
        self.inner
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Reads the cache (loading it first if needed).
    pub fn read<R>(&self, f: impl FnOnce(&TokenCache) -> R) -> Result<R> {
        self.ensure_loaded()?;
        let guard = self.inner.cache.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(cache) => Ok(f(cache)),
            None => Ok(f(&TokenCache::with_options(self.inner.options))),
        }
    }

    /// Changes the cache; when `f` changed anything, merges the change into the stored
    /// state (which another process may have changed meanwhile) and saves it.
    pub fn write<R>(&self, f: impl FnOnce(&mut TokenCache) -> R) -> Result<R> {
        self.ensure_loaded()?;
        let mut guard = self.inner.cache.write().unwrap_or_else(|p| p.into_inner());
        let cache = guard.get_or_insert_with(|| TokenCache::with_options(self.inner.options));
        let result = f(cache);
        if cache.has_state_changed() {
            let options = self.inner.options;
            let persistence = self.inner.persistence.as_ref();
            let mut merged = None;
            persistence.update(&mut |stored: Option<String>| {
                let mut base = parse_or_quarantine(stored.as_deref(), options, persistence);
                cache.apply_changes_to(&mut base);
                let text = base.serialize();
                merged = Some(base);
                Ok(text)
            })?;
            if let Some(mut merged) = merged {
                merged.mark_persisted();
                *cache = merged;
            }
        }
        Ok(result)
    }

    /// Loads again from the persistence (another process may have written).
    pub fn reload(&self) -> Result<()> {
        let loaded = self.load()?;
        *self.inner.cache.write().unwrap_or_else(|p| p.into_inner()) = Some(loaded);
        Ok(())
    }

    fn ensure_loaded(&self) -> Result<()> {
        if self
            .inner
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Ok(());
        }
        let loaded = self.load()?;
        let mut guard = self.inner.cache.write().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(loaded);
        }
        Ok(())
    }

    fn load(&self) -> Result<TokenCache> {
        let stored = self.inner.persistence.load()?;
        Ok(parse_or_quarantine(
            stored.as_deref(),
            self.inner.options,
            self.inner.persistence.as_ref(),
        ))
    }
}

/// A stored blob that does not parse starts an empty cache, with a warning; the
/// backend keeps the bad blob aside (the file backend renames it) so that nothing is
/// silently overwritten.
fn parse_or_quarantine(
    stored: Option<&str>,
    options: CacheOptions,
    persistence: &dyn Persistence,
) -> TokenCache {
    match stored.map(|text| TokenCache::deserialize(text, options)) {
        None => TokenCache::with_options(options),
        Some(Ok(cache)) => cache,
        Some(Err(error)) => {
            tracing::warn!(%error, "the stored token cache does not parse; starting empty");
            persistence.quarantine(&format!("it does not parse as a token cache: {error}"));
            TokenCache::with_options(options)
        }
    }
}
