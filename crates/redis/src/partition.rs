//! [`RedisPartition`]: one partition of the cache in Redis, as a [`Persistence`].
//!
//! The partition's value is at `{prefix}{{name}}` (the braces are a Redis Cluster hash
//! tag: the value and its write lock share a slot, so one script updates both). A
//! write takes the lock (`SET NX PX`, compare-and-delete to release), reads what is
//! stored, lets the cache merge its change into it, and stores the result with a TTL
//! from its longest-lived access token (none while it holds a refresh token or
//! accounts), then publishes the write. The stamp is what this process heard: other
//! processes' writes (and anything that makes every partition load again).
//!
//! When Redis is unavailable a partition answers from the last blob this process read
//! or wrote, and keeps new writes in memory: lookups and token requests go on.

use std::fmt;
use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use tokenhop_cache::entry::Field;
use tokenhop_cache::{Blob, CacheOptions, Persistence, Section, Stamp, Stored, TokenCache};
use tokenhop_core::{Result, epoch_seconds};

use crate::link::{Link, PartitionState, lock};

/// How long a write may hold a partition's lock (it reads and writes one small value).
const LOCK_TTL: Duration = Duration::from_secs(2);
/// How long a write waits for a partition's lock before it keeps its change in memory.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Stores (or deletes) a partition and publishes the write, if the caller still holds
/// the lock; then lets the lock go. KEYS: value, lock. ARGV: owner, value ("" deletes),
/// TTL in ms ("0": none), channel, event.
static WRITE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
        if ARGV[2] == '' then
            redis.call('DEL', KEYS[1])
        elseif ARGV[3] == '0' then
            redis.call('SET', KEYS[1], ARGV[2])
        else
            redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        end
        redis.call('DEL', KEYS[2])
        redis.call('PUBLISH', ARGV[4], ARGV[5])
        return 1
        ",
    )
});

/// Deletes a key if it holds the caller's value. KEYS: the key. ARGV: the value.
pub(crate) static COMPARE_AND_DELETE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        ",
    )
});

/// One partition of the cache in Redis.
pub(crate) struct RedisPartition {
    link: Link,
    name: String,
    key: String,
    state: Arc<PartitionState>,
}

impl fmt::Debug for RedisPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPartition")
            .field("key", &self.key)
            .field("link", &self.link)
            .finish()
    }
}

/// What a write does with the lock.
enum Locked {
    /// Held by this owner.
    Held(String),
    /// Another writer kept it past the wait.
    Busy,
}

impl RedisPartition {
    pub(crate) fn new(link: Link, name: &str) -> Self {
        let key = format!("{}{{{name}}}", link.shared.settings.prefix);
        Self {
            state: link.partition_state(name),
            link,
            name: name.to_owned(),
            key,
        }
    }

    fn last(&self) -> Option<Blob> {
        lock(&self.state.last).clone()
    }

    fn remember(&self, blob: Option<Blob>) {
        *lock(&self.state.last) = blob;
    }

    fn current_stamp(&self) -> Stamp {
        Stamp::counter(self.link.version(&self.state))
    }

    /// The stored value, opened; `None` inside when there is none.
    fn get(&self) -> std::result::Result<Result<Option<Blob>>, crate::link::Unavailable> {
        let key = self.key.clone();
        let value = self.link.run_blocking(move |mut c| async move {
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<Vec<u8>>>(&mut c)
                .await
        })?;
        Ok(value
            .map(|bytes| self.link.shared.keys.open(&self.key, bytes))
            .transpose())
    }

    fn take_lock(&self) -> std::result::Result<Locked, crate::link::Unavailable> {
        let owner = self.link.owner();
        let lock_key = format!("{}:lock", self.key);
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            let (key, value) = (lock_key.clone(), owner.clone());
            let taken = self.link.run_blocking(move |mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("NX")
                    .arg("PX")
                    .arg(LOCK_TTL.as_millis() as u64)
                    .query_async::<Option<String>>(&mut c)
                    .await
            })?;
            if taken.is_some() {
                return Ok(Locked::Held(owner));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(Locked::Busy);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn release_lock(&self, owner: &str) {
        let (key, owner) = (format!("{}:lock", self.key), owner.to_owned());
        let _ = self.link.run_blocking(move |mut c| async move {
            COMPARE_AND_DELETE
                .key(&key)
                .arg(&owner)
                .invoke_async::<i64>(&mut c)
                .await
        });
    }

    /// The change applied to what this process has, kept in memory only (Redis is
    /// unavailable, or another writer holds the lock too long).
    fn update_in_memory(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<Stamp>> {
        let stamp = self.current_stamp();
        let last = self.last();
        let load = move || Ok(last.clone());
        if let Some(next) = change(&Stored::new(Some(stamp), &load))? {
            self.remember(Some(next));
        }
        Ok(Some(stamp))
    }

    /// Stores `blob` under the lock `owner` holds, and publishes the write; false when
    /// the lock was lost (it outlived its TTL) or Redis did not answer.
    fn store(&self, owner: &str, blob: &Blob) -> Result<bool> {
        let now = epoch_seconds(self.link.shared.clock.now());
        let (value, ttl_ms) = match expiry(blob, now) {
            Expiry::Empty => (Vec::new(), 0),
            Expiry::Never => (self.link.shared.keys.seal(&self.key, blob)?, 0),
            Expiry::At(at) => (
                self.link.shared.keys.seal(&self.key, blob)?,
                at.saturating_sub(now).max(1) * 1000,
            ),
        };
        let event = format!("{} w {}", self.link.shared.instance, self.name);
        let (key, lock_key, owner, channel) = (
            self.key.clone(),
            format!("{}:lock", self.key),
            owner.to_owned(),
            self.link.shared.channel(),
        );
        let written = self.link.run_blocking(move |mut c| async move {
            WRITE
                .key(&key)
                .key(&lock_key)
                .arg(&owner)
                .arg(value)
                .arg(ttl_ms)
                .arg(&channel)
                .arg(&event)
                .invoke_async::<i64>(&mut c)
                .await
        });
        Ok(written == Ok(1))
    }
}

impl Persistence for RedisPartition {
    fn load(&self) -> Result<Option<Blob>> {
        if !self.link.usable() {
            return Ok(self.last());
        }
        match self.get() {
            Ok(opened) => {
                let blob = opened?;
                self.remember(blob.clone());
                Ok(blob)
            }
            Err(_) => Ok(self.last()),
        }
    }

    fn stamp(&self) -> Result<Option<Stamp>> {
        Ok(Some(self.current_stamp()))
    }

    fn update(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<Stamp>> {
        if !self.link.usable() {
            return self.update_in_memory(change);
        }
        let owner = match self.take_lock() {
            Ok(Locked::Held(owner)) => owner,
            Ok(Locked::Busy) => {
                tracing::warn!(key = %self.key, "another writer held a token cache partition's lock too long in Redis; keeping this change in memory");
                return self.update_in_memory(change);
            }
            Err(_) => return self.update_in_memory(change),
        };
        let stored = match self.get() {
            Ok(Ok(stored)) => stored,
            Ok(Err(error)) => {
                self.release_lock(&owner);
                return Err(error);
            }
            Err(_) => return self.update_in_memory(change),
        };
        // No stamp: the cache merges its change into what is stored now.
        let current = stored.clone();
        let load = move || Ok(current.clone());
        let next = match change(&Stored::new(None, &load)) {
            Ok(next) => next,
            Err(error) => {
                self.release_lock(&owner);
                return Err(error);
            }
        };
        match next {
            None => {
                self.release_lock(&owner);
                self.remember(stored);
            }
            Some(next) => {
                match self.store(&owner, &next) {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(key = %self.key, "a token cache partition was not written to Redis; it is kept in memory");
                    }
                    Err(error) => {
                        self.release_lock(&owner);
                        return Err(error);
                    }
                }
                self.remember(Some(next));
            }
        }
        Ok(Some(self.current_stamp()))
    }
}

/// How long a partition should live in Redis.
#[derive(Debug, PartialEq, Eq)]
enum Expiry {
    /// Nothing worth keeping: delete it.
    Empty,
    /// It holds a refresh token or accounts, which have no expiry.
    Never,
    /// Until its longest-lived access token expires (epoch seconds).
    At(u64),
}

/// MSAL.NET's `SuggestedCacheExpiry`: the longest-lived access token's expiry, unless a
/// refresh token (or an account, which a directory keeps) lives there.
fn expiry(blob: &str, now: u64) -> Expiry {
    let Ok(cache) = TokenCache::deserialize(blob, CacheOptions::default()) else {
        return Expiry::Never;
    };
    if cache.len(Section::RefreshToken) > 0 || cache.len(Section::Account) > 0 {
        return Expiry::Never;
    }
    match cache
        .entries(Section::AccessToken)
        .filter_map(|(_, entry)| entry.get_u64(Field::ExpiresOn))
        .max()
    {
        Some(at) if at > now => Expiry::At(at),
        _ => Expiry::Empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_live_as_long_as_their_longest_token() {
        let tokens = r#"{"AccessToken": {
            "a": {"credential_type": "AccessToken", "secret": "x", "expires_on": "1000"},
            "b": {"credential_type": "AccessToken", "secret": "y", "expires_on": "4000"}}}"#;
        assert_eq!(expiry(tokens, 500), Expiry::At(4000));
        assert_eq!(expiry(tokens, 5000), Expiry::Empty);
        let with_refresh =
            r#"{"RefreshToken": {"r": {"credential_type": "RefreshToken", "secret": "z"}}}"#;
        assert_eq!(expiry(with_refresh, 500), Expiry::Never);
        assert_eq!(expiry("{}", 500), Expiry::Empty);
    }
}
