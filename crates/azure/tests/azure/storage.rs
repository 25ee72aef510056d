//! The official `azure_storage_blob` client with tokenhop credentials against Azurite,
//! which checks each token's issuer, audience and lifetime as Storage does: client
//! credentials, the Agent ID chain's agent user, managed identity; and the tokens it
//! must refuse.

use std::collections::HashMap;

use azure_core::error::ErrorKind;
use azure_core::http::StatusCode;
use tokenhop_azure::AzureCredential;
use tokenhop_core::{AccessToken, BoxFuture, Result, Scopes, TokenCredential, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorConfig, TokenVersion, names};
use tokenhop_flows::{ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource};

use crate::common::{self, agent_user_credential, app_secret, claims, round_trip, secret_client};

#[tokio::test]
async fn client_credentials_create_upload_list_and_read_back() {
    let Some(azurite) = common::azurite() else {
        return;
    };
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = AzureCredential::new(secret_client(&emulator, &app_secret(&emulator)));
    let service = azurite.blob_service(credential).unwrap();
    let content = b"client credentials, through azure_storage_blob\n".repeat(100);
    let read = round_trip(&service, "reports", "daemon.txt", &content)
        .await
        .unwrap();
    assert_eq!(read, content);
    // Five requests, one token: the Azure SDK keeps the token, tokenhop caches it too.
    assert_eq!(emulator.counters().grant("client_credentials"), 1);
}

#[tokio::test]
async fn the_agent_user_writes_and_reads_its_own_blob() {
    let Some(azurite) = common::azurite() else {
        return;
    };
    let emulator = Emulator::builder().start().await.unwrap();
    let agent_user = emulator.config().user(names::AGENT_USER).unwrap().clone();
    let chain = agent_user_credential(&emulator, names::AGENT_IDENTITY);
    let token = chain.token(&TokenRequestOptions::default()).await.unwrap();
    let token_claims = claims(token.secret.expose_secret());
    assert_eq!(token_claims["aud"], "https://storage.azure.com");
    assert_eq!(token_claims["idtyp"], "user");
    assert_eq!(token_claims["upn"], agent_user.upn.as_str());
    assert_eq!(token_claims["ver"], "1.0");

    let service = azurite.blob_service(AzureCredential::new(chain)).unwrap();
    let blob = format!("{}.txt", agent_user.object_id);
    let content = format!("written by {} through three hops\n", agent_user.upn).into_bytes();
    let read = round_trip(&service, "agent-user", &blob, &content)
        .await
        .unwrap();
    assert_eq!(read, content);
    let counters = emulator.counters();
    assert_eq!(
        (
            counters.grant("client_credentials"),
            counters.grant("user_fic")
        ),
        (2, 1),
        "each hop once: the blob calls were served from the cache"
    );
}

#[tokio::test]
async fn a_managed_identity_from_the_emulators_imds_stores_a_blob() {
    let Some(azurite) = common::azurite() else {
        return;
    };
    let emulator = Emulator::builder().start().await.unwrap();
    let vars = HashMap::from([(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST".to_owned(),
        emulator.url().to_owned(),
    )]);
    let source = ManagedIdentitySource::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let credential = ManagedIdentityCredential::builder(source, ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap();
    let service = azurite
        .blob_service(AzureCredential::new(credential))
        .unwrap();
    let content = b"from the VM's managed identity".to_vec();
    let read = round_trip(&service, "vm-logs", "boot.log", &content)
        .await
        .unwrap();
    assert_eq!(read, content);
    assert_eq!(emulator.counters().endpoint("imds"), 1);
}

/// A credential that asks its inner one for `scopes`, whatever it is asked for: how a
/// token for the wrong resource reaches Azurite.
struct AlwaysFor<C> {
    inner: C,
    scopes: Scopes,
}

impl<C: TokenCredential> TokenCredential for AlwaysFor<C> {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        self.inner.get_token(&self.scopes, options)
    }
}

async fn create_container_with(
    azurite: &common::azurite::Azurite,
    credential: impl TokenCredential + 'static,
) -> azure_core::Result<()> {
    let service = azurite.blob_service(AzureCredential::new(credential))?;
    service
        .blob_container_client("refused")
        .create(None)
        .await
        .map(drop)
}

/// Azurite refused the token as Storage does: 403 `AuthenticationFailed`, with `detail`.
fn assert_refused(error: &azure_core::Error, detail: &str) {
    assert_eq!(error.http_status(), Some(StatusCode::Forbidden), "{error}");
    assert!(
        matches!(error.kind(), ErrorKind::HttpResponse { error_code: Some(code), .. } if code == "AuthenticationFailed"),
        "{error}"
    );
    assert!(error.to_string().contains(detail), "{error}");
}

#[tokio::test]
async fn azurite_refuses_an_expired_token_and_one_for_another_audience() {
    let Some(azurite) = common::azurite() else {
        return;
    };
    let emulator = Emulator::builder().start().await.unwrap();
    let secret = app_secret(&emulator);

    // Two hours behind: the token the emulator issues expired an hour ago by the wall
    // clock Azurite reads (the client, told `expires_in`, believes it fresh).
    emulator.advance_clock(-7200);
    let expired = create_container_with(&azurite, secret_client(&emulator, &secret)).await;
    emulator.advance_clock(7200);
    let expired = expired.expect_err("Azurite must refuse an expired token");
    assert_refused(
        &expired,
        "Lifetime validation failed. The token is expired.",
    );

    let graph = AlwaysFor {
        inner: secret_client(&emulator, &secret),
        scopes: Scopes::new(["https://graph.microsoft.com/.default"]).unwrap(),
    };
    let wrong_audience = create_container_with(&azurite, graph)
        .await
        .expect_err("Azurite must refuse a Graph token");
    assert_refused(&wrong_audience, "Invalid token audience.");

    // The same app with a current Storage token is let in: the refusals were the token's.
    create_container_with(&azurite, secret_client(&emulator, &secret))
        .await
        .unwrap();
}

#[tokio::test]
async fn azurite_refuses_storage_tokens_in_the_v2_format_entra_does_not_issue_for_it() {
    let Some(azurite) = common::azurite() else {
        return;
    };
    let mut config = EmulatorConfig::default();
    let storage = config
        .resources
        .iter_mut()
        .find(|r| r.app_id_uri == "https://storage.azure.com")
        .unwrap();
    storage.access_token_version = Some(TokenVersion::V2);
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let refused = create_container_with(&azurite, secret_client(&emulator, &app_secret(&emulator)))
        .await
        .expect_err("Azurite must refuse the emulator's v2 issuer");
    assert_refused(&refused, "Invalid token issuer.");
}
