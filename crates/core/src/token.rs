//! [`AccessToken`] and the [`Clock`] that decides when it is stale.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::{Scopes, Secret};

/// How long before `expires_on` a token is refreshed when the server gave no `refresh_in`.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// An access token with its lifetime. `Debug` never shows the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The bearer token.
    pub secret: Secret,
    /// The token type, normally `Bearer`.
    pub token_type: String,
    /// When the token stops being valid.
    pub expires_on: SystemTime,
    /// When to refresh proactively (from the server's `refresh_in`), if it said.
    pub refresh_on: Option<SystemTime>,
    /// The scopes the token was granted for (may be empty when unknown).
    pub scopes: Scopes,
}

impl AccessToken {
    /// A `Bearer` token that expires at `expires_on`.
    pub fn new(secret: impl Into<Secret>, expires_on: SystemTime) -> Self {
        Self {
            secret: secret.into(),
            token_type: "Bearer".to_owned(),
            expires_on,
            refresh_on: None,
            scopes: Scopes::default(),
        }
    }

    /// Sets `refresh_on`.
    pub fn with_refresh_on(mut self, refresh_on: SystemTime) -> Self {
        self.refresh_on = Some(refresh_on);
        self
    }

    /// Sets the granted scopes.
    pub fn with_scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// True when the token can still be sent at `now`.
    pub fn is_valid_at(&self, now: SystemTime) -> bool {
        now < self.expires_on
    }

    /// When it should be refreshed: `refresh_on` when the server said, otherwise
    /// [`DEFAULT_REFRESH_MARGIN`] before expiry.
    pub fn refresh_due(&self) -> SystemTime {
        self.refresh_on.unwrap_or_else(|| {
            self.expires_on
                .checked_sub(DEFAULT_REFRESH_MARGIN)
                .unwrap_or(SystemTime::UNIX_EPOCH)
        })
    }

    /// True when `now` is at or past [`AccessToken::refresh_due`].
    pub fn needs_refresh_at(&self, now: SystemTime) -> bool {
        now >= self.refresh_due()
    }
}

/// A string becomes a token that never expires: what a stub provider returns in tests.
impl From<String> for AccessToken {
    fn from(secret: String) -> Self {
        Self::new(secret, far_future())
    }
}

impl From<&str> for AccessToken {
    fn from(secret: &str) -> Self {
        Self::new(secret, far_future())
    }
}

fn far_future() -> SystemTime {
    // 100 years: "does not expire" without overflowing any platform's SystemTime.
    SystemTime::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &self.secret)
            .field("token_type", &self.token_type)
            .field("expires_on", &epoch_seconds(self.expires_on))
            .field("refresh_on", &self.refresh_on.map(epoch_seconds))
            .field("scopes", &self.scopes.to_space_separated())
            .finish()
    }
}

/// Seconds since the Unix epoch (0 for earlier times).
pub fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The time `seconds` after the Unix epoch; a time the platform cannot hold (a cache
/// entry's absurd `expires_on`) becomes the last second of the year 9999.
pub fn from_epoch_seconds(seconds: u64) -> SystemTime {
    const YEAR_9999_ENDS: u64 = 253_402_300_799;
    let at = |s: u64| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s));
    at(seconds)
        .or_else(|| at(seconds.min(YEAR_9999_ENDS)))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Where "now" comes from, so that tests move time instead of sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to: for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// A clock that reads `start`.
    pub fn new(start: SystemTime) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: SystemTime) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let token = AccessToken::from("eyJ.secret-token-value.sig");
        let text = format!("{token:?}");
        assert!(!text.contains("secret-token-value"), "{text}");
        assert!(text.contains("Bearer"));
    }

    #[test]
    fn refresh_due_prefers_refresh_on_then_five_minutes_early() {
        let expires = from_epoch_seconds(10_000);
        let plain = AccessToken::new("t", expires);
        assert_eq!(plain.refresh_due(), from_epoch_seconds(10_000 - 300));
        let with = plain.clone().with_refresh_on(from_epoch_seconds(6_000));
        assert_eq!(with.refresh_due(), from_epoch_seconds(6_000));
        assert!(with.needs_refresh_at(from_epoch_seconds(6_000)));
        assert!(!with.needs_refresh_at(from_epoch_seconds(5_999)));
    }

    #[test]
    fn absurd_epoch_seconds_do_not_overflow() {
        assert!(from_epoch_seconds(u64::MAX) > from_epoch_seconds(4_000_000_000));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(from_epoch_seconds(100));
        assert_eq!(clock.now(), from_epoch_seconds(100));
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), from_epoch_seconds(105));
    }
}
