//! [`KeyringPersistence`]: the cache in the OS keystore — the kernel keyring on Linux,
//! the Keychain on macOS, the Credential Manager on Windows.
//!
//! Keystores cap an entry's size (Linux: the user's key quota, 20,000 bytes by default;
//! Windows: 2,560 bytes per credential blob), so this suits small caches: a few app
//! tokens or one signed-in user. Larger caches belong in the file backend.

use std::fmt;

use tokenhop_core::Result;

use zeroize::Zeroizing;

use crate::persist::{Blob, Persistence, Stored, cache_error, lock};
use crate::stamp::Stamp;

/// The serialized cache as one keystore entry (service + account name).
///
/// Every operation fails with an error saying that no OS keystore is reachable (and to
/// keep the cache in a file instead) where there is none, as on a headless Linux
/// machine without a session keyring. Keystores cap an entry's size (Linux: the user's
/// key quota, 20,000 bytes by default; Windows: 2,560 bytes per credential), so this
/// suits small caches (a few app tokens, one signed-in user); saving a larger one fails
/// with an error saying so.
///
/// # Example
///
/// Prefer the keystore, fall back to a file:
///
/// ```
/// use tokenhop_cache::{CacheOptions, KeyringPersistence, Persistence, SharedTokenCache};
///
/// let keystore = KeyringPersistence::new("my-app", "token-cache");
/// let cache = match keystore.load() {
///     Ok(_) => SharedTokenCache::new(keystore, CacheOptions::default()),
///     Err(error) => {
///         // "token cache error: no OS keystore is reachable (…); … (FilePersistence)"
///         eprintln!("{error}");
///         SharedTokenCache::file(std::env::temp_dir().join("my-app-token-cache.json"))
///     }
/// };
/// # let _ = cache;
/// ```
#[derive(Debug)]
pub struct KeyringPersistence {
    entry: KeystoreEntry,
    /// One update at a time in this process; keystores offer no cross-process lock.
    updating: std::sync::Mutex<()>,
}

/// A keystore entry by service and account name, opened on first use.
pub(crate) struct KeystoreEntry {
    service: String,
    account: String,
    entry: std::sync::OnceLock<keyring::Entry>,
}

impl fmt::Debug for KeystoreEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreEntry")
            .field("service", &self.service)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl KeystoreEntry {
    /// The entry named by `service` and `account`. Does no I/O.
    pub(crate) fn new(service: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            account: account.into(),
            entry: std::sync::OnceLock::new(),
        }
    }

    /// `service/account`, for messages.
    pub(crate) fn name(&self) -> String {
        format!("{}/{}", self.service, self.account)
    }

    pub(crate) fn get(&self) -> Result<&keyring::Entry> {
        if let Some(entry) = self.entry.get() {
            return Ok(entry);
        }
        let entry =
            keyring::Entry::new(&self.service, &self.account).map_err(|e| unreachable_store(&e))?;
        Ok(self.entry.get_or_init(|| entry))
    }
}

impl Default for KeyringPersistence {
    /// Service `tokenhop`, account `token-cache`.
    fn default() -> Self {
        Self::new("tokenhop", "token-cache")
    }
}

impl KeyringPersistence {
    /// The entry named by `service` and `account`. Does no I/O.
    pub fn new(service: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            entry: KeystoreEntry::new(service, account),
            updating: std::sync::Mutex::new(()),
        }
    }

    fn entry(&self) -> Result<&keyring::Entry> {
        self.entry.get()
    }
}

/// The error for a keystore that cannot be used, and what to do instead.
pub(crate) fn unreachable_store(error: &keyring::Error) -> tokenhop_core::Error {
    let detail = match error {
        // What keyutils answers when there is no session keyring to keep entries in.
        keyring::Error::NoEntry => {
            "no keyring to keep entries in; on Linux, no session keyring".to_owned()
        }
        other => other.to_string(),
    };
    cache_error(format!(
        "no OS keystore is reachable ({detail}); on a headless machine keep the cache in a file instead (FilePersistence)"
    ))
}

/// A keystore has no cheap version of an entry: the cache takes its memory as current
/// for lookups, and loads again before each write.
impl Persistence for KeyringPersistence {
    fn load(&self) -> Result<Option<Blob>> {
        match self.entry()?.get_password() {
            Ok(blob) => Ok(Some(Zeroizing::new(blob))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(unreachable_store(&error)),
        }
    }

    fn update(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<Stamp>> {
        let _one_at_a_time = lock(&self.updating);
        let load = || self.load();
        let Some(next) = change(&Stored::new(None, &load))? else {
            return Ok(None);
        };
        self.entry()?.set_password(&next).map_err(|error| match error {
            keyring::Error::TooLong(..) => cache_error(format!(
                "the cache ({} bytes) is larger than the OS keystore accepts; keep it in a file instead (FilePersistence)",
                next.len()
            )),
            other => unreachable_store(&other),
        })?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_keystore_or_says_none_is_reachable() {
        let store =
            KeyringPersistence::new("tokenhop-test", format!("cache-{}", std::process::id()));
        let blob = r#"{"AccessToken": {}}"#.to_owned();
        match store.update(&mut |_| Ok(Some(Zeroizing::new(blob.clone())))) {
            Ok(_) => {
                assert_eq!(store.load().unwrap().as_deref(), Some(&blob));
                eprintln!("an OS keystore is reachable here: round trip checked");
                let _ = store.entry().unwrap().delete_credential();
            }
            Err(error) => {
                let text = error.to_string();
                eprintln!("no OS keystore here: {text}");
                assert!(
                    text.contains("keystore") && text.contains("file"),
                    "the error says what failed and what to do: {text}"
                );
            }
        }
    }

    #[test]
    fn the_mock_store_round_trips_and_merges() {
        keyring::set_default_credential_builder(keyring::mock::default_credential_builder());
        let store = KeyringPersistence::default();
        assert_eq!(store.load().unwrap(), None);
        store
            .update(&mut |old| {
                assert_eq!(old.load().unwrap(), None);
                Ok(Some(Zeroizing::new("first".into())))
            })
            .unwrap();
        store
            .update(&mut |old| {
                let old = old.load().unwrap().unwrap();
                Ok(Some(Zeroizing::new(format!("{}+second", old.as_str()))))
            })
            .unwrap();
        assert_eq!(
            store.load().unwrap().as_deref().map(String::as_str),
            Some("first+second")
        );
    }
}
