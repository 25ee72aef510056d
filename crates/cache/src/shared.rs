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
//!
//! A partitioned cache ([`SharedTokenCache::partitioned`], over a
//! [`PartitionedPersistence`] such as Redis) is one such cache per partition, loaded
//! when a lookup or write names it ([`SharedTokenCache::partition`]), a bounded number
//! of them in memory; the root cache is the account directory.

mod partitions;

use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError, Weak};

use tokenhop_core::{Clock, FetchGate, Result, SystemClock, epoch_seconds};
use zeroize::Zeroizing;

use crate::entry::{Entry, Field};
use crate::file::FilePersistence;
use crate::partition::{DEFAULT_MEMORY_PARTITIONS, PartitionedPersistence, user_partition_key};
use crate::persist::{MemoryPersistence, Persistence};
use crate::section::Section;
use crate::stamp::Stamp;
use crate::{Added, CacheOptions, TokenCache, TokenEvent};
use partitions::Partitions;

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
    partitions: Membership,
}

/// Whether a cache is all there is, or the root or one partition of a partitioned one.
enum Membership {
    Whole,
    /// The account directory of a partitioned store; it owns the partitions in memory.
    Root(Arc<Partitions>),
    /// A partition (which the root's memory may outlive, or not).
    Member(Weak<Partitions>),
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
        SharedTokenCache::assemble(
            self.persistence,
            self.options,
            self.clock,
            Membership::Whole,
        )
    }
}

/// Builds a partitioned [`SharedTokenCache`]: `SharedTokenCache::partitioned(store)
/// .options(o).clock(c).memory_partitions(n).build()`.
#[derive(Debug)]
pub struct PartitionedCacheBuilder {
    store: Box<dyn PartitionedPersistence>,
    options: CacheOptions,
    clock: Arc<dyn Clock>,
    memory_partitions: usize,
}

impl PartitionedCacheBuilder {
    /// Lookup rules and limits, for every partition ([`CacheOptions::default`] unless set).
    pub fn options(mut self, options: CacheOptions) -> Self {
        self.options = options;
        self
    }

    /// The clock that decides which access tokens have expired when pruning on save.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How many partitions stay in memory (the least recently used leave first; each
    /// loads again from the store when next needed). 0 keeps none: every lookup reads
    /// the store. Default [`DEFAULT_MEMORY_PARTITIONS`].
    pub fn memory_partitions(mut self, partitions: usize) -> Self {
        self.memory_partitions = partitions;
        self
    }

    /// The cache. Does no I/O.
    pub fn build(self) -> SharedTokenCache {
        let partitions = Partitions::new(
            self.store,
            self.options,
            Arc::clone(&self.clock),
            self.memory_partitions,
        );
        let root = SharedTokenCache::assemble(
            partitions.directory(),
            self.options,
            self.clock,
            Membership::Root(Arc::clone(&partitions)),
        );
        partitions.set_root(&root);
        root
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

    /// A builder for a cache kept in the partitions of `store`, one per app (and
    /// tenant), user and incoming on-behalf-of assertion (see
    /// [`crate::partition_key`]), a bounded number of them in memory. The root cache
    /// is the account directory; flows reach the partitions with
    /// [`SharedTokenCache::partition`], [`SharedTokenCache::add`] and
    /// [`SharedTokenCache::remove_account`].
    pub fn partitioned(store: impl PartitionedPersistence + 'static) -> PartitionedCacheBuilder {
        PartitionedCacheBuilder {
            store: Box::new(store),
            options: CacheOptions::default(),
            clock: Arc::new(SystemClock),
            memory_partitions: DEFAULT_MEMORY_PARTITIONS,
        }
    }

    fn assemble(
        persistence: Box<dyn Persistence>,
        options: CacheOptions,
        clock: Arc<dyn Clock>,
        partitions: Membership,
    ) -> Self {
        SharedTokenCache {
            inner: Arc::new(Inner {
                state: RwLock::new(State::default()),
                persistence,
                options,
                clock,
                partitions,
            }),
        }
    }

    /// A partition of a partitioned cache.
    fn member(
        persistence: Box<dyn Persistence>,
        options: CacheOptions,
        clock: Arc<dyn Clock>,
        partitions: Weak<Partitions>,
    ) -> Self {
        Self::assemble(persistence, options, clock, Membership::Member(partitions))
    }

    fn partitions(&self) -> Option<Arc<Partitions>> {
        match &self.inner.partitions {
            Membership::Whole => None,
            Membership::Root(partitions) => Some(Arc::clone(partitions)),
            Membership::Member(partitions) => partitions.upgrade(),
        }
    }

    /// True for a partitioned cache (the root or one of its partitions).
    pub fn is_partitioned(&self) -> bool {
        !matches!(self.inner.partitions, Membership::Whole)
    }

    /// The cache of the partition `name` (see [`crate::partition_key`]): for a cache
    /// that is not partitioned, this cache itself. Does no I/O.
    pub fn partition(&self, name: &str) -> SharedTokenCache {
        match self.partitions() {
            Some(partitions) => partitions.get(name),
            None => self.clone(),
        }
    }

    /// How many partitions of a partitioned cache are in memory (0 otherwise).
    pub fn partitions_in_memory(&self) -> usize {
        self.partitions().map_or(0, |p| p.in_memory())
    }

    /// What coordinates token requests with the other processes sharing this cache's
    /// store, if anything does (see [`FetchGate`]).
    pub fn fetch_gate(&self) -> Option<Arc<dyn FetchGate>> {
        self.partitions().and_then(|p| p.fetch_gate())
    }

    /// Writes a token response as [`TokenCache::add`] does, into the partition it
    /// belongs to; a user's account also goes into the account directory of a
    /// partitioned cache (on-behalf-of users do not: a middle tier sees one per
    /// incoming token). Blocking I/O (see the type's documentation).
    pub fn add(&self, event: &TokenEvent<'_>) -> Result<Added> {
        if !self.is_partitioned() {
            return self.write(|c| c.add(event));
        }
        let partition = event.partition_key();
        let listed = event.extra_fields.is_empty();
        let (added, accounts) = self.partition(&partition).write(|c| {
            let added = c.add(event);
            let accounts = match &added.home_account_id {
                Some(home) if listed => accounts_of(c, home),
                _ => Vec::new(),
            };
            (added, accounts)
        })?;
        let root = self.root();
        let known = root
            .read_if_current(|c| {
                accounts
                    .iter()
                    .all(|(key, entry)| c.get(Section::Account, key) == Some(entry))
            })
            .unwrap_or(false);
        if !accounts.is_empty() && !known {
            root.write(|c| {
                for (key, entry) in accounts {
                    if c.get(Section::Account, &key) != Some(&entry) {
                        c.insert(Section::Account, key, entry);
                    }
                }
            })?;
        }
        Ok(added)
    }

    /// Signs an account out ([`TokenCache::remove_account`]): from its partition and the
    /// account directory of a partitioned cache. Returns how many entries went.
    /// Blocking I/O (see the type's documentation).
    pub fn remove_account(&self, home_account_id: &str, environment: &str) -> Result<usize> {
        let removed = self
            .partition(&user_partition_key(home_account_id))
            .write(|c| c.remove_account(home_account_id, environment))?;
        if !self.is_partitioned() {
            return Ok(removed);
        }
        let listed = self
            .root()
            .write(|c| c.remove_account(home_account_id, environment))?;
        Ok(removed + listed)
    }

    /// The root of a partitioned cache (its account directory); this cache otherwise.
    fn root(&self) -> SharedTokenCache {
        match &self.inner.partitions {
            Membership::Member(_) => self
                .partitions()
                .and_then(|p| p.root())
                .unwrap_or_else(|| self.clone()),
            _ => self.clone(),
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
                tracing::warn!(
                    %error,
                    store = ?self.inner.persistence,
                    "the stored token cache does not parse; starting empty"
                );
                self.inner
                    .persistence
                    .quarantine(&format!("it does not parse as a token cache: {error}"));
                TokenCache::with_options(options)
            }
        }
    }
}

/// The account entries of `home` in `cache`, to list in the account directory.
fn accounts_of(cache: &TokenCache, home: &str) -> Vec<(String, Entry)> {
    cache
        .entries(Section::Account)
        .filter(|(_, entry)| entry.get(Field::HomeAccountId) == Some(home))
        .map(|(key, entry)| (key.to_owned(), entry.clone()))
        .collect()
}
