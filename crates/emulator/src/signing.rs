//! The emulator's token signing key and its JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use crate::error::EmulatorError;

/// An RS256 key with a `kid`.
pub(crate) struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
    jwk: Value,
}

impl SigningKey {
    pub(crate) fn generate() -> Result<Self, EmulatorError> {
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
            .map_err(|e| EmulatorError::Startup(format!("cannot generate the signing key: {e}")))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| EmulatorError::Startup(format!("cannot encode the signing key: {e}")))?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        let public = key.to_public_key();
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });
        let decoding = jsonwebtoken::DecodingKey::from_rsa_raw_components(
            &public.n().to_bytes_be(),
            &public.e().to_bytes_be(),
        );
        Ok(Self {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding,
            jwk,
        })
    }

    pub(crate) fn sign(&self, claims: &Value) -> Result<String, EmulatorError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| EmulatorError::Signing(e.to_string()))
    }

    /// The claims of a token this key signed for `audience`, if it verifies and has not
    /// expired at `now` (the emulator's clock).
    pub(crate) fn verify(&self, token: &str, audience: &str, now: u64) -> Option<Value> {
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&[audience]);
        // Expiry is checked against the emulator's clock below, not the wall clock.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        (claims["exp"].as_u64()? > now).then_some(claims)
    }

    /// The claims of a token this key signed, whatever its audience or expiry: the
    /// signature is all it checks.
    pub(crate) fn verify_signature_only(&self, token: &str) -> Option<Value> {
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }

    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }
}
