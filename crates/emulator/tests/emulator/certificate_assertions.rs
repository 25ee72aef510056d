//! Client credentials with certificate assertions: signed here with jsonwebtoken (not
//! tokenhop-cert), checked by the emulator.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::Digest;
use tokenhop_emulator::{AppCertificate, Emulator, EmulatorConfig, EmulatorHandle, names};

use crate::common::{self, JWT_BEARER, now};

struct Assertion {
    algorithm: Algorithm,
    audience: String,
    lifetime: u64,
    jti: String,
    use_sha1: bool,
    key_pem: Option<String>,
    /// The certificate (and key) to sign with; the app's generated one by default.
    certificate: Option<AppCertificate>,
}

fn assertion(emulator: &EmulatorHandle, spec: &Assertion) -> String {
    let certificate = spec
        .certificate
        .as_ref()
        .unwrap_or_else(|| emulator.app_certificate(names::CONFIDENTIAL_CERT).unwrap());
    let der = certificate.certificate_der();
    let mut header = Header::new(spec.algorithm);
    if spec.use_sha1 {
        header.x5t = Some(URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der)));
    } else {
        header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der)));
    }
    let client_id = &emulator
        .config()
        .app(names::CONFIDENTIAL_CERT)
        .unwrap()
        .client_id;
    let claims = json!({"aud": spec.audience, "iss": client_id, "sub": client_id, "jti": spec.jti,
                        "iat": now(), "nbf": now(), "exp": now() + spec.lifetime});
    let key_pem = spec
        .key_pem
        .clone()
        .unwrap_or_else(|| certificate.private_key_pem.clone());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn good(emulator: &EmulatorHandle) -> Assertion {
    Assertion {
        algorithm: Algorithm::PS256,
        audience: format!("{}/oauth2/v2.0/token", emulator.authority()),
        lifetime: 600,
        jti: uuid::Uuid::new_v4().to_string(),
        use_sha1: false,
        key_pem: None,
        certificate: None,
    }
}

async fn post(
    emulator: &EmulatorHandle,
    client_name: &str,
    assertion: &str,
    assertion_type: &str,
) -> (u16, Value) {
    let client_id = emulator
        .config()
        .app(client_name)
        .unwrap()
        .client_id
        .clone();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_assertion_type", assertion_type),
        ("client_assertion", assertion),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let response = common::http()
        .post(format!("{}/oauth2/v2.0/token", emulator.authority()))
        .form(&form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn ps256_with_x5t_s256_and_rs256_with_x5t_are_accepted() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (status, body) = post(
        &emulator,
        names::CONFIDENTIAL_CERT,
        &assertion(&emulator, &good(&emulator)),
        JWT_BEARER,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rs256 = Assertion {
        algorithm: Algorithm::RS256,
        use_sha1: true,
        ..good(&emulator)
    };
    let (status, body) = post(
        &emulator,
        names::CONFIDENTIAL_CERT,
        &assertion(&emulator, &rs256),
        JWT_BEARER,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// MSAL reuses an assertion until it is 540 s old; Entra accepts it each time.
#[tokio::test]
async fn an_assertion_is_accepted_again_while_it_is_valid() {
    let emulator = Emulator::builder().start().await.unwrap();
    let reused = assertion(&emulator, &good(&emulator));
    for attempt in 1..=3 {
        let (status, body) = post(&emulator, names::CONFIDENTIAL_CERT, &reused, JWT_BEARER).await;
        assert_eq!(status, 200, "attempt {attempt}: {body}");
    }
}

#[tokio::test]
async fn bad_assertions_are_refused_with_entras_codes() {
    let emulator = Emulator::builder().start().await.unwrap();
    let code = |body: &Value| body["error_codes"][0].as_u64().unwrap();

    let wrong_audience = Assertion {
        audience: "https://login.microsoftonline.com/other/oauth2/v2.0/token".into(),
        ..good(&emulator)
    };
    let (status, body) = post(
        &emulator,
        names::CONFIDENTIAL_CERT,
        &assertion(&emulator, &wrong_audience),
        JWT_BEARER,
    )
    .await;
    assert_eq!((status, code(&body)), (401, 700023), "{body}");

    let too_long = Assertion {
        lifetime: 3600,
        ..good(&emulator)
    };
    let (status, body) = post(
        &emulator,
        names::CONFIDENTIAL_CERT,
        &assertion(&emulator, &too_long),
        JWT_BEARER,
    )
    .await;
    assert_eq!((status, code(&body)), (401, 700024), "{body}");

    let other_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let other_pem =
        rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(&other_key, rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string();
    let forged = Assertion {
        key_pem: Some(other_pem),
        ..good(&emulator)
    };
    let (status, body) = post(
        &emulator,
        names::CONFIDENTIAL_CERT,
        &assertion(&emulator, &forged),
        JWT_BEARER,
    )
    .await;
    assert_eq!((status, code(&body)), (401, 700027), "{body}");

    let (status, body) = post(&emulator, names::CONFIDENTIAL_CERT, "not-a-jwt", JWT_BEARER).await;
    assert_eq!((status, code(&body)), (400, 50027), "{body}");

    let (status, body) = post(
        &emulator,
        names::CONFIDENTIAL_CERT,
        &assertion(&emulator, &good(&emulator)),
        "urn:wrong",
    )
    .await;
    assert_eq!((status, code(&body)), (400, 900144), "{body}");

    let (status, body) = post(
        &emulator,
        names::CONFIDENTIAL_SECRET,
        &assertion(&emulator, &good(&emulator)),
        JWT_BEARER,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (401, 700027),
        "no certificate registered: {body}"
    );
}

/// A certificate the emulator did not generate — another emulator's here, standing for
/// one whose key is in an HSM — is accepted once registered, by the builder or by a
/// configuration file, beside the generated one; one not registered is not.
#[tokio::test]
async fn a_registered_certificate_is_accepted_beside_the_generated_one() {
    let elsewhere = Emulator::builder().start().await.unwrap();
    let foreign = elsewhere.app_certificate(names::CONFIDENTIAL_CERT).unwrap();
    let unregistered = elsewhere.app_certificate(names::AGENT_BLUEPRINT).unwrap();
    let by_builder = Emulator::builder()
        .register_certificate(names::CONFIDENTIAL_CERT, &foreign.certificate_pem)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let mut config = serde_json::to_value(EmulatorConfig::default()).unwrap();
    for app in config["apps"].as_array_mut().unwrap() {
        if app["name"] == names::CONFIDENTIAL_CERT {
            app["registered_certificates"] = json!([foreign.certificate_pem]);
        }
    }
    std::fs::write(&path, config.to_string()).unwrap();
    let by_file = Emulator::builder()
        .config(EmulatorConfig::from_file(&path).unwrap())
        .start()
        .await
        .unwrap();
    for emulator in [&by_builder, &by_file] {
        for algorithm in [Algorithm::PS256, Algorithm::RS256] {
            let signed_elsewhere = Assertion {
                algorithm,
                use_sha1: algorithm == Algorithm::RS256,
                certificate: Some(foreign.clone()),
                ..good(emulator)
            };
            let (status, body) = post(
                emulator,
                names::CONFIDENTIAL_CERT,
                &assertion(emulator, &signed_elsewhere),
                JWT_BEARER,
            )
            .await;
            assert_eq!(status, 200, "{algorithm:?}: {body}");
        }
        let generated = assertion(emulator, &good(emulator));
        let (status, body) = post(emulator, names::CONFIDENTIAL_CERT, &generated, JWT_BEARER).await;
        assert_eq!(
            status, 200,
            "the generated certificate still counts: {body}"
        );
        let not_registered = Assertion {
            certificate: Some(unregistered.clone()),
            ..good(emulator)
        };
        let (status, body) = post(
            emulator,
            names::CONFIDENTIAL_CERT,
            &assertion(emulator, &not_registered),
            JWT_BEARER,
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error_codes"][0], 700027, "{body}");
    }
}

#[tokio::test]
async fn registering_a_certificate_for_no_app_or_a_bad_pem_fails_at_start() {
    let no_app = Emulator::builder()
        .register_certificate("no-such-app", "-----BEGIN CERTIFICATE-----")
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(no_app.contains("no-such-app"), "{no_app}");
    let not_pem = Emulator::builder()
        .register_certificate(names::AGENT_BLUEPRINT, "not a certificate")
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        not_pem.contains("app agent-blueprint: registered_certificates[0]"),
        "{not_pem}"
    );
}
