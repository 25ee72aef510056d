//! Values at rest: MSAL's JSON as it is, or sealed with AES-256-GCM.
//!
//! A sealed value is `tokenhop-redis-aes256gcm v1 {key id}` on the first line, then the
//! base64 of a random 96-bit nonce followed by the ciphertext and its tag. The first
//! line and the Redis key are the associated data, so a value copied under another key
//! does not open. The key id says which key sealed it: after a rotation, values sealed
//! with the old key open with it (listed as a decryption key) until rewritten.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokenhop_cache::Blob;
use tokenhop_core::{Error, Result};
use zeroize::Zeroizing;

use crate::settings::EncryptionKey;

const HEADER: &str = "tokenhop-redis-aes256gcm v1";
const NONCE_LEN: usize = 12;

/// The keys values are sealed and opened with.
#[derive(Clone, Debug, Default)]
pub(crate) struct Keys {
    /// Seals new values; `None`: values are MSAL's JSON.
    current: Option<EncryptionKey>,
    /// Opens values: the current key and the older ones.
    known: Vec<EncryptionKey>,
}

impl Keys {
    pub(crate) fn new(current: Option<EncryptionKey>, older: Vec<EncryptionKey>) -> Self {
        let known = current.iter().cloned().chain(older).collect();
        Self { current, known }
    }

    /// The value to store under `redis_key` for the cache text `plain`.
    pub(crate) fn seal(&self, redis_key: &str, plain: &str) -> Result<Vec<u8>> {
        let Some(key) = &self.current else {
            return Ok(plain.as_bytes().to_vec());
        };
        let first_line = format!("{HEADER} {}", key.id());
        let nonce = Nonce::try_generate()
            .map_err(|e| cache_error(format!("no random bytes for a nonce: {e}")))?;
        let aad = associated_data(&first_line, redis_key);
        let sealed = cipher(key)
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| cache_error("the token cache partition could not be encrypted"))?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        Ok(format!("{first_line}\n{}", STANDARD.encode(body)).into_bytes())
    }

    /// The cache text of the value stored under `redis_key`.
    ///
    /// A sealed value that no configured key opens is an error that says which key
    /// sealed it; anything else is taken as the cache's text (a value written before
    /// encryption was turned on is read, and sealed when next written; one that is not a
    /// cache at all is ignored, with a warning, by the cache that loads it).
    pub(crate) fn open(&self, redis_key: &str, stored: Vec<u8>) -> Result<Blob> {
        let stored = Zeroizing::new(stored);
        let Some(rest) = stored.strip_prefix(HEADER.as_bytes()) else {
            if self.current.is_some() {
                tracing::debug!(
                    key = redis_key,
                    "a token cache partition in Redis is not encrypted; it will be when next written"
                );
            }
            return Ok(Blob::new(String::from_utf8_lossy(&stored).into_owned()));
        };
        let text = std::str::from_utf8(rest).map_err(|_| self.corrupt(redis_key, "?"))?;
        let (id_line, body) = text.split_once('\n').unwrap_or((text, ""));
        let id = id_line.trim();
        let Some(key) = self.known.iter().find(|k| k.id() == id) else {
            return Err(self.unknown_key(redis_key, id));
        };
        let body = Zeroizing::new(
            STANDARD
                .decode(body.trim())
                .map_err(|_| self.corrupt(redis_key, id))?,
        );
        if body.len() < NONCE_LEN {
            return Err(self.corrupt(redis_key, id));
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| self.corrupt(redis_key, id))?;
        let aad = associated_data(&format!("{HEADER} {id}"), redis_key);
        let plain = Zeroizing::new(
            cipher(key)
                .decrypt(
                    &nonce,
                    Payload {
                        msg: sealed,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| self.corrupt(redis_key, id))?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| self.corrupt(redis_key, id))?;
        Ok(Blob::new(text.to_owned()))
    }

    fn unknown_key(&self, redis_key: &str, id: &str) -> Error {
        let configured = match self.known.is_empty() {
            true => "no key is configured".to_owned(),
            false => format!(
                "the configured keys are {}",
                self.known
                    .iter()
                    .map(|k| k.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        cache_error(format!(
            "the token cache partition {redis_key} in Redis is encrypted with the key whose id is {id}, and {configured}: set cache.redis.encryption_key to that key (or list it under decryption_keys after a rotation), or delete the partition to start over"
        ))
    }

    fn corrupt(&self, redis_key: &str, id: &str) -> Error {
        cache_error(format!(
            "the token cache partition {redis_key} in Redis does not open with the key whose id is {id}: it was changed or damaged; delete it to start over"
        ))
    }
}

fn cipher(key: &EncryptionKey) -> Aes256Gcm {
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key.bytes()))
}

fn associated_data(first_line: &str, redis_key: &str) -> String {
    format!("{first_line}\n{redis_key}")
}

pub(crate) fn cache_error(message: impl Into<String>) -> Error {
    Error::Cache {
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_bytes([byte; 32])
    }

    #[test]
    fn sealed_values_open_with_their_key_under_their_redis_key_only() {
        let keys = Keys::new(Some(key(1)), Vec::new());
        let sealed = keys.seal("p:{a}", r#"{"AccessToken":{}}"#).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("AccessToken"));
        let opened = keys.open("p:{a}", sealed.clone()).unwrap();
        assert_eq!(opened.as_str(), r#"{"AccessToken":{}}"#);
        let moved = keys.open("p:{b}", sealed).unwrap_err().to_string();
        assert!(moved.contains("does not open"), "{moved}");
    }

    #[test]
    fn a_rotated_key_still_opens_old_values_and_an_unknown_one_is_named() {
        let old = Keys::new(Some(key(1)), Vec::new());
        let sealed = old.seal("k", "{}").unwrap();
        let rotated = Keys::new(Some(key(2)), vec![key(1)]);
        assert_eq!(rotated.open("k", sealed.clone()).unwrap().as_str(), "{}");
        let wrong = Keys::new(Some(key(3)), Vec::new());
        let error = wrong.open("k", sealed.clone()).unwrap_err().to_string();
        assert!(
            error.contains(key(1).id()) && error.contains(key(3).id()),
            "{error}"
        );
        let none = Keys::default().open("k", sealed).unwrap_err().to_string();
        assert!(none.contains("no key is configured"), "{none}");
    }

    #[test]
    fn plain_values_pass_through() {
        let keys = Keys::new(Some(key(1)), Vec::new());
        assert_eq!(keys.open("k", b"{}".to_vec()).unwrap().as_str(), "{}");
        assert_eq!(Keys::default().seal("k", "{}").unwrap(), b"{}");
    }
}
