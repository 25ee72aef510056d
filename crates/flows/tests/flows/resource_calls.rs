//! Resource calls and the telemetry of token requests: a download that keeps sending
//! bytes outlasts the whole-request timeout of token requests, a response that stalls
//! fails after the read timeout; token errors carry the `client-request-id` the request
//! went with as their correlation id.

use std::time::{Duration, Instant};

use tokenhop_core::{Error, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, Fault, FaultKind};
use tokenhop_flows::{BearerClient, HttpClient, HttpConfig, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A resource on loopback that answers every request with `chunks` chunks of a chunked
/// body, `gap` apart (or, with `chunks` 0, headers and then nothing).
async fn slow_resource(chunks: usize, gap: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/download", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                if chunks == 0 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                for _ in 0..chunks {
                    tokio::time::sleep(gap).await;
                    if stream.write_all(b"400\r\n").await.is_err()
                        || stream.write_all(&[b'x'; 1024]).await.is_err()
                        || stream.write_all(b"\r\n").await.is_err()
                    {
                        return;
                    }
                }
                let _ = stream.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    url
}

fn bearer(config: HttpConfig) -> BearerClient {
    BearerClient::builder(|| std::future::ready(Ok("a-resource-token")))
        .http(HttpClient::new(config).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_download_that_keeps_coming_outlasts_the_request_timeout() {
    let url = slow_resource(8, Duration::from_millis(300)).await;
    let config = HttpConfig::default()
        .with_request_timeout(Duration::from_secs(1))
        .with_read_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let body = bearer(config)
        .get(&url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), 8 * 1024);
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stalled_response_fails_after_the_read_timeout() {
    let url = slow_resource(0, Duration::ZERO).await;
    let config = HttpConfig::default().with_read_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let outcome = match bearer(config).get(&url).await {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(error) => Err(error),
    };
    let error = outcome.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn token_errors_carry_the_client_request_id_as_their_correlation_id() {
    let emulator = Emulator::builder().start().await.unwrap();
    // An injected error body has no correlation id of its own.
    emulator.inject(Fault::new("token", FaultKind::Status).status(400).times(1));
    let http = HttpClient::new(HttpConfig::default().with_retry(RetryPolicy::none())).unwrap();
    let client = crate::common::secret_client(&emulator, &emulator.authority(), http);
    let scopes = Scopes::new(["https://storage.azure.com/.default"]).unwrap();
    let error = client
        .acquire_token_for_client(&scopes, &TokenRequestOptions::default())
        .await
        .unwrap_err();
    let Error::TokenExchange { correlation_id, .. } = &error else {
        panic!("{error:?}");
    };
    let id = correlation_id.as_deref().unwrap();
    assert_eq!(uuid_shape(id), [8, 4, 4, 4, 12], "{id}");
    // A request that gets no answer names its id too.
    drop(emulator);
    let error = client
        .acquire_token_for_client(&scopes, &TokenRequestOptions::force_refresh())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("client-request-id"), "{error}");
}

fn uuid_shape(id: &str) -> Vec<usize> {
    id.split('-').map(str::len).collect()
}
