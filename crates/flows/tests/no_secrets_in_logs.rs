//! Everything the flows log at TRACE during a whole Agent ID chain and a refused
//! request, and every error they return, is free of secrets: tokens, assertions (all
//! JWTs, so no `eyJ` anywhere), client secrets, keys.
//!
//! One test in this binary: it installs the process-wide subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tokenhop_cache::{Section, SharedTokenCache, entry::F};
use tokenhop_core::{ClientId, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, names};
use tokenhop_flows::agent_id::{AgentIdBuilder, AgentIdSettings};
use tokenhop_flows::authority::Authority;
use tokenhop_flows::certificate::CertificateAssertions;
use tokenhop_flows::client_auth::ClientCredential;
use tokenhop_flows::confidential::ConfidentialClient;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_output_and_errors_hold_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let emulator = Emulator::builder().start().await.unwrap();
    let generated = emulator.app_certificate(names::AGENT_BLUEPRINT).unwrap();
    let pem = format!("{}{}", generated.certificate_pem, generated.private_key_pem);
    let certificate = tokenhop_cert::ClientCertificate::from_pem(pem.as_bytes(), None).unwrap();
    let mut settings = AgentIdSettings::default();
    settings.tenant_id = Some(emulator.tenant_id().to_owned());
    settings.blueprint_id = Some(
        emulator
            .config()
            .app(names::AGENT_BLUEPRINT)
            .unwrap()
            .client_id
            .clone(),
    );
    settings.agent_id = Some(
        emulator
            .config()
            .agent_identity(names::AGENT_IDENTITY)
            .unwrap()
            .client_id
            .clone(),
    );
    settings.agent_user_id = Some(
        emulator
            .config()
            .user(names::AGENT_USER)
            .unwrap()
            .object_id
            .clone(),
    );
    let cache = SharedTokenCache::in_memory();
    let chain = AgentIdBuilder::new(settings)
        .authority_host(emulator.url())
        .blueprint_credential(CertificateAssertions::new(certificate).into_credential())
        .cache(cache.clone())
        .build_user()
        .unwrap();
    let user_token = chain.token(&TokenRequestOptions::default()).await.unwrap();
    let cached_secrets: Vec<String> = cache
        .read(|c| {
            [
                Section::AccessToken,
                Section::RefreshToken,
                Section::IdToken,
            ]
            .into_iter()
            .flat_map(|section| {
                c.entries(section)
                    .filter_map(|(_, e)| e.get(F::Secret).map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect()
        })
        .unwrap();
    assert_eq!(
        cached_secrets.len(),
        5,
        "T1, T2, the user's token, refresh token and id token"
    );

    let wrong_secret = "wrong-secret-3c9a7f";
    let refused = ConfidentialClient::builder(
        ClientId::new(
            emulator
                .config()
                .app(names::CONFIDENTIAL_SECRET)
                .unwrap()
                .client_id
                .clone(),
        )
        .unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(wrong_secret),
    )
    .build()
    .unwrap();
    let error = refused
        .acquire_token_for_client(
            &Scopes::new(["https://graph.microsoft.com/.default"]).unwrap(),
            &TokenRequestOptions::default(),
        )
        .await
        .unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("tokenhop.http")
            && logs.contains("client_credentials")
            && logs.contains("user_fic"),
        "the requests were traced:\n{logs}"
    );
    assert!(
        logs.contains("[redacted]"),
        "secret form fields show up redacted"
    );
    let error_text = format!("{error} {error:?}");
    for (name, haystack) in [("trace output", &logs), ("error", &error_text)] {
        assert!(
            !haystack.contains("eyJ"),
            "{name} holds a JWT (token or assertion)"
        );
        assert!(
            !haystack.contains(wrong_secret),
            "{name} holds the client secret"
        );
        assert!(
            !haystack.contains(user_token.secret.expose_secret()),
            "{name} holds the agent user's token"
        );
        for secret in &cached_secrets {
            assert!(
                !haystack.contains(secret.as_str()),
                "{name} holds a cached token"
            );
        }
        assert!(!haystack.contains("PRIVATE KEY"), "{name} holds a key");
    }
}
