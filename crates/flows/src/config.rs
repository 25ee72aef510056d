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
//! Flow types: `client-secret`, `client-certificate`, `device-code`, `interactive`,
//! `managed-identity`, `workload-identity`, `agent-identity`, `agent-user`. Unknown
//! fields are refused by name, and every error names the file and the field (never a
//! secret's value). Callables (assertion callbacks, custom signers, persistence
//! callbacks) cannot be written in a file: use the builders for those.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{
    ClientId, Error, Result, ScopedProvider, Scopes, Secret, TokenCredential, TokenCredentialExt,
};

use crate::agent_id::{AgentIdBuilder, AgentIdSettings, AgentResource};
use crate::authority::Authority;
use crate::certificate::CertificateAssertions;
use crate::client_auth::ClientCredential;
use crate::confidential::ConfidentialClient;
use crate::graph_auth::{CacheLocation, GRAPH_DEFAULT_SCOPE, PUBLIC_CLOUD};
use crate::http::{HttpClient, HttpConfig};
use crate::managed_identity::{
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource,
};
use crate::public_client::PublicClient;
use crate::sign_in::{SignIn, SignInCredential};
use crate::workload_identity::{WorkloadIdentityCredential, WorkloadIdentityEnv};

/// A secret in a configuration file: `${VAR}` (an environment variable), `{ env: VAR }`,
/// `{ file: PATH }`, or (discouraged) the value itself.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretValue {
    /// A string: `${VAR}` names an environment variable, anything else is the secret.
    Text(String),
    /// `{ env: VAR }`.
    Env {
        /// The variable.
        env: String,
    },
    /// `{ file: PATH }`: the file's contents, trimmed.
    File {
        /// The file.
        file: PathBuf,
    },
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(text) if env_reference(text).is_some() => write!(f, "{text}"),
            Self::Text(_) => f.write_str("[redacted]"),
            Self::Env { env } => write!(f, "${{{env}}}"),
            Self::File { file } => write!(f, "file:{}", file.display()),
        }
    }
}

fn env_reference(text: &str) -> Option<&str> {
    text.strip_prefix("${")?.strip_suffix('}')
}

impl SecretValue {
    /// The secret; errors name `field`, and the variable or file, never the value.
    pub fn resolve(&self, field: &str) -> Result<Secret> {
        let from_env = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| {
                    Error::configuration(format!(
                        "{field}: the environment variable {name} is not set"
                    ))
                })
        };
        match self {
            Self::Text(text) => match env_reference(text) {
                Some(name) => from_env(name),
                None => Ok(Secret::new(text.as_str())),
            },
            Self::Env { env } => from_env(env),
            Self::File { file } => std::fs::read_to_string(file)
                .map(|text| Secret::new(text.trim()))
                .map_err(|e| {
                    Error::configuration(format!("{field}: cannot read {}: {e}", file.display()))
                }),
        }
    }
}

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

/// The flow, named by `type` in the file.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum FlowConfig {
    /// `client-secret`: client credentials with a secret.
    ClientSecret(ClientSecretConfig),
    /// `client-certificate`: client credentials with a certificate.
    ClientCertificate(ClientCertificateConfig),
    /// `device-code`: a user, by the device code flow.
    DeviceCode(UserConfig),
    /// `interactive`: a user, in the browser (device code as fallback).
    Interactive(UserConfig),
    /// `managed-identity`: the host's managed identity.
    ManagedIdentity(ManagedIdentityConfig),
    /// `workload-identity`: a federated token file.
    WorkloadIdentity(WorkloadIdentityConfig),
    /// `agent-identity`: Entra Agent ID, two hops (the agent's app token).
    AgentIdentity(AgentConfig),
    /// `agent-user`: Entra Agent ID, three hops (the agent user's delegated token).
    AgentUser(AgentConfig),
}

const FLOW_TYPES: &str = "client-secret, client-certificate, device-code, interactive, managed-identity, workload-identity, agent-identity, agent-user";

/// `client-secret` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientSecretConfig {
    /// `https://host/{tenant}`.
    pub authority: String,
    /// The app.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretValue,
}

/// `client-certificate` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientCertificateConfig {
    /// `https://host/{tenant}`.
    pub authority: String,
    /// The app.
    pub client_id: String,
    /// The certificate file (PEM with its key, or PFX).
    pub certificate: PathBuf,
    /// The PFX or encrypted key's password.
    #[serde(default)]
    pub password: Option<SecretValue>,
}

/// `device-code` and `interactive` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UserConfig {
    /// `https://host/{tenant}` or a B2C policy authority.
    pub authority: String,
    /// The public client.
    pub client_id: String,
    /// The cached account to use (username); the first otherwise.
    #[serde(default)]
    pub account: Option<String>,
    /// The loopback port of the interactive flow (default 8400; 0 = any).
    #[serde(default)]
    pub port: Option<u16>,
}

/// `managed-identity` settings: at most one of the ids (none: system-assigned).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ManagedIdentityConfig {
    /// A user-assigned identity's client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// A user-assigned identity's object id.
    #[serde(default)]
    pub object_id: Option<String>,
    /// A user-assigned identity's ARM resource id.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The IMDS endpoint (default: as the environment says).
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// `workload-identity` settings; each defaults to its `AZURE_*` variable.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WorkloadIdentityConfig {
    /// `AZURE_CLIENT_ID`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `AZURE_TENANT_ID`.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// `AZURE_AUTHORITY_HOST`.
    #[serde(default)]
    pub authority_host: Option<String>,
}

impl FlowConfig {
    /// From the `flow` table: `type` picks the variant, the rest are its fields. Errors
    /// name the field (`flow.port`).
    fn from_table(mut table: serde_json::Map<String, serde_json::Value>) -> Result<Self> {
        let kind = match table.remove("type") {
            Some(serde_json::Value::String(kind)) => kind,
            Some(_) => return Err(Error::configuration("flow.type: must be a string")),
            None => {
                return Err(Error::configuration(format!(
                    "flow.type: missing; one of {FLOW_TYPES}"
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
        Ok(match kind.as_str() {
            "client-secret" => Self::ClientSecret(fields(table)?),
            "client-certificate" => Self::ClientCertificate(fields(table)?),
            "device-code" => Self::DeviceCode(fields(table)?),
            "interactive" => Self::Interactive(fields(table)?),
            "managed-identity" => Self::ManagedIdentity(fields(table)?),
            "workload-identity" => Self::WorkloadIdentity(fields(table)?),
            "agent-identity" => Self::AgentIdentity(fields(table)?),
            "agent-user" => Self::AgentUser(fields(table)?),
            other => {
                return Err(Error::configuration(format!(
                    "flow.type: unknown flow '{other}'; one of {FLOW_TYPES}"
                )));
            }
        })
    }
}

/// Entra Agent ID settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AgentConfig {
    /// Default: the public cloud.
    #[serde(default)]
    pub authority_host: Option<String>,
    /// The tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The blueprint app.
    #[serde(default)]
    pub blueprint_id: Option<String>,
    /// The blueprint's certificate file.
    pub blueprint_certificate: PathBuf,
    /// Its password, if any.
    #[serde(default)]
    pub password: Option<SecretValue>,
    /// The agent identity.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The agent user's object id (three hops).
    #[serde(default)]
    pub agent_user_id: Option<String>,
    /// The agent user's UPN (three hops, instead of the object id).
    #[serde(default)]
    pub agent_user_upn: Option<String>,
    /// `graph` (default), `storage`, or a scope.
    #[serde(default)]
    pub resource: Option<String>,
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
        let flow = FlowConfig::from_table(raw.flow).map_err(|e| match e {
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
        let credential = self.flow.build(http.clone(), cache)?;
        Ok(BuiltAuth {
            credential,
            scopes,
            http,
        })
    }
}

fn field_error(field: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Configuration { message } => Error::configuration(format!("{field}: {message}")),
        other => other,
    }
}

fn certificate(
    path: &Path,
    password: Option<&SecretValue>,
    field: &str,
) -> Result<ClientCertificate> {
    let password = password
        .map(|p| p.resolve(&format!("{field}.password")))
        .transpose()?;
    ClientCertificate::from_file(path, password.as_ref().map(|p| p.expose_secret()))
        .map_err(|e| Error::configuration(format!("{field}: {}: {e}", path.display())))
}

impl FlowConfig {
    fn build(
        &self,
        http: HttpClient,
        cache: tokenhop_cache::SharedTokenCache,
    ) -> Result<Arc<dyn TokenCredential>> {
        let authority = |text: &str| Authority::parse(text).map_err(field_error("flow.authority"));
        let client_id = |text: &str| ClientId::new(text).map_err(field_error("flow.client_id"));
        let confidential = |authority_text: &str,
                            id: &str,
                            credential|
         -> Result<Arc<dyn TokenCredential>> {
            Ok(Arc::new(
                ConfidentialClient::builder(client_id(id)?, authority(authority_text)?, credential)
                    .http(http.clone())
                    .cache(cache.clone())
                    .build()?,
            ))
        };
        let public = |authority_text: &str, id: &str| -> Result<PublicClient> {
            PublicClient::builder(client_id(id)?, authority(authority_text)?)
                .http(http.clone())
                .cache(cache.clone())
                .build()
        };
        match self {
            Self::ClientSecret(c) => {
                let secret = c.client_secret.resolve("flow.client_secret")?;
                confidential(&c.authority, &c.client_id, ClientCredential::secret(secret))
            }
            Self::ClientCertificate(c) => {
                let certificate =
                    certificate(&c.certificate, c.password.as_ref(), "flow.certificate")?;
                confidential(
                    &c.authority,
                    &c.client_id,
                    CertificateAssertions::new(certificate).into_credential(),
                )
            }
            Self::DeviceCode(c) => Ok(Arc::new(user_credential(
                public(&c.authority, &c.client_id)?,
                SignIn::DeviceCode,
                c,
            ))),
            Self::Interactive(c) => {
                #[cfg(feature = "interactive")]
                {
                    let mut options = crate::interactive::InteractiveOptions::default();
                    if let Some(port) = c.port {
                        options = options.with_port(port);
                    }
                    Ok(Arc::new(user_credential(
                        public(&c.authority, &c.client_id)?,
                        SignIn::Interactive(options),
                        c,
                    )))
                }
                #[cfg(not(feature = "interactive"))]
                {
                    let _ = c;
                    Err(Error::configuration(
                        "flow.type: interactive needs tokenhop-flows' `interactive` feature",
                    ))
                }
            }
            Self::ManagedIdentity(c) => {
                let id = match (&c.client_id, &c.object_id, &c.resource_id) {
                    (None, None, None) => ManagedIdentityId::SystemAssigned,
                    (Some(id), None, None) => ManagedIdentityId::ClientId(id.clone()),
                    (None, Some(id), None) => ManagedIdentityId::ObjectId(id.clone()),
                    (None, None, Some(id)) => ManagedIdentityId::ResourceId(id.clone()),
                    _ => {
                        return Err(Error::configuration(
                            "flow: give at most one of client_id, object_id and resource_id",
                        ));
                    }
                };
                let source = match &c.endpoint {
                    Some(endpoint) => ManagedIdentitySource::Imds {
                        endpoint: url::Url::parse(endpoint).map_err(|e| {
                            Error::configuration(format!("flow.endpoint: not a URL: {e}"))
                        })?,
                    },
                    None => ManagedIdentitySource::from_env()?,
                };
                Ok(Arc::new(
                    ManagedIdentityCredential::new(source, id)?
                        .with_http(http)
                        .with_cache(cache),
                ))
            }
            Self::WorkloadIdentity(c) => {
                let overrides = [
                    ("AZURE_CLIENT_ID", c.client_id.clone()),
                    ("AZURE_TENANT_ID", c.tenant_id.clone()),
                    (
                        "AZURE_FEDERATED_TOKEN_FILE",
                        c.token_file.as_ref().map(|p| p.display().to_string()),
                    ),
                    ("AZURE_AUTHORITY_HOST", c.authority_host.clone()),
                ];
                let env = WorkloadIdentityEnv::from_lookup(|name| {
                    overrides
                        .iter()
                        .find(|(n, _)| *n == name)
                        .and_then(|(_, v)| v.clone())
                        .or_else(|| std::env::var(name).ok())
                })?;
                Ok(Arc::new(WorkloadIdentityCredential::new(env, http, cache)?))
            }
            Self::AgentIdentity(agent) => agent
                .builder(http, cache)?
                .build_identity()
                .map(|c| Arc::new(c) as _),
            Self::AgentUser(agent) => agent
                .builder(http, cache)?
                .build_user()
                .map(|c| Arc::new(c) as _),
        }
    }
}

fn user_credential(client: PublicClient, sign_in: SignIn, config: &UserConfig) -> SignInCredential {
    let credential = SignInCredential::new(client, sign_in);
    match &config.account {
        Some(username) => credential.account(username.clone()),
        None => credential,
    }
}

impl AgentConfig {
    fn builder(
        &self,
        http: HttpClient,
        cache: tokenhop_cache::SharedTokenCache,
    ) -> Result<AgentIdBuilder> {
        let settings = AgentIdSettings {
            tenant_id: self.tenant_id.clone(),
            blueprint_id: self.blueprint_id.clone(),
            agent_id: self.agent_id.clone(),
            agent_user_id: self.agent_user_id.clone(),
            agent_user_upn: self.agent_user_upn.clone(),
        };
        let certificate = certificate(
            &self.blueprint_certificate,
            self.password.as_ref(),
            "flow.blueprint_certificate",
        )?;
        let resource = match &self.resource {
            Some(text) => AgentResource::parse(text).map_err(field_error("flow.resource"))?,
            None => AgentResource::Graph,
        };
        Ok(AgentIdBuilder::new(settings)
            .authority_host(
                self.authority_host
                    .clone()
                    .unwrap_or_else(|| PUBLIC_CLOUD.into()),
            )
            .blueprint_credential(CertificateAssertions::new(certificate).into_credential())
            .resource(resource)
            .http(http)
            .cache(cache))
    }
}
