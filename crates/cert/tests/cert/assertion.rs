//! Client assertions verified by an independent JWT implementation (`jsonwebtoken`)
//! against the certificate's public key as openssl extracts it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::OpensslFixture;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokenhop_cert::{
    CertError, ClientAssertionBuilder, ClientCertificate, Signer, SigningAlgorithm,
    build_client_assertion,
};

const CLIENT: &str = "7c0a1b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b";
const AUDIENCE: &str =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

fn loaded(fixture: &OpensslFixture) -> ClientCertificate {
    ClientCertificate::from_pem(&fixture.concat(&["cert.pem", "key.pem"]), None).unwrap()
}

fn public_key(fixture: &OpensslFixture) -> DecodingKey {
    let pem = fixture.openssl(&["x509", "-in", "cert.pem", "-noout", "-pubkey"]);
    DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
}

fn verify(jwt: &str, key: &DecodingKey, algorithm: Algorithm) -> Value {
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[CLIENT]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    jsonwebtoken::decode::<Value>(jwt, key, &validation)
        .unwrap()
        .claims
}

fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn keys(value: &Value) -> HashSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn ps256_with_x5t_s256_verifies_and_has_exactly_the_expected_header_and_claims() {
    let fixture = OpensslFixture::new();
    let certificate = loaded(&fixture);
    let assertion = build_client_assertion(CLIENT, AUDIENCE, &certificate).unwrap();
    let jwt = assertion.expose_secret();
    let claims = verify(jwt, &public_key(&fixture), Algorithm::PS256);

    let header = header(jwt);
    assert_eq!(
        keys(&header),
        ["alg", "typ", "x5t#S256"].map(String::from).into()
    );
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(
        header["x5t#S256"],
        certificate.certificate().sha256_thumbprint().to_base64url()
    );

    assert_eq!(
        keys(&claims),
        ["aud", "iss", "sub", "jti", "iat", "nbf", "exp"]
            .map(String::from)
            .into()
    );
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["iss"], CLIENT);
    assert_eq!(claims["sub"], CLIENT);
    assert_eq!(claims["iat"], claims["nbf"]);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(claims["iat"].as_u64().unwrap().abs_diff(now) < 60);
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
}

#[test]
fn rs256_uses_the_sha1_x5t_and_verifies() {
    let fixture = OpensslFixture::new();
    let certificate = loaded(&fixture);
    let assertion = ClientAssertionBuilder::new(CLIENT, AUDIENCE, &certificate)
        .algorithm(SigningAlgorithm::Rs256)
        .build()
        .unwrap();
    verify(
        assertion.expose_secret(),
        &public_key(&fixture),
        Algorithm::RS256,
    );
    let header = header(assertion.expose_secret());
    assert_eq!(
        keys(&header),
        ["alg", "typ", "x5t"].map(String::from).into()
    );
    assert_eq!(
        header["x5t"],
        certificate.certificate().sha1_thumbprint().to_base64url()
    );
}

#[test]
fn x5c_carries_the_chain_in_standard_base64_for_both_algorithms() {
    let fixture = OpensslFixture::new();
    let certificate = loaded(&fixture);
    for (algorithm, jws) in [
        (SigningAlgorithm::Ps256, Algorithm::PS256),
        (SigningAlgorithm::Rs256, Algorithm::RS256),
    ] {
        let assertion = ClientAssertionBuilder::new(CLIENT, AUDIENCE, &certificate)
            .algorithm(algorithm)
            .include_x5c(true)
            .build()
            .unwrap();
        verify(assertion.expose_secret(), &public_key(&fixture), jws);
        let header = header(assertion.expose_secret());
        let x5c = header["x5c"].as_array().unwrap();
        assert_eq!(x5c.len(), 1);
        assert_eq!(
            STANDARD.decode(x5c[0].as_str().unwrap()).unwrap(),
            certificate.certificate().der()
        );
    }
}

#[test]
fn two_assertions_never_share_a_jti() {
    let fixture = OpensslFixture::new();
    let certificate = loaded(&fixture);
    let key = public_key(&fixture);
    let jtis: HashSet<String> = (0..20)
        .map(|_| {
            verify(
                build_client_assertion(CLIENT, AUDIENCE, &certificate)
                    .unwrap()
                    .expose_secret(),
                &key,
                Algorithm::PS256,
            )["jti"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 20);
}

#[test]
fn lifetime_is_at_most_ten_minutes_and_configurable_lower() {
    let fixture = OpensslFixture::new();
    let certificate = loaded(&fixture);
    let short = ClientAssertionBuilder::new(CLIENT, AUDIENCE, &certificate)
        .lifetime(Duration::from_secs(120))
        .build()
        .unwrap();
    assert_eq!(
        short
            .expires_at()
            .duration_since(short.issued_at())
            .unwrap(),
        Duration::from_secs(120)
    );
    for bad in [Duration::ZERO, Duration::from_secs(601)] {
        let err = ClientAssertionBuilder::new(CLIENT, AUDIENCE, &certificate)
            .lifetime(bad)
            .build()
            .unwrap_err();
        assert!(matches!(err, CertError::Invalid(_)), "{err:?}");
    }
}

#[test]
fn the_assertion_never_prints_itself() {
    let fixture = OpensslFixture::new();
    let assertion = build_client_assertion(CLIENT, AUDIENCE, &loaded(&fixture)).unwrap();
    let jwt = assertion.expose_secret().to_owned();
    let signature = jwt.rsplit('.').next().unwrap();
    assert!(!format!("{assertion:?}").contains(signature));
}

/// A key store that signs with a key it keeps (here: the PEM key) and can be told it lost it.
struct KeyStoreSigner {
    inner: ClientCertificate,
    available: bool,
}

impl Signer for KeyStoreSigner {
    fn algorithms(&self) -> &[SigningAlgorithm] {
        &[SigningAlgorithm::Rs256]
    }

    fn sign(&self, algorithm: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, CertError> {
        if !self.available {
            return Err(CertError::CertNotFound {
                what: "key store entry ABC123".into(),
            });
        }
        self.inner.signer().sign(algorithm, message)
    }
}

#[test]
fn an_external_signer_signs_and_its_errors_pass_through() {
    let fixture = OpensslFixture::new();
    let chain = loaded(&fixture).chain().to_vec();
    let store = Arc::new(KeyStoreSigner {
        inner: loaded(&fixture),
        available: true,
    });
    let external = ClientCertificate::with_signer(chain.clone(), store).unwrap();
    let assertion = ClientAssertionBuilder::new(CLIENT, AUDIENCE, &external)
        .algorithm(SigningAlgorithm::Rs256)
        .build()
        .unwrap();
    verify(
        assertion.expose_secret(),
        &public_key(&fixture),
        Algorithm::RS256,
    );

    let unsupported = ClientAssertionBuilder::new(CLIENT, AUDIENCE, &external)
        .build()
        .unwrap_err();
    assert!(unsupported.to_string().contains("PS256"), "{unsupported}");

    let lost = ClientCertificate::with_signer(
        chain,
        Arc::new(KeyStoreSigner {
            inner: loaded(&fixture),
            available: false,
        }),
    )
    .unwrap();
    let err = ClientAssertionBuilder::new(CLIENT, AUDIENCE, &lost)
        .algorithm(SigningAlgorithm::Rs256)
        .build()
        .unwrap_err();
    assert!(matches!(err, CertError::CertNotFound { .. }), "{err:?}");
}
