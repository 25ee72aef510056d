//! The request path in an outage: callers that share a flight share its failure (a
//! hundred callers make as many requests as one), and a token past `refresh_on` is
//! served while the refresh fails.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{Error, ManualClock, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorConfig, EmulatorHandle, Fault, FaultKind};
use tokenhop_flows::{ConfidentialClient, HttpClient, HttpConfig, RetryPolicy};

fn graph() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}

fn client(emulator: &EmulatorHandle, clock: Arc<ManualClock>) -> ConfidentialClient {
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    crate::common::secret_builder(emulator, &emulator.authority())
        .http(HttpClient::new(HttpConfig::default().with_retry(retry)).unwrap())
        .cache(SharedTokenCache::in_memory())
        .clock(clock)
        .build()
        .unwrap()
}

fn outage(emulator: &EmulatorHandle) {
    emulator.inject(
        Fault::new("token", FaultKind::Status)
            .status(503)
            .delay_ms(50),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_callers_in_an_outage_make_as_many_requests_as_one() {
    let emulator = Emulator::builder().start().await.unwrap();
    outage(&emulator);
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let lone = client(&emulator, Arc::clone(&clock));
    lone.acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    let one_caller = emulator.counters().endpoint("token");
    assert_eq!(one_caller, 3, "one caller: its three attempts");
    emulator.reset_counters();

    let shared = Arc::new(client(&emulator, clock));
    let outcomes = crate::common::at_once(100, shared, |client| async move {
        client
            .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
            .await
    })
    .await;
    for outcome in outcomes {
        assert!(matches!(outcome, Err(Error::TokenExchange { .. })));
    }
    assert_eq!(
        emulator.counters().endpoint("token"),
        one_caller,
        "a hundred callers share the leader's attempts and its failure"
    );
}

#[tokio::test]
async fn a_token_past_refresh_on_is_served_when_the_refresh_fails() {
    let mut config = EmulatorConfig::default();
    config.token_lifetime_secs = 7200; // refresh_in: 3600
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = client(&emulator, Arc::clone(&clock));
    let token = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3700));
    outage(&emulator);
    let served = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .expect("the still-valid token");
    assert_eq!(served.secret, token.secret);
    assert!(
        emulator.counters().endpoint("token") > 1,
        "the refresh was tried"
    );
}
