//! When and how long to wait before trying a request again.

use std::time::{Duration, SystemTime};

/// How failed requests are retried: 429, 5xx and connection errors, at most
/// `max_attempts` tries in all, waiting `Retry-After` when the server says (capped at
/// `max_delay`), otherwise an exponential backoff with jitter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, including the first (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff delay; it doubles each time.
    pub base_delay: Duration,
    /// No single wait is longer than this, whatever `Retry-After` says.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before try number `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let wait = retry_after.unwrap_or_else(|| {
            let exponential = self
                .base_delay
                .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
            // Up to 25% jitter so that many clients do not retry in lockstep.
            let jitter = exponential.mul_f64(fastrand::f64() * 0.25);
            exponential + jitter
        });
        wait.min(self.max_delay)
    }
}

/// True for the statuses worth another try.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// Parses `Retry-After`: delta seconds or an HTTP date (relative to `now`).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn delays_are_capped_and_grow() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert!(policy.delay(1, None) >= Duration::from_millis(100));
        assert!(policy.delay(1, None) <= Duration::from_millis(125));
        assert!(policy.delay(3, None) >= Duration::from_millis(400));
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(1)
        );
        assert_eq!(policy.delay(30, None), Duration::from_secs(1));
    }

    #[test]
    fn retryable_statuses() {
        assert!(is_retryable_status(429) && is_retryable_status(503) && is_retryable_status(500));
        assert!(
            !is_retryable_status(400) && !is_retryable_status(401) && !is_retryable_status(200)
        );
    }
}
