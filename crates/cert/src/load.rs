//! [`ClientCertificate`]: a certificate chain and the signer for its key, loaded from
//! PEM (certificate chain, PKCS#8, PKCS#1, encrypted PKCS#8) or PFX/PKCS#12 (AES/PBES2
//! and legacy 3DES/RC2), with the key checked against the certificate at load time.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use der::Decode;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;

use crate::{CertError, Certificate, RsaKeySigner, Signer};

/// A certificate chain (leaf first) and a signer for the leaf's key.
#[derive(Clone)]
pub struct ClientCertificate {
    chain: Vec<Certificate>,
    signer: Arc<dyn Signer>,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads a file: PEM when it starts with `-----BEGIN`, otherwise PFX/PKCS#12.
    pub fn from_file(path: impl AsRef<Path>, password: Option<&str>) -> Result<Self, CertError> {
        Self::from_bytes(&crate::certificate::read_file(path.as_ref())?, password)
    }

    /// PEM or PFX bytes, told apart by content.
    pub fn from_bytes(bytes: &[u8], password: Option<&str>) -> Result<Self, CertError> {
        if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            Self::from_pem(bytes, password)
        } else {
            Self::from_pfx(bytes, password.unwrap_or(""))
        }
    }

    /// PEM holding the certificate chain and one RSA private key, in any order.
    /// `password` decrypts an `ENCRYPTED PRIVATE KEY`.
    pub fn from_pem(pem_bytes: &[u8], password: Option<&str>) -> Result<Self, CertError> {
        let blocks = pem::parse_many(pem_bytes).map_err(|e| CertError::malformed("PEM", e))?;
        let mut certificates = Vec::new();
        let mut key = None;
        for block in &blocks {
            match block.tag() {
                "CERTIFICATE" => certificates.push(Certificate::from_der(block.contents())?),
                "PRIVATE KEY" | "RSA PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" if key.is_some() => {
                    return Err(CertError::malformed(
                        "PEM",
                        "it holds more than one private key",
                    ));
                }
                "PRIVATE KEY" => key = Some(pkcs8_key(block.contents())?),
                "RSA PRIVATE KEY" => {
                    if block.headers().get("Proc-Type").is_some() {
                        return Err(CertError::malformed(
                            "PEM",
                            "legacy OpenSSL-encrypted RSA keys are not supported; convert with `openssl pkcs8 -topk8`",
                        ));
                    }
                    key = Some(
                        rsa::PrivateKey::from_pkcs1_der(block.contents())
                            .map_err(|e| CertError::malformed("PKCS#1 key", e))?,
                    );
                }
                "ENCRYPTED PRIVATE KEY" => {
                    let password = password.ok_or(CertError::WrongPassword {
                        what: "encrypted private key",
                    })?;
                    key = Some(encrypted_pkcs8_key(block.contents(), password)?);
                }
                _ => {}
            }
        }
        let key = key.ok_or_else(|| {
            CertError::malformed(
                "PEM",
                "it holds no private key (PRIVATE KEY, RSA PRIVATE KEY or ENCRYPTED PRIVATE KEY)",
            )
        })?;
        Self::from_key(certificates, key)
    }

    /// A PFX/PKCS#12 file.
    pub fn from_pfx(der: &[u8], password: &str) -> Result<Self, CertError> {
        use p12_keystore::{KeyStore, Pkcs12ImportPolicy, error::Error as P12Error};
        let store = KeyStore::from_pkcs12(der, password, Pkcs12ImportPolicy::Relaxed).map_err(
            |e| match e {
                P12Error::MacError(_) => CertError::WrongPassword { what: "PFX file" },
                other => CertError::malformed("PFX", other),
            },
        )?;
        let (_, chain) = store.private_key_chain().ok_or_else(|| {
            CertError::malformed("PFX", "it holds no private key with certificates")
        })?;
        let key = pkcs8_key(chain.key().as_der())?;
        let certificates = chain
            .certs()
            .iter()
            .map(|c| Certificate::from_der(c.as_der()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_key(certificates, key)
    }

    /// A chain whose key lives elsewhere (an HSM, an OS key store): `signer` signs for
    /// the first certificate. The key cannot be checked against it here.
    pub fn with_signer(
        chain: Vec<Certificate>,
        signer: Arc<dyn Signer>,
    ) -> Result<Self, CertError> {
        if chain.is_empty() {
            return Err(CertError::Invalid(
                "a client certificate needs at least one certificate".into(),
            ));
        }
        Ok(Self { chain, signer })
    }

    fn from_key(
        mut certificates: Vec<Certificate>,
        key: rsa::PrivateKey,
    ) -> Result<Self, CertError> {
        let public = key.to_public_key();
        let leaf = certificates
            .iter()
            .position(|c| c.rsa_public_key().is_ok_and(|p| p == public))
            .ok_or_else(|| match certificates.first() {
                Some(first) => CertError::KeyMismatch {
                    subject: first.subject(),
                },
                None => CertError::malformed("PEM", "it holds a private key but no certificate"),
            })?;
        certificates.swap(0, leaf);
        Ok(Self {
            chain: certificates,
            signer: Arc::new(RsaKeySigner::new(key)),
        })
    }

    /// The leaf certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.chain[0]
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The signer for the leaf's key.
    pub fn signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }
}

fn pkcs8_key(der: &[u8]) -> Result<rsa::PrivateKey, CertError> {
    rsa::PrivateKey::from_pkcs8_der(der).map_err(|e| {
        CertError::malformed("PKCS#8 key", format!("{e} (only RSA keys are supported)"))
    })
}

fn encrypted_pkcs8_key(der: &[u8], password: &str) -> Result<rsa::PrivateKey, CertError> {
    // A structure that parses but does not decrypt means the password is wrong.
    pkcs8::EncryptedPrivateKeyInfoRef::from_der(der)
        .map_err(|e| CertError::malformed("encrypted private key", e))?;
    rsa::PrivateKey::from_pkcs8_encrypted_der(der, password).map_err(|_| CertError::WrongPassword {
        what: "encrypted private key",
    })
}
