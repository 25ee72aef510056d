//! Throttling as the server asks: never sooner than `Retry-After`; a wait beyond the
//! caller's budget fails at once with the time; a remembered throttle answers repeats
//! without the network.

use std::time::{Duration, Instant};

use tokenhop_core::{Error, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, Fault, FaultKind};
use tokenhop_flows::{ConfidentialClient, HttpClient, HttpConfig, RetryPolicy};

fn graph() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}

fn client(emulator: &EmulatorHandle, http: HttpClient) -> ConfidentialClient {
    crate::common::secret_client(emulator, &emulator.authority(), http)
}

fn throttle(emulator: &EmulatorHandle, seconds: &str) {
    emulator.inject(
        Fault::new("token", FaultKind::Status)
            .status(429)
            .retry_after(seconds),
    );
}

#[tokio::test]
async fn retry_after_beyond_the_wait_budget_fails_at_once_naming_the_time() {
    let emulator = Emulator::builder().start().await.unwrap();
    throttle(&emulator, "120");
    let client = client(&emulator, HttpClient::new(HttpConfig::default()).unwrap());
    let started = Instant::now();
    let err = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        emulator.counters().endpoint("token"),
        1,
        "no second request"
    );
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert!(
        matches!(&err, Error::Throttled { retry_after, status: 429, .. } if *retry_after == Duration::from_secs(120)),
        "{err:?}"
    );
    assert!(err.to_string().contains("120 s"), "{err}");
}

#[tokio::test]
async fn a_repeat_within_the_throttle_window_makes_no_request() {
    let emulator = Emulator::builder().start().await.unwrap();
    throttle(&emulator, "120");
    let http = HttpClient::new(HttpConfig::default()).unwrap();
    let client = client(&emulator, http.clone());
    client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    let sent = http.requests_sent();
    let again = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        http.requests_sent(),
        sent,
        "answered from the throttle memory"
    );
    assert_eq!(emulator.counters().endpoint("token"), 1);
    assert!(
        matches!(&again, Error::Throttled { retry_after, .. } if *retry_after > Duration::from_secs(100)),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_short_retry_after_is_waited_in_full_then_the_request_succeeds() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(
        Fault::new("token", FaultKind::Status)
            .status(503)
            .retry_after("2")
            .times(1),
    );
    let client = client(&emulator, HttpClient::new(HttpConfig::default()).unwrap());
    let started = Instant::now();
    client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "never sooner than Retry-After"
    );
    assert_eq!(emulator.counters().endpoint("token"), 2);
}

#[tokio::test]
async fn the_wait_budget_is_the_callers_to_set() {
    let emulator = Emulator::builder().start().await.unwrap();
    throttle(&emulator, "3");
    let retry = RetryPolicy::default().with_wait_budget(Duration::from_secs(1));
    let http = HttpClient::new(HttpConfig::default().with_retry(retry)).unwrap();
    let started = Instant::now();
    let err = client(&emulator, http)
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
}
