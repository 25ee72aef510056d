//! Thumbprints equal what `openssl x509 -fingerprint` prints, for certificates made by
//! openssl and by our generator.

use crate::common::{OpensslFixture, openssl_in};
use tokenhop_cert::{
    Certificate, KeySize, Thumbprint, compute_cert_thumbprint, generate_self_signed,
};

fn openssl_fingerprint(dir: &std::path::Path, file: &str, digest: &str) -> String {
    let out = openssl_in(
        dir,
        &["x509", "-in", file, "-noout", "-fingerprint", digest],
    );
    out.trim().split_once('=').unwrap().1.replace(':', "")
}

fn der_of(fixture: &OpensslFixture, pem_name: &str) -> Vec<u8> {
    fixture.openssl(&[
        "x509", "-in", pem_name, "-outform", "DER", "-out", "cert.der",
    ]);
    fixture.read("cert.der")
}

#[test]
fn sha1_and_sha256_match_openssl_for_an_openssl_certificate() {
    let fixture = OpensslFixture::new();
    let certificate = Certificate::from_der(&der_of(&fixture, "cert.pem")).unwrap();
    assert_eq!(
        certificate.sha1_thumbprint().to_hex(),
        openssl_fingerprint(fixture.dir.path(), "cert.pem", "-sha1")
    );
    assert_eq!(
        certificate.sha256_thumbprint().to_hex(),
        openssl_fingerprint(fixture.dir.path(), "cert.pem", "-sha256")
    );
}

#[test]
fn thumbprints_of_a_generated_certificate_match_openssl() {
    let fixture = OpensslFixture::new();
    let generated = generate_self_signed("generated, with comma", 3, KeySize::Rsa2048).unwrap();
    std::fs::write(fixture.path("generated.pem"), &generated.certificate_pem).unwrap();
    let expected = openssl_fingerprint(fixture.dir.path(), "generated.pem", "-sha256");
    assert_eq!(generated.certificate.sha256_thumbprint().to_hex(), expected);
    let subject = fixture.openssl(&["x509", "-in", "generated.pem", "-noout", "-subject"]);
    assert!(
        subject.contains("generated") && subject.contains("comma"),
        "{subject}"
    );
}

#[test]
fn base64url_forms_are_unpadded_digests() {
    let fixture = OpensslFixture::new();
    let der = der_of(&fixture, "cert.pem");
    let sha256_hex = openssl_fingerprint(fixture.dir.path(), "cert.pem", "-sha256");
    let raw: Vec<u8> = (0..sha256_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&sha256_hex[i..i + 2], 16).unwrap())
        .collect();
    use base64::Engine;
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    assert_eq!(compute_cert_thumbprint(&der), expected);
    assert_eq!(Thumbprint::sha256(&der).to_base64url(), expected);
    assert!(!expected.contains('='));
}
