//! Bearer calls go over https only (loopback aside): a plain-http URL on another host is
//! refused before a token is even asked for, and a redirect never carries the token off
//! https or to another host.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokenhop_core::Error;
use tokenhop_flows::BearerClient;

/// A provider that counts how often it was asked.
fn counting_provider(
    asked: &Arc<AtomicUsize>,
) -> impl Fn() -> std::future::Ready<tokenhop_core::Result<&'static str>> + Send + Sync + 'static {
    let asked = Arc::clone(asked);
    move || {
        asked.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok("the-bearer-token"))
    }
}

#[tokio::test]
async fn a_plain_http_url_on_another_host_sends_nothing_and_is_a_configuration_error() {
    let asked = Arc::new(AtomicUsize::new(0));
    let client = BearerClient::new(counting_provider(&asked)).unwrap();
    for url in [
        "http://api.example.com/v1.0/me",
        "http://10.1.2.3:8080/data",
        "HTTP://Graph.Microsoft.com/v1.0/me",
    ] {
        let error = client.get(url).await.unwrap_err();
        assert!(
            matches!(error, Error::Configuration { .. }),
            "{url}: {error:?}"
        );
        let text = error.to_string();
        assert!(text.contains("https://"), "{url}: {text}");
    }
    let request = http::Request::post("http://api.example.com/upload")
        .body(b"payload".to_vec())
        .unwrap();
    assert!(matches!(
        client.send(request).await.unwrap_err(),
        Error::Configuration { .. }
    ));
    assert_eq!(asked.load(Ordering::SeqCst), 0, "a token was asked for");
}
