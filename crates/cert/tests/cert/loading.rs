//! Loading PEM and PFX in every supported encoding, with clear errors for wrong
//! passwords and keys that do not belong to the certificate.

use crate::common::{OpensslFixture, PASSWORD};
use tokenhop_cert::{CertError, ClientCertificate};

/// The loaded leaf is the certificate openssl made (by its SHA-1 fingerprint).
fn assert_is_the_fixture_certificate(fixture: &OpensslFixture, loaded: &ClientCertificate) {
    assert_eq!(
        loaded.certificate().sha1_thumbprint().to_hex(),
        expected_sha1(fixture)
    );
}

fn expected_sha1(fixture: &OpensslFixture) -> String {
    let out = fixture.openssl(&["x509", "-in", "cert.pem", "-noout", "-fingerprint", "-sha1"]);
    out.trim().split_once('=').unwrap().1.replace(':', "")
}

#[test]
fn pem_with_pkcs8_key_in_either_order() {
    let fixture = OpensslFixture::new();
    for order in [["cert.pem", "key.pem"], ["key.pem", "cert.pem"]] {
        let loaded = ClientCertificate::from_pem(&fixture.concat(&order), None).unwrap();
        assert_is_the_fixture_certificate(&fixture, &loaded);
    }
}

#[test]
fn pem_with_pkcs1_key() {
    let fixture = OpensslFixture::new();
    fixture.openssl(&[
        "rsa",
        "-in",
        "key.pem",
        "-traditional",
        "-out",
        "key-pkcs1.pem",
    ]);
    assert!(
        String::from_utf8(fixture.read("key-pkcs1.pem"))
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY")
    );
    let loaded =
        ClientCertificate::from_pem(&fixture.concat(&["cert.pem", "key-pkcs1.pem"]), None).unwrap();
    assert_is_the_fixture_certificate(&fixture, &loaded);
}

#[test]
fn encrypted_pkcs8_with_right_wrong_and_missing_password() {
    let fixture = OpensslFixture::new();
    fixture.openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        "key.pem",
        "-v2",
        "aes-256-cbc",
        "-passout",
        &format!("pass:{PASSWORD}"),
        "-out",
        "key-enc.pem",
    ]);
    let pem = fixture.concat(&["cert.pem", "key-enc.pem"]);
    assert!(ClientCertificate::from_pem(&pem, Some(PASSWORD)).is_ok());
    let wrong = ClientCertificate::from_pem(&pem, Some("wrong")).unwrap_err();
    assert!(
        matches!(wrong, CertError::WrongPassword { .. }),
        "{wrong:?}"
    );
    assert!(wrong.to_string().contains("password"));
    assert!(matches!(
        ClientCertificate::from_pem(&pem, None),
        Err(CertError::WrongPassword { .. })
    ));
}

#[test]
fn pfx_written_by_openssl_3_default_aes() {
    let fixture = OpensslFixture::new();
    fixture.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        "cert.pem",
        "-inkey",
        "key.pem",
        "-passout",
        &format!("pass:{PASSWORD}"),
        "-out",
        "aes.pfx",
    ]);
    let info = fixture.openssl(&[
        "pkcs12",
        "-in",
        "aes.pfx",
        "-info",
        "-noout",
        "-passin",
        &format!("pass:{PASSWORD}"),
    ]);
    assert!(info.contains("AES-256-CBC"), "not an AES PFX: {info}");
    let bytes = fixture.read("aes.pfx");
    let loaded = ClientCertificate::from_bytes(&bytes, Some(PASSWORD)).unwrap();
    assert_is_the_fixture_certificate(&fixture, &loaded);
    assert!(matches!(
        ClientCertificate::from_pfx(&bytes, "wrong"),
        Err(CertError::WrongPassword { .. })
    ));
}

#[test]
fn pfx_legacy_3des_rc2_as_windows_exports() {
    let fixture = OpensslFixture::new();
    fixture.openssl(&[
        "pkcs12",
        "-export",
        "-legacy",
        "-in",
        "cert.pem",
        "-inkey",
        "key.pem",
        "-passout",
        &format!("pass:{PASSWORD}"),
        "-out",
        "legacy.pfx",
    ]);
    let info = fixture.openssl(&[
        "pkcs12",
        "-legacy",
        "-in",
        "legacy.pfx",
        "-info",
        "-noout",
        "-passin",
        &format!("pass:{PASSWORD}"),
    ]);
    assert!(
        info.contains("RC2") || info.contains("3DES"),
        "not a legacy PFX: {info}"
    );
    let bytes = fixture.read("legacy.pfx");
    let loaded = ClientCertificate::from_pfx(&bytes, PASSWORD).unwrap();
    assert_is_the_fixture_certificate(&fixture, &loaded);
    assert!(matches!(
        ClientCertificate::from_pfx(&bytes, "nope"),
        Err(CertError::WrongPassword { .. })
    ));
}

#[test]
fn a_key_from_another_certificate_is_refused_at_load_time() {
    let fixture = OpensslFixture::new();
    fixture.new_key("other-key.pem");
    let err = ClientCertificate::from_pem(&fixture.concat(&["cert.pem", "other-key.pem"]), None)
        .unwrap_err();
    assert!(matches!(err, CertError::KeyMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn missing_parts_and_files_are_clear_errors() {
    let fixture = OpensslFixture::new();
    assert!(matches!(
        ClientCertificate::from_pem(&fixture.read("cert.pem"), None),
        Err(CertError::Malformed { .. })
    ));
    assert!(matches!(
        ClientCertificate::from_pem(&fixture.read("key.pem"), None),
        Err(CertError::Malformed { .. })
    ));
    let missing = ClientCertificate::from_file(fixture.path("absent.pem"), None).unwrap_err();
    assert!(
        matches!(missing, CertError::CertNotFound { .. }),
        "{missing:?}"
    );
}

#[test]
fn from_file_reads_pem_and_pfx() {
    let fixture = OpensslFixture::new();
    std::fs::write(
        fixture.path("both.pem"),
        fixture.concat(&["key.pem", "cert.pem"]),
    )
    .unwrap();
    assert!(ClientCertificate::from_file(fixture.path("both.pem"), None).is_ok());
}
