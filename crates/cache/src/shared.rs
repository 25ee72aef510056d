//! [`SharedTokenCache`]: a [`TokenCache`] shared by threads and (through a file)
//! processes, loaded lazily from a [`Persistence`], kept current with what other
//! processes save, and saved through it after every change.
//!
//! The rules, as msal-extensions' `PersistedTokenCache` has them: before a lookup, the
//! stored blob's [`Stamp`] (one `stat` for a file) is compared with the one in memory
//! and the blob read again when it changed; a write takes the cross-process lock,
//! loads again if the stamp changed, applies the change to what is stored (so what any
//! process removed stays removed), prunes, and saves. No in-memory lock is held while
//! waiting for the cross-process one or while reading or writing the file.

use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use tokenhop_core::{Clock, Result, SystemClock, epoch_seconds};
use zeroize::Zeroizing;

use crate::file::FilePersistence;
use crate::persist::{MemoryPersistence, Persistence};
use crate::stamp::Stamp;
use crate::{CacheOptions, TokenCache};

/// A token cache shared by credentials, threads and (through a file) processes.
/// Creating one does no I/O: the first access loads.
///
/// # From async code
///
/// [`SharedTokenCache::read`], [`SharedTokenCache::write`] and
/// [`SharedTokenCache::reload`] may read or write the file and wait for its
/// cross-process lock: run them on a blocking thread (`spawn_blocking`).
/// [`SharedTokenCache::read_if_current`] never waits: it answers from memory when
/// memory is current (one `stat` of the file says so) and returns `None` otherwise,
/// so a lookup stays on the executor and only a cache that must load goes to a
/// blocking thread:
///
/// ```
/// # use tokenhop_cache::SharedTokenCache;
/// # async fn lookup(cache: &SharedTokenCache) -> tokenhop_core::Result<usize> {
/// let count = |c: &tokenhop_cache::TokenCache| c.len(tokenhop_cache::Section::AccessToken);
/// if let Some(found) = cache.read_if_current(count) {
///     return Ok(found);
/// }
/// let cache = cache.clone();
/// tokio::task::spawn_blocking(move || cache.read(count))
///     .await
///     .expect("the lookup task ran")
/// # }
/// ```
#[derive(Clone)]
pub struct SharedTokenCache {
    inner: Arc<Inner>,
}

struct Inner {
    state: RwLock<State>,
    persistence: Box<dyn Persistence>,
    options: CacheOptions,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct State {
    /// `None` until the first load.
    cache: Option<TokenCache>,
    /// The stamp of the stored blob `cache` was loaded from or saved as; `None` when
    /// unknown (a failed save), which no stored stamp equals.
    stamp: Option<Stamp>,
    /// Counts the changes to `cache`: a reload read before a newer change must not
    /// replace it.
    generation: u64,
    /// A save of `cache` is under way: memory is ahead of the stored blob, not behind.
    saving: bool,
}

/// How often a reload reads without the lock while other processes keep saving, before
/// it reads under the lock.
const UNLOCKED_TRIES: usize = 3;

impl fmt::Debug for SharedTokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokenCache")
            .field("persistence", &self.inner.persistence)
            .finish_non_exhaustive()
    }
}

/// Builds a [`SharedTokenCache`]: `SharedTokenCache::builder(persistence).options(o)
/// .clock(c).build()`.
#[derive(Debug)]
pub struct SharedTokenCacheBuilder {
    persistence: Box<dyn Persistence>,
    options: CacheOptions,
    clock: Arc<dyn Clock>,
}

impl SharedTokenCacheBuilder {
    /// Lookup rules and limits ([`CacheOptions::default`] unless set).
    pub fn options(mut self, options: CacheOptions) -> Self {
        self.options = options;
        self
    }

    /// The clock that decides which access tokens have expired when pruning on save
    /// (the system's unless set).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The cache. Does no I/O.
    pub fn build(self) -> SharedTokenCache {
        SharedTokenCache {
            inner: Arc::new(Inner {
                state: RwLock::new(State::default()),
                persistence: self.persistence,
                options: self.options,
                clock: self.clock,
            }),
        }
    }
}

impl SharedTokenCache {
    /// A builder for a cache kept in `persistence`.
    pub fn builder(persistence: impl Persistence + 'static) -> SharedTokenCacheBuilder {
        SharedTokenCacheBuilder {
            persistence: Box::new(persistence),
            options: CacheOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A cache kept in `persistence`, with the system clock.
    pub fn new(persistence: impl Persistence + 'static, options: CacheOptions) -> Self {
        Self::builder(persistence).options(options).build()
    }

    /// A cache in memory only.
    pub fn in_memory() -> Self {
        Self::new(MemoryPersistence::new(), CacheOptions::default())
    }

    /// A cache in a file (with the default lock timeout; see [`FilePersistence`]).
    pub fn file(path: impl Into<std::path::PathBuf>) -> Self {
        Self::new(FilePersistence::new(path), CacheOptions::default())
    }

    /// True once the cache is in memory.
    pub fn is_loaded(&self) -> bool {
        self.state().cache.is_some()
    }

    /// Runs `f` on the cache in memory when it is current, without waiting for
    /// anything: one `stat` of the file (for a file backend) and no read. `None` when
    /// the cache must load first (or a write holds it this instant): then run
    /// [`SharedTokenCache::read`] on a blocking thread.
    pub fn read_if_current<R>(&self, f: impl FnOnce(&TokenCache) -> R) -> Option<R> {
        let state = match self.inner.state.try_read() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        let cache = state.cache.as_ref()?;
        self.is_current(&state).then(|| f(cache))
    }

    /// Runs `f` on the copy in memory as it is — current or not — without waiting for
    /// anything or touching the file; `None` when nothing is loaded yet or a write holds
    /// the copy this instant. For async callers that reloaded (on a blocking thread) and
    /// found the file changed again meanwhile: the copy they just loaded is the answer.
    pub fn read_loaded<R>(&self, f: impl FnOnce(&TokenCache) -> R) -> Option<R> {
        let state = match self.inner.state.try_read() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        state.cache.as_ref().map(f)
    }

    /// Reads the cache, loading it first when it is not in memory or another process
    /// saved since (blocking I/O; see the type's documentation).
    pub fn read<R>(&self, f: impl FnOnce(&TokenCache) -> R) -> Result<R> {
        if !self.is_loaded() || !self.is_current(&self.state()) {
            self.load_again()?;
        }
        let state = self.state();
        match state.cache.as_ref() {
            Some(cache) => Ok(f(cache)),
            None => Ok(f(&TokenCache::with_options(self.inner.options))),
        }
    }

    /// Changes the cache and saves it: under the cross-process lock, loads again what
    /// another process saved since, runs `f` on it, and when `f` changed anything,
    /// drops expired access tokens, applies the limits of [`CacheOptions`] and saves.
    /// Blocking I/O (see the type's documentation).
    pub fn write<R>(&self, f: impl FnOnce(&mut TokenCache) -> R) -> Result<R> {
        let inner = &*self.inner;
        let mut f = Some(f);
        let mut result = None;
        let saved = inner.persistence.update(&mut |stored| {
            // Under the cross-process lock; no in-memory lock is held yet.
            let current = {
                let state = self.state();
                state.cache.is_some() && state.stamp.is_some() && state.stamp == stored.stamp()
            };
            let reloaded = match current {
                true => None,
                false => Some(self.parse_or_quarantine(stored.load()?.as_deref())),
            };
            let mut state = self.state_mut();
            if let Some(reloaded) = reloaded {
                state.cache = Some(reloaded);
                state.stamp = stored.stamp();
                state.generation += 1;
            }
            let cache = state
                .cache
                .get_or_insert_with(|| TokenCache::with_options(inner.options));
            if let Some(f) = f.take() {
                result = Some(f(cache));
            }
            if !cache.has_state_changed() {
                return Ok(None);
            }
            cache.prune(epoch_seconds(inner.clock.now()));
            let mut text = Zeroizing::new(String::new());
            cache.serialize_into(&mut text);
            cache.mark_persisted();
            state.generation += 1;
            state.saving = true;
            Ok(Some(text))
        });
        let mut state = self.state_mut();
        let was_saving = std::mem::take(&mut state.saving);
        match saved {
            Ok(stamp) => state.stamp = stamp,
            Err(error) => {
                // A save that failed midway leaves what is stored unknown: the next
                // access loads again. (A lock never taken changed nothing.)
                if was_saving {
                    state.stamp = None;
                }
                return Err(error);
            }
        }
        drop(state);
        result.ok_or_else(|| {
            crate::persist::cache_error("the token cache backend did not run the change")
        })
    }

    /// Loads again from the persistence, whether or not another process saved.
    pub fn reload(&self) -> Result<()> {
        self.load_again()
    }

    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn state_mut(&self) -> RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True when the stored blob is the one `state` holds (or a save of it is under
    /// way). A backend without stamps is always current: only writes load again.
    fn is_current(&self, state: &State) -> bool {
        if state.saving {
            return true;
        }
        match self.inner.persistence.stamp() {
            Ok(Some(stored)) => state.stamp == Some(stored),
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Reads the stored blob without the cross-process lock (as msal-extensions'
    /// lookups do) and puts it in memory. A blob that cannot be read or parsed may be
    /// half-written by a writer that writes in place: it is read again under the lock,
    /// where a blob that does not parse is corrupt.
    fn load_again(&self) -> Result<()> {
        let persistence = self.inner.persistence.as_ref();
        for _ in 0..UNLOCKED_TRIES {
            let generation = self.state().generation;
            let before = persistence.stamp();
            let parsed = persistence.load().ok().and_then(|blob| {
                let text = blob.as_deref().map(String::as_str).unwrap_or_default();
                TokenCache::deserialize(text, self.inner.options).ok()
            });
            let after = persistence.stamp();
            match (parsed, before, after) {
                (Some(cache), Ok(before), Ok(after)) if before == after => {
                    self.install(cache, after, generation);
                    return Ok(());
                }
                // Saved again while being read: try again.
                (_, Ok(before), Ok(after)) if before != after => continue,
                // Unreadable as it stands: perhaps half-written in place.
                _ => break,
            }
        }
        self.write(|_| ())
    }

    /// Puts a loaded cache in memory, unless memory changed since `generation` (a
    /// write or another reload got there first, with something at least as new).
    fn install(&self, cache: TokenCache, stamp: Option<Stamp>, generation: u64) {
        let mut state = self.state_mut();
        if state.generation == generation {
            state.cache = Some(cache);
            state.stamp = stamp;
            state.generation += 1;
        }
    }

    /// A stored blob that does not parse (read under the lock) starts an empty cache,
    /// with a warning; the backend keeps the bad blob aside (the file backend renames
    /// it) so that nothing is silently overwritten.
    fn parse_or_quarantine(&self, stored: Option<&String>) -> TokenCache {
        let options = self.inner.options;
        match stored.map(|text| TokenCache::deserialize(text, options)) {
            None => TokenCache::with_options(options),
            Some(Ok(cache)) => cache,
            Some(Err(error)) => {
                tracing::warn!(%error, "the stored token cache does not parse; starting empty");
                self.inner
                    .persistence
                    .quarantine(&format!("it does not parse as a token cache: {error}"));
                TokenCache::with_options(options)
            }
        }
    }
}
