//! [`AuthConfig`]: the flow, its settings and the cache, from a JSON, YAML or TOML file.
//!
//! ```yaml
//! scopes: [https://graph.microsoft.com/.default]
//! cache: { path: /var/lib/app/token_cache.json }   # or { disabled: true }; default: platform path
//! ca_cert: /etc/app/extra-ca.pem                  # optional extra trusted CA
//! flow:
//!   type: client-secret
//!   authority: https://login.microsoftonline.com/contoso.onmicrosoft.com
//!   client_id: 1c0e6f6a-2b3c-4d5e-8f90-a1b2c3d4e5f6
//!   client_secret: ${APP_SECRET}                  # or { file: /run/secrets/app }
//! ```
//!
//! Flow types: every [`crate::FlowKind`] — `client-secret`, `client-certificate`,
//! `on-behalf-of`, `silent`, `device-code`, `interactive`, `managed-identity`,
//! `workload-identity`, `agent-identity`, `agent-user`, `azure-cli`, `environment`,
//! `default`; their settings are those of
//! [`FlowConfig`]'s variants. A `certificate` (or `blueprint_certificate`) is a file's
//! path, or a key that stays in a PKCS#11 token:
//! `{ pkcs11: { module: PATH, uri: "pkcs11:token=…;object=…", pin: { env: VAR } } }`
//! (or `pin: { file: PATH }`; [`crate::Pkcs11Key`]). Unknown fields are refused by
//! name, and every error names the file and the field (never a secret's value).
//! Callables (assertion callbacks, custom signers, persistence callbacks) cannot be
//! written in a file: use the builders for those.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tokenhop_core::{Error, Result, ScopedProvider, Scopes, TokenCredential, TokenCredentialExt};

use crate::cache_location::CacheLocation;
use crate::flow::{FlowConfig, FlowKind};
use crate::graph_auth::GRAPH_DEFAULT_SCOPE;
use crate::http::{HttpClient, HttpConfig};

/// Cache settings: a path, or disabled; the platform default path otherwise.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// The cache file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Keep tokens in memory only.
    #[serde(default)]
    pub disabled: bool,
}

/// A whole configuration: the flow and what every flow shares.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthConfig {
    /// The flow and its settings.
    pub flow: FlowConfig,
    /// Scopes to ask for (default: Graph's `/.default`).
    pub scopes: Vec<String>,
    /// Where tokens are kept.
    pub cache: CacheConfig,
    /// An extra trusted CA (PEM), e.g. the emulator's.
    pub ca_cert: Option<PathBuf>,
}

/// The file's top level, with the flow still a table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    flow: serde_json::Map<String, serde_json::Value>,
    /// Scopes to ask for (default: Graph's `/.default`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Where tokens are kept.
    #[serde(default)]
    pub cache: CacheConfig,
    /// An extra trusted CA (PEM), e.g. the emulator's.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

/// The flow from a file's `flow` table: `type` picks the variant, the rest are its
/// fields. Errors name the field (`flow.port`).
fn flow_from_table(mut table: serde_json::Map<String, serde_json::Value>) -> Result<FlowConfig> {
    let kind = match table.remove("type") {
        Some(serde_json::Value::String(kind)) => kind,
        Some(_) => return Err(Error::configuration("flow.type: must be a string")),
        None => {
            return Err(Error::configuration(format!(
                "flow.type: missing; one of {}",
                FlowKind::names()
            )));
        }
    };
    fn fields<T: serde::de::DeserializeOwned>(
        table: serde_json::Map<String, serde_json::Value>,
    ) -> Result<T> {
        serde_path_to_error::deserialize(serde_json::Value::Object(table)).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "flow".to_owned()
            } else {
                format!("flow.{path}")
            };
            Error::configuration(format!("{field}: {}", e.into_inner()))
        })
    }
    let Some(kind) = FlowKind::from_name(&kind) else {
        return Err(Error::configuration(format!(
            "flow.type: unknown flow '{kind}'; one of {}",
            FlowKind::names()
        )));
    };
    Ok(match kind {
        FlowKind::ClientSecret => FlowConfig::ClientSecret(fields(table)?),
        FlowKind::ClientCertificate => FlowConfig::ClientCertificate(fields(table)?),
        FlowKind::OnBehalfOf => FlowConfig::OnBehalfOf(fields(table)?),
        FlowKind::Silent => FlowConfig::Silent(fields(table)?),
        FlowKind::DeviceCode => FlowConfig::DeviceCode(fields(table)?),
        FlowKind::Interactive => FlowConfig::Interactive(fields(table)?),
        FlowKind::ManagedIdentity => FlowConfig::ManagedIdentity(fields(table)?),
        FlowKind::WorkloadIdentity => FlowConfig::WorkloadIdentity(fields(table)?),
        FlowKind::AgentIdentity => FlowConfig::AgentIdentity(fields(table)?),
        FlowKind::AgentUser => FlowConfig::AgentUser(fields(table)?),
        FlowKind::AzureCli => FlowConfig::AzureCli(fields(table)?),
        FlowKind::Environment => FlowConfig::Environment(fields(table)?),
        FlowKind::Default => FlowConfig::Default(fields(table)?),
    })
}

/// A built configuration: the credential and the scopes to ask it for.
pub struct BuiltAuth {
    /// The credential.
    pub credential: Arc<dyn TokenCredential>,
    /// The scopes.
    pub scopes: Scopes,
    /// The HTTP client the credential sends through (trusting the file's `ca_cert`):
    /// for other requests to the same places, and for its
    /// [`HttpClient::requests_sent`], which tells a cache hit from a fetch.
    pub http: HttpClient,
}

impl std::fmt::Debug for BuiltAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltAuth")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl BuiltAuth {
    /// A provider asking the credential for the scopes.
    pub fn provider(&self) -> ScopedProvider<Arc<dyn TokenCredential>> {
        Arc::clone(&self.credential).into_provider(self.scopes.clone())
    }
}

impl AuthConfig {
    /// Reads `path`: YAML for `.yaml`/`.yml`, TOML for `.toml`, JSON otherwise.
    pub fn from_file(path: &Path) -> Result<Self> {
        let in_file = |message: String| {
            Error::configuration(format!("{}: {}", path.display(), message.trim()))
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| in_file(format!("cannot read it: {e}")))?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        // Every format becomes one JSON value, so that errors name fields the same way.
        let value: serde_json::Value = match extension.as_deref() {
            Some("yaml" | "yml") => serde_yaml_ng::from_str(&text).map_err(|e| e.to_string()),
            Some("toml") => toml::from_str(&text).map_err(|e| e.to_string()),
            _ => serde_json::from_str(&text).map_err(|e| e.to_string()),
        }
        .map_err(in_file)?;
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            in_file(format!("{field}{}", e.into_inner()))
        })?;
        let flow = flow_from_table(raw.flow).map_err(|e| match e {
            Error::Configuration { message } => in_file(message),
            other => other,
        })?;
        Ok(Self {
            flow,
            scopes: raw.scopes,
            cache: raw.cache,
            ca_cert: raw.ca_cert,
        })
    }

    /// Reads `path` and builds it; errors name the file.
    pub fn load(path: &Path) -> Result<BuiltAuth> {
        Self::from_file(path)?.build().map_err(|e| match e {
            Error::Configuration { message } => {
                Error::configuration(format!("{}: {message}", path.display()))
            }
            other => other,
        })
    }

    /// The credential (no I/O beyond reading files the configuration names).
    pub fn build(&self) -> Result<BuiltAuth> {
        let scopes = if self.scopes.is_empty() {
            Scopes::new([GRAPH_DEFAULT_SCOPE])?
        } else {
            Scopes::new(self.scopes.iter().map(String::as_str))
                .map_err(|e| Error::configuration(format!("scopes: {e}")))?
        };
        let cache = match (&self.cache.path, self.cache.disabled) {
            (_, true) => CacheLocation::Disabled,
            (Some(path), false) => CacheLocation::Path(path.clone()),
            (None, false) => CacheLocation::PlatformDefault,
        }
        .open()?;
        let mut http = HttpConfig::default();
        if let Some(ca) = &self.ca_cert {
            let pem = std::fs::read(ca).map_err(|e| {
                Error::configuration(format!("ca_cert: cannot read {}: {e}", ca.display()))
            })?;
            http = http.with_extra_ca_pem(pem);
        }
        let http = HttpClient::new(http)?;
        let credential = self
            .flow
            .clone()
            .credential()
            .http(http.clone())
            .cache(cache)
            .build()?;
        Ok(BuiltAuth {
            credential,
            scopes,
            http,
        })
    }
}
