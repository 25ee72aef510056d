//! Client credentials with certificate assertions: signed here with jsonwebtoken (not
//! tokenhop-cert), checked by the emulator.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::Digest;
use tokenhop_emulator::{Emulator, EmulatorHandle, names};

use crate::common::{self, JWT_BEARER, now};

struct Assertion {
    algorithm: Algorithm,
    audience: String,
    lifetime: u64,
    jti: String,
    use_sha1: bool,
    key_pem: Option<String>,
}

fn assertion(emulator: &EmulatorHandle, spec: &Assertion) -> String {
    let certificate = emulator.app_certificate(names::CONFIDENTIAL_CERT).unwrap();
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
