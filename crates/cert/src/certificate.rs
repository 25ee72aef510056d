//! [`Certificate`]: one parsed X.509 certificate with its DER bytes.

use std::fmt;

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
