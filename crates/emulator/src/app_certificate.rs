//! Certificates the emulator generates for apps that authenticate with one, and the
//! check of the client assertions they sign.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::Value;
use sha2::Digest;

use crate::entra_error::EntraError;
use crate::error::EmulatorError;

/// The longest assertion lifetime Entra accepts.
const MAX_ASSERTION_LIFETIME_SECS: u64 = 600;

/// A generated certificate and its key.
#[derive(Clone)]
pub struct AppCertificate {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: String,
    der: Vec<u8>,
    modulus: String,
    exponent: String,
}

impl std::fmt::Debug for AppCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCertificate")
            .field("sha256", &self.sha256())
            .finish_non_exhaustive()
    }
}

impl AppCertificate {
    pub(crate) fn generate(app_name: &str) -> Result<Self, EmulatorError> {
        let failed = |e: &dyn std::fmt::Display| {
            EmulatorError::Startup(format!("cannot make a certificate for {app_name}: {e}"))
        };
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| failed(&e))?;
        let key_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| failed(&e))?
            .to_string();
        let key_pair =
            rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256)
                .map_err(|e| failed(&e))?;
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| failed(&e))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("emulator {app_name}"));
        let certificate = params.self_signed(&key_pair).map_err(|e| failed(&e))?;
        let public = key.to_public_key();
        Ok(Self {
            certificate_pem: certificate.pem(),
            private_key_pem: key_pem,
            der: certificate.der().to_vec(),
            modulus: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            exponent: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }

    fn sha256(&self) -> String {
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&self.der))
    }

    fn sha1(&self) -> String {
        URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&self.der))
    }
}

/// Checks a client assertion from `client_id` for the token endpoint `audience`:
/// `x5t#S256` or `x5t` names the registered certificate, the signature (PS256 or
/// RS256) verifies, `iss` = `sub` = client id, `aud` = the token endpoint, the lifetime
/// is at most 10 minutes, and there is a `jti`. As Entra, the emulator accepts one
/// assertion again while it is valid: MSAL reuses each until it is 540 s old.
pub(crate) fn verify(
    certificate: &AppCertificate,
    client_id: &str,
    audience: &str,
    assertion: &str,
) -> Result<(), EntraError> {
    let invalid_signature = |why: &str| {
        EntraError::invalid_client(
            700027,
            format!("Client assertion failed signature validation. [Reason - {why}]"),
        )
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| EntraError::invalid_request(50027, "JWT token is invalid or malformed."))?;
    let algorithm = match header.alg {
        Algorithm::PS256 | Algorithm::RS256 => header.alg,
        other => {
            return Err(invalid_signature(&format!(
                "the algorithm {other:?} is not accepted"
            )));
        }
    };
    let unpadded = |s: &str| s.trim_end_matches('=').to_owned();
    let named = match (&header.x5t_s256, &header.x5t) {
        (Some(sha256), _) => unpadded(sha256) == certificate.sha256(),
        (None, Some(sha1)) => unpadded(sha1) == certificate.sha1(),
        (None, None) => false,
    };
    if !named {
        return Err(invalid_signature("The key was not found."));
    }
    let key = DecodingKey::from_rsa_components(&certificate.modulus, &certificate.exponent)
        .map_err(|_| invalid_signature("the registered key is unusable"))?;
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[client_id]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidAudience => EntraError::invalid_client(
                700023,
                "Client assertion audience claim does not match Realm issuer.",
            ),
            jsonwebtoken::errors::ErrorKind::ExpiredSignature
            | jsonwebtoken::errors::ErrorKind::ImmatureSignature => EntraError::invalid_client(
                700024,
                "Client assertion is not within its valid time range.",
            ),
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => EntraError::invalid_client(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            ),
            _ => invalid_signature("the signature does not verify with the registered certificate"),
        })?
        .claims;
    if claims["sub"].as_str() != Some(client_id) {
        return Err(EntraError::invalid_client(
            700021,
            "Client assertion subject doesn't match 'client_id' parameter.",
        ));
    }
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let start = claims["nbf"]
        .as_u64()
        .or_else(|| claims["iat"].as_u64())
        .unwrap_or(0);
    if exp.saturating_sub(start) > MAX_ASSERTION_LIFETIME_SECS {
        return Err(EntraError::invalid_client(
            700024,
            "Client assertion lifetime is longer than 10 minutes.",
        ));
    }
    claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .ok_or_else(|| invalid_signature("the assertion has no jti"))?;
    Ok(())
}
