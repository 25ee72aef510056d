//! What the peer process (`tokenhop-cache-peer`) and the tests that start it share.

use sha2::Digest;

/// A token's SHA-256, first 16 hex digits: tells tokens apart without showing one.
pub fn digest(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The environment variable with the lock wait the peer gives its cache, in
/// milliseconds (the cache's default when unset).
pub const LOCK_TIMEOUT_MS: &str = "TOKENHOP_TEST_LOCK_TIMEOUT_MS";
