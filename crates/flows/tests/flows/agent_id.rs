//! The Entra Agent ID two-hop chain against the emulator: claims, caching per hop,
//! errors that name their hop, single-flight.

use std::sync::Arc;

use tokenhop_cache::{Section, SharedTokenCache, entry::Field};
use tokenhop_core::{Error, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::CertificateAssertions;
use tokenhop_flows::unverified_claims;
use tokenhop_flows::{AgentIdSettings, AgentIdentityCredential, AgentResource};

fn blueprint_id(emulator: &EmulatorHandle) -> String {
    emulator
        .config()
        .app(names::AGENT_BLUEPRINT)
        .unwrap()
        .client_id
        .clone()
}

fn agent_id(emulator: &EmulatorHandle, name: &str) -> String {
    emulator
        .config()
        .agent_identity(name)
        .unwrap()
        .client_id
        .clone()
}

fn settings(emulator: &EmulatorHandle, agent: &str) -> AgentIdSettings {
    let mut settings = AgentIdSettings::default();
    settings.tenant_id = Some(emulator.tenant_id().to_owned());
    settings.blueprint_id = Some(blueprint_id(emulator));
    settings.agent_id = Some(agent_id(emulator, agent));
    settings
}

fn credential(
    emulator: &EmulatorHandle,
    agent: &str,
    cache: SharedTokenCache,
) -> AgentIdentityCredential {
    let generated = emulator.app_certificate(names::AGENT_BLUEPRINT).unwrap();
    let pem = format!("{}{}", generated.certificate_pem, generated.private_key_pem);
    let certificate = tokenhop_cert::ClientCertificate::from_pem(pem.as_bytes(), None).unwrap();
    AgentIdentityCredential::builder(settings(emulator, agent))
        .authority_host(emulator.url())
        .blueprint_credential(CertificateAssertions::new(certificate).into_credential())
        .resource(AgentResource::Graph)
        .cache(cache)
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_hops_give_the_agent_an_app_token_for_graph() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = credential(
        &emulator,
        names::AGENT_IDENTITY,
        SharedTokenCache::in_memory(),
    );
    let token = credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(
        claims["appid"],
        agent_id(&emulator, names::AGENT_IDENTITY).as_str()
    );
    assert_eq!(claims["xms_par_app_azp"], blueprint_id(&emulator).as_str());
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        2,
        "one request per hop"
    );
}

#[tokio::test]
async fn a_second_call_makes_no_request_and_only_an_expired_last_hop_runs_again() {
    let emulator = Emulator::builder().start().await.unwrap();
    let cache = SharedTokenCache::in_memory();
    let credential = credential(&emulator, names::AGENT_IDENTITY, cache.clone());
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    emulator.reset_counters();
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(emulator.counters().endpoint("token"), 0);

    // Hop 1's token (keyed by fmi_path) stays; hop 2's goes.
    let agent = agent_id(&emulator, names::AGENT_IDENTITY);
    cache
        .write(|c| {
            let keys: Vec<String> = c
                .entries(Section::AccessToken)
                .filter(|(_, e)| e.get(Field::ClientId) == Some(agent.as_str()))
                .map(|(k, _)| k.to_owned())
                .collect();
            assert_eq!(keys.len(), 1);
            assert!(
                c.entries(Section::AccessToken)
                    .any(|(k, _)| k.contains("-atext-")),
                "hop 1 is under an extended key"
            );
            for key in keys {
                c.remove(Section::AccessToken, &key);
            }
        })
        .unwrap();
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        1,
        "only hop 2 ran again"
    );
}

#[tokio::test]
async fn an_agent_of_another_blueprint_fails_at_hop_2_with_the_aadsts_code() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = credential(
        &emulator,
        names::FOREIGN_AGENT_IDENTITY,
        SharedTokenCache::in_memory(),
    );
    let err = credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap_err();
    match &err {
        Error::TokenExchange {
            hop, error_codes, ..
        } => {
            assert_eq!(*hop, Some(2), "{err}");
            assert_eq!(error_codes, &vec![7002137]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("hop 2"), "{err}");
}

#[test]
fn missing_configuration_names_every_missing_field() {
    let err = AgentIdentityCredential::builder(AgentIdSettings::default())
        .build()
        .unwrap_err();
    match err {
        Error::AgentIdNotAvailable { missing } => {
            assert_eq!(
                missing,
                vec![
                    "tenant_id",
                    "blueprint_id",
                    "agent_id",
                    "blueprint_credential"
                ]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_callers_make_one_request_per_hop() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = Arc::new(credential(
        &emulator,
        names::AGENT_IDENTITY,
        SharedTokenCache::in_memory(),
    ));
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (credential, barrier) = (Arc::clone(&credential), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                credential.token(&TokenRequestOptions::default()).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(emulator.counters().grant("client_credentials"), 2);
}

#[tokio::test]
async fn a_forced_refresh_redoes_hop_2_and_hop_1_only_when_rejected_again() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = credential(
        &emulator,
        names::AGENT_IDENTITY,
        SharedTokenCache::in_memory(),
    );
    credential
        .token(&TokenRequestOptions::default())
        .await
        .unwrap();
    emulator.reset_counters();
    credential
        .token(&TokenRequestOptions::force_refresh())
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        1,
        "hop 2 only"
    );
    emulator.reset_counters();
    credential
        .token(&TokenRequestOptions::force_refresh())
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        2,
        "hops 1 and 2"
    );
    let other = TokenRequestOptions::default()
        .with_tenant(tokenhop_core::TenantId::new("northwind.onmicrosoft.com").unwrap());
    let err = credential.token(&other).await.unwrap_err();
    assert!(
        matches!(&err, Error::Configuration { message } if message.contains("own tenant")),
        "{err:?}"
    );
}
