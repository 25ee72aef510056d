//! What every endpoint shares: the directory, the keys, the clock, the counters, and
//! what the emulator remembers between requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};

use crate::app_certificate::{AppCertificate, RegisteredCertificate};
use crate::arc_keys::ArcKeys;
use crate::auth_codes::AuthCodes;
use crate::config::EmulatorConfig;
use crate::device_codes::DeviceCodes;
use crate::entra_error::EntraError;
use crate::faults::Faults;
use crate::sessions::{RefreshTokens, Revocations};
use crate::signing::SigningKey;

/// The state behind every route.
pub(crate) struct AppState {
    pub(crate) config: EmulatorConfig,
    /// Signs the tokens the emulator issues; its JWKS is served.
    pub(crate) signing_key: SigningKey,
    /// `http://127.0.0.1:PORT` (`https://` with TLS).
    pub(crate) base_url: String,
    /// Every certificate an app authenticates with (generated and registered), by
    /// client id.
    pub(crate) certificates: HashMap<String, Vec<RegisteredCertificate>>,
    /// The certificates the emulator generated, with their keys, by client id.
    pub(crate) generated: HashMap<String, AppCertificate>,
    pub(crate) faults: Faults,
    /// Signs the federation issuer's tokens (workload identity).
    pub(crate) federation_key: SigningKey,
    pub(crate) device_codes: DeviceCodes,
    pub(crate) auth_codes: AuthCodes,
    pub(crate) refresh_tokens: RefreshTokens,
    pub(crate) revocations: Revocations,
    /// Azure Arc's key files and the secrets they hold.
    pub(crate) arc_keys: ArcKeys,
    /// When it started, epoch seconds by the wall clock.
    started_at: u64,
    clock_offset_secs: AtomicI64,
    counters: Mutex<Counters>,
}

/// Requests the emulator has answered, per endpoint and per grant type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counters {
    /// Requests per endpoint (`token`, `discovery`, `jwks`, …).
    pub endpoints: BTreeMap<String, u64>,
    /// Token requests per `grant_type`.
    pub grants: BTreeMap<String, u64>,
}

impl Counters {
    /// Requests to `endpoint`.
    pub fn endpoint(&self, endpoint: &str) -> u64 {
        self.endpoints.get(endpoint).copied().unwrap_or(0)
    }

    /// Token requests with `grant_type`.
    pub fn grant(&self, grant_type: &str) -> u64 {
        self.grants.get(grant_type).copied().unwrap_or(0)
    }
}

/// The wall clock, epoch seconds.
fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl AppState {
    pub(crate) fn new(
        config: EmulatorConfig,
        keys: [SigningKey; 2],
        generated: HashMap<String, AppCertificate>,
        certificates: HashMap<String, Vec<RegisteredCertificate>>,
        base_url: String,
        arc_keys: ArcKeys,
    ) -> Self {
        let [signing_key, federation_key] = keys;
        Self {
            config,
            signing_key,
            federation_key,
            device_codes: Default::default(),
            auth_codes: Default::default(),
            refresh_tokens: Default::default(),
            revocations: Default::default(),
            base_url,
            certificates,
            generated,
            faults: Faults::default(),
            arc_keys,
            started_at: wall_clock(),
            clock_offset_secs: AtomicI64::new(0),
            counters: Mutex::new(Counters::default()),
        }
    }

    /// The emulator's "now", in epoch seconds: wall clock plus the admin offset.
    pub(crate) fn now(&self) -> u64 {
        wall_clock().saturating_add_signed(self.clock_offset_secs.load(Ordering::SeqCst))
    }

    /// When it started, epoch seconds (the emulator's clock at start).
    pub(crate) fn started_at(&self) -> u64 {
        self.started_at
    }

    pub(crate) fn advance_clock(&self, secs: i64) {
        self.clock_offset_secs.fetch_add(secs, Ordering::SeqCst);
    }

    pub(crate) fn count_endpoint(&self, endpoint: &str) {
        *self
            .lock()
            .endpoints
            .entry(endpoint.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn count_grant(&self, grant_type: &str) {
        *self.lock().grants.entry(grant_type.to_owned()).or_default() += 1;
    }

    pub(crate) fn counters(&self) -> Counters {
        self.lock().clone()
    }

    pub(crate) fn reset_counters(&self) {
        *self.lock() = Counters::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The main tenant's issuer.
    pub(crate) fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.base_url, self.config.tenant_id)
    }

    /// Signs a token with the emulator's key.
    pub(crate) fn sign(&self, claims: &serde_json::Value) -> Result<String, EntraError> {
        self.signing_key
            .sign(claims)
            .map_err(|e| EntraError::server_error(e.to_string()))
    }

    /// The part of every token endpoint answer that carries the access token: `claims`
    /// signed, with `scope` when given, and `refresh_in` (half the lifetime) for
    /// lifetimes of two hours or more, as Entra does.
    pub(crate) fn access_token_response(
        &self,
        claims: &serde_json::Value,
        scope: Option<String>,
    ) -> Result<serde_json::Value, EntraError> {
        let lifetime = self.config.token_lifetime_secs;
        let mut response = serde_json::json!({ "token_type": "Bearer" });
        if let Some(scope) = scope {
            response["scope"] = scope.into();
        }
        response["expires_in"] = lifetime.into();
        response["ext_expires_in"] = lifetime.into();
        response["access_token"] = self.sign(claims)?.into();
        if lifetime >= 7200 {
            response["refresh_in"] = (lifetime / 2).into();
        }
        Ok(response)
    }

    /// The claims of a token the emulator issued for `audience`, if it verifies, has not
    /// expired by the emulator's clock, and was not revoked.
    pub(crate) fn verify_issued(&self, token: &str, audience: &str) -> Option<serde_json::Value> {
        self.signing_key
            .verify(token, audience, self.now())
            .filter(|claims| !self.revocations.is_revoked(claims))
    }
}
