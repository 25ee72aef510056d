//! The partitions of a partitioned cache kept in memory, least recently used first out.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokenhop_core::{Clock, FetchGate};

use super::{Inner, SharedTokenCache};
use crate::CacheOptions;
use crate::partition::{ACCOUNT_DIRECTORY, PartitionedPersistence};
use crate::persist::{Persistence, lock};

/// The store, and the partitions of it in memory (least recently used go first).
pub(crate) struct Partitions {
    store: Box<dyn PartitionedPersistence>,
    options: CacheOptions,
    clock: Arc<dyn Clock>,
    capacity: usize,
    memory: Mutex<Memory>,
    /// This, for the partitions to point back at weakly.
    this: Weak<Partitions>,
    /// The root cache (the account directory), which owns this.
    root: OnceLock<Weak<Inner>>,
}

#[derive(Default)]
struct Memory {
    caches: HashMap<String, (SharedTokenCache, u64)>,
    uses: u64,
}

impl fmt::Debug for Partitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Partitions")
            .field("store", &self.store)
            .field("in_memory", &lock(&self.memory).caches.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Partitions {
    pub(crate) fn new(
        store: Box<dyn PartitionedPersistence>,
        options: CacheOptions,
        clock: Arc<dyn Clock>,
        capacity: usize,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            store,
            options,
            clock,
            capacity,
            memory: Mutex::new(Memory::default()),
            this: this.clone(),
            root: OnceLock::new(),
        })
    }

    /// Remembers the root cache that owns this.
    pub(crate) fn set_root(&self, root: &SharedTokenCache) {
        let _ = self.root.set(Arc::downgrade(&root.inner));
    }

    /// The root cache, while it lives.
    pub(crate) fn root(&self) -> Option<SharedTokenCache> {
        let inner = self.root.get()?.upgrade()?;
        Some(SharedTokenCache { inner })
    }

    /// The persistence of the account directory (the root cache's).
    pub(crate) fn directory(&self) -> Box<dyn Persistence> {
        self.store.partition(ACCOUNT_DIRECTORY)
    }

    pub(crate) fn fetch_gate(&self) -> Option<Arc<dyn FetchGate>> {
        self.store.fetch_gate()
    }

    /// The partition's cache: the one in memory, or a new one (which loads on first
    /// use) that takes the place of the least recently used when memory is full.
    pub(crate) fn get(&self, name: &str) -> SharedTokenCache {
        let mut memory = lock(&self.memory);
        memory.uses += 1;
        let now = memory.uses;
        if let Some((cache, used)) = memory.caches.get_mut(name) {
            *used = now;
            return cache.clone();
        }
        let cache = SharedTokenCache::member(
            self.store.partition(name),
            self.options,
            Arc::clone(&self.clock),
            self.this.clone(),
        );
        if self.capacity == 0 {
            return cache;
        }
        if memory.caches.len() >= self.capacity
            && let Some(oldest) = memory
                .caches
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(name, _)| name.clone())
        {
            memory.caches.remove(&oldest);
        }
        memory.caches.insert(name.to_owned(), (cache.clone(), now));
        cache
    }

    /// How many partitions are in memory.
    pub(crate) fn in_memory(&self) -> usize {
        lock(&self.memory).caches.len()
    }
}
