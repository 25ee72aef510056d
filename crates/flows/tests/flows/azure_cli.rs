//! The Azure CLI's sign-in reused from its own files: a directory laid out as `az login`
//! leaves it (the MSAL cache signed in with the CLI's client id, `azureProfile.json`
//! with a BOM and two subscriptions in two tenants, `service_principal_entries.json`),
//! and the `az` fallback with a stub script. (The same with a cache MSAL Python wrote:
//! `cargo xtask ci`'s `interop-azure-cli` step.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{Error, Scopes, TokenCredential, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::{
    AZURE_CLI_CLIENT_ID, Authority, AzureCliCredential, PublicClient, unverified_claims,
};

const ARM: &str = "https://management.core.windows.net//.default";
const GRAPH: &str = "https://graph.microsoft.com/.default";

fn scopes(scope: &str) -> Scopes {
    Scopes::new([scope]).unwrap()
}

/// Writes `azureProfile.json` as the CLI does: UTF-8 with a BOM.
pub fn write_profile(dir: &Path, subscriptions: serde_json::Value) {
    let json = json!({"installationId": "5b8c1f5e-0000-4000-8000-000000000001", "subscriptions": subscriptions});
    let bytes = [b"\xEF\xBB\xBF".as_slice(), json.to_string().as_bytes()].concat();
    std::fs::write(dir.join("azureProfile.json"), bytes).unwrap();
}

/// A subscription entry of `azureProfile.json` in the emulator's cloud.
pub fn subscription(
    id: &str,
    name: &str,
    tenant: &str,
    default: bool,
    user: (&str, &str),
) -> serde_json::Value {
    json!({
        "id": id, "name": name, "state": "Enabled", "isDefault": default, "tenantId": tenant,
        "environmentName": "Emulator", "homeTenantId": tenant, "managedByTenants": [],
        "user": {"name": user.0, "type": user.1},
    })
}

/// A config directory whose `clouds.config` points the cloud `Emulator` at `emulator`.
pub fn config_dir(emulator: &EmulatorHandle) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_cloud(emulator, dir.path());
    dir
}

/// `clouds.config` in `dir` with the cloud `Emulator` at `emulator`.
pub fn write_cloud(emulator: &EmulatorHandle, dir: &Path) {
    std::fs::write(
        dir.join("clouds.config"),
        format!(
            "[Emulator]\nendpoint_active_directory = {}\nendpoint_resource_manager = https://management.azure.com/\n",
            emulator.url()
        ),
    )
    .unwrap();
}

/// `az login` as alice: device code with the CLI's client id for Resource Manager,
/// into the CLI's cache file.
async fn az_login_alice(emulator: &EmulatorHandle, dir: &Path) {
    let client = PublicClient::builder(
        tokenhop_core::ClientId::new(AZURE_CLI_CLIENT_ID).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .cache(SharedTokenCache::file(dir.join("msal_token_cache.json")))
    .build()
    .unwrap();
    crate::common::sign_in(emulator, &client, &scopes(ARM), names::ALICE).await;
}

fn alice() -> String {
    "alice@contoso.onmicrosoft.com".to_owned()
}

fn other_tenant(emulator: &EmulatorHandle) -> String {
    emulator.config().other_tenants[0].tenant_id.clone()
}

/// Alice in two subscriptions of two tenants, the first the default.
pub async fn signed_in(emulator: &EmulatorHandle) -> tempfile::TempDir {
    let dir = config_dir(emulator);
    sign_in_at(emulator, dir.path()).await;
    dir
}

/// [`signed_in`] in `dir`, which names the emulator's cloud already.
pub async fn sign_in_at(emulator: &EmulatorHandle, dir: &Path) {
    az_login_alice(emulator, dir).await;
    write_profile(
        dir,
        json!([
            subscription(
                "11111111-0000-4000-8000-000000000001",
                "Contoso Dev",
                emulator.tenant_id(),
                true,
                (&alice(), "user")
            ),
            subscription(
                "22222222-0000-4000-8000-000000000002",
                "Northwind Prod",
                &other_tenant(emulator),
                false,
                (&alice(), "user")
            ),
        ]),
    );
}

#[tokio::test]
async fn a_valid_token_is_a_hit_an_other_scope_one_refresh_written_back_for_the_cli() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = signed_in(&emulator).await;
    emulator.reset_counters();
    let credential = AzureCliCredential::builder()
        .config_dir(dir.path())
        .build()
        .unwrap();
    let options = TokenRequestOptions::default();

    let arm = credential.get_token(&scopes(ARM), &options).await.unwrap();
    assert_eq!(
        emulator.counters().endpoint("token"),
        0,
        "a cache hit makes no request"
    );
    assert_eq!(
        unverified_claims(arm.secret.expose_secret()).unwrap()["aud"],
        "https://management.core.windows.net/"
    );

    let graph = credential
        .get_token(&scopes(GRAPH), &options)
        .await
        .unwrap();
    assert_eq!(emulator.counters().endpoint("token"), 1);
    assert_eq!(
        emulator.counters().grant("refresh_token"),
        1,
        "by the cached refresh token"
    );
    credential
        .get_token(&scopes(GRAPH), &options)
        .await
        .unwrap();
    assert_eq!(emulator.counters().endpoint("token"), 1, "and cached");

    // Written back to the CLI's file: another reader with the CLI's client id finds it.
    let reader = PublicClient::builder(
        tokenhop_core::ClientId::new(AZURE_CLI_CLIENT_ID).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .cache(SharedTokenCache::file(
        dir.path().join("msal_token_cache.json"),
    ))
    .build()
    .unwrap();
    let account = reader.accounts().await.unwrap().remove(0);
    let again = reader
        .acquire_token_silent(&scopes(GRAPH), &account, &options)
        .await
        .unwrap();
    assert_eq!(again.secret.expose_secret(), graph.secret.expose_secret());
    assert_eq!(emulator.counters().endpoint("token"), 1);
}

#[tokio::test]
async fn the_subscription_chooses_its_tenant_and_the_tenant_can_be_given() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = signed_in(&emulator).await;
    let other = other_tenant(&emulator);
    for credential in [
        AzureCliCredential::builder()
            .config_dir(dir.path())
            .subscription("northwind prod"),
        AzureCliCredential::builder()
            .config_dir(dir.path())
            .subscription("22222222-0000-4000-8000-000000000002"),
        AzureCliCredential::builder()
            .config_dir(dir.path())
            .tenant(&other),
    ] {
        let token = credential
            .build()
            .unwrap()
            .get_token(&scopes(ARM), &TokenRequestOptions::default())
            .await
            .unwrap();
        assert_eq!(
            unverified_claims(token.secret.expose_secret()).unwrap()["tid"],
            other.as_str()
        );
    }
    assert_eq!(
        emulator.counters().grant("refresh_token"),
        1,
        "the other tenant's token is cached"
    );

    let err = AzureCliCredential::builder()
        .config_dir(dir.path())
        .subscription("nope")
        .build()
        .unwrap()
        .get_token(&scopes(ARM), &TokenRequestOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"Northwind Prod\""), "{err}");
    assert!(
        AzureCliCredential::builder()
            .tenant("t")
            .subscription("s")
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn a_service_principal_login_uses_the_credential_the_cli_stored() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = config_dir(&emulator);
    let app = emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .clone();
    write_profile(
        dir.path(),
        json!([subscription(
            "33333333-0000-4000-8000-000000000003",
            "Automation",
            emulator.tenant_id(),
            true,
            (&app.client_id, "servicePrincipal")
        )]),
    );
    std::fs::write(
        dir.path().join("service_principal_entries.json"),
        json!([{"client_id": app.client_id, "tenant": emulator.tenant_id(), "client_secret": app.secret}]).to_string(),
    )
    .unwrap();
    std::fs::write(dir.path().join("msal_token_cache.json"), "{}").unwrap();
    let credential = AzureCliCredential::builder()
        .config_dir(dir.path())
        .build()
        .unwrap();
    let options = TokenRequestOptions::default();
    let token = credential
        .get_token(&scopes(GRAPH), &options)
        .await
        .unwrap();
    assert_eq!(
        unverified_claims(token.secret.expose_secret()).unwrap()["appid"],
        app.client_id.as_str()
    );
    credential
        .get_token(&scopes(GRAPH), &options)
        .await
        .unwrap();
    assert_eq!(emulator.counters().grant("client_credentials"), 1);
    let file = std::fs::read_to_string(dir.path().join("msal_token_cache.json")).unwrap();
    assert!(
        file.contains(&app.client_id),
        "the app token is in the CLI's cache"
    );

    std::fs::write(dir.path().join("service_principal_entries.json"), "[]").unwrap();
    let err = AzureCliCredential::builder()
        .config_dir(dir.path())
        .build()
        .unwrap()
        .get_token(&scopes(GRAPH), &options)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("az login --service-principal"), "{err}");
}

/// A stub `az` that records its arguments and prints what `az account get-access-token
/// --output json` prints (after `delay` seconds).
fn stub_az(dir: &Path, delay: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("az");
    let log = dir.join("az.log");
    let expires_on = tokenhop_core::epoch_seconds(std::time::SystemTime::now()) + 3600;
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nsleep {delay}\necho \"$@\" >> '{}'\necho '{{\"accessToken\": \"from-az\", \"expiresOn\": \"2030-01-01 00:00:00.000000\", \"expires_on\": {expires_on}, \"subscription\": \"s\", \"tenant\": \"t\", \"tokenType\": \"Bearer\"}}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn an_unreadable_cache_falls_back_to_az_with_a_timeout() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = config_dir(&emulator);
    write_profile(
        dir.path(),
        json!([subscription(
            "s",
            "S",
            emulator.tenant_id(),
            true,
            (&alice(), "user")
        )]),
    );
    std::fs::write(
        dir.path().join("msal_token_cache.bin"),
        b"\x01\x00encrypted",
    )
    .unwrap();
    let bin = tempfile::tempdir().unwrap();
    let az = stub_az(bin.path(), 0);
    let credential = AzureCliCredential::builder()
        .config_dir(dir.path())
        .tenant("t1")
        .az_program(&az)
        .build()
        .unwrap();
    let options = TokenRequestOptions::default();
    let token = credential.get_token(&scopes(ARM), &options).await.unwrap();
    assert_eq!(token.secret.expose_secret(), "from-az");
    credential.get_token(&scopes(ARM), &options).await.unwrap();
    let log = std::fs::read_to_string(bin.path().join("az.log")).unwrap();
    assert_eq!(
        log,
        format!("account get-access-token --output json --scope {ARM} --tenant t1\n"),
        "run once, its token kept in memory"
    );
    assert_eq!(emulator.counters().endpoint("token"), 0);

    let slow = stub_az(bin.path(), 5);
    let started = std::time::Instant::now();
    let err = AzureCliCredential::builder()
        .config_dir(dir.path())
        .az_program(&slow)
        .az_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .get_token(&scopes(ARM), &options)
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(err.contains("did not finish within 0.3 s"), "{err}");
    assert!(
        err.contains("msal_token_cache.json does not exist") && err.contains("az login"),
        "{err}"
    );

    let err = AzureCliCredential::builder()
        .config_dir(dir.path())
        .az_program(bin.path().join("no-such-az"))
        .build()
        .unwrap()
        .get_token(&scopes(ARM), &options)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("could not start") && err.contains("az login"),
        "{err}"
    );
}

#[tokio::test]
async fn nobody_signed_in_and_claims_say_what_to_run() {
    let empty = tempfile::tempdir().unwrap();
    let credential = AzureCliCredential::builder()
        .config_dir(empty.path())
        .build()
        .unwrap();
    let err = credential
        .get_token(&scopes(ARM), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
    assert!(
        err.to_string().contains("nobody is signed in") && err.to_string().contains("`az login`"),
        "{err}"
    );
    assert!(!credential.is_signed_in());

    let emulator = Emulator::builder().start().await.unwrap();
    let dir = signed_in(&emulator).await;
    let credential = AzureCliCredential::builder()
        .config_dir(dir.path())
        .build()
        .unwrap();
    assert!(credential.is_signed_in());
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let err = credential
        .get_token(
            &scopes(ARM),
            &TokenRequestOptions::default().with_claims(claims),
        )
        .await
        .unwrap_err()
        .to_string();
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(claims);
    assert!(
        err.contains(&format!("az login --claims-challenge {encoded}")),
        "{err}"
    );

    // Bob is in the profile but never signed in to the cache.
    write_profile(
        dir.path(),
        json!([subscription(
            "s",
            "S",
            emulator.tenant_id(),
            true,
            ("bob@contoso.onmicrosoft.com", "user")
        )]),
    );
    let err = credential
        .get_token(&scopes(ARM), &TokenRequestOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bob@contoso.onmicrosoft.com is not signed in")
            && err.contains("az login --tenant"),
        "{err}"
    );
}
