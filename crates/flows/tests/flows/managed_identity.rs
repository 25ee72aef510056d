//! Managed identity against the emulator's IMDS and App Service endpoints, found the
//! way MSAL finds them: through the environment.

use std::collections::HashMap;

use tokenhop_core::{Scopes, TokenCredential, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::unverified_claims;
use tokenhop_flows::{ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource};

fn storage() -> Scopes {
    Scopes::new(["https://storage.azure.com/.default"]).unwrap()
}

fn source(vars: &[(&str, String)]) -> ManagedIdentitySource {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    ManagedIdentitySource::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

fn imds(emulator: &EmulatorHandle) -> ManagedIdentitySource {
    source(&[(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        emulator.url().to_owned(),
    )])
}

fn identity(emulator: &EmulatorHandle, name: &str) -> tokenhop_emulator::ManagedIdentityConfig {
    emulator
        .config()
        .managed_identities
        .iter()
        .find(|i| i.name == name)
        .unwrap()
        .clone()
}

async fn token_oid(credential: &ManagedIdentityCredential) -> String {
    let token = credential
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(claims["aud"], "https://storage.azure.com");
    claims["oid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn imds_system_assigned_then_a_cache_hit() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential =
        ManagedIdentityCredential::builder(imds(&emulator), ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap();
    assert_eq!(
        token_oid(&credential).await,
        identity(&emulator, names::SYSTEM_ASSIGNED_IDENTITY).object_id
    );
    token_oid(&credential).await;
    assert_eq!(
        emulator.counters().endpoint("imds"),
        1,
        "the second call is a cache hit"
    );
}

#[tokio::test]
async fn imds_user_assigned_by_client_id_object_id_and_resource_id() {
    let emulator = Emulator::builder().start().await.unwrap();
    let user = identity(&emulator, names::USER_ASSIGNED_IDENTITY);
    for id in [
        ManagedIdentityId::ClientId(user.client_id.clone()),
        ManagedIdentityId::ObjectId(user.object_id.clone()),
        ManagedIdentityId::ResourceId(user.resource_id.clone()),
    ] {
        let credential = ManagedIdentityCredential::builder(imds(&emulator), id.clone())
            .build()
            .unwrap();
        assert_eq!(token_oid(&credential).await, user.object_id, "{id:?}");
    }
}

#[tokio::test]
async fn app_service_with_the_identity_header() {
    let emulator = Emulator::builder().start().await.unwrap();
    let app_service = source(&[
        ("IDENTITY_ENDPOINT", format!("{}/msi/token", emulator.url())),
        ("IDENTITY_HEADER", emulator.config().identity_header.clone()),
        (
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "http://127.0.0.1:9".into(),
        ),
    ]);
    let credential =
        ManagedIdentityCredential::builder(app_service, ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap();
    assert_eq!(
        token_oid(&credential).await,
        identity(&emulator, names::SYSTEM_ASSIGNED_IDENTITY).object_id
    );
    assert_eq!(
        (
            emulator.counters().endpoint("app_service"),
            emulator.counters().endpoint("imds")
        ),
        (1, 0)
    );
}

#[tokio::test]
async fn an_unknown_identity_and_a_wrong_header_are_clear_errors() {
    let emulator = Emulator::builder().start().await.unwrap();
    let unknown = ManagedIdentityCredential::builder(
        imds(&emulator),
        ManagedIdentityId::ClientId("no-such-identity".into()),
    )
    .build()
    .unwrap();
    let err = unknown
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Identity not found"), "{err}");

    let wrong_header = source(&[
        ("IDENTITY_ENDPOINT", format!("{}/msi/token", emulator.url())),
        ("IDENTITY_HEADER", "wrong-header-value".into()),
    ]);
    let credential =
        ManagedIdentityCredential::builder(wrong_header, ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap();
    let err = credential
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("wrong-header-value"), "{err}");
    assert!(
        matches!(err, tokenhop_core::Error::InvalidResponse { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_dropped_get_is_sent_again_and_claims_bypass_the_cache() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator
        .inject(tokenhop_emulator::Fault::new("imds", tokenhop_emulator::FaultKind::Drop).times(1));
    let credential =
        ManagedIdentityCredential::builder(imds(&emulator), ManagedIdentityId::SystemAssigned)
            .build()
            .unwrap();
    token_oid(&credential).await;
    assert_eq!(emulator.counters().endpoint("imds"), 2, "a GET is replayed");
    let challenged = TokenRequestOptions::default()
        .with_claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#);
    credential.get_token(&storage(), &challenged).await.unwrap();
    assert_eq!(emulator.counters().endpoint("imds"), 3, "past the cache");
    let other = TokenRequestOptions::default()
        .with_tenant(tokenhop_core::TenantId::new("fabrikam.com").unwrap());
    let err = credential.get_token(&storage(), &other).await.unwrap_err();
    assert!(err.to_string().contains("own tenant"), "{err}");
}
