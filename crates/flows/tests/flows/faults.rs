//! How the confidential client copes with a misbehaving token endpoint: retries that
//! honour Retry-After, a bounded number of attempts, timeouts, malformed and broken
//! bodies, and a body with both an error and a token.

use std::time::Duration;

use tokenhop_core::{ClientId, Error, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, Fault, FaultKind, names};
use tokenhop_flows::Authority;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::ConfidentialClient;
use tokenhop_flows::{HttpClient, HttpConfig, RetryPolicy};

fn graph() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}

fn retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(2),
        ..RetryPolicy::default()
    }
}

fn client(emulator: &EmulatorHandle, config: HttpConfig) -> ConfidentialClient {
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(app.secret.clone().unwrap()),
    )
    .http(HttpClient::new(config).unwrap())
    .build()
    .unwrap()
}

async fn get(client: &ConfidentialClient) -> tokenhop_core::Result<tokenhop_core::AccessToken> {
    client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
}

#[tokio::test]
async fn a_429_with_retry_after_then_success_takes_two_requests() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(
        Fault::new("token", FaultKind::Status)
            .status(429)
            .retry_after("1")
            .times(1),
    );
    let client = client(&emulator, HttpConfig::default().with_retry(retry(3)));
    let started = std::time::Instant::now();
    get(&client).await.unwrap();
    assert_eq!(emulator.counters().endpoint("token"), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
}

#[tokio::test]
async fn a_503_forever_fails_after_the_configured_attempts() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(Fault::new("token", FaultKind::Status).status(503));
    let client = client(&emulator, HttpConfig::default().with_retry(retry(3)));
    let err = get(&client).await.unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error, .. } if error == "temporarily_unavailable"),
        "{err:?}"
    );
    assert_eq!(emulator.counters().endpoint("token"), 3);
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(Fault::new("token", FaultKind::Malformed));
    let err = get(&client(&emulator, HttpConfig::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(!err.to_string().contains("eyJ"), "{err}");
}

#[tokio::test]
async fn a_post_whose_body_was_sent_is_not_replayed() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(Fault::new("token", FaultKind::Drop).times(1));
    let err = get(&client(
        &emulator,
        HttpConfig::default().with_retry(retry(3)),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(
        emulator.counters().endpoint("token"),
        1,
        "the server may have acted on it: not sent again"
    );
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_a_transport_error_in_bounded_time() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(
        Fault::new("token", FaultKind::Status)
            .status(200)
            .delay_ms(3_000),
    );
    let config = HttpConfig::default()
        .with_retry(RetryPolicy::none())
        .with_request_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = get(&client(&emulator, config)).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { message, .. } if message.contains("no answer")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_body_with_both_error_and_access_token_is_an_error() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(Fault::new("token", FaultKind::ErrorAndToken));
    let err = get(&client(&emulator, HttpConfig::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
}
