//! What the emulator tests share: an emulator, an HTTP client, token requests, and
//! reading what comes back.

use tokenhop_emulator::{Emulator, EmulatorHandle};

/// The `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An emulator with the built-in directory on an ephemeral loopback port.
pub async fn start() -> EmulatorHandle {
    Emulator::builder().start().await.unwrap()
}

/// The client id of the app named `name`.
pub fn client_id(emulator: &EmulatorHandle, name: &str) -> String {
    emulator.config().app(name).unwrap().client_id.clone()
}

/// The confidential app with a secret: (client id, secret).
pub fn secret_app(emulator: &EmulatorHandle) -> (String, String) {
    let app = emulator
        .config()
        .app(tokenhop_emulator::names::CONFIDENTIAL_SECRET)
        .unwrap();
    (app.client_id.clone(), app.secret.clone().unwrap())
}

/// The wall clock, epoch seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A reqwest client. Installs rustls' ring provider first: in a workspace build, feature
/// unification gives reqwest `rustls-no-provider`, and building a client then needs one.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// GET `url` as JSON.
pub async fn get_json(url: &str) -> serde_json::Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

/// POSTs a form to the emulator's token endpoint under `authority`: (status, body).
pub async fn post_token(authority: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let response = http()
        .post(format!("{authority}/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The claims of a JWT, unverified (tests that check signatures do so separately).
pub fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The AADSTS codes of an error body.
pub fn codes(body: &serde_json::Value) -> Vec<u64> {
    body["error_codes"]
        .as_array()
        .map(|codes| codes.iter().filter_map(|c| c.as_u64()).collect())
        .unwrap_or_default()
}

/// A PS256 certificate assertion for the app named `app`, signed with jsonwebtoken
/// (not tokenhop-cert) using the certificate the emulator generated for it.
pub fn certificate_assertion(emulator: &EmulatorHandle, app: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let certificate = emulator.app_certificate(app).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(certificate.certificate_der())),
    );
    let client_id = &emulator.config().app(app).unwrap().client_id;
    let now = now();
    let claims = serde_json::json!({
        "aud": format!("{}/oauth2/v2.0/token", emulator.authority()),
        "iss": client_id, "sub": client_id, "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now, "nbf": now, "exp": now + 600,
    });
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(certificate.private_key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}
