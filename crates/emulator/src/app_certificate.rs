//! The certificates apps authenticate with — those the emulator generates, and those
//! registered for them whose keys it never sees — and the check of the client
//! assertions they sign.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::Value;
use sha2::Digest;

use crate::config::EmulatorConfig;
use crate::entra_error::EntraError;
use crate::error::EmulatorError;

/// The longest assertion lifetime Entra accepts.
const MAX_ASSERTION_LIFETIME_SECS: u64 = 600;

/// A certificate an app authenticates with, as the assertion check needs it: its
/// thumbprints and its RSA public key.
#[derive(Clone)]
pub(crate) struct RegisteredCertificate {
    sha256: String,
    sha1: String,
    modulus: String,
    exponent: String,
}

impl RegisteredCertificate {
    fn new(der: &[u8], modulus: &[u8], exponent: &[u8]) -> Self {
        Self {
            sha256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der)),
            sha1: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der)),
            modulus: URL_SAFE_NO_PAD.encode(modulus),
            exponent: URL_SAFE_NO_PAD.encode(exponent),
        }
    }

    /// A certificate the emulator did not generate (its key is elsewhere, e.g. in an
    /// HSM): the first `CERTIFICATE` block of `pem`, which must carry an RSA key.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        if block.label != "CERTIFICATE" {
            return Err(format!(
                "the PEM block is a {}, not a CERTIFICATE",
                block.label
            ));
        }
        let certificate = block
            .parse_x509()
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let public_key = certificate
            .public_key()
            .parsed()
            .map_err(|e| format!("its public key is unreadable: {e}"))?;
        let x509_parser::public_key::PublicKey::RSA(rsa) = public_key else {
            return Err("its key is not RSA (the emulator checks RS256 and PS256)".into());
        };
        let unsigned = |bytes: &[u8]| {
            let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
            bytes[start..].to_vec()
        };
        Ok(Self::new(
            &block.contents,
            &unsigned(rsa.modulus),
            &unsigned(rsa.exponent),
        ))
    }
}

/// A certificate the emulator generated for an app, and its key.
#[derive(Clone)]
pub struct AppCertificate {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: String,
    der: Vec<u8>,
    registered: RegisteredCertificate,
}

impl std::fmt::Debug for AppCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCertificate")
            .field("sha256", &self.registered.sha256)
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
        let der = certificate.der().to_vec();
        Ok(Self {
            certificate_pem: certificate.pem(),
            private_key_pem: key_pem,
            registered: RegisteredCertificate::new(
                &der,
                &public.n().to_bytes_be(),
                &public.e().to_bytes_be(),
            ),
            der,
        })
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }
}

/// Every certificate each certificate app of `config` authenticates with, by client
/// id: the one the emulator `generated` for it (by client id) and those registered in
/// its configuration.
pub(crate) fn by_client_id(
    config: &EmulatorConfig,
    generated: &HashMap<String, AppCertificate>,
) -> Result<HashMap<String, Vec<RegisteredCertificate>>, EmulatorError> {
    let mut certificates = HashMap::new();
    for app in config.apps.iter().filter(|a| a.has_certificates()) {
        let mut registered: Vec<RegisteredCertificate> = generated
            .get(&app.client_id)
            .map(|g| g.registered.clone())
            .into_iter()
            .collect();
        for (i, pem) in app.registered_certificates.iter().enumerate() {
            registered.push(RegisteredCertificate::from_pem(pem).map_err(|e| {
                EmulatorError::Config(format!(
                    "app {}: registered_certificates[{i}]: {e}",
                    app.name
                ))
            })?);
        }
        certificates.insert(app.client_id.clone(), registered);
    }
    Ok(certificates)
}

/// Checks a client assertion from `client_id` for the token endpoint `audience`:
/// `x5t#S256` or `x5t` names one of the app's `certificates`, the signature (PS256 or
/// RS256) verifies, `iss` = `sub` = client id, `aud` = the token endpoint, the lifetime
/// is at most 10 minutes, and there is a `jti`. As Entra, the emulator accepts one
/// assertion again while it is valid: MSAL reuses each until it is 540 s old.
pub(crate) fn verify(
    certificates: &[RegisteredCertificate],
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
    let certificate = certificates
        .iter()
        .find(|c| match (&header.x5t_s256, &header.x5t) {
            (Some(sha256), _) => unpadded(sha256) == c.sha256,
            (None, Some(sha1)) => unpadded(sha1) == c.sha1,
            (None, None) => false,
        })
        .ok_or_else(|| invalid_signature("The key was not found."))?;
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
