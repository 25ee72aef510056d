//! The throttle memory, as MSAL keeps one: a `429` or `5xx` with `Retry-After` is
//! remembered for that long per request — its URL, `client_id`, `scope` and account
//! (refresh token, code, username or user id, hashed) — and a repeat inside that time is
//! answered from memory with [`Error::Throttled`], without touching the network.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokenhop_core::{Error, Result};
use url::Url;

use super::Form;

/// MSAL's bounds: no throttle is remembered longer than an hour, and at most this many.
const LONGEST: Duration = Duration::from_secs(3600);
const CAPACITY: usize = 1024;

/// The form fields that stand for "the account" of a request, in MSAL's order.
const ACCOUNT_FIELDS: [&str; 4] = ["refresh_token", "code", "username", "user_id"];

/// Which request a throttle is for: a digest, so that no secret is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ThrottleKey([u8; 32]);

impl ThrottleKey {
    /// A POST of `form` to `url`: per URL, client, scope and account.
    pub(crate) fn post(url: &Url, form: &Form) -> Self {
        let account = ACCOUNT_FIELDS.iter().find_map(|name| form.get(name));
        let mut digest = Sha256::new();
        for part in [
            "POST",
            url.as_str(),
            form.get("client_id").unwrap_or_default(),
            form.get("scope").unwrap_or_default(),
            account.unwrap_or_default(),
        ] {
            digest.update(part.len().to_be_bytes());
            digest.update(part.as_bytes());
        }
        Self(digest.finalize().into())
    }

    /// A GET of `url` (its query names the resource and identity, as for managed
    /// identity).
    pub(crate) fn get(url: &Url) -> Self {
        Self(
            Sha256::new()
                .chain_update("GET ")
                .chain_update(url.as_str())
                .finalize()
                .into(),
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Throttle {
    until: Instant,
    status: u16,
}

/// Throttles the server asked for, shared by an HTTP client and its clones.
#[derive(Debug, Default)]
pub(crate) struct ThrottleMemory {
    throttles: Mutex<HashMap<ThrottleKey, Throttle>>,
}

impl ThrottleMemory {
    /// [`Error::Throttled`] with the time left when `key` is throttled; `endpoint` names
    /// the URL in the error.
    pub(crate) fn check(&self, key: &ThrottleKey, endpoint: &str) -> Result<()> {
        let now = Instant::now();
        let mut throttles = self.lock();
        match throttles.get(key).copied() {
            Some(throttle) if throttle.until > now => Err(Error::Throttled {
                endpoint: endpoint.to_owned(),
                retry_after: throttle.until - now,
                status: throttle.status,
            }),
            Some(_) => {
                throttles.remove(key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Remembers that the server answered `key` with `status` and `Retry-After`.
    pub(crate) fn remember(&self, key: ThrottleKey, retry_after: Duration, status: u16) {
        let now = Instant::now();
        let mut throttles = self.lock();
        if throttles.len() >= CAPACITY {
            throttles.retain(|_, t| t.until > now);
        }
        if throttles.len() >= CAPACITY
            && let Some(soonest) = throttles
                .iter()
                .min_by_key(|(_, t)| t.until)
                .map(|(k, _)| k.clone())
        {
            throttles.remove(&soonest);
        }
        throttles.insert(
            key,
            Throttle {
                until: now + retry_after.min(LONGEST),
                status,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, Throttle>> {
        self.throttles.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use tokenhop_core::Secret;

    use super::*;

    fn url() -> Url {
        Url::parse("https://login.microsoftonline.com/t/oauth2/v2.0/token").unwrap()
    }

    fn form(client: &str, refresh_token: &str) -> Form {
        Form::new()
            .field("grant_type", "refresh_token")
            .field("client_id", client)
            .field("scope", "User.Read")
            .secret("refresh_token", &Secret::new(refresh_token))
    }

    #[test]
    fn a_throttle_answers_the_same_request_until_it_passes() {
        let memory = ThrottleMemory::default();
        let key = ThrottleKey::post(&url(), &form("app", "rt-1"));
        memory.check(&key, "token").unwrap();
        memory.remember(key.clone(), Duration::from_secs(120), 429);
        let err = memory.check(&key, "token").unwrap_err();
        assert!(
            matches!(err, Error::Throttled { retry_after, status: 429, .. } if retry_after > Duration::from_secs(118)),
            "{err:?}"
        );
        memory.remember(key.clone(), Duration::ZERO, 503);
        memory.check(&key, "token").unwrap();
    }

    #[test]
    fn other_clients_accounts_and_urls_are_not_throttled() {
        let memory = ThrottleMemory::default();
        memory.remember(
            ThrottleKey::post(&url(), &form("app", "rt-1")),
            Duration::from_secs(60),
            429,
        );
        memory
            .check(&ThrottleKey::post(&url(), &form("other", "rt-1")), "t")
            .unwrap();
        memory
            .check(&ThrottleKey::post(&url(), &form("app", "rt-2")), "t")
            .unwrap();
        memory.check(&ThrottleKey::get(&url()), "t").unwrap();
    }

    #[test]
    fn the_memory_stays_bounded() {
        let memory = ThrottleMemory::default();
        for n in 0..CAPACITY + 10 {
            memory.remember(
                ThrottleKey::post(&url(), &form(&n.to_string(), "rt")),
                Duration::from_secs(60),
                429,
            );
        }
        assert_eq!(memory.lock().len(), CAPACITY);
    }
}
