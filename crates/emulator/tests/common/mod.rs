//! The HTTP client the emulator tests use.

// Each test binary uses a different subset.
#![allow(dead_code)]

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
