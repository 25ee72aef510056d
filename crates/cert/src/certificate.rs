//! [`Certificate`]: one parsed X.509 certificate with its DER bytes.

use std::fmt;
use std::path::Path;

use der::{Decode, Encode};
use rsa::pkcs8::DecodePublicKey;

use crate::{CertError, Thumbprint};

/// A parsed X.509 certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    parsed: x509_cert::Certificate,
}

impl Certificate {
    /// Parses DER bytes.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let parsed = x509_cert::Certificate::from_der(der)
            .map_err(|e| CertError::malformed("certificate", e))?;
        Ok(Self {
            der: der.to_vec(),
            parsed,
        })
    }

    /// A chain without its key (for a key that lives in an HSM or an OS key store):
    /// PEM holding one or more `CERTIFICATE` blocks, or one DER certificate.
    pub fn chain_from_bytes(bytes: &[u8]) -> Result<Vec<Self>, CertError> {
        if !bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            return Ok(vec![Self::from_der(bytes)?]);
        }
        let blocks = pem::parse_many(bytes).map_err(|e| CertError::malformed("PEM", e))?;
        let chain = blocks
            .iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(|block| Self::from_der(block.contents()))
            .collect::<Result<Vec<_>, _>>()?;
        if chain.is_empty() {
            return Err(CertError::malformed("PEM", "it holds no CERTIFICATE block"));
        }
        Ok(chain)
    }

    /// [`Certificate::chain_from_bytes`] of a file's contents.
    pub fn chain_from_file(path: impl AsRef<Path>) -> Result<Vec<Self>, CertError> {
        Self::chain_from_bytes(&read_file(path.as_ref())?)
    }

    pub(crate) fn from_parsed(parsed: x509_cert::Certificate) -> Result<Self, CertError> {
        let der = parsed
            .to_der()
            .map_err(|e| CertError::malformed("certificate", e))?;
        Ok(Self { der, parsed })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject, as an RFC 4514 string.
    pub fn subject(&self) -> String {
        self.parsed.tbs_certificate().subject().to_string()
    }

    /// The subject's DER encoding (what a PKCS#11 token stores as `CKA_SUBJECT`).
    pub fn subject_der(&self) -> Result<Vec<u8>, CertError> {
        self.parsed
            .tbs_certificate()
            .subject()
            .to_der()
            .map_err(|e| CertError::malformed("certificate", e))
    }

    /// SHA-1 thumbprint of the DER bytes.
    pub fn sha1_thumbprint(&self) -> Thumbprint {
        Thumbprint::sha1(&self.der)
    }

    /// SHA-256 thumbprint of the DER bytes.
    pub fn sha256_thumbprint(&self) -> Thumbprint {
        Thumbprint::sha256(&self.der)
    }

    /// The certificate's RSA public key.
    pub fn rsa_public_key(&self) -> Result<rsa::PublicKey, CertError> {
        let spki = self
            .parsed
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| CertError::malformed("certificate", e))?;
        rsa::PublicKey::from_public_key_der(&spki).map_err(|e| {
            CertError::malformed("certificate", format!("its public key is not RSA: {e}"))
        })
    }

    /// The PEM encoding.
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("CERTIFICATE", self.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject())
            .field("sha1", &self.sha1_thumbprint().to_hex())
            .finish()
    }
}

/// A certificate or key file's bytes; a file that cannot be read is "not found".
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|e| CertError::CertNotFound {
        what: format!("{}: {e}", path.display()),
    })
}
