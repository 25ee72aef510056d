//! Injected faults: each kind, counting down, over the admin API, and reset.

use serde_json::Value;
use tokenhop_emulator::{Emulator, EmulatorHandle, Fault, FaultKind, names};

use crate::common;

async fn token_request(
    emulator: &EmulatorHandle,
) -> Result<(u16, Option<String>, String), reqwest::Error> {
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.secret.as_deref().unwrap()),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let response = common::http()
        .post(format!("{}/oauth2/v2.0/token", emulator.authority()))
        .form(&form)
        .send()
        .await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    Ok((status, retry_after, response.text().await?))
}

#[tokio::test]
async fn a_status_fault_with_retry_after_counts_down_then_the_endpoint_answers() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(
        Fault::new("token", FaultKind::Status)
            .status(429)
            .retry_after("1")
            .times(2),
    );
    for _ in 0..2 {
        let (status, retry_after, body) = token_request(&emulator).await.unwrap();
        assert_eq!((status, retry_after.as_deref()), (429, Some("1")));
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"],
            "temporarily_unavailable"
        );
    }
    assert_eq!(token_request(&emulator).await.unwrap().0, 200);
    assert_eq!(
        emulator.counters().endpoint("token"),
        3,
        "faulted requests are counted"
    );
}

#[tokio::test]
async fn malformed_both_error_and_token_and_dropped_bodies() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(Fault::new("token", FaultKind::Malformed).times(1));
    let (status, _, body) = token_request(&emulator).await.unwrap();
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&body).is_err());

    emulator.inject(Fault::new("token", FaultKind::ErrorAndToken).times(1));
    let body: Value = serde_json::from_str(&token_request(&emulator).await.unwrap().2).unwrap();
    assert!(body["error"].is_string() && body["access_token"].is_string());

    emulator.inject(Fault::new("token", FaultKind::Drop).times(1));
    assert!(
        token_request(&emulator).await.is_err(),
        "the body breaks off"
    );
    assert_eq!(token_request(&emulator).await.unwrap().0, 200);
}

#[tokio::test]
async fn a_slow_body_starts_at_once_and_ends_after_the_delay() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(
        Fault::new("token", FaultKind::SlowBody)
            .delay_ms(600)
            .times(1),
    );
    let started = std::time::Instant::now();
    let (status, _, body) = token_request(&emulator).await.unwrap();
    assert_eq!(status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(600));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn faults_over_http_and_reset_clears_them() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = common::http();
    let posted = client
        .post(format!("{}/admin/faults", emulator.url()))
        .body(r#"{"endpoint": "token", "kind": "status", "status": 500}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 204);
    assert_eq!(token_request(&emulator).await.unwrap().0, 500);
    assert_eq!(
        token_request(&emulator).await.unwrap().0,
        500,
        "no `times`: until reset"
    );
    client
        .post(format!("{}/admin/reset", emulator.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(token_request(&emulator).await.unwrap().0, 200);
    let refused = client
        .post(format!("{}/admin/faults", emulator.url()))
        .body(r#"{"endpoint": "token", "kind": "explode"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}
