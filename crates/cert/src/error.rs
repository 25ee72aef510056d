//! [`CertError`]: what can go wrong loading certificates, signing and building assertions.

/// Errors from this crate. No message contains a password, a key or an assertion.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A certificate or key could not be found (a path, a thumbprint in a key store…).
    #[error("certificate not found: {what}; check the path or thumbprint")]
    CertNotFound {
        /// What was looked for.
        what: String,
    },
    /// The signer could not sign.
    #[error("signing failed: {reason}")]
    Signing {
        /// Why.
        reason: String,
    },
    /// The input is not a certificate or key this crate can read.
    #[error("cannot read {what}: {reason}")]
    Malformed {
        /// What was being read (e.g. "PEM", "PFX", "certificate").
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is encrypted and the password is wrong (or missing).
    #[error("the password for the {what} is wrong or missing")]
    WrongPassword {
        /// What the password was for ("PFX file", "encrypted private key").
        what: &'static str,
    },
    /// The private key does not belong to the certificate.
    #[error(
        "the private key does not match the certificate's public key (certificate {subject}); check that the key and certificate files belong together"
    )]
    KeyMismatch {
        /// The certificate's subject.
        subject: String,
    },
    /// A setting is invalid (lifetime, key size, subject…).
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl CertError {
    pub(crate) fn malformed(what: &'static str, reason: impl ToString) -> Self {
        Self::Malformed {
            what,
            reason: reason.to_string(),
        }
    }
}
