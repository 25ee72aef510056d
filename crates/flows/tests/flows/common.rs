//! What several flows tests build the same way: an app's client id, the secret app's
//! client, a certificate file, a device code sign-in, Agent ID settings and the
//! blueprint's credential from the emulator's directory.

use tokenhop_core::{ClientId, Scopes};
use tokenhop_emulator::{EmulatorHandle, names};
use tokenhop_flows::AgentIdSettings;
use tokenhop_flows::CertificateAssertions;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::{Authority, ConfidentialClient, HttpClient};
use tokenhop_flows::{PublicClient, UserToken};

/// The client id of the emulator's app named `app`.
pub fn client_id(emulator: &EmulatorHandle, app: &str) -> ClientId {
    ClientId::new(emulator.config().app(app).unwrap().client_id.clone()).unwrap()
}

/// The emulator's secret app at `authority`, sending through `http`.
pub fn secret_client(
    emulator: &EmulatorHandle,
    authority: &str,
    http: HttpClient,
) -> ConfidentialClient {
    let secret = emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .secret
        .clone();
    ConfidentialClient::builder(
        client_id(emulator, names::CONFIDENTIAL_SECRET),
        Authority::parse(authority).unwrap(),
        ClientCredential::secret(secret.unwrap()),
    )
    .http(http)
    .build()
    .unwrap()
}

/// Writes the certificate and key the emulator generated for `app` to one PEM file in
/// `dir`.
pub fn pem_file(emulator: &EmulatorHandle, dir: &std::path::Path, app: &str) -> std::path::PathBuf {
    let generated = emulator.app_certificate(app).unwrap();
    let path = dir.join(format!("{app}.pem"));
    std::fs::write(
        &path,
        format!("{}{}", generated.certificate_pem, generated.private_key_pem),
    )
    .unwrap();
    path
}

/// Signs `user` in by device code for `scopes`, approving as soon as the code is shown.
pub async fn sign_in(
    emulator: &EmulatorHandle,
    client: &PublicClient,
    scopes: &Scopes,
    user: &str,
) -> UserToken {
    client
        .acquire_token_by_device_code(scopes, |info| {
            assert!(emulator.approve_device_code(Some(&info.user_code), user, 0));
        })
        .await
        .unwrap()
}

/// Settings for the agent identity named `agent` of the built-in blueprint; with
/// `agent_user` set, for the three-hop chain by the agent user's object id.
pub fn agent_settings(emulator: &EmulatorHandle, agent: &str, agent_user: bool) -> AgentIdSettings {
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
    if agent_user {
        settings.agent_user_id = Some(config.user(names::AGENT_USER).unwrap().object_id.clone());
    }
    settings
}

/// The blueprint's certificate credential (the certificate the emulator generated).
pub fn blueprint_credential(emulator: &EmulatorHandle) -> ClientCredential {
    let generated = emulator.app_certificate(names::AGENT_BLUEPRINT).unwrap();
    let pem = format!("{}{}", generated.certificate_pem, generated.private_key_pem);
    let certificate = tokenhop_cert::ClientCertificate::from_pem(pem.as_bytes(), None).unwrap();
    CertificateAssertions::new(certificate).into_credential()
}
