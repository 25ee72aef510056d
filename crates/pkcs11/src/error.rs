//! [`Pkcs11Error`]: what can go wrong between tokenhop and a PKCS#11 token. No message
//! ever holds the PIN: the PIN is only read into the login call.

use std::path::PathBuf;

use cryptoki::error::{Error as CryptokiError, RvError};
use tokenhop_cert::CertError;

/// Errors from this crate; each says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// The PKCS#11 URI is malformed or asks for something this crate refuses.
    #[error("invalid PKCS#11 URI: {reason}")]
    InvalidUri {
        /// What is wrong (never the URI itself: it might hold a PIN).
        reason: String,
    },
    /// The module (the vendor's PKCS#11 library) cannot be loaded or initialized.
    #[error(
        "cannot load the PKCS#11 module {}: {reason}; check the path and that it is a PKCS#11 library for this machine's architecture",
        module.display()
    )]
    ModuleLoad {
        /// The module's path.
        module: PathBuf,
        /// Why.
        reason: String,
    },
    /// The module answered a call with an error this crate has no better name for.
    #[error(
        "the PKCS#11 module failed: {function} returned {code}; check the module's own log and the token"
    )]
    Module {
        /// The PKCS#11 function (`Sign`, `OpenSession`, …).
        function: String,
        /// The `CKR_` code.
        code: String,
    },
    /// No token present matches the URI.
    #[error("no PKCS#11 token matches {wanted}; tokens present: {present}")]
    TokenNotFound {
        /// The URI's token attributes.
        wanted: String,
        /// The labels of the tokens present (or "none").
        present: String,
    },
    /// More than one token matches the URI.
    #[error(
        "{count} PKCS#11 tokens match {wanted}; add `token=`, `serial=` or `slot-id=` to the URI"
    )]
    AmbiguousToken {
        /// The URI's token attributes.
        wanted: String,
        /// How many match.
        count: usize,
    },
    /// The PIN could not be read from its source.
    #[error("cannot read the PKCS#11 PIN from {pin_source}: {reason}")]
    PinUnavailable {
        /// Where it was looked for (a variable's name, a path).
        pin_source: String,
        /// Why.
        reason: String,
    },
    /// The token refused the PIN.
    #[error(
        "the PKCS#11 token {token} refused the PIN from {pin_source} (CKR_PIN_INCORRECT); check the PIN, and mind the token's retry limit"
    )]
    PinIncorrect {
        /// The token's label.
        token: String,
        /// Where the PIN came from.
        pin_source: String,
    },
    /// The token's user PIN is locked (too many wrong PINs) or expired.
    #[error(
        "the PIN of PKCS#11 token {token} is {state}; unlock or reset it with the security officer PIN"
    )]
    PinLocked {
        /// The token's label.
        token: String,
        /// "locked" or "expired".
        state: &'static str,
    },
    /// No private key on the token matches the URI.
    #[error(
        "no private key {wanted} on PKCS#11 token {token}; check the URI's `object`/`id` (list the token's objects with the vendor's tool, logged in)"
    )]
    KeyNotFound {
        /// The token's label.
        token: String,
        /// The URI's object attributes.
        wanted: String,
    },
    /// More than one private key matches the URI.
    #[error("{count} private keys match {wanted} on PKCS#11 token {token}; add `id=` to the URI")]
    AmbiguousKey {
        /// The token's label.
        token: String,
        /// The URI's object attributes.
        wanted: String,
        /// How many match.
        count: usize,
    },
    /// The key cannot sign client assertions (not RSA, not for signing, a PIN per
    /// signature, or the token lacks the mechanisms).
    #[error("the key {wanted} on PKCS#11 token {token} cannot sign client assertions: {reason}")]
    UnsupportedKey {
        /// The token's label.
        token: String,
        /// The URI's object attributes.
        wanted: String,
        /// Why.
        reason: String,
    },
    /// The token holds no certificate for the key.
    #[error(
        "PKCS#11 token {token} holds no certificate with the key's id (CKA_ID {id}); store one there or give the certificate as a file"
    )]
    CertificateNotFound {
        /// The token's label.
        token: String,
        /// The key's id, hex.
        id: String,
    },
    /// The token holds several certificates for the key.
    #[error(
        "PKCS#11 token {token} holds {count} certificates with the key's id (CKA_ID {id}); delete the old ones or give the certificate as a file"
    )]
    AmbiguousCertificate {
        /// The token's label.
        token: String,
        /// The key's id, hex.
        id: String,
        /// How many.
        count: usize,
    },
    /// The certificate is not the key's.
    #[error(
        "the certificate {subject} does not carry the public key of the PKCS#11 key {wanted}; check that the certificate belongs to the key"
    )]
    KeyMismatch {
        /// The certificate's subject.
        subject: String,
        /// The URI's object attributes.
        wanted: String,
    },
    /// The token went away while in use: removed, deleted, or its module lost it.
    #[error(
        "PKCS#11 token {token} is gone ({code}): it was removed or deleted, or its module lost it; reconnect it and open the key again"
    )]
    TokenRemoved {
        /// The token's label.
        token: String,
        /// The `CKR_` code the module answered.
        code: String,
    },
    /// Every session the token allows was busy for longer than the wait.
    #[error(
        "PKCS#11 token {token} had no free session for {waited_secs} s (it allows no more); sign less concurrently"
    )]
    Busy {
        /// The token's label.
        token: String,
        /// How long it waited.
        waited_secs: u64,
    },
    /// A certificate (from the token or a file) cannot be read.
    #[error(transparent)]
    Certificate(#[from] CertError),
}

impl Pkcs11Error {
    /// A failed call on `token`, named by what it means where that is known.
    pub(crate) fn from_call(token: &str, error: CryptokiError) -> Self {
        match error {
            CryptokiError::Pkcs11(rv, function) => match rv {
                RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::SlotIdInvalid
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::UserNotLoggedIn
                | RvError::CryptokiNotInitialized => Self::TokenRemoved {
                    token: token.to_owned(),
                    code: ckr(rv),
                },
                RvError::PinLocked => Self::PinLocked {
                    token: token.to_owned(),
                    state: "locked",
                },
                RvError::PinExpired => Self::PinLocked {
                    token: token.to_owned(),
                    state: "expired",
                },
                rv => Self::Module {
                    function: format!("C_{function:?}"),
                    code: ckr(rv),
                },
            },
            other => Self::Module {
                function: "(the cryptoki wrapper)".into(),
                code: other.to_string(),
            },
        }
    }

    /// Whether the session that saw this error is no use any more.
    pub(crate) fn ends_session(&self) -> bool {
        matches!(self, Self::TokenRemoved { .. } | Self::Module { .. })
    }
}

/// `CKR_DEVICE_REMOVED` for `RvError::DeviceRemoved`.
fn ckr(rv: RvError) -> String {
    let name = format!("{rv:?}");
    let mut code = String::from("CKR");
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            code.push('_');
        }
        code.push(c.to_ascii_uppercase());
    }
    code
}

/// What the `Signer` trait reports: a key store that lost its key answers
/// "not found", anything else "signing failed"; both keep this crate's message.
impl From<Pkcs11Error> for CertError {
    fn from(error: Pkcs11Error) -> Self {
        match error {
            Pkcs11Error::Certificate(inner) => inner,
            gone @ (Pkcs11Error::TokenRemoved { .. } | Pkcs11Error::KeyNotFound { .. }) => {
                CertError::CertNotFound {
                    what: gone.to_string(),
                }
            }
            other => CertError::Signing {
                reason: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_values_print_as_their_ckr_names() {
        assert_eq!(ckr(RvError::DeviceRemoved), "CKR_DEVICE_REMOVED");
        assert_eq!(ckr(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(ckr(RvError::GeneralError), "CKR_GENERAL_ERROR");
    }
}
