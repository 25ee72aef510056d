//! Access token formats: the resource's accepted token version decides (v1 for Graph
//! and Storage, v2 for the tenant's `api://` apps), whichever endpoint issued the token.

use serde_json::{Value, json};
use tokenhop_emulator::{Emulator, EmulatorConfig, EmulatorHandle, TokenVersion, names};

use crate::common::{self, JWT_BEARER, certificate_assertion, claims, post_token, start};

const STORAGE: &str = "https://storage.azure.com";

/// Entra's v1 issuer for the emulator's tenant.
fn v1_issuer(emulator: &EmulatorHandle) -> String {
    format!("https://sts.windows.net/{}/", emulator.tenant_id())
}

async fn secret_app_token(emulator: &EmulatorHandle, scope: &str) -> Value {
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    let (status, body) = post_token(
        &emulator.authority(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id),
            ("client_secret", app.secret.as_deref().unwrap()),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    claims(body["access_token"].as_str().unwrap())
}

#[tokio::test]
async fn storage_and_graph_app_tokens_are_v1_as_entra_issues_them() {
    let emulator = start().await;
    let client_id = emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .client_id
        .clone();
    for resource in [STORAGE, "https://graph.microsoft.com"] {
        let token = secret_app_token(&emulator, &format!("{resource}/.default")).await;
        assert_eq!(token["ver"], "1.0", "{token}");
        assert_eq!(token["iss"], v1_issuer(&emulator));
        assert_eq!(token["aud"], resource);
        assert_eq!(token["appid"], client_id.as_str());
        // A client secret authenticated the app.
        assert_eq!(token["appidacr"], "1");
        assert_eq!(token["tid"], emulator.tenant_id());
        assert_eq!(token["idtyp"], "app");
        assert!(token.get("azp").is_none(), "v1 has appid, not azp: {token}");
    }
}

#[tokio::test]
async fn tokens_for_the_tenants_own_apis_stay_v2() {
    let emulator = start().await;
    let token = secret_app_token(&emulator, "api://AzureADTokenExchange/.default").await;
    assert_eq!(token["ver"], "2.0");
    assert_eq!(token["iss"], format!("{}/v2.0", emulator.authority()));
    assert!(token["azp"].is_string(), "{token}");
    // Discovery still names the v2 issuer: only the resource decides the token format.
    let doc = common::get_json(&format!(
        "{}/v2.0/.well-known/openid-configuration",
        emulator.authority()
    ))
    .await;
    assert_eq!(doc["issuer"], format!("{}/v2.0", emulator.authority()));
}

#[tokio::test]
async fn certificate_clients_and_managed_identities_show_appidacr_2() {
    let emulator = start().await;
    let app = emulator.config().app(names::CONFIDENTIAL_CERT).unwrap();
    let (status, body) = post_token(
        &emulator.authority(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id),
            ("client_assertion_type", JWT_BEARER),
            (
                "client_assertion",
                &certificate_assertion(&emulator, names::CONFIDENTIAL_CERT),
            ),
            ("scope", "https://storage.azure.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        (token["ver"].as_str(), token["appidacr"].as_str()),
        (Some("1.0"), Some("2"))
    );

    let identity = &emulator.config().managed_identities[0];
    let response = common::http()
        .get(format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={STORAGE}",
            emulator.url()
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let token = claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["ver"], "1.0", "{token}");
    assert_eq!(token["iss"], v1_issuer(&emulator));
    assert_eq!(token["appid"], identity.client_id.as_str());
    assert_eq!(token["appidacr"], "2");
    assert!(token.get("azp").is_none(), "{token}");
}

#[tokio::test]
async fn a_resource_declared_v2_gets_v2_tokens() {
    let mut config = EmulatorConfig::default();
    let storage = config
        .resources
        .iter_mut()
        .find(|r| r.app_id_uri == STORAGE)
        .unwrap();
    storage.access_token_version = Some(TokenVersion::V2);
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let token = secret_app_token(&emulator, "https://storage.azure.com/.default").await;
    assert_eq!(token["ver"], "2.0");
    assert_eq!(token["iss"], format!("{}/v2.0", emulator.authority()));
    assert!(token["azp"].is_string(), "{token}");
}

#[test]
fn configuration_files_name_the_version_as_a_number_and_unset_follows_the_uri() {
    let resource = |extra: Value| {
        let mut value = json!({"app_id_uri": "https://vault.azure.net", "scopes": []});
        value
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value::<tokenhop_emulator::ResourceConfig>(value)
    };
    assert_eq!(
        resource(json!({"access_token_version": 2}))
            .unwrap()
            .token_version(),
        TokenVersion::V2
    );
    assert_eq!(
        resource(json!({})).unwrap().token_version(),
        TokenVersion::V1
    );
    let error = resource(json!({"access_token_version": 3}))
        .unwrap_err()
        .to_string();
    assert!(error.contains("use 1 or 2"), "{error}");
    let app: tokenhop_emulator::ResourceConfig =
        serde_json::from_value(json!({"app_id_uri": "api://my-api"})).unwrap();
    assert_eq!(app.token_version(), TokenVersion::V2);
}
