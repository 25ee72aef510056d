//! Everything the flows log at TRACE during a whole Agent ID chain and a refused
//! request, and every error they return, is free of secrets: tokens, assertions (all
//! JWTs, so no `eyJ` anywhere), client secrets, keys.
//!
//! One test in this binary: it installs the process-wide subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tokenhop_cache::{Section, SharedTokenCache, entry::Field};
use tokenhop_core::{Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, names};
use tokenhop_flows::AgentUserCredential;
use tokenhop_flows::Authority;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::ConfidentialClient;

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
    let settings = crate::common::agent_settings(&emulator, names::AGENT_IDENTITY, true);
    let cache = SharedTokenCache::in_memory();
    let chain = AgentUserCredential::builder(settings)
        .authority_host(emulator.url())
        .blueprint_credential(crate::common::blueprint_credential(&emulator))
        .cache(cache.clone())
        .build()
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
                    .filter_map(|(_, e)| e.get(Field::Secret).map(str::to_owned))
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
        crate::common::client_id(&emulator, names::CONFIDENTIAL_SECRET),
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
