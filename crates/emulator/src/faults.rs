//! Faults a test injects, per endpoint, and the endpoint names they and the counters
//! use; the middleware in `fault_injection` applies them.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What a fault does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer `status` (with `Retry-After` if given) and an error body in Entra's shape.
    Status,
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Send the headers, then break the connection in the middle of the body.
    Drop,
    /// Answer 200 with a body holding both `error` and `access_token`.
    ErrorAndToken,
}

/// A fault for one endpoint (`token`, `discovery`, `instance_discovery`, `jwks`,
/// `authorize`, `devicecode`, `me`, `imds`, `app_service`, `service_fabric`,
/// `machine_learning`, `arc`, `cloud_shell`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Fault {
    /// Which endpoint.
    pub endpoint: String,
    /// What happens.
    pub kind: FaultKind,
    /// The status for [`FaultKind::Status`] (default 503).
    #[serde(default)]
    pub status: Option<u16>,
    /// The `Retry-After` header value, if any.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// How many requests it affects; none means every one until reset.
    #[serde(default)]
    pub times: Option<u32>,
    /// A delay before answering (or before the fault), in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
}

impl Fault {
    /// A fault of `kind` for every request to `endpoint` until reset.
    pub fn new(endpoint: &str, kind: FaultKind) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            kind,
            status: None,
            retry_after: None,
            times: None,
            delay_ms: 0,
        }
    }

    /// The status of a [`FaultKind::Status`] fault.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The `Retry-After` header.
    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }

    /// Only the next `times` requests.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    /// A delay before answering.
    pub fn delay_ms(mut self, delay_ms: u64) -> Self {
        self.delay_ms = delay_ms;
        self
    }
}

/// The faults injected so far, in order.
#[derive(Default)]
pub(crate) struct Faults(Mutex<Vec<Fault>>);

impl Faults {
    pub(crate) fn add(&self, fault: Fault) {
        self.lock().push(fault);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The fault for the next request to `endpoint`, counting it down.
    pub(crate) fn take(&self, endpoint: &str) -> Option<Fault> {
        let mut faults = self.lock();
        let index = faults.iter().position(|f| f.endpoint == endpoint)?;
        let fault = faults[index].clone();
        match &mut faults[index].times {
            Some(1) => {
                faults.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The managed identity endpoint of Azure's Instance Metadata Service.
pub(crate) const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// The managed identity endpoint `IDENTITY_ENDPOINT` names on App Service.
pub(crate) const APP_SERVICE_PATH: &str = "/msi/token";

/// The endpoint name of a request path, for counters and faults.
pub(crate) fn endpoint_of(path: &str) -> &'static str {
    if path.ends_with("/oauth2/v2.0/token") {
        "token"
    } else if path == "/common/discovery/instance" {
        "instance_discovery"
    } else if path.ends_with("/.well-known/openid-configuration") {
        "discovery"
    } else if path.ends_with("/discovery/v2.0/keys") {
        "jwks"
    } else if path.trim_end_matches('/') == IMDS_PATH {
        "imds"
    } else if path.trim_end_matches('/') == APP_SERVICE_PATH {
        "app_service"
    } else if path == "/msi/auth" {
        "machine_learning"
    } else if path == "/servicefabric/token" {
        "service_fabric"
    } else if path == "/arc/metadata/identity/oauth2/token" {
        "arc"
    } else if path == "/cloudshell/oauth2/token" {
        "cloud_shell"
    } else if path.ends_with("/oauth2/v2.0/authorize") {
        "authorize"
    } else if path.ends_with("/oauth2/v2.0/devicecode") {
        "devicecode"
    } else if path == "/v1.0/me" {
        "me"
    } else if path.starts_with("/admin/") {
        "admin"
    } else {
        "other"
    }
}
