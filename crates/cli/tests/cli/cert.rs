//! `tokenhop cert …` against openssl and the emulator's certificates.

use std::process::Command as Process;

use tokenhop_emulator::names;

use crate::common::{TestEnv, assert_jwt, jwt_part, mode, ok, run};

/// `openssl x509 -fingerprint` as upper-case hex without colons.
fn openssl_fingerprint(path: &std::path::Path, digest: &str) -> String {
    let output = Process::new("openssl")
        .args(["x509", "-noout", "-fingerprint", digest, "-in"])
        .arg(path)
        .output()
        .expect("openssl is installed");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    text.trim()
        .split_once('=')
        .unwrap()
        .1
        .replace(':', "")
        .to_ascii_uppercase()
}

#[test]
fn thumbprints_match_openssl_and_the_assertion_header() {
    let env = TestEnv::start();
    let pem = env.certificate_file(names::CONFIDENTIAL_CERT);
    let sha1 = ok(env
        .cmd()
        .args(["cert", "thumbprint", "--sha1", "--hex"])
        .arg(&pem));
    assert_eq!(sha1.stdout.trim(), openssl_fingerprint(&pem, "-sha1"));
    let sha256 = ok(env
        .cmd()
        .args(["cert", "thumbprint", "--sha256", "--hex"])
        .arg(&pem));
    assert_eq!(sha256.stdout.trim(), openssl_fingerprint(&pem, "-sha256"));

    // DER works too, and the default (SHA-256, base64url) is the x5t#S256 header value.
    let der = env.dir.path().join("cert.der");
    std::fs::write(
        &der,
        env.emulator
            .app_certificate(names::CONFIDENTIAL_CERT)
            .unwrap()
            .certificate_der(),
    )
    .unwrap();
    let default = ok(env.cmd().args(["cert", "thumbprint"]).arg(&der));
    let assertion = ok(env
        .cmd()
        .args([
            "--client-id",
            "app-1",
            "cert",
            "assertion",
            "--audience",
            "https://t/token",
        ])
        .arg("--certificate")
        .arg(&pem));
    let assertion = assertion.stdout.trim();
    assert_jwt(assertion);
    assert_eq!(jwt_part(assertion, 0)["x5t#S256"], default.stdout.trim());
}

#[test]
fn assertion_carries_the_client_audience_and_algorithm() {
    let env = TestEnv::start();
    let pem = env.certificate_file(names::CONFIDENTIAL_CERT);
    let out = ok(env
        .cmd()
        .args([
            "--client-id",
            "app-1",
            "cert",
            "assertion",
            "--audience",
            "https://t/token",
        ])
        .args(["--alg", "RS256", "--x5c", "--certificate"])
        .arg(&pem));
    let assertion = out.stdout.trim();
    let header = jwt_part(assertion, 0);
    assert_eq!(header["alg"], "RS256");
    assert!(
        header["x5t"].is_string() && header["x5c"].is_array(),
        "{header}"
    );
    let claims = jwt_part(assertion, 1);
    assert_eq!(claims["aud"], "https://t/token");
    assert_eq!(
        (&claims["iss"], &claims["sub"]),
        (&"app-1".into(), &"app-1".into())
    );

    let out = run(env
        .cmd()
        .args([
            "cert",
            "assertion",
            "--audience",
            "https://t/token",
            "--certificate",
        ])
        .arg(&pem));
    assert_eq!(out.code, 6, "no client id: {}", out.stderr);
}

#[test]
fn generate_writes_a_certificate_and_a_private_key() {
    let env = TestEnv::start();
    let cert = env.dir.path().join("new.crt");
    let key = env.dir.path().join("new.key");
    let generate = || {
        let mut cmd = env.cmd();
        cmd.args([
            "cert",
            "generate",
            "--subject",
            "tokenhop-test",
            "--days",
            "2",
        ])
        .arg("--out-cert")
        .arg(&cert)
        .arg("--out-key")
        .arg(&key);
        cmd
    };
    let out = ok(&mut generate());
    #[cfg(unix)]
    assert_eq!(mode(&key), 0o600);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert!(!out.stdout.contains("PRIVATE KEY"));
    let subject = Process::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&subject.stdout).contains("tokenhop-test"));
    let sha1 = ok(env
        .cmd()
        .args(["cert", "thumbprint", "--sha1", "--hex"])
        .arg(&cert));
    assert!(out.stdout.contains(sha1.stdout.trim()), "{}", out.stdout);

    let again = run(&mut generate());
    assert_eq!(again.code, 6, "existing files are kept: {}", again.stderr);
}
