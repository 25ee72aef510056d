//! Certificate thumbprints: SHA-1 and SHA-256 of the DER encoding.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A digest of a certificate's DER bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Thumbprint(Vec<u8>);

impl Thumbprint {
    /// SHA-1 of `der` (the `x5t` header value, and what Windows shows).
    pub fn sha1(der: &[u8]) -> Self {
        Self(Sha1::digest(der).to_vec())
    }

    /// SHA-256 of `der` (the `x5t#S256` header value).
    pub fn sha256(der: &[u8]) -> Self {
        Self(Sha256::digest(der).to_vec())
    }

    /// Upper-case hex, no separators (as Azure shows thumbprints).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// Unpadded base64url: the form JWT headers carry.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({})", self.to_hex())
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The `x5t#S256` value of a DER certificate: unpadded base64url of its SHA-256.
pub fn compute_cert_thumbprint(der: &[u8]) -> String {
    Thumbprint::sha256(der).to_base64url()
}
