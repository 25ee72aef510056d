//! [`RedisCache`]: the store, and the builder of a [`SharedTokenCache`] over it.

use std::sync::Arc;

use tokenhop_cache::{
    CacheOptions, DEFAULT_MEMORY_PARTITIONS, PartitionedPersistence, Persistence, SharedTokenCache,
};
use tokenhop_core::{Clock, FetchGate, Result, SystemClock};

use crate::lease::RedisGate;
use crate::link::Link;
use crate::partition::RedisPartition;
use crate::settings::RedisSettings;

/// A token cache in Redis, partitioned as MSAL.NET partitions its distributed cache,
/// with a lease so that one process of a fleet asks the identity provider for each
/// token. Build a [`SharedTokenCache`] over it with [`RedisCache::builder`].
#[derive(Debug)]
pub struct RedisCache {
    link: Link,
}

impl RedisCache {
    /// A builder for the cache the settings describe.
    pub fn builder(settings: RedisSettings) -> RedisCacheBuilder {
        RedisCacheBuilder {
            settings,
            clock: Arc::new(SystemClock),
            options: CacheOptions::default(),
            memory_partitions: DEFAULT_MEMORY_PARTITIONS,
        }
    }
}

impl PartitionedPersistence for RedisCache {
    fn partition(&self, name: &str) -> Box<dyn Persistence> {
        Box::new(RedisPartition::new(self.link.clone(), name))
    }

    fn fetch_gate(&self) -> Option<Arc<dyn FetchGate>> {
        Some(Arc::new(RedisGate::new(self.link.clone())))
    }
}

/// Builds a [`SharedTokenCache`] kept in Redis:
/// `RedisCache::builder(settings).clock(c).options(o).memory_partitions(n).build()?`.
#[derive(Debug)]
pub struct RedisCacheBuilder {
    settings: RedisSettings,
    clock: Arc<dyn Clock>,
    options: CacheOptions,
    memory_partitions: usize,
}

impl RedisCacheBuilder {
    /// The clock that decides expiry: of tokens when pruning, of partitions in Redis
    /// (the system's unless set).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Lookup rules and limits ([`CacheOptions::default`] unless set).
    pub fn options(mut self, options: CacheOptions) -> Self {
        self.options = options;
        self
    }

    /// How many partitions stay in memory in front of Redis (default
    /// [`DEFAULT_MEMORY_PARTITIONS`]; 0: every lookup reads Redis).
    pub fn memory_partitions(mut self, partitions: usize) -> Self {
        self.memory_partitions = partitions;
        self
    }

    /// The cache. No I/O: the URL is checked, and the connection is made on first use.
    pub fn build(self) -> Result<SharedTokenCache> {
        let link = Link::new(self.settings, Arc::clone(&self.clock))?;
        Ok(SharedTokenCache::partitioned(RedisCache { link })
            .options(self.options)
            .clock(self.clock)
            .memory_partitions(self.memory_partitions)
            .build())
    }
}
