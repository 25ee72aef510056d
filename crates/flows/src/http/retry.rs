//! When and how long to wait before trying a request again.

use std::time::{Duration, SystemTime};

/// How failed requests are retried: 429, 5xx and connection errors, at most
/// `max_attempts` tries in all. When the server says `Retry-After`, the next try waits
/// exactly that long — never less — if it fits in the `wait_budget`; a longer wait fails
/// at once with [`tokenhop_core::Error::Throttled`] carrying the time. Without
/// `Retry-After`, an exponential backoff with jitter, each wait at most `max_delay`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, including the first (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff delay; it doubles each time.
    pub base_delay: Duration,
    /// No backoff wait is longer than this (a server's `Retry-After` is not shortened).
    pub max_delay: Duration,
    /// How long one request may wait in all between its tries (default 60 s): a
    /// `Retry-After` that does not fit in what is left fails at once.
    pub wait_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            wait_budget: Duration::from_secs(60),
        }
    }
}

/// What to do after a retryable status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterStatus {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Give the caller the response: no more tries.
    Answer,
    /// The server throttles for this long: fail now, and remember it.
    Throttled(Duration),
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the wait budget (see [`RetryPolicy::wait_budget`]).
    pub fn with_wait_budget(mut self, budget: Duration) -> Self {
        self.wait_budget = budget;
        self
    }

    /// The backoff before try number `attempt + 1` (attempt counts from 1) when the
    /// server did not say `Retry-After`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        // Up to 25% jitter so that many clients do not retry in lockstep.
        let jitter = exponential.mul_f64(fastrand::f64() * 0.25);
        (exponential + jitter).min(self.max_delay)
    }

    /// What to do after try `attempt` got a retryable status, with the server's
    /// `Retry-After`, when the request has already waited `waited`.
    pub(crate) fn after_status(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        waited: Duration,
    ) -> AfterStatus {
        let tries_left = attempt < self.max_attempts.max(1);
        match retry_after {
            Some(wait) if tries_left && wait <= self.wait_budget.saturating_sub(waited) => {
                AfterStatus::Retry(wait)
            }
            Some(wait) => AfterStatus::Throttled(wait),
            None if tries_left => AfterStatus::Retry(self.delay(attempt)),
            None => AfterStatus::Answer,
        }
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
    fn backoff_delays_are_capped_and_grow() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        assert!(policy.delay(1) >= Duration::from_millis(100));
        assert!(policy.delay(1) <= Duration::from_millis(125));
        assert!(policy.delay(3) >= Duration::from_millis(400));
        assert_eq!(policy.delay(30), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_is_waited_in_full_within_the_budget_and_throttles_beyond_it() {
        let policy = RetryPolicy::default();
        let secs = Duration::from_secs;
        assert_eq!(
            policy.after_status(1, Some(secs(30)), Duration::ZERO),
            AfterStatus::Retry(secs(30)),
            "longer than max_delay, and waited in full"
        );
        assert_eq!(
            policy.after_status(1, Some(secs(120)), Duration::ZERO),
            AfterStatus::Throttled(secs(120))
        );
        assert_eq!(
            policy.after_status(2, Some(secs(40)), secs(30)),
            AfterStatus::Throttled(secs(40)),
            "the budget counts every wait of the request"
        );
        assert_eq!(
            policy.after_status(3, Some(secs(1)), Duration::ZERO),
            AfterStatus::Throttled(secs(1)),
            "out of tries while the server still throttles"
        );
        assert_eq!(
            policy.after_status(3, None, Duration::ZERO),
            AfterStatus::Answer
        );
        assert!(matches!(
            policy.after_status(1, None, Duration::ZERO),
            AfterStatus::Retry(_)
        ));
    }

    #[test]
    fn retryable_statuses() {
        assert!(is_retryable_status(429) && is_retryable_status(503) && is_retryable_status(500));
        assert!(
            !is_retryable_status(400) && !is_retryable_status(401) && !is_retryable_status(200)
        );
    }
}
