//! Random values for the authorization code flow: the PKCE verifier and challenge
//! (RFC 7636, S256), `state` and `nonce`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokenhop_core::{Error, Result, Secret};

/// A PKCE pair: the verifier stays here, the challenge goes to the authorize endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Pkce {
    /// Sent with the code redemption.
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`, sent with `code_challenge_method=S256`.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair from 32 random bytes.
    pub(crate) fn generate() -> Result<Self> {
        let verifier = random_token(32)?;
        let challenge = challenge_for(verifier.expose_secret());
        Ok(Self {
            verifier,
            challenge,
        })
    }
}

/// The S256 challenge for a verifier.
fn challenge_for(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `bytes` random bytes from the OS, base64url-encoded: for verifiers, `state` and `nonce`.
pub(crate) fn random_token(bytes: usize) -> Result<Secret> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| {
        Error::configuration(format!("the operating system gave no random bytes: {e}"))
    })?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(&buffer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        assert_eq!(
            challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_long_enough_and_differ() {
        let a = Pkce::generate().unwrap();
        let b = Pkce::generate().unwrap();
        assert_eq!(a.verifier.expose_secret().len(), 43);
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.challenge, challenge_for(a.verifier.expose_secret()));
    }
}
