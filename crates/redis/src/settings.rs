//! [`RedisSettings`]: where the cache is and how it behaves; [`EncryptionKey`]: the
//! AES-256-GCM key values are sealed with.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use tokenhop_core::{Error, Result};
use zeroize::Zeroizing;

/// The prefix of every key the cache writes unless told otherwise.
pub const DEFAULT_PREFIX: &str = "tokenhop:";
/// How long a lease lives without its holder renewing it: the longest a crashed
/// holder delays the others.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);
/// The bound on every Redis call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// Where a Redis token cache is and how it behaves.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port/db` or `rediss://…` (TLS). With
    /// [`RedisSettings::cluster`], a seed node of the cluster.
    pub url: String,
    /// Put before every key (default [`DEFAULT_PREFIX`]); no `{` or `}`.
    pub prefix: String,
    /// Seals every value written (AES-256-GCM); `None` writes MSAL's JSON as it is.
    pub encryption_key: Option<EncryptionKey>,
    /// Older keys that values written before a rotation are still opened with.
    pub decryption_keys: Vec<EncryptionKey>,
    /// How long a lease lives without its holder renewing it (default
    /// [`DEFAULT_LEASE`]).
    pub lease: Duration,
    /// The bound on every Redis call (default [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// A Redis Cluster: `url` is one of its nodes.
    pub cluster: bool,
    /// A CA certificate (PEM) to trust for `rediss://`, besides the system's.
    pub ca_cert: Option<Vec<u8>>,
}

impl RedisSettings {
    /// The defaults for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            encryption_key: None,
            decryption_keys: Vec::new(),
            lease: DEFAULT_LEASE,
            timeout: DEFAULT_TIMEOUT,
            cluster: false,
            ca_cert: None,
        }
    }

    /// Puts `prefix` before every key.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Seals values with `key`.
    pub fn with_encryption_key(mut self, key: EncryptionKey) -> Self {
        self.encryption_key = Some(key);
        self
    }

    /// Also opens values sealed with `key` (a key rotated out).
    pub fn with_decryption_key(mut self, key: EncryptionKey) -> Self {
        self.decryption_keys.push(key);
        self
    }

    /// Leases live `lease` without renewal.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Bounds every Redis call by `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Talks to a Redis Cluster whose node `url` is.
    pub fn with_cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// Trusts `pem` (a CA certificate) for `rediss://`.
    pub fn with_ca_cert(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_cert = Some(pem.into());
        self
    }

    /// The URL with any password hidden, for messages.
    pub fn shown_url(&self) -> String {
        shown_url(&self.url)
    }

    /// Checks what can be checked without I/O.
    pub(crate) fn validate(&self) -> Result<()> {
        let scheme = self.url.split("://").next().unwrap_or_default();
        if !matches!(scheme, "redis" | "rediss") || !self.url.contains("://") {
            return Err(Error::configuration(format!(
                "the Redis cache URL {} must start with redis:// or rediss:// (TLS)",
                self.shown_url()
            )));
        }
        if self.prefix.contains(['{', '}']) {
            return Err(Error::configuration(format!(
                "the Redis cache prefix {:?} may not hold {{ or }}: the cache puts each partition's name in braces (a Redis Cluster hash tag)",
                self.prefix
            )));
        }
        if self.lease < Duration::from_millis(100) {
            return Err(Error::configuration(format!(
                "the Redis cache lease of {} ms is too short: give at least 100 ms (longer than a token request takes)",
                self.lease.as_millis()
            )));
        }
        if self.timeout.is_zero() {
            return Err(Error::configuration(
                "the Redis cache timeout must be more than 0 ms",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.shown_url())
            .field("prefix", &self.prefix)
            .field("encryption_key", &self.encryption_key)
            .field("decryption_keys", &self.decryption_keys)
            .field("lease", &self.lease)
            .field("timeout", &self.timeout)
            .field("cluster", &self.cluster)
            .field("ca_cert", &self.ca_cert.as_ref().map(|_| "PEM"))
            .finish()
    }
}

/// `url` with the password of its user part replaced by `***`.
pub(crate) fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Up to the last `@`, not the first `/`: a password may hold `/` (base64 ones do),
    // and what follows the host never holds an `@` of its own.
    match rest.rsplit_once('@') {
        Some((user, host_and_path)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host_and_path}")
        }
        None => url.to_owned(),
    }
}

/// A 256-bit AES-GCM key. Its id — the first 16 hex digits of a SHA-256 of it — is
/// written with each value, so that the key can rotate: values say which key sealed
/// them. `Debug` shows the id, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey {
    key: Zeroizing<[u8; 32]>,
    id: String,
}

impl EncryptionKey {
    /// A key from its text: 32 bytes as base64 (standard or URL-safe, padded or not) or
    /// as 64 hex digits (what `openssl rand -base64 32` or `-hex 32` prints).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = Zeroizing::new(
            decode_hex(text)
                .or_else(|| STANDARD.decode(text).ok())
                .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
                .unwrap_or_default(),
        );
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::configuration(
                "the Redis cache encryption key must be 32 bytes, as base64 (44 characters) or hex (64 digits): make one with `openssl rand -base64 32`",
            )
        })?;
        Ok(Self::from_bytes(key))
    }

    /// A key from its bytes.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let key = Zeroizing::new(key);
        let digest = Sha256::new()
            .chain_update(b"tokenhop-redis key id\0")
            .chain_update(key.as_slice())
            .finalize();
        let id = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Self { key, id }
    }

    /// The key's id, as values name it.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey(id {})", self.id)
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            shown_url("redis://:hunter2@cache.internal:6380/2"),
            "redis://:***@cache.internal:6380/2"
        );
        assert_eq!(
            shown_url("rediss://app:hunter2@h:6379"),
            "rediss://app:***@h:6379"
        );
        assert_eq!(shown_url("redis://h:6379/0"), "redis://h:6379/0");
        // A base64 password with `/` in it.
        assert_eq!(
            shown_url("redis://:ab/cd+ef=@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        let settings = RedisSettings::new("redis://:hunter2@h/0");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_show_only_their_id() {
        let hex = "00".repeat(31) + "01";
        let from_hex = EncryptionKey::parse(&hex).unwrap();
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        let from_base64 = EncryptionKey::parse(&STANDARD.encode(bytes)).unwrap();
        assert_eq!(from_hex, from_base64);
        assert_eq!(from_hex.id().len(), 16);
        assert_eq!(
            format!("{from_hex:?}"),
            format!("EncryptionKey(id {})", from_hex.id())
        );
        let short = EncryptionKey::parse("c2hvcnQ=").unwrap_err().to_string();
        assert!(short.contains("32 bytes"), "{short}");
    }

    #[test]
    fn settings_are_checked_without_io() {
        assert!(RedisSettings::new("http://h").validate().is_err());
        assert!(
            RedisSettings::new("redis://h")
                .with_prefix("a{b")
                .validate()
                .is_err()
        );
        assert!(RedisSettings::new("rediss://h:6380/1").validate().is_ok());
    }
}
