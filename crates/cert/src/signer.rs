//! The [`Signer`] trait, and [`RsaKeySigner`] for keys held in memory.

use std::fmt;

use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer as _};
use sha2::Sha256;

use crate::CertError;

/// The JWS algorithms a client assertion can be signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, salt length 32).
    Ps256,
}

impl SigningAlgorithm {
    /// The JWS `alg` name.
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }
}

/// Signs bytes with a private key the caller may never see: an in-memory key, an HSM,
/// or an OS key store. Implementations report the algorithms they can use.
pub trait Signer: Send + Sync {
    /// The algorithms this signer supports.
    fn algorithms(&self) -> &[SigningAlgorithm];

    /// Signs `message` with `algorithm`; a key store that cannot find its key answers
    /// [`CertError::CertNotFound`], any other failure [`CertError::Signing`].
    fn sign(&self, algorithm: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, CertError>;
}

/// A [`Signer`] over an RSA private key in memory.
#[derive(Clone)]
pub struct RsaKeySigner {
    key: rsa::PrivateKey,
}

impl RsaKeySigner {
    /// Signs with `key`.
    pub fn new(key: rsa::PrivateKey) -> Self {
        Self { key }
    }

    /// The matching public key.
    pub fn public_key(&self) -> rsa::PublicKey {
        self.key.to_public_key()
    }
}

impl fmt::Debug for RsaKeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaKeySigner([redacted])")
    }
}

impl Signer for RsaKeySigner {
    fn algorithms(&self) -> &[SigningAlgorithm] {
        &[SigningAlgorithm::Ps256, SigningAlgorithm::Rs256]
    }

    fn sign(&self, algorithm: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, CertError> {
        let failed = |e: rsa::signature::Error| CertError::Signing {
            reason: e.to_string(),
        };
        match algorithm {
            SigningAlgorithm::Rs256 => {
                let key = rsa::pkcs1v15::SigningKey::<Sha256>::new(self.key.clone());
                Ok(key.try_sign(message).map_err(failed)?.to_vec())
            }
            SigningAlgorithm::Ps256 => {
                let key = rsa::pss::SigningKey::<Sha256>::new(self.key.clone());
                let mut rng = getrandom::SysRng;
                Ok(key
                    .try_sign_with_rng(&mut rng, message)
                    .map_err(failed)?
                    .to_vec())
            }
        }
    }
}
