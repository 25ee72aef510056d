//! What the tokenhop-azure tests share: Azurite (under CI a failure when it cannot run),
//! the emulator's apps as tokenhop and `azure_identity` credentials, and a blob round
//! trip through the official client.

pub mod azurite;

use std::sync::Arc;

use azure_core::http::{ClientOptions, RequestContent};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use azure_storage_blob::BlobServiceClient;
use futures::TryStreamExt;
use serde_json::{Map, Value};
use tokenhop_core::ClientId;
use tokenhop_emulator::{EmulatorHandle, names};
use tokenhop_flows::{
    AgentIdSettings, AgentResource, AgentUserCredential, Authority, CertificateAssertions,
    ClientCredential, ConfidentialClient,
};

use self::azurite::{Azurite, AzuriteError};

/// Azurite, started; `None` (with a line saying why) when it is not installed outside
/// CI. Under `CI=true` every failure to start is a test failure.
pub fn azurite() -> Option<Azurite> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    match Azurite::start() {
        Ok(azurite) => Some(azurite),
        Err(AzuriteError::NotInstalled(why)) if !in_ci => {
            eprintln!("skipping: {why}");
            None
        }
        Err(error) => panic!("{error}"),
    }
}

/// The emulator's `confidential-secret` app as a tokenhop credential, with `secret`.
pub fn secret_client(emulator: &EmulatorHandle, secret: &str) -> ConfidentialClient {
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(secret.to_owned()),
    )
    .build()
    .unwrap()
}

/// The `confidential-secret` app's secret.
pub fn app_secret(emulator: &EmulatorHandle) -> String {
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    app.secret.clone().unwrap()
}

/// The Agent ID three-hop chain of the built-in agent identity to its agent user, for
/// Storage; `agent` names the agent identity (another blueprint's fails at hop 2).
pub fn agent_user_credential(emulator: &EmulatorHandle, agent: &str) -> AgentUserCredential {
    let config = emulator.config();
    let mut settings = AgentIdSettings::default();
    settings.tenant_id = Some(emulator.tenant_id().to_owned());
    settings.blueprint_id = Some(
        config
            .app(names::AGENT_BLUEPRINT)
            .unwrap()
            .client_id
            .clone(),
    );
    settings.agent_id = Some(config.agent_identity(agent).unwrap().client_id.clone());
    settings.agent_user_id = Some(config.user(names::AGENT_USER).unwrap().object_id.clone());
    let generated = emulator.app_certificate(names::AGENT_BLUEPRINT).unwrap();
    let pem = format!("{}{}", generated.certificate_pem, generated.private_key_pem);
    let certificate = tokenhop_cert::ClientCertificate::from_pem(pem.as_bytes(), None).unwrap();
    AgentUserCredential::builder(settings)
        .authority_host(emulator.url())
        .blueprint_credential(CertificateAssertions::new(certificate).into_credential())
        .resource(AgentResource::Storage)
        .build()
        .unwrap()
}

/// `azure_identity`'s own client secret credential for the `confidential-secret` app,
/// pointed at a TLS emulator (a custom cloud whose authority host is the emulator).
pub fn azure_identity_secret_credential(
    emulator: &EmulatorHandle,
    secret: &str,
) -> Arc<ClientSecretCredential> {
    let mut cloud = azure_core::cloud::CustomConfiguration::default();
    cloud.authority_host = emulator.url().to_owned();
    let ca = emulator.ca_cert_pem().expect("a TLS emulator");
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    ClientSecretCredential::new(
        emulator.tenant_id(),
        app.client_id.clone(),
        secret.to_owned().into(),
        Some(ClientSecretCredentialOptions {
            client_options: ClientOptions {
                transport: Some(azurite::https_transport(&[ca]).unwrap()),
                cloud: Some(Arc::new(cloud.into())),
                ..ClientOptions::default()
            },
        }),
    )
    .unwrap()
}

/// Through the official blob client: creates `container`, uploads `blob` with
/// `content`, checks the listing shows it, and returns what a download reads back.
pub async fn round_trip(
    service: &BlobServiceClient,
    container: &str,
    blob: &str,
    content: &[u8],
) -> azure_core::Result<Vec<u8>> {
    let container_client = service.blob_container_client(container);
    container_client.create(None).await?;
    let blob_client = container_client.blob_client(blob);
    blob_client
        .upload(RequestContent::from(content.to_vec()), None)
        .await?;
    let mut listed = Vec::new();
    let mut pager = container_client.list_blobs(None)?;
    while let Some(item) = pager.try_next().await? {
        listed.extend(item.name);
    }
    assert_eq!(listed, [blob], "the listing shows the one blob");
    let downloaded = blob_client.download(None).await?;
    Ok(downloaded.body.collect().await?.to_vec())
}

/// The claims of a JWT (unverified).
pub fn claims(token: &str) -> Map<String, Value> {
    tokenhop_flows::unverified_claims(token).unwrap()
}
