//! What a configuration file says about the network: a generic issuer (`issuer:`),
//! `validate_authority`, `proxy`/`no_proxy` and `cloud`.

use serde_json::{Value, json};
use tokenhop_core::{Error, TokenProvider};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::{AuthConfig, Cloud};

fn secret_flow(emulator: &EmulatorHandle, place: (&str, String)) -> Value {
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    json!({
        "type": "client-secret",
        place.0: place.1,
        "client_id": app.client_id,
        "client_secret": app.secret,
    })
}

fn load(dir: &std::path::Path, config: Value) -> tokenhop_core::Result<tokenhop_flows::BuiltAuth> {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    AuthConfig::load(&path)
}

#[tokio::test]
async fn an_issuer_declares_a_generic_provider_whose_issuer_alone_is_checked() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The emulator's issuer is an OpenID Connect issuer like any other.
    let issuer = format!("{}/{}/v2.0", emulator.url(), emulator.tenant_id());
    let flow = secret_flow(&emulator, ("issuer", issuer.clone()));
    let built = load(
        dir.path(),
        json!({"flow": flow, "scopes": ["https://storage.azure.com/.default"], "cache": {"disabled": true}}),
    )
    .unwrap();
    built.provider().token().await.unwrap();
    // Another issuer's URL (the same document, under another name) is refused.
    let mut flow = secret_flow(
        &emulator,
        ("issuer", issuer.replace("127.0.0.1", "localhost")),
    );
    let built = load(
        dir.path(),
        json!({"flow": flow.clone(), "cache": {"disabled": true}}),
    )
    .unwrap();
    let error = built.provider().token().await.unwrap_err();
    assert!(error.to_string().contains("issuer"), "{error}");
    flow["authority"] = json!(emulator.authority());
    let error = load(dir.path(), json!({"flow": flow}))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("flow.issuer") && error.contains("not both"),
        "{error}"
    );
}

#[tokio::test]
async fn validate_authority_false_trusts_what_validation_refuses() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = emulator.authority().replace("127.0.0.1", "localhost");
    let flow = secret_flow(&emulator, ("authority", elsewhere));
    let scopes = json!(["https://storage.azure.com/.default"]);
    let refused = load(
        dir.path(),
        json!({"flow": flow, "scopes": scopes, "cache": {"disabled": true}}),
    )
    .unwrap();
    assert!(matches!(
        refused.provider().token().await.unwrap_err(),
        Error::Configuration { .. }
    ));
    let trusting = load(
        dir.path(),
        json!({"flow": flow, "scopes": scopes, "cache": {"disabled": true}, "validate_authority": false}),
    )
    .unwrap();
    trusting.provider().token().await.unwrap();
}

#[tokio::test]
async fn proxy_no_proxy_and_cloud_come_from_the_file() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flow = secret_flow(&emulator, ("authority", emulator.authority()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://user:file-proxy-pw@127.0.0.1:{port}");
    let scopes = json!(["https://storage.azure.com/.default"]);
    let base = json!({"flow": flow, "scopes": scopes, "cache": {"disabled": true}});
    let with = |extra: Value| {
        let mut config = base.clone();
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        config
    };
    let error = load(dir.path(), with(json!({"proxy": dead})))
        .unwrap()
        .provider()
        .token()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("proxy http://127.0.0.1:{port}")),
        "{error}"
    );
    assert!(!error.contains("file-proxy-pw"), "{error}");
    load(
        dir.path(),
        with(json!({"proxy": dead, "no_proxy": "127.0.0.1"})),
    )
    .unwrap()
    .provider()
    .token()
    .await
    .unwrap();
    load(dir.path(), with(json!({"proxy": "none"})))
        .unwrap()
        .provider()
        .token()
        .await
        .unwrap();
    let error = load(dir.path(), with(json!({"proxy": "socks5://p:1"})))
        .unwrap_err()
        .to_string();
    assert!(error.contains("proxy"), "{error}");

    // The cloud decides the default scopes.
    let mut usgov = base.clone();
    usgov.as_object_mut().unwrap().remove("scopes");
    usgov["cloud"] = json!("usgov");
    let built = load(dir.path(), usgov.clone()).unwrap();
    assert_eq!(
        built.scopes.to_space_separated(),
        Cloud::UsGov.graph_default_scope()
    );
    usgov["cloud"] = json!("mars");
    let error = load(dir.path(), usgov).unwrap_err().to_string();
    assert!(
        error.contains("cloud") && error.contains("usgov"),
        "{error}"
    );
}
