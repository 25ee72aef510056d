//! How managed identity requests are retried, as MSAL does: IMDS answers `404` while it
//! starts, `410` while it is upgraded, `429` and `5xx` under load; the other hosts are
//! retried on `404`, `408`, `429`, `500`, `503` and `504`.

use std::time::{Duration, SystemTime};

use tokenhop_core::Result;

use super::ManagedIdentityHost;
use super::request::HostRequest;
use crate::http::{HttpClient, HttpResponse, parse_retry_after};

/// How managed identity requests are retried (MSAL.NET's numbers by default). Connection
/// failures are not retried: a host that is not there is reported at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedIdentityRetry {
    /// Retries (after the first try) for the statuses above other than IMDS's `410`.
    pub max_retries: u32,
    /// The first wait. IMDS doubles it for each retry (1 s, 2 s, 4 s); the other hosts
    /// wait it each time unless `Retry-After` says otherwise.
    pub delay: Duration,
    /// No single wait is longer, whatever `Retry-After` says.
    pub max_delay: Duration,
    /// Retries for IMDS's `410 Gone` (an upgrade in progress).
    pub gone_retries: u32,
    /// The wait between them: with the defaults, 7 × 10 s covers an IMDS upgrade's
    /// ~70 s.
    pub gone_delay: Duration,
}

impl Default for ManagedIdentityRetry {
    fn default() -> Self {
        Self {
            max_retries: 3,
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            gone_retries: 7,
            gone_delay: Duration::from_secs(10),
        }
    }
}

impl ManagedIdentityRetry {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            gone_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before the next try after `response`, or `None` to stop; `retries` and
    /// `gone` count the retries so far (for `410` and for everything else).
    fn wait(
        &self,
        host: ManagedIdentityHost,
        response: &HttpResponse,
        retries: u32,
        gone: u32,
    ) -> Option<Duration> {
        let status = response.status;
        if host == ManagedIdentityHost::Imds {
            if status == 410 {
                return (gone < self.gone_retries).then_some(self.gone_delay);
            }
            let retryable = matches!(status, 404 | 408 | 429 | 500..=599);
            return (retryable && retries < self.max_retries).then(|| {
                self.delay
                    .saturating_mul(1 << retries.min(16))
                    .min(self.max_delay)
            });
        }
        let retryable = matches!(status, 404 | 408 | 429 | 500 | 503 | 504);
        (retryable && retries < self.max_retries).then(|| {
            response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, SystemTime::now()))
                .unwrap_or(self.delay)
                .min(self.max_delay)
        })
    }
}

/// Sends `request` through `http` (which does not retry itself) until an answer is
/// final for `host`.
pub(super) async fn send_with_retries(
    http: &HttpClient,
    host: ManagedIdentityHost,
    request: &HostRequest,
    policy: &ManagedIdentityRetry,
) -> Result<HttpResponse> {
    let (mut retries, mut gone) = (0, 0);
    loop {
        let response = request.send(http).await?;
        let Some(wait) = policy.wait(host, &response, retries, gone) else {
            return Ok(response);
        };
        if response.status == 410 {
            gone += 1;
        } else {
            retries += 1;
        }
        tracing::debug!(
            %host,
            status = response.status,
            wait_ms = wait.as_millis() as u64,
            "managed identity host not ready; retrying"
        );
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, retry_after: Option<&str>) -> HttpResponse {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(value) = retry_after {
            headers.insert("retry-after", value.parse().unwrap());
        }
        HttpResponse {
            status,
            headers,
            body: Vec::new(),
            request_id: "test-request".to_owned(),
        }
    }

    #[test]
    fn imds_backs_off_exponentially_and_waits_out_an_upgrade() {
        let policy = ManagedIdentityRetry::default();
        let imds = ManagedIdentityHost::Imds;
        let waits: Vec<_> = (0..4)
            .map(|n| policy.wait(imds, &response(503, None), n, 0))
            .collect();
        let s = Duration::from_secs;
        assert_eq!(waits, [Some(s(1)), Some(s(2)), Some(s(4)), None]);
        for status in [404, 408, 429, 500, 599] {
            assert!(policy.wait(imds, &response(status, None), 0, 0).is_some());
        }
        assert_eq!(policy.wait(imds, &response(400, None), 0, 0), None);
        // 410: seven waits of ten seconds, whatever else was retried.
        let gone: Duration = (0..)
            .map_while(|n| policy.wait(imds, &response(410, None), 3, n))
            .sum();
        assert_eq!(gone, s(70));
    }

    #[test]
    fn other_hosts_retry_fewer_statuses_and_honour_retry_after_up_to_the_cap() {
        let policy = ManagedIdentityRetry::default();
        let host = ManagedIdentityHost::AppService;
        assert_eq!(
            policy.wait(host, &response(503, Some("2")), 0, 0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            policy.wait(host, &response(429, Some("3600")), 0, 0),
            Some(policy.max_delay)
        );
        assert_eq!(
            policy.wait(host, &response(404, None), 2, 0),
            Some(policy.delay)
        );
        for status in [410, 501, 502, 401] {
            assert_eq!(policy.wait(host, &response(status, None), 0, 0), None);
        }
        assert_eq!(policy.wait(host, &response(500, None), 3, 0), None);
        assert_eq!(
            ManagedIdentityRetry::none().wait(
                ManagedIdentityHost::Imds,
                &response(410, None),
                0,
                0
            ),
            None
        );
    }
}
