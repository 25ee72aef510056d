//! [`EncryptedFilePersistence`]: the cache in a file encrypted at rest (AES-256-GCM),
//! with the key kept in the OS keystore. Where there is no keystore every operation
//! fails with an error saying so: it never falls back to plaintext.
//!
//! The file is `tokenhop-encrypted-cache v1` on the first line, then the base64 of a
//! random 96-bit nonce followed by the ciphertext and its tag (the first line is the
//! associated data). The key is 32 random bytes, base64 in the keystore entry, created
//! by the first save (under the file's lock, so two processes cannot create two keys).
//! Locking, stamps, atomic writes and the owner-only mode are [`FilePersistence`]'s.

use std::sync::Mutex;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokenhop_core::Result;
use zeroize::Zeroizing;

use crate::file::FilePersistence;
use crate::keyring::{KeystoreEntry, unreachable_store};
use crate::persist::{Blob, Persistence, Stored, cache_error, lock};
use crate::stamp::Stamp;

/// The first line of an encrypted cache file, authenticated with the ciphertext.
const HEADER: &str = "tokenhop-encrypted-cache v1";
const NONCE_LEN: usize = 12;

/// The cache in a file whose contents are encrypted with a key in the OS keystore.
///
/// Not readable by MSAL: use it for caches only tokenhop shares. The plaintext
/// [`FilePersistence`] stays the default and stays MSAL-compatible.
///
/// # Example
///
/// ```no_run
/// use tokenhop_cache::{EncryptedFilePersistence, FilePersistence, SharedTokenCache};
///
/// let file = FilePersistence::new("/var/lib/my-app/token_cache.bin");
/// let cache = SharedTokenCache::builder(EncryptedFilePersistence::new(file, "my-app", "cache-key"))
///     .build();
/// // With no OS keystore: "token cache error: no OS keystore is reachable (…)".
/// let count = cache.read(|c| c.len(tokenhop_cache::Section::AccessToken))?;
/// # Ok::<(), tokenhop_core::Error>(())
/// ```
#[derive(Debug)]
pub struct EncryptedFilePersistence {
    file: FilePersistence,
    entry: KeystoreEntry,
    /// The key once read from (or written to) the keystore.
    key: Mutex<Option<Zeroizing<[u8; 32]>>>,
}

impl EncryptedFilePersistence {
    /// The cache in `file`, encrypted with the key in the keystore entry named by
    /// `service` and `account` (created by the first save). Does no I/O.
    pub fn new(
        file: FilePersistence,
        service: impl Into<String>,
        account: impl Into<String>,
    ) -> Self {
        Self {
            file,
            entry: KeystoreEntry::new(service, account),
            key: Mutex::new(None),
        }
    }

    /// The key: from memory, else the keystore; with `create`, a new one is made and
    /// stored when the keystore has none (only under the file's lock).
    fn key(&self, create: bool) -> Result<Aes256Gcm> {
        let mut cached = lock(&self.key);
        if let Some(key) = cached.as_ref() {
            return Ok(Aes256Gcm::new(&Key::<Aes256Gcm>::from(**key)));
        }
        let entry = self.entry.get()?;
        let key = match entry.get_password() {
            Ok(encoded) => self.decode_key(&Zeroizing::new(encoded))?,
            Err(keyring::Error::NoEntry) if create => {
                let key = Key::<Aes256Gcm>::try_generate()
                    .map_err(|e| cache_error(format!("no random bytes for a cache key: {e}")))?;
                let key = Zeroizing::new(<[u8; 32]>::from(key));
                let encoded = Zeroizing::new(STANDARD.encode(*key));
                entry
                    .set_password(&encoded)
                    .map_err(|e| unreachable_store(&e))?;
                key
            }
            Err(keyring::Error::NoEntry) => {
                return Err(cache_error(format!(
                    "the key of the encrypted token cache {} is not in the OS keystore ({}), or no \
                     keystore is reachable: the file cannot be read; delete it to start over, or \
                     keep the cache in a plaintext file (FilePersistence)",
                    self.file.path().display(),
                    self.entry.name()
                )));
            }
            Err(other) => return Err(unreachable_store(&other)),
        };
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
        *cached = Some(key);
        Ok(cipher)
    }

    fn decode_key(&self, encoded: &str) -> Result<Zeroizing<[u8; 32]>> {
        let bytes = Zeroizing::new(STANDARD.decode(encoded.trim()).unwrap_or_default());
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            cache_error(format!(
                "the keystore entry {} does not hold a token cache key (32 bytes, base64)",
                self.entry.name()
            ))
        })?;
        Ok(Zeroizing::new(key))
    }

    fn encrypt(&self, plain: &str) -> Result<Blob> {
        let cipher = self.key(true)?;
        let nonce = Nonce::try_generate()
            .map_err(|e| cache_error(format!("no random bytes for a nonce: {e}")))?;
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: HEADER.as_bytes(),
        };
        let sealed = cipher
            .encrypt(&nonce, payload)
            .map_err(|_| cache_error("encrypting the token cache failed"))?;
        let mut body = Vec::with_capacity(NONCE_LEN + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        Ok(Zeroizing::new(format!(
            "{HEADER}\n{}\n",
            STANDARD.encode(body)
        )))
    }

    fn decrypt(&self, stored: &str) -> Result<Blob> {
        let path = self.file.path().display();
        let body = stored
            .strip_prefix(HEADER)
            .and_then(|rest| rest.strip_prefix('\n'))
            .ok_or_else(|| {
                cache_error(format!(
                    "the token cache {path} is not an encrypted cache (plaintext, or another \
                     format); delete it, or read it with FilePersistence"
                ))
            })?;
        let body = STANDARD.decode(body.trim()).map_err(|e| {
            cache_error(format!("the encrypted token cache {path} is damaged: {e}"))
        })?;
        let (nonce, sealed) = body
            .split_at_checked(NONCE_LEN)
            .ok_or_else(|| cache_error(format!("the encrypted token cache {path} is cut short")))?;
        let nonce = Nonce::try_from(nonce)
            .map_err(|_| cache_error(format!("the encrypted token cache {path} is cut short")))?;
        let payload = Payload {
            msg: sealed,
            aad: HEADER.as_bytes(),
        };
        let plain = Zeroizing::new(self.key(false)?.decrypt(&nonce, payload).map_err(|_| {
            cache_error(format!(
                "the encrypted token cache {path} does not decrypt with the key in the keystore \
                 ({}): it was changed, or encrypted with another key; delete it to start over",
                self.entry.name()
            ))
        })?);
        let text = std::str::from_utf8(&plain)
            .map_err(|_| cache_error(format!("the encrypted token cache {path} is not text")))?;
        Ok(Zeroizing::new(text.to_owned()))
    }
}

impl Persistence for EncryptedFilePersistence {
    fn load(&self) -> Result<Option<Blob>> {
        self.file
            .load()?
            .map(|stored| self.decrypt(&stored))
            .transpose()
    }

    fn stamp(&self) -> Result<Option<Stamp>> {
        self.file.stamp()
    }

    fn update(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<Stamp>> {
        self.file.update(&mut |stored| {
            let load = || stored.load()?.map(|text| self.decrypt(&text)).transpose();
            change(&Stored::new(stored.stamp(), &load))?
                .map(|plain| self.encrypt(&plain))
                .transpose()
        })
    }

    fn quarantine(&self, reason: &str) {
        self.file.quarantine(reason);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use keyring::credential::{Credential, CredentialApi, CredentialBuilderApi};

    use super::*;
    use crate::SharedTokenCache;

    /// A keystore in memory whose entries outlive their `Entry` (keyring's mock keeps
    /// a password in the one `Entry` only), as an OS keystore's do.
    #[derive(Debug, Default)]
    struct SharedStore(Arc<Mutex<HashMap<(String, String), String>>>);

    #[derive(Debug)]
    struct SharedCredential {
        store: Arc<Mutex<HashMap<(String, String), String>>>,
        name: (String, String),
    }

    impl CredentialApi for SharedCredential {
        fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
            let text = String::from_utf8(secret.to_vec())
                .map_err(|_| keyring::Error::BadEncoding(secret.to_vec()))?;
            self.store.lock().unwrap().insert(self.name.clone(), text);
            Ok(())
        }

        fn get_secret(&self) -> keyring::Result<Vec<u8>> {
            self.store
                .lock()
                .unwrap()
                .get(&self.name)
                .map(|s| s.clone().into_bytes())
                .ok_or(keyring::Error::NoEntry)
        }

        fn delete_credential(&self) -> keyring::Result<()> {
            self.store.lock().unwrap().remove(&self.name);
            Ok(())
        }

        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    impl CredentialBuilderApi for SharedStore {
        fn build(
            &self,
            _target: Option<&str>,
            service: &str,
            user: &str,
        ) -> keyring::Result<Box<Credential>> {
            Ok(Box::new(SharedCredential {
                store: Arc::clone(&self.0),
                name: (service.to_owned(), user.to_owned()),
            }))
        }

        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    fn add_token(cache: &mut crate::TokenCache, secret: &str) {
        crate::test_support::app_token(cache, "c", secret, 3600, epoch_now());
    }

    fn epoch_now() -> u64 {
        tokenhop_core::epoch_seconds(std::time::SystemTime::now())
    }

    fn encrypted(path: &std::path::Path) -> SharedTokenCache {
        SharedTokenCache::builder(EncryptedFilePersistence::new(
            FilePersistence::new(path),
            "tokenhop-test",
            "cache-key",
        ))
        .build()
    }

    #[test]
    fn the_encrypted_file_round_trips_and_is_not_json() {
        keyring::set_default_credential_builder(Box::new(SharedStore::default()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.bin");
        encrypted(&path)
            .write(|c| add_token(c, "at-very-secret-value"))
            .unwrap();
        let stored = std::fs::read_to_string(&path).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&stored).is_err());
        assert!(stored.starts_with(HEADER), "{stored}");
        assert!(!stored.contains("at-very-secret-value"));
        assert!(!stored.contains("AccessToken"));
        // Another instance (another process, as far as it knows) reads it back with the
        // key from the keystore.
        let text = encrypted(&path).read(|c| c.to_json()).unwrap();
        assert!(text.contains("at-very-secret-value"), "{text}");

        // A changed byte is found out, not read as garbage.
        let mut damaged = stored.clone().into_bytes();
        let at = HEADER.len() + 20;
        damaged[at] = if damaged[at] == b'A' { b'B' } else { b'A' };
        std::fs::write(&path, damaged).unwrap();
        let error = EncryptedFilePersistence::new(
            FilePersistence::new(&path),
            "tokenhop-test",
            "cache-key",
        )
        .load()
        .unwrap_err()
        .to_string();
        assert!(error.contains("does not decrypt"), "{error}");
    }

    #[test]
    fn without_a_keystore_the_error_says_so_and_nothing_is_written_in_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.bin");
        let cache = encrypted(&path);
        let outcome = cache.write(|c| add_token(c, "at-plain"));
        match outcome {
            Ok(()) => {
                eprintln!("an OS keystore is reachable here: the encrypted save worked");
                let stored = std::fs::read_to_string(&path).unwrap();
                assert!(stored.starts_with(HEADER) && !stored.contains("at-plain"));
                let _ = keyring::Entry::new("tokenhop-test", "cache-key")
                    .and_then(|e| e.delete_credential());
            }
            Err(error) => {
                let text = error.to_string();
                eprintln!("no OS keystore here: {text}");
                assert!(text.contains("no OS keystore is reachable"), "{text}");
                assert!(!path.exists(), "nothing was written without encryption");
            }
        }
    }
}
