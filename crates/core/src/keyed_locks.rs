//! [`KeyedLocks`]: one async mutex per key, created on demand — the building block of
//! single-flight token requests.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// An async lock per key. Callers that want the same key queue behind one another;
/// different keys do not contend. Entries nobody holds or waits for are dropped on the
/// next lock, so the map stays as large as the set of keys in use.
#[derive(Debug)]
pub struct KeyedLocks<K> {
    locks: Mutex<HashMap<K, Arc<AsyncMutex<()>>>>,
}

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        Self {
            locks: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone> KeyedLocks<K> {
    /// An empty set of locks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &K) -> OwnedMutexGuard<()> {
        self.entry(key).lock_owned().await
    }

    /// Takes the lock of `key` if nobody holds it.
    pub fn try_lock(&self, key: &K) -> Option<OwnedMutexGuard<()>> {
        self.entry(key).try_lock_owned().ok()
    }

    fn entry(&self, key: &K) -> Arc<AsyncMutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Only the map holds an idle lock (strong count 1): forget those.
        locks.retain(|k, lock| k == key || Arc::strong_count(lock) > 1);
        Arc::clone(locks.entry(key.clone()).or_default())
    }

    /// How many keys are held or waited for (for tests and metrics).
    pub fn len(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_key_excludes_other_keys_do_not() {
        let locks = KeyedLocks::new();
        let held = locks.lock(&"a").await;
        assert!(locks.try_lock(&"a").is_none());
        assert!(locks.try_lock(&"b").is_some());
        drop(held);
        assert!(locks.try_lock(&"a").is_some());
    }

    #[tokio::test]
    async fn idle_entries_are_forgotten() {
        let locks = KeyedLocks::new();
        for key in 0..100 {
            drop(locks.lock(&key).await);
        }
        let _held = locks.lock(&1000).await;
        assert_eq!(locks.len(), 1);
    }
}
