//! Client credentials with a secret against the emulator: the token, the cache, the
//! errors, single-flight.

use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Error, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::Authority;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::ConfidentialClient;
use tokenhop_flows::unverified_claims;

fn graph() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}

fn client(
    emulator: &EmulatorHandle,
    secret: Option<&str>,
    cache: SharedTokenCache,
) -> ConfidentialClient {
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    let secret = secret
        .map(str::to_owned)
        .or_else(|| app.secret.clone())
        .unwrap();
    ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(secret),
    )
    .cache(cache)
    .build()
    .unwrap()
}

#[tokio::test]
async fn gets_an_app_token_with_the_expected_claims() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = client(&emulator, None, SharedTokenCache::in_memory());
    let token = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["appid"], client.client_id().as_str());
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["tid"], emulator.tenant_id());
    assert_eq!(token.scopes, graph());
    let left = token
        .expires_on
        .duration_since(std::time::SystemTime::now())
        .unwrap()
        .as_secs();
    assert!((3500..=3600).contains(&left), "{left}");
}

#[tokio::test]
async fn the_second_call_is_served_from_the_cache_without_any_request() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = client(&emulator, None, SharedTokenCache::in_memory());
    let first = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    emulator.reset_counters();
    let second = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(first.secret, second.secret);
    let counters = emulator.counters();
    assert_eq!(
        (counters.endpoint("token"), counters.endpoint("discovery")),
        (0, 0),
        "{counters:?}"
    );
}

#[tokio::test]
async fn a_fresh_client_reads_a_cache_file_another_wrote_without_network() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let first = client(&emulator, None, SharedTokenCache::file(&path))
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    emulator.reset_counters();
    let second = client(&emulator, None, SharedTokenCache::file(&path))
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(first.secret, second.secret);
    assert_eq!(
        emulator.counters().endpoint("token") + emulator.counters().endpoint("discovery"),
        0
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("-127.0.0.1-accesstoken-"),
        "MSAL's key format with the emulator's host as environment"
    );
}

#[tokio::test]
async fn force_refresh_goes_to_the_token_endpoint() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = client(&emulator, None, SharedTokenCache::in_memory());
    client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::force_refresh())
        .await
        .unwrap();
    assert_eq!(emulator.counters().grant("client_credentials"), 2);
}

#[tokio::test]
async fn a_wrong_secret_is_a_token_exchange_error_with_the_aadsts_code() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = client(
        &emulator,
        Some("not-the-secret-5f1e"),
        SharedTokenCache::in_memory(),
    );
    let err = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    match &err {
        Error::TokenExchange {
            hop,
            error,
            error_codes,
            correlation_id,
            ..
        } => {
            assert_eq!(*hop, None);
            assert_eq!(error, "invalid_client");
            assert_eq!(error_codes, &vec![7000215]);
            assert!(correlation_id.is_some());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!format!("{err} {err:?}").contains("not-the-secret-5f1e"));
}

#[tokio::test]
async fn an_unknown_client_and_an_unknown_resource_are_refused_with_their_codes() {
    let emulator = Emulator::builder().start().await.unwrap();
    let unknown = ConfidentialClient::builder(
        ClientId::new("00000000-0000-0000-0000-0000000000ff").unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret("x"),
    )
    .build()
    .unwrap();
    let err = unknown
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error_codes, .. } if error_codes == &[700016]),
        "{err:?}"
    );
    let client = client(&emulator, None, SharedTokenCache::in_memory());
    let vault = Scopes::new(["https://vault.azure.net/.default"]).unwrap();
    let err = client
        .acquire_token_for_client(&vault, &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error_codes, .. } if error_codes == &[500011]),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_callers_on_a_cold_cache_make_one_token_request() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = Arc::new(client(&emulator, None, SharedTokenCache::in_memory()));
    let outcomes = crate::common::at_once(100, client, |client| async move {
        client
            .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
            .await
    })
    .await;
    let secrets: std::collections::HashSet<String> = outcomes
        .into_iter()
        .map(|token| token.unwrap().secret.expose_secret().to_owned())
        .collect();
    assert_eq!(secrets.len(), 1);
    assert_eq!(emulator.counters().grant("client_credentials"), 1);
}

#[tokio::test]
async fn a_cached_token_with_less_than_five_minutes_left_is_fetched_again() {
    let emulator = Emulator::builder().start().await.unwrap();
    let clock = Arc::new(tokenhop_core::ManualClock::new(std::time::SystemTime::now()));
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    let client = ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(app.secret.clone().unwrap()),
    )
    .clock(clock.clone())
    .build()
    .unwrap();
    client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    clock.advance(std::time::Duration::from_secs(3600 - 299));
    client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        2,
        "less than 5 minutes left counts as expired"
    );
}

fn certificate_client(
    emulator: &EmulatorHandle,
    algorithm: tokenhop_cert::SigningAlgorithm,
) -> ConfidentialClient {
    let generated = emulator.app_certificate(names::CONFIDENTIAL_CERT).unwrap();
    let pem = format!("{}{}", generated.certificate_pem, generated.private_key_pem);
    let certificate = tokenhop_cert::ClientCertificate::from_pem(pem.as_bytes(), None).unwrap();
    let app = emulator.config().app(names::CONFIDENTIAL_CERT).unwrap();
    ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        tokenhop_flows::CertificateAssertions::new(certificate)
            .algorithm(algorithm)
            .into_credential(),
    )
    .build()
    .unwrap()
}

#[tokio::test]
async fn a_certificate_credential_gets_a_token_with_ps256_and_with_rs256() {
    let emulator = Emulator::builder().start().await.unwrap();
    for algorithm in [
        tokenhop_cert::SigningAlgorithm::Ps256,
        tokenhop_cert::SigningAlgorithm::Rs256,
    ] {
        let client = certificate_client(&emulator, algorithm);
        let token = client
            .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
            .await
            .unwrap();
        let claims = unverified_claims(token.secret.expose_secret()).unwrap();
        assert_eq!(
            claims["appid"],
            client.client_id().as_str(),
            "{algorithm:?}"
        );
    }
    assert_eq!(emulator.counters().grant("client_credentials"), 2);
}

/// Entra accepts a client assertion more than once while it is valid; MSAL and
/// tokenhop reuse one for 540 s, so a second request soon after signs nothing new.
#[tokio::test]
async fn a_certificate_credential_reuses_its_assertion_for_a_forced_refresh() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = certificate_client(&emulator, tokenhop_cert::SigningAlgorithm::Ps256);
    for options in [
        TokenRequestOptions::default(),
        TokenRequestOptions::force_refresh(),
    ] {
        client
            .acquire_token_for_client(&graph(), &options)
            .await
            .unwrap();
    }
    assert_eq!(emulator.counters().grant("client_credentials"), 2);
}

/// A key store stand-in: signs through a certificate's in-memory key, counting what it
/// signs.
struct CountingKeyStore {
    inner: Arc<tokenhop_cert::ClientCertificate>,
    signed: std::sync::atomic::AtomicUsize,
}

impl tokenhop_cert::Signer for CountingKeyStore {
    fn algorithms(&self) -> &[tokenhop_cert::SigningAlgorithm] {
        self.inner.signer().algorithms()
    }

    fn sign(
        &self,
        algorithm: tokenhop_cert::SigningAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, tokenhop_cert::CertError> {
        self.signed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.signer().sign(algorithm, message)
    }
}

#[tokio::test]
async fn a_signer_a_sync_callback_and_an_async_callback_each_authenticate() {
    use tokenhop_cert::{ClientAssertionBuilder, ClientCertificate};
    let emulator = Emulator::builder().start().await.unwrap();
    let generated = emulator
        .app_certificate(names::CONFIDENTIAL_CERT)
        .unwrap()
        .clone();
    let app = emulator
        .config()
        .app(names::CONFIDENTIAL_CERT)
        .unwrap()
        .clone();
    let pem = format!("{}{}", generated.certificate_pem, generated.private_key_pem);
    let in_memory = Arc::new(ClientCertificate::from_pem(pem.as_bytes(), None).unwrap());
    let store = Arc::new(CountingKeyStore {
        inner: Arc::clone(&in_memory),
        signed: Default::default(),
    });
    let chain = in_memory.chain().to_vec();
    let with_signer = ClientCertificate::with_signer(chain, store.clone()).unwrap();
    let sync_certificate = Arc::clone(&in_memory);
    let credentials = [
        tokenhop_flows::CertificateAssertions::new(with_signer).into_credential(),
        ClientCredential::assertion_fn(move |context| {
            let assertion = ClientAssertionBuilder::new(
                &context.client_id,
                &context.token_endpoint,
                &sync_certificate,
            )
            .build()
            .map_err(|e| tokenhop_core::Error::Signing {
                reason: e.to_string(),
            })?;
            Ok(assertion.expose_secret().to_owned())
        }),
        ClientCredential::assertion_async(move |context| {
            let certificate = Arc::clone(&in_memory);
            async move {
                let assertion = ClientAssertionBuilder::new(
                    &context.client_id,
                    &context.token_endpoint,
                    &certificate,
                )
                .build()
                .map_err(|e| tokenhop_core::Error::Signing {
                    reason: e.to_string(),
                })?;
                Ok(assertion.expose_secret().to_owned())
            }
        }),
    ];
    for credential in credentials {
        let client = ConfidentialClient::builder(
            ClientId::new(app.client_id.clone()).unwrap(),
            Authority::parse(&emulator.authority()).unwrap(),
            credential,
        )
        .build()
        .unwrap();
        let token = client
            .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
            .await
            .unwrap();
        assert_eq!(
            unverified_claims(token.secret.expose_secret()).unwrap()["appid"],
            app.client_id.as_str()
        );
    }
    assert_eq!(store.signed.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(emulator.counters().grant("client_credentials"), 3);
}
