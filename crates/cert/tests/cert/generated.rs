//! Self-signed certificates signed through any `Signer` (the key need not be in memory),
//! checked by `openssl verify`, and certificate chains read without their key.

use std::sync::Arc;

use rsa::pkcs8::DecodePrivateKey;
use tokenhop_cert::{
    CertError, Certificate, ClientAssertionBuilder, ClientCertificate, RsaKeySigner, Signer,
    SigningAlgorithm, self_signed_certificate,
};

use crate::common::OpensslFixture;

/// The fixture's openssl-made key, as a signer that hides it behind the trait.
fn fixture_signer(fixture: &OpensslFixture, name: &str) -> RsaKeySigner {
    let pem = String::from_utf8(fixture.read(name)).unwrap();
    RsaKeySigner::new(rsa::PrivateKey::from_pkcs8_pem(&pem).unwrap())
}

/// Forwards to an inner signer but offers only `algorithms`, or fails every signature.
struct Restricted {
    inner: RsaKeySigner,
    algorithms: Vec<SigningAlgorithm>,
    fail: bool,
}

impl Signer for Restricted {
    fn algorithms(&self) -> &[SigningAlgorithm] {
        &self.algorithms
    }

    fn sign(&self, algorithm: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, CertError> {
        if self.fail {
            return Err(CertError::Signing {
                reason: "the token is gone".into(),
            });
        }
        self.inner.sign(algorithm, message)
    }
}

#[test]
fn a_certificate_signed_through_the_signer_trait_verifies_with_openssl() {
    let fixture = OpensslFixture::new();
    let signer = fixture_signer(&fixture, "key.pem");
    let certificate =
        self_signed_certificate("hsm-app, with comma", 7, &signer.public_key(), &signer).unwrap();
    assert_eq!(certificate.rsa_public_key().unwrap(), signer.public_key());
    std::fs::write(fixture.path("signed.pem"), certificate.to_pem()).unwrap();

    let verified = fixture.openssl(&[
        "verify",
        "-check_ss_sig",
        "-partial_chain",
        "-CAfile",
        "signed.pem",
        "signed.pem",
    ]);
    assert_eq!(verified.trim(), "signed.pem: OK");
    let text = fixture.openssl(&["x509", "-in", "signed.pem", "-noout", "-text"]);
    for expected in [
        "sha256WithRSAEncryption",
        "CA:FALSE",
        "Digital Signature",
        "hsm-app",
    ] {
        assert!(text.contains(expected), "{expected} missing in:\n{text}");
    }
}

#[test]
fn a_signer_for_another_key_is_a_key_mismatch_and_its_errors_pass_through() {
    let fixture = OpensslFixture::new();
    fixture.new_key("other.pem");
    let signer = fixture_signer(&fixture, "key.pem");
    let other = fixture_signer(&fixture, "other.pem");

    let mismatch = self_signed_certificate("app", 1, &signer.public_key(), &other).unwrap_err();
    assert!(
        matches!(&mismatch, CertError::KeyMismatch { subject } if subject == "CN=app"),
        "{mismatch:?}"
    );

    let failing = Restricted {
        inner: signer.clone(),
        algorithms: vec![SigningAlgorithm::Rs256],
        fail: true,
    };
    let error = self_signed_certificate("app", 1, &signer.public_key(), &failing).unwrap_err();
    assert!(
        matches!(&error, CertError::Signing { reason } if reason == "the token is gone"),
        "{error:?}"
    );

    let pss_only = Restricted {
        inner: signer.clone(),
        algorithms: vec![SigningAlgorithm::Ps256],
        fail: false,
    };
    let error = self_signed_certificate("app", 1, &signer.public_key(), &pss_only).unwrap_err();
    assert!(error.to_string().contains("RS256"), "{error}");

    for (name, days) in [(" ", 1), ("app", 0)] {
        let error = self_signed_certificate(name, days, &signer.public_key(), &signer).unwrap_err();
        assert!(matches!(error, CertError::Invalid(_)), "{error:?}");
    }
}

#[test]
fn a_chain_reads_from_pem_or_der_without_a_key_and_signs_through_with_signer() {
    let fixture = OpensslFixture::new();
    fixture.new_key("other.pem");
    fixture.openssl(&[
        "req",
        "-x509",
        "-key",
        "other.pem",
        "-subj",
        "/CN=issuer",
        "-days",
        "2",
        "-out",
        "issuer.pem",
    ]);
    let pem = fixture.concat(&["cert.pem", "key.pem", "issuer.pem"]);
    let chain = Certificate::chain_from_bytes(&pem).unwrap();
    let subjects: Vec<String> = chain.iter().map(Certificate::subject).collect();
    assert_eq!(subjects, ["CN=tokenhop-test", "CN=issuer"]);

    fixture.openssl(&[
        "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
    ]);
    let from_der = Certificate::chain_from_file(fixture.path("cert.der")).unwrap();
    assert_eq!(from_der, chain[..1]);

    let no_certificate = Certificate::chain_from_bytes(&fixture.read("key.pem")).unwrap_err();
    assert!(
        no_certificate.to_string().contains("no CERTIFICATE"),
        "{no_certificate}"
    );
    let missing = Certificate::chain_from_file(fixture.path("absent.pem")).unwrap_err();
    assert!(
        matches!(missing, CertError::CertNotFound { .. }),
        "{missing:?}"
    );

    let signer = Arc::new(fixture_signer(&fixture, "key.pem"));
    let certificate = ClientCertificate::with_signer(chain, signer).unwrap();
    let assertion = ClientAssertionBuilder::new("client", "https://aud.example", &certificate)
        .include_x5c(true)
        .build()
        .unwrap();
    assert_eq!(assertion.expose_secret().split('.').count(), 3);
}
