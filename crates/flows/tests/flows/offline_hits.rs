//! A cache hit sends nothing, for every flow: each flow gets a token from the emulator,
//! the emulator is stopped, and the same flow built again on the same cache (with a new
//! HTTP client, so no pooled connection helps) answers from the cache with no request —
//! not even discovery.

use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorConfig, EmulatorHandle, names};
use tokenhop_flows::{
    AgentConfig, Authority, AzureCliConfig, CertificateSource, ClientCertificateConfig,
    ClientSecretConfig, DefaultChainConfig, EnvironmentConfig, FlowConfig, FlowKind, HttpClient,
    HttpConfig, ManagedIdentityConfig, ManagedIdentityId, OnBehalfOfConfig, PublicClient,
    SecretSource, UserConfig, WorkloadIdentityConfig,
};

/// The flow `kind` against `emulator`, with the scopes to ask it for. Files the settings
/// name go to `dir`.
async fn flow_for(
    kind: FlowKind,
    emulator: &EmulatorHandle,
    cache: &SharedTokenCache,
    dir: &std::path::Path,
) -> (FlowConfig, Scopes) {
    let config = emulator.config();
    let authority = || Authority::parse(&emulator.authority()).unwrap();
    let client_id = |app: &str| crate::common::client_id(emulator, app);
    let secret = || {
        SecretSource::Value(
            config
                .app(names::CONFIDENTIAL_SECRET)
                .unwrap()
                .secret
                .clone()
                .unwrap()
                .into(),
        )
    };
    let pem = |app: &str| CertificateSource::File(crate::common::pem_file(emulator, dir, app));
    let storage = Scopes::new(["https://storage.azure.com/.default"]).unwrap();
    let user_read = Scopes::new(["User.Read"]).unwrap();
    let signed_in_user = || async {
        // Alice signs in once; the user flows then find her in the shared cache.
        let public = PublicClient::builder(client_id(names::PUBLIC_CLIENT), authority())
            .cache(cache.clone())
            .build()
            .unwrap();
        crate::common::sign_in(emulator, &public, &user_read, names::ALICE).await;
        UserConfig::new(authority(), client_id(names::PUBLIC_CLIENT))
    };
    match kind {
        FlowKind::ClientSecret => (
            FlowConfig::ClientSecret(ClientSecretConfig::new(
                authority(),
                client_id(names::CONFIDENTIAL_SECRET),
                secret(),
            )),
            storage,
        ),
        FlowKind::ClientCertificate => (
            FlowConfig::ClientCertificate(ClientCertificateConfig::new(
                authority(),
                client_id(names::CONFIDENTIAL_CERT),
                pem(names::CONFIDENTIAL_CERT),
            )),
            storage,
        ),
        FlowKind::OnBehalfOf => {
            let middle = &config.app(names::CONFIDENTIAL_SECRET).unwrap().client_id;
            let public = PublicClient::builder(client_id(names::PUBLIC_CLIENT), authority())
                .build()
                .unwrap();
            let api = Scopes::new([format!("api://{middle}/access_as_user")]).unwrap();
            let incoming = crate::common::sign_in(emulator, &public, &api, names::ALICE).await;
            (
                FlowConfig::OnBehalfOf(OnBehalfOfConfig::new(
                    authority(),
                    client_id(names::CONFIDENTIAL_SECRET),
                    Some(secret()),
                    SecretSource::Value(incoming.token.secret),
                )),
                Scopes::new(["https://graph.microsoft.com/User.Read"]).unwrap(),
            )
        }
        FlowKind::Silent => (FlowConfig::Silent(signed_in_user().await), user_read),
        FlowKind::DeviceCode => (FlowConfig::DeviceCode(signed_in_user().await), user_read),
        FlowKind::Interactive => {
            // No browser may open: the cached account answers.
            let mut user = signed_in_user().await;
            user.port = Some(0);
            (FlowConfig::Interactive(user), user_read)
        }
        FlowKind::ManagedIdentity => {
            let mut settings = ManagedIdentityConfig::new(ManagedIdentityId::ClientId(
                config.managed_identities[1].client_id.clone(),
            ));
            settings.endpoint = Some(format!("{}/metadata/identity/oauth2/token", emulator.url()));
            (FlowConfig::ManagedIdentity(settings), storage)
        }
        FlowKind::WorkloadIdentity => {
            let token_file = dir.join("federated-token");
            std::fs::write(
                &token_file,
                emulator.federated_token(names::WORKLOAD_SUBJECT).unwrap(),
            )
            .unwrap();
            let mut settings = WorkloadIdentityConfig::default();
            settings.client_id = Some(client_id(names::WORKLOAD_APP).to_string());
            settings.tenant_id = Some(emulator.tenant_id().to_owned());
            settings.token_file = Some(token_file);
            settings.authority_host = Some(emulator.url().to_owned());
            (FlowConfig::WorkloadIdentity(settings), storage)
        }
        FlowKind::AgentIdentity | FlowKind::AgentUser => {
            let agent_user = kind == FlowKind::AgentUser;
            let settings =
                crate::common::agent_settings(emulator, names::AGENT_IDENTITY, agent_user);
            let mut agent = AgentConfig::new(settings, pem(names::AGENT_BLUEPRINT));
            agent.authority_host = Some(emulator.url().to_owned());
            let flow = if agent_user {
                FlowConfig::AgentUser(agent)
            } else {
                FlowConfig::AgentIdentity(agent)
            };
            (
                flow,
                Scopes::new(["https://graph.microsoft.com/.default"]).unwrap(),
            )
        }
        FlowKind::AzureCli | FlowKind::Default => {
            let cli_dir = dir.join("azure");
            std::fs::create_dir_all(&cli_dir).unwrap();
            crate::azure_cli::write_cloud(emulator, &cli_dir);
            crate::azure_cli::sign_in_at(emulator, &cli_dir).await;
            let arm = Scopes::new(["https://management.core.windows.net//.default"]).unwrap();
            if kind == FlowKind::AzureCli {
                let mut settings = AzureCliConfig::default();
                settings.config_dir = Some(cli_dir);
                (FlowConfig::AzureCli(settings), arm)
            } else {
                let mut settings = DefaultChainConfig::default();
                settings.exclude = ["environment", "workload-identity", "managed-identity"]
                    .map(String::from)
                    .into();
                settings.azure_config_dir = Some(cli_dir);
                (FlowConfig::Default(settings), arm)
            }
        }
        FlowKind::Environment => {
            let mut settings = EnvironmentConfig::default();
            settings.tenant_id = Some(emulator.tenant_id().to_owned());
            settings.client_id = Some(client_id(names::CONFIDENTIAL_SECRET).to_string());
            settings.client_secret = Some(secret());
            settings.authority_host = Some(emulator.url().to_owned());
            (FlowConfig::Environment(settings), storage)
        }
        other => panic!("no offline-hit case for {other}: add one"),
    }
}

#[tokio::test]
async fn every_flow_answers_a_hit_with_the_emulator_stopped() {
    for kind in FlowKind::ALL {
        let mut config = EmulatorConfig::default();
        config.device_code.interval_secs = 1;
        let emulator = Emulator::builder().config(config).start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = SharedTokenCache::in_memory();
        let (flow, scopes) = flow_for(kind, &emulator, &cache, dir.path()).await;
        let online = flow
            .clone()
            .credential()
            .cache(cache.clone())
            .build()
            .unwrap()
            .get_token(&scopes, &TokenRequestOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{kind}, online: {e}"));
        drop(emulator);

        let http = HttpClient::new(HttpConfig::default()).unwrap();
        let offline = flow
            .credential()
            .cache(cache)
            .http(http.clone())
            .show_code(move |_| panic!("{kind}: a hit must not sign anyone in"))
            .build()
            .unwrap();
        let token = Arc::clone(&offline)
            .get_token(&scopes, &TokenRequestOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{kind}, with the emulator stopped: {e}"));
        assert_eq!(token.secret, online.secret, "{kind}");
        assert_eq!(http.requests_sent(), 0, "{kind} sent a request on a hit");
    }
}
