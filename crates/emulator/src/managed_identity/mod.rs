//! The managed identity hosts, each on its own path with its own api-version, header,
//! parameter names and error shape: IMDS, App Service, Service Fabric (over TLS with its
//! own self-signed certificate, on a listener of its own), Machine Learning, Azure Arc
//! (with its key-file challenge) and Cloud Shell.
//!
//! What they share lives here: which identity a request names, the token they issue and
//! the host's way of saying no.

mod app_service;
mod arc;
mod cloud_shell;
mod imds;
mod machine_learning;
mod service_fabric;

use std::collections::HashMap;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub(crate) use app_service::app_service;
pub(crate) use arc::{arc, set_arc_realm};
pub(crate) use cloud_shell::cloud_shell;
pub(crate) use imds::imds;
pub(crate) use machine_learning::machine_learning;
pub(crate) use service_fabric::{SERVICE_FABRIC_PATH, service_fabric};

use crate::config::ManagedIdentityConfig;
use crate::state::AppState;
use crate::token_version::follow_resource_version;

/// How a host shapes its errors.
#[derive(Clone, Copy, Debug)]
enum ErrorShape {
    /// `{"error": code, "error_description": message}` (IMDS, Azure Arc).
    OAuth,
    /// `{"statusCode": status, "message": message}` (App Service, Machine Learning).
    StatusCode,
    /// `{"error": {"code": code, "message": message}}` (Service Fabric, Cloud Shell).
    Nested,
}

/// What one host is: its name, the api-versions it takes and its error shape.
struct Host {
    name: &'static str,
    /// Accepted `api-version` values; empty: the host takes none (Cloud Shell).
    api_versions: &'static [&'static str],
    shape: ErrorShape,
}

/// A host's refusal, in its own shape.
struct HostError {
    status: StatusCode,
    code: &'static str,
    message: String,
    shape: ErrorShape,
}

impl IntoResponse for HostError {
    fn into_response(self) -> Response {
        let body = match self.shape {
            ErrorShape::OAuth => json!({"error": self.code, "error_description": self.message}),
            ErrorShape::StatusCode => {
                json!({"statusCode": self.status.as_u16(), "message": self.message})
            }
            ErrorShape::Nested => json!({"error": {"code": self.code, "message": self.message}}),
        };
        (self.status, Json(body)).into_response()
    }
}

/// How a request names a user-assigned identity.
#[derive(Clone, Copy, Debug)]
enum IdKind {
    /// By client id.
    Client,
    /// By object (principal) id.
    Object,
    /// By ARM resource id.
    Resource,
}

impl Host {
    fn refuse(&self, status: StatusCode, code: &'static str, message: &str) -> HostError {
        HostError {
            status,
            code,
            message: format!("{}: {message}", self.name),
            shape: self.shape,
        }
    }

    fn bad_request(&self, code: &'static str, message: &str) -> HostError {
        self.refuse(StatusCode::BAD_REQUEST, code, message)
    }

    /// The `api-version` must be one the host takes.
    fn check_api_version(&self, query: &HashMap<String, String>) -> Result<(), HostError> {
        match query.get("api-version") {
            Some(version) if self.api_versions.contains(&version.as_str()) => Ok(()),
            Some(version) => Err(self.bad_request(
                "invalid_api_version",
                &format!(
                    "api-version {version:?} is not supported; use {}",
                    self.api_versions.join(" or ")
                ),
            )),
            None => Err(self.bad_request(
                "invalid_api_version",
                &format!(
                    "the api-version query parameter is missing; use {}",
                    self.api_versions.join(" or ")
                ),
            )),
        }
    }

    /// A header that must hold `expected` (compared exactly; an empty secret never matches).
    fn check_header(
        &self,
        headers: &HeaderMap,
        name: &str,
        expected: &str,
        refusal: (StatusCode, &'static str),
    ) -> Result<(), HostError> {
        let given = headers.get(name).and_then(|v| v.to_str().ok());
        if expected.is_empty() || given != Some(expected) {
            return Err(self.refuse(
                refusal.0,
                refusal.1,
                &format!("the {name} header is missing or wrong"),
            ));
        }
        Ok(())
    }

    /// The `resource` parameter, known to the directory.
    fn resource(
        &self,
        state: &AppState,
        params: &HashMap<String, String>,
        missing_code: &'static str,
    ) -> Result<String, HostError> {
        let resource = params
            .get("resource")
            .map(|r| r.trim_end_matches('/').to_owned())
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                self.bad_request(missing_code, "the resource parameter is missing or empty")
            })?;
        match state.config.resource(&resource) {
            // The audience is the resource's app id URI as registered, as app tokens'.
            Some(found) => Ok(found.app_id_uri.clone()),
            None => Err(self.bad_request(
                "invalid_resource",
                "AADSTS500011: The resource principal was not found in the tenant.",
            )),
        }
    }

    /// The identity a request names through the host's parameters (`(name, kind)`), else
    /// the system-assigned one.
    fn identity<'c>(
        &self,
        state: &'c AppState,
        params: &HashMap<String, String>,
        names: &[(&str, IdKind)],
        not_found_code: &'static str,
    ) -> Result<&'c ManagedIdentityConfig, HostError> {
        let identities = &state.config.managed_identities;
        let requested = names
            .iter()
            .find_map(|(name, kind)| params.get(*name).map(|id| (*kind, id)));
        let found = match requested {
            None => identities.iter().find(|i| i.system_assigned),
            Some((IdKind::Client, id)) => identities.iter().find(|i| &i.client_id == id),
            Some((IdKind::Object, id)) => identities.iter().find(|i| &i.object_id == id),
            Some((IdKind::Resource, id)) => identities
                .iter()
                .find(|i| i.resource_id.eq_ignore_ascii_case(id)),
        };
        found.ok_or_else(|| self.bad_request(not_found_code, "Identity not found"))
    }

    /// A token for `identity` and `resource`.
    fn issue(
        &self,
        state: &AppState,
        identity: &ManagedIdentityConfig,
        resource: &str,
    ) -> Result<Issued, HostError> {
        let claims = json!({
            "tid": state.config.tenant_id, "oid": identity.object_id, "sub": identity.object_id,
            "azp": identity.client_id, "appid": identity.client_id, "idtyp": "app",
            "xms_mirid": identity.resource_id,
        });
        self.sign(
            state,
            claims,
            resource,
            &identity.object_id,
            &identity.client_id,
        )
    }

    /// Signs `claims` (with the standard ones added) as a token for `resource`.
    fn sign(
        &self,
        state: &AppState,
        mut claims: Value,
        resource: &str,
        object_id: &str,
        client_id: &str,
    ) -> Result<Issued, HostError> {
        let now = state.now();
        let expires_on = now + state.config.token_lifetime_secs;
        let uti = uuid::Uuid::new_v4().simple().to_string();
        for (name, value) in [
            ("aud", json!(resource)),
            ("iss", json!(state.issuer())),
            ("iat", json!(now)),
            ("nbf", json!(now)),
            ("exp", json!(expires_on)),
            ("ver", json!("2.0")),
            ("uti", json!(uti)),
        ] {
            claims[name] = value;
        }
        follow_resource_version(state, &mut claims);
        state.revocations.record(&uti, object_id, client_id, false);
        let token = state.signing_key.sign(&claims).map_err(|e| {
            self.refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            )
        })?;
        Ok(Issued {
            token,
            now,
            expires_on,
            lifetime: state.config.token_lifetime_secs,
            resource: resource.to_owned(),
        })
    }
}

/// A token a host issued.
struct Issued {
    token: String,
    now: u64,
    expires_on: u64,
    lifetime: u64,
    resource: String,
}

impl Issued {
    /// The body IMDS, Azure Arc and Cloud Shell answer with: every value a string.
    fn imds_body(&self) -> Value {
        json!({
            "access_token": self.token, "refresh_token": "",
            "expires_in": self.lifetime.to_string(), "expires_on": self.expires_on.to_string(),
            "not_before": self.now.to_string(), "resource": self.resource, "token_type": "Bearer",
        })
    }
}

/// The handler's result as a response.
fn respond(result: Result<Value, HostError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}
