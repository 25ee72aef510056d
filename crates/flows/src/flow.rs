//! [`FlowConfig`]: which flow, with which settings — the one description that a
//! configuration file ([`crate::AuthConfig`]), the `tokenhop` CLI and
//! [`crate::GraphAuth`] all turn into a credential, through one function:
//! [`FlowConfig::credential`].
//!
//! Settings are plain data (they deserialize from a file's `flow` table); what a file
//! cannot hold — the HTTP client, the token cache, the clock, how a device code is
//! shown — is given to the [`FlowCredentialBuilder`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use tokenhop_cache::SharedTokenCache;
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{ClientId, Clock, Error, Result, Secret, SystemClock, TokenCredential};

use crate::agent_id::{AgentIdSettings, AgentIdentityCredential, AgentResource};
use crate::agent_user::AgentUserCredential;
use crate::authority::{Authority, AuthorityKind};
use crate::azure_cli::AzureCliCredential;
use crate::certificate::CertificateAssertions;
use crate::client_auth::ClientCredential;
use crate::cloud::Cloud;
use crate::confidential::ConfidentialClient;
use crate::default_chain::{DefaultCredential, DefaultStep};
use crate::device_code::DeviceCodeInfo;
use crate::environment::{EnvironmentCredential, EnvironmentKey, EnvironmentSettings};
use crate::http::HttpClient;
use crate::managed_identity::{
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource,
};
use crate::on_behalf_of::OnBehalfOfCredential;
use crate::pkcs11_key::Pkcs11Key;
use crate::public_client::PublicClient;
use crate::sign_in::{ShowCode, SignIn, SignInCredential};
use crate::workload_identity::{WorkloadIdentityCredential, WorkloadIdentityEnv};

pub use crate::authority::PUBLIC_CLOUD;

/// A credential of any flow, as [`FlowCredentialBuilder::build`] returns it.
pub type DynCredential = Arc<dyn TokenCredential>;

/// The flows, by the names a configuration file's `type` and the CLI's `--flow` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlowKind {
    /// `client-secret`: client credentials with a secret.
    ClientSecret,
    /// `client-certificate`: client credentials with a certificate.
    ClientCertificate,
    /// `on-behalf-of`: a middle tier's token for the user of an incoming token.
    OnBehalfOf,
    /// `silent`: the cached account's token, refreshed when needed; never interactive.
    Silent,
    /// `device-code`: a user, by the device code flow.
    DeviceCode,
    /// `interactive`: a user, in the browser (device code as fallback).
    Interactive,
    /// `managed-identity`: the host's managed identity.
    ManagedIdentity,
    /// `workload-identity`: a federated token file.
    WorkloadIdentity,
    /// `agent-identity`: Entra Agent ID, two hops (the agent's app token).
    AgentIdentity,
    /// `agent-user`: Entra Agent ID, three hops (the agent user's delegated token).
    AgentUser,
    /// `azure-cli`: the sign-in of `az login`, from the Azure CLI's own files.
    AzureCli,
    /// `environment`: an app's credentials from the `AZURE_*` variables.
    Environment,
    /// `default`: environment, workload identity, managed identity, Azure CLI — the
    /// first that is set up.
    Default,
}

impl FlowKind {
    /// Every flow.
    pub const ALL: [FlowKind; 13] = [
        Self::ClientSecret,
        Self::ClientCertificate,
        Self::OnBehalfOf,
        Self::Silent,
        Self::DeviceCode,
        Self::Interactive,
        Self::ManagedIdentity,
        Self::WorkloadIdentity,
        Self::AgentIdentity,
        Self::AgentUser,
        Self::AzureCli,
        Self::Environment,
        Self::Default,
    ];

    /// The name in files and on the command line (`client-secret`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::ClientSecret => "client-secret",
            Self::ClientCertificate => "client-certificate",
            Self::OnBehalfOf => "on-behalf-of",
            Self::Silent => "silent",
            Self::DeviceCode => "device-code",
            Self::Interactive => "interactive",
            Self::ManagedIdentity => "managed-identity",
            Self::WorkloadIdentity => "workload-identity",
            Self::AgentIdentity => "agent-identity",
            Self::AgentUser => "agent-user",
            Self::AzureCli => "azure-cli",
            Self::Environment => "environment",
            Self::Default => "default",
        }
    }

    /// The flow of that name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Every name, comma-separated: for errors that list the choices.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl fmt::Display for FlowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a secret comes from: `${VAR}` (an environment variable), `{ env: VAR }`,
/// `{ file: PATH }` (trimmed), the value itself in a file (discouraged), or a value the
/// program already holds. Values are trimmed; an empty one counts as missing.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum SecretSource {
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
    /// A value the program holds (never read from a file).
    #[serde(skip)]
    Value(Secret),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) if env_reference(text).is_some() => write!(f, "{text}"),
            Self::Text(_) | Self::Value(_) => f.write_str("[redacted]"),
            Self::Env { env } => write!(f, "${{{env}}}"),
            Self::File { file } => write!(f, "file:{}", file.display()),
        }
    }
}

fn env_reference(text: &str) -> Option<&str> {
    text.strip_prefix("${")?.strip_suffix('}')
}

impl SecretSource {
    /// The secret from the environment variable `name`.
    pub fn env(name: impl Into<String>) -> Self {
        Self::Env { env: name.into() }
    }

    /// The secret in `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File { file: path.into() }
    }

    /// The secret; errors name `field`, and the variable or file, never the value.
    pub fn resolve(&self, field: &str) -> Result<Secret> {
        let from_env = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| {
                    Error::configuration(format!(
                        "{field}: the environment variable {name} is not set"
                    ))
                })
        };
        let secret = match self {
            Self::Text(text) => match env_reference(text) {
                Some(name) => return from_env(name),
                None => Secret::new(text.trim()),
            },
            Self::Env { env } => return from_env(env),
            Self::File { file } => std::fs::read_to_string(file)
                .map(|text| Secret::new(text.trim()))
                .map_err(|e| {
                    Error::configuration(format!("{field}: cannot read {}: {e}", file.display()))
                })?,
            Self::Value(secret) => secret.clone(),
        };
        if secret.is_empty() {
            return Err(Error::configuration(format!(
                "{field}: the secret is empty"
            )));
        }
        Ok(secret)
    }
}

/// Where a certificate with its private key comes from: a file (PEM with its key, or
/// PFX), a key in a PKCS#11 token with the token's certificate for it, or one the
/// program already loaded (never read from a file). In a configuration file: a path,
/// or `{ pkcs11: { module, uri, pin } }` ([`Pkcs11Key`]).
#[derive(Clone)]
#[non_exhaustive]
pub enum CertificateSource {
    /// A PEM or PFX file.
    File(PathBuf),
    /// A key that never leaves its PKCS#11 token (needs the `pkcs11` feature to sign).
    Pkcs11(Pkcs11Key),
    /// A certificate the program holds (its key may live in a key store).
    Loaded(ClientCertificate),
}

impl fmt::Debug for CertificateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "file:{}", path.display()),
            Self::Pkcs11(key) => write!(f, "{key:?}"),
            Self::Loaded(certificate) => {
                write!(f, "loaded:{}", certificate.certificate().subject())
            }
        }
    }
}

impl<'de> Deserialize<'de> for CertificateSource {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        /// The table form, so that its errors name its fields (`pkcs11.pin`).
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            pkcs11: Pkcs11Key,
        }
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = CertificateSource;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a certificate file's path, or { pkcs11: { module, uri, pin } }")
            }

            fn visit_str<E: serde::de::Error>(
                self,
                path: &str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(CertificateSource::File(PathBuf::from(path)))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let table = Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(CertificateSource::Pkcs11(table.pkcs11))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl From<PathBuf> for CertificateSource {
    fn from(path: PathBuf) -> Self {
        Self::File(path)
    }
}

impl From<Pkcs11Key> for CertificateSource {
    fn from(key: Pkcs11Key) -> Self {
        Self::Pkcs11(key)
    }
}

impl From<ClientCertificate> for CertificateSource {
    fn from(certificate: ClientCertificate) -> Self {
        Self::Loaded(certificate)
    }
}

impl CertificateSource {
    /// The certificate, decrypting a file with `password`; errors name `field`.
    fn load(&self, password: Option<&SecretSource>, field: &str) -> Result<ClientCertificate> {
        let not_a_file = |what: &str| {
            Error::configuration(format!(
                "{field}: a password is for a certificate file, not {what}"
            ))
        };
        match self {
            Self::File(path) => {
                let password = password
                    .map(|p| p.resolve(&format!("{field}.password")))
                    .transpose()?;
                ClientCertificate::from_file(path, password.as_ref().map(|p| p.expose_secret()))
                    .map_err(|e| Error::configuration(format!("{field}: {}: {e}", path.display())))
            }
            Self::Pkcs11(_) if password.is_some() => Err(not_a_file("a key in a PKCS#11 token")),
            Self::Pkcs11(key) => key.client_certificate(&format!("{field}.pkcs11")),
            Self::Loaded(_) if password.is_some() => Err(not_a_file("a loaded certificate")),
            Self::Loaded(certificate) => Ok(certificate.clone()),
        }
    }
}

/// `client-secret` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientSecretConfig {
    /// `https://host/{tenant}`.
    pub authority: Authority,
    /// The app.
    pub client_id: ClientId,
    /// Its secret.
    pub client_secret: SecretSource,
}

impl ClientSecretConfig {
    /// The app `client_id` at `authority` with `client_secret`.
    pub fn new(authority: Authority, client_id: ClientId, client_secret: SecretSource) -> Self {
        Self {
            authority,
            client_id,
            client_secret,
        }
    }
}

/// `client-certificate` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientCertificateConfig {
    /// `https://host/{tenant}`.
    pub authority: Authority,
    /// The app.
    pub client_id: ClientId,
    /// The certificate with its private key.
    pub certificate: CertificateSource,
    /// The PFX or encrypted key's password.
    #[serde(default)]
    pub password: Option<SecretSource>,
}

impl ClientCertificateConfig {
    /// The app `client_id` at `authority` with `certificate` (no password).
    pub fn new(
        authority: Authority,
        client_id: ClientId,
        certificate: impl Into<CertificateSource>,
    ) -> Self {
        Self {
            authority,
            client_id,
            certificate: certificate.into(),
            password: None,
        }
    }
}

/// `on-behalf-of` settings: the middle tier (with exactly one of a secret and a
/// certificate) and the incoming user token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OnBehalfOfConfig {
    /// `https://host/{tenant}`.
    pub authority: Authority,
    /// The middle tier app.
    pub client_id: ClientId,
    /// Its secret (or give `certificate`).
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// Its certificate (or give `client_secret`).
    #[serde(default)]
    pub certificate: Option<CertificateSource>,
    /// The certificate's password.
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// The token the middle tier's caller sent.
    pub user_assertion: SecretSource,
}

impl OnBehalfOfConfig {
    /// The middle tier `client_id` at `authority` with `client_secret`, for the user of
    /// `user_assertion`; set [`OnBehalfOfConfig::certificate`] instead of the secret
    /// for a certificate.
    pub fn new(
        authority: Authority,
        client_id: ClientId,
        client_secret: Option<SecretSource>,
        user_assertion: SecretSource,
    ) -> Self {
        Self {
            authority,
            client_id,
            client_secret,
            certificate: None,
            password: None,
            user_assertion,
        }
    }
}

/// `silent`, `device-code` and `interactive` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UserConfig {
    /// `https://host/{tenant}` or a B2C policy authority.
    pub authority: Authority,
    /// The public client.
    pub client_id: ClientId,
    /// The cached account to use (username); the first otherwise.
    #[serde(default)]
    pub account: Option<String>,
    /// The loopback port of the interactive flow (default 8400; 0 = any). Only the
    /// interactive flow takes it.
    #[serde(default)]
    pub port: Option<u16>,
}

impl UserConfig {
    /// Refuses a port: only the interactive flow listens on one.
    fn without_port(self) -> Result<Self> {
        match self.port {
            Some(_) => Err(Error::configuration(
                "flow.port: only the interactive flow listens on a port",
            )),
            None => Ok(self),
        }
    }

    /// The public client `client_id` at `authority`.
    pub fn new(authority: Authority, client_id: ClientId) -> Self {
        Self {
            authority,
            client_id,
            account: None,
            port: None,
        }
    }
}

/// `managed-identity` settings: at most one of the ids (none: system-assigned). The host
/// is found from the environment as MSAL finds it ([`ManagedIdentitySource::from_env`]:
/// Service Fabric, App Service, Machine Learning, Cloud Shell, Azure Arc, else IMDS),
/// unless `endpoint` names an IMDS endpoint.
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
    /// An IMDS endpoint to use instead of finding the host (`…/metadata/identity/oauth2/token`).
    #[serde(default)]
    pub endpoint: Option<String>,
}

impl ManagedIdentityConfig {
    /// Settings for `id`, at the source the environment names.
    pub fn new(id: ManagedIdentityId) -> Self {
        let mut config = Self::default();
        match id {
            ManagedIdentityId::SystemAssigned => {}
            ManagedIdentityId::ClientId(id) => config.client_id = Some(id),
            ManagedIdentityId::ObjectId(id) => config.object_id = Some(id),
            ManagedIdentityId::ResourceId(id) => config.resource_id = Some(id),
        }
        config
    }

    fn id(&self) -> Result<ManagedIdentityId> {
        match (&self.client_id, &self.object_id, &self.resource_id) {
            (None, None, None) => Ok(ManagedIdentityId::SystemAssigned),
            (Some(id), None, None) => Ok(ManagedIdentityId::ClientId(id.clone())),
            (None, Some(id), None) => Ok(ManagedIdentityId::ObjectId(id.clone())),
            (None, None, Some(id)) => Ok(ManagedIdentityId::ResourceId(id.clone())),
            _ => Err(Error::configuration(
                "flow: give at most one of client_id, object_id and resource_id",
            )),
        }
    }

    fn source(&self) -> Result<ManagedIdentitySource> {
        match &self.endpoint {
            Some(endpoint) => Ok(ManagedIdentitySource::Imds {
                endpoint: url::Url::parse(endpoint)
                    .map_err(|e| Error::configuration(format!("flow.endpoint: not a URL: {e}")))?,
            }),
            None => ManagedIdentitySource::from_env(),
        }
    }
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

impl WorkloadIdentityConfig {
    fn env(&self) -> Result<WorkloadIdentityEnv> {
        let overrides = [
            ("AZURE_CLIENT_ID", self.client_id.clone()),
            ("AZURE_TENANT_ID", self.tenant_id.clone()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                self.token_file.as_ref().map(|p| p.display().to_string()),
            ),
            ("AZURE_AUTHORITY_HOST", self.authority_host.clone()),
        ];
        WorkloadIdentityEnv::from_lookup(|name| {
            overrides
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.clone())
                .or_else(|| std::env::var(name).ok())
        })
    }
}

/// Entra Agent ID settings (`agent-identity`: two hops; `agent-user`: three).
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
    /// The blueprint's certificate.
    pub blueprint_certificate: CertificateSource,
    /// Its password, if any.
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// The agent identity.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The agent user's object id (three hops).
    #[serde(default)]
    pub agent_user_id: Option<String>,
    /// The agent user's UPN (three hops, instead of the object id).
    #[serde(default)]
    pub agent_user_upn: Option<String>,
    /// `graph` (default), `storage`, or scopes.
    #[serde(default)]
    pub resource: Option<String>,
}

impl AgentConfig {
    /// The chain of `settings`, the blueprint signing with `blueprint_certificate`.
    pub fn new(
        settings: AgentIdSettings,
        blueprint_certificate: impl Into<CertificateSource>,
    ) -> Self {
        Self {
            authority_host: None,
            tenant_id: settings.tenant_id,
            blueprint_id: settings.blueprint_id,
            blueprint_certificate: blueprint_certificate.into(),
            password: None,
            agent_id: settings.agent_id,
            agent_user_id: settings.agent_user_id,
            agent_user_upn: settings.agent_user_upn,
            resource: None,
        }
    }

    fn settings(&self) -> AgentIdSettings {
        AgentIdSettings {
            tenant_id: self.tenant_id.clone(),
            blueprint_id: self.blueprint_id.clone(),
            agent_id: self.agent_id.clone(),
            agent_user_id: self.agent_user_id.clone(),
            agent_user_upn: self.agent_user_upn.clone(),
        }
    }

    fn resource(&self) -> Result<AgentResource> {
        match &self.resource {
            Some(text) => AgentResource::parse(text).map_err(field_error("flow.resource")),
            None => Ok(AgentResource::Graph),
        }
    }

    fn blueprint_credential(&self) -> Result<ClientCredential> {
        let certificate = self
            .blueprint_certificate
            .load(self.password.as_ref(), "flow.blueprint_certificate")?;
        Ok(CertificateAssertions::new(certificate).into_credential())
    }
}

/// `azure-cli` settings: which of the Azure CLI's sign-ins to use.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AzureCliConfig {
    /// The CLI's directory (default: `$AZURE_CONFIG_DIR`, else `~/.azure`).
    #[serde(default)]
    pub config_dir: Option<PathBuf>,
    /// The tenant (default: the subscription's).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The subscription, by name or id (default: the CLI's default one).
    #[serde(default)]
    pub subscription: Option<String>,
    /// The authority host (default: the subscription's cloud).
    #[serde(default)]
    pub authority_host: Option<String>,
    /// Seconds `az account get-access-token` may take when the cache is not readable
    /// (default 10).
    #[serde(default)]
    pub az_timeout_secs: Option<u64>,
}

impl AzureCliConfig {
    fn credential(self, parts: Parts) -> Result<DynCredential> {
        let mut builder = AzureCliCredential::builder()
            .http(parts.http)
            .clock(parts.clock);
        if let Some(dir) = self.config_dir {
            builder = builder.config_dir(dir);
        }
        if let Some(tenant) = self.tenant {
            builder = builder.tenant(tenant);
        }
        if let Some(subscription) = self.subscription {
            builder = builder.subscription(subscription);
        }
        if let Some(host) = self.authority_host {
            builder = builder.authority_host(host);
        }
        if let Some(secs) = self.az_timeout_secs {
            builder = builder.az_timeout(std::time::Duration::from_secs(secs));
        }
        Ok(Arc::new(builder.build()?))
    }
}

/// `environment` settings: the app comes from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and
/// `AZURE_CLIENT_SECRET` or `AZURE_CLIENT_CERTIFICATE_PATH` ([`EnvironmentSettings`]);
/// each field here is used instead of its variable.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EnvironmentConfig {
    /// Instead of `AZURE_TENANT_ID`.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Instead of `AZURE_CLIENT_ID`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Instead of `AZURE_CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// Instead of `AZURE_AUTHORITY_HOST`.
    #[serde(default)]
    pub authority_host: Option<String>,
}

impl EnvironmentConfig {
    fn settings(&self) -> Result<EnvironmentSettings> {
        let secret = self
            .client_secret
            .as_ref()
            .map(|s| s.resolve("flow.client_secret"))
            .transpose()?;
        let mut settings = EnvironmentSettings::from_lookup(|name| {
            let given = match name {
                "AZURE_TENANT_ID" => self.tenant_id.clone(),
                "AZURE_CLIENT_ID" => self.client_id.clone(),
                // A placeholder that the given secret replaces below.
                "AZURE_CLIENT_SECRET" => secret.as_ref().map(|_| "given".to_owned()),
                "AZURE_AUTHORITY_HOST" => self.authority_host.clone(),
                _ => None,
            };
            given.or_else(|| std::env::var(name).ok())
        })?;
        if let Some(secret) = secret {
            settings.key = EnvironmentKey::Secret(secret);
        }
        Ok(settings)
    }
}

/// `default` settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DefaultChainConfig {
    /// Links to skip: `environment`, `workload-identity`, `managed-identity`,
    /// `azure-cli`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Where the Azure CLI link looks, instead of `$AZURE_CONFIG_DIR` or `~/.azure`.
    #[serde(default)]
    pub azure_config_dir: Option<PathBuf>,
}

impl DefaultChainConfig {
    fn credential(self, parts: Parts) -> Result<DynCredential> {
        let mut builder = DefaultCredential::builder();
        if let Some(dir) = self.azure_config_dir.clone() {
            builder = builder.env(move |name| match name {
                "AZURE_CONFIG_DIR" => Some(dir.display().to_string()),
                _ => std::env::var(name).ok(),
            });
        }
        let mut builder = builder
            .http(parts.http)
            .cache(parts.cache)
            .clock(parts.clock);
        for name in &self.exclude {
            let step = DefaultStep::from_name(name).ok_or_else(|| {
                Error::configuration(format!(
                    "flow.exclude: unknown link {name:?}; one of {}",
                    DefaultStep::ALL.map(DefaultStep::name).join(", ")
                ))
            })?;
            builder = builder.exclude(step);
        }
        Ok(Arc::new(builder.build()?))
    }
}

/// Which flow, with which settings. A configuration file's `flow` table (named by
/// `type`), the CLI's options and [`crate::GraphAuth`]'s helpers all become one of
/// these; [`FlowConfig::credential`] turns it into a credential.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum FlowConfig {
    /// `client-secret`: client credentials with a secret.
    ClientSecret(ClientSecretConfig),
    /// `client-certificate`: client credentials with a certificate.
    ClientCertificate(ClientCertificateConfig),
    /// `on-behalf-of`: a middle tier's token for the user of an incoming token.
    OnBehalfOf(OnBehalfOfConfig),
    /// `silent`: the cached account only; without one the answer is
    /// [`Error::Authentication`].
    Silent(UserConfig),
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
    /// `azure-cli`: the sign-in of `az login`; tokens stay in the CLI's own cache file
    /// (the builder's cache is not used).
    AzureCli(AzureCliConfig),
    /// `environment`: an app's credentials from the `AZURE_*` variables.
    Environment(EnvironmentConfig),
    /// `default`: the first of environment, workload identity, managed identity and
    /// Azure CLI that is set up.
    Default(DefaultChainConfig),
}

impl FlowConfig {
    /// Which flow this is.
    pub fn kind(&self) -> FlowKind {
        match self {
            Self::ClientSecret(_) => FlowKind::ClientSecret,
            Self::ClientCertificate(_) => FlowKind::ClientCertificate,
            Self::OnBehalfOf(_) => FlowKind::OnBehalfOf,
            Self::Silent(_) => FlowKind::Silent,
            Self::DeviceCode(_) => FlowKind::DeviceCode,
            Self::Interactive(_) => FlowKind::Interactive,
            Self::ManagedIdentity(_) => FlowKind::ManagedIdentity,
            Self::WorkloadIdentity(_) => FlowKind::WorkloadIdentity,
            Self::AgentIdentity(_) => FlowKind::AgentIdentity,
            Self::AgentUser(_) => FlowKind::AgentUser,
            Self::AzureCli(_) => FlowKind::AzureCli,
            Self::Environment(_) => FlowKind::Environment,
            Self::Default(_) => FlowKind::Default,
        }
    }

    /// The flow in `cloud`: an Agent ID chain's authority host defaults to the cloud's,
    /// and its `graph` or `storage` resource (Graph by default) is the cloud's.
    /// Authority URLs are left as written, and workload identity keeps the host its
    /// platform sets (`AZURE_AUTHORITY_HOST`).
    pub fn in_cloud(self, cloud: Cloud) -> Self {
        let host = || Some(cloud.authority_host().to_owned());
        let agent = |mut c: AgentConfig| {
            c.authority_host = c.authority_host.or_else(host);
            let named = c.resource.as_deref().map(|r| r.trim().to_ascii_lowercase());
            c.resource = match named.as_deref() {
                None | Some("graph") => Some(cloud.graph_default_scope()),
                Some("storage") => Some(cloud.storage_default_scope()),
                Some(_) => c.resource,
            };
            c
        };
        match self {
            Self::AgentIdentity(c) => Self::AgentIdentity(agent(c)),
            Self::AgentUser(c) => Self::AgentUser(agent(c)),
            other => other,
        }
    }

    /// A builder of this flow's credential: the one way from "a flow plus its settings"
    /// to a credential.
    pub fn credential(self) -> FlowCredentialBuilder {
        FlowCredentialBuilder {
            flow: self,
            http: None,
            cache: None,
            clock: Arc::new(SystemClock),
            show_code: None,
            client_capabilities: Vec::new(),
            allowed_tenants: Vec::new(),
        }
    }
}

/// Builds the credential a [`FlowConfig`] describes. Building reads the files the
/// settings name (certificates, secrets) and does no network I/O.
pub struct FlowCredentialBuilder {
    flow: FlowConfig,
    http: Option<HttpClient>,
    cache: Option<SharedTokenCache>,
    clock: Arc<dyn Clock>,
    show_code: Option<ShowCode>,
    client_capabilities: Vec<String>,
    allowed_tenants: Vec<String>,
}

impl fmt::Debug for FlowCredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowCredentialBuilder")
            .field("flow", &self.flow)
            .finish_non_exhaustive()
    }
}

impl FlowCredentialBuilder {
    /// Sends requests through `http` (default: a client with default settings).
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Keeps tokens in `cache` (default: a cache in memory). The `azure-cli` flow keeps
    /// its tokens in the Azure CLI's own cache file instead, so that `az` sees them.
    pub fn cache(mut self, cache: SharedTokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Uses `clock` for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How the device code flows show their message (default: stderr).
    pub fn show_code(mut self, show: impl Fn(&DeviceCodeInfo) + Send + Sync + 'static) -> Self {
        self.show_code = Some(Arc::new(show));
        self
    }

    /// Client capabilities (`cp1`) sent with every token request, as MSAL sends them
    /// (see [`crate::ConfidentialClientBuilder::client_capabilities`]). A managed
    /// identity takes none.
    pub fn client_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Tenants besides its own a request may name (see
    /// [`crate::ConfidentialClientBuilder::additionally_allowed_tenants`]). Managed
    /// identities and Agent ID chains stay in their tenant and take none.
    pub fn additionally_allowed_tenants(
        mut self,
        tenants: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// The credential.
    pub fn build(self) -> Result<DynCredential> {
        let http = HttpClient::given_or_default(self.http)?;
        let cache = self.cache.unwrap_or_else(SharedTokenCache::in_memory);
        let kind = self.flow.kind();
        let stays_in_its_tenant = matches!(
            kind,
            FlowKind::ManagedIdentity | FlowKind::AgentIdentity | FlowKind::AgentUser
        );
        if stays_in_its_tenant && !self.allowed_tenants.is_empty() {
            return Err(Error::configuration(format!(
                "additionally_allowed_tenants: a {kind} credential gets tokens in its own tenant only"
            )));
        }
        if kind == FlowKind::ManagedIdentity && !self.client_capabilities.is_empty() {
            return Err(Error::configuration(
                "client_capabilities: managed identity (IMDS, App Service) takes no client capabilities",
            ));
        }
        // These build their clients from settings found elsewhere (the Azure CLI's files,
        // the AZURE_* variables, a chain of credentials), which carry neither.
        let found_elsewhere = matches!(
            kind,
            FlowKind::AzureCli | FlowKind::Environment | FlowKind::Default
        );
        if found_elsewhere && !self.client_capabilities.is_empty() {
            return Err(Error::configuration(format!(
                "client_capabilities: the {kind} flow does not send client capabilities; leave them out"
            )));
        }
        if found_elsewhere && !self.allowed_tenants.is_empty() {
            return Err(Error::configuration(format!(
                "additionally_allowed_tenants: the {kind} flow gets tokens in the tenant its settings name; leave them out"
            )));
        }
        let parts = Parts {
            http,
            cache,
            clock: self.clock,
            show_code: self.show_code,
            capabilities: self.client_capabilities,
            allowed_tenants: self.allowed_tenants,
        };
        match self.flow {
            FlowConfig::ClientSecret(c) => {
                let secret = c.client_secret.resolve("flow.client_secret")?;
                parts.confidential(c.authority, c.client_id, ClientCredential::secret(secret))
            }
            FlowConfig::ClientCertificate(c) => {
                let certificate = c
                    .certificate
                    .load(c.password.as_ref(), "flow.certificate")?;
                let mut assertions = CertificateAssertions::new(certificate);
                if c.authority.kind() == AuthorityKind::Adfs {
                    // ADFS takes RS256 assertions with the SHA-1 `x5t`.
                    assertions = assertions.algorithm(tokenhop_cert::SigningAlgorithm::Rs256);
                }
                parts.confidential(c.authority, c.client_id, assertions.into_credential())
            }
            FlowConfig::OnBehalfOf(c) => parts.on_behalf_of(c),
            FlowConfig::Silent(c) => parts.user(c.without_port()?, SignIn::Never),
            FlowConfig::DeviceCode(c) => parts.user(c.without_port()?, SignIn::DeviceCode),
            FlowConfig::Interactive(c) => parts.interactive(c),
            FlowConfig::ManagedIdentity(c) => Ok(Arc::new(
                ManagedIdentityCredential::builder(c.source()?, c.id()?)
                    .http(parts.http)
                    .cache(parts.cache)
                    .clock(parts.clock)
                    .build()?,
            )),
            FlowConfig::WorkloadIdentity(c) => Ok(Arc::new(
                WorkloadIdentityCredential::builder(c.env()?)
                    .http(parts.http)
                    .cache(parts.cache)
                    .clock(parts.clock)
                    .client_capabilities(parts.capabilities)
                    .additionally_allowed_tenants(parts.allowed_tenants)
                    .build()?,
            )),
            FlowConfig::AgentIdentity(c) => {
                let chain = AgentIdentityCredential::builder(c.settings());
                Ok(Arc::new(parts.agent(chain, &c)?.build()?))
            }
            FlowConfig::AgentUser(c) => {
                let chain = AgentUserCredential::builder(c.settings());
                Ok(Arc::new(parts.agent(chain, &c)?.build()?))
            }
            FlowConfig::AzureCli(c) => c.credential(parts),
            FlowConfig::Environment(c) => Ok(Arc::new(
                EnvironmentCredential::builder(c.settings()?)
                    .http(parts.http)
                    .cache(parts.cache)
                    .clock(parts.clock)
                    .build()?,
            )),
            FlowConfig::Default(c) => c.credential(parts),
        }
    }
}

/// What every flow's credential shares.
struct Parts {
    http: HttpClient,
    cache: SharedTokenCache,
    clock: Arc<dyn Clock>,
    show_code: Option<ShowCode>,
    capabilities: Vec<String>,
    allowed_tenants: Vec<String>,
}

impl Parts {
    fn confidential(
        self,
        authority: Authority,
        client_id: ClientId,
        credential: ClientCredential,
    ) -> Result<DynCredential> {
        Ok(Arc::new(
            ConfidentialClient::builder(client_id, authority, credential)
                .http(self.http)
                .cache(self.cache)
                .clock(self.clock)
                .client_capabilities(self.capabilities)
                .additionally_allowed_tenants(self.allowed_tenants)
                .build()?,
        ))
    }

    fn on_behalf_of(self, c: OnBehalfOfConfig) -> Result<DynCredential> {
        let credential = match (&c.client_secret, &c.certificate) {
            (Some(secret), None) => ClientCredential::secret(secret.resolve("flow.client_secret")?),
            (None, Some(certificate)) => CertificateAssertions::new(
                certificate.load(c.password.as_ref(), "flow.certificate")?,
            )
            .into_credential(),
            _ => {
                return Err(Error::configuration(
                    "flow: the on-behalf-of middle tier needs exactly one of client_secret and certificate",
                ));
            }
        };
        let user_assertion = c.user_assertion.resolve("flow.user_assertion")?;
        Ok(Arc::new(
            OnBehalfOfCredential::builder(c.client_id, c.authority, credential, user_assertion)
                .http(self.http)
                .cache(self.cache)
                .clock(self.clock)
                .client_capabilities(self.capabilities)
                .additionally_allowed_tenants(self.allowed_tenants)
                .build()?,
        ))
    }

    fn public_client(&self, c: &UserConfig) -> Result<PublicClient> {
        PublicClient::builder(c.client_id.clone(), c.authority.clone())
            .http(self.http.clone())
            .cache(self.cache.clone())
            .clock(Arc::clone(&self.clock))
            .client_capabilities(self.capabilities.clone())
            .additionally_allowed_tenants(self.allowed_tenants.clone())
            .build()
    }

    fn user(self, c: UserConfig, sign_in: SignIn) -> Result<DynCredential> {
        let mut credential = SignInCredential::builder(self.public_client(&c)?, sign_in);
        if let Some(show) = self.show_code {
            credential = credential.show_code(move |info| show(info));
        }
        if let Some(account) = c.account {
            credential = credential.account(account);
        }
        Ok(Arc::new(credential.build()))
    }

    #[cfg(feature = "interactive")]
    fn interactive(self, c: UserConfig) -> Result<DynCredential> {
        let mut options = crate::interactive::InteractiveOptions::default();
        if let Some(port) = c.port {
            options = options.with_port(port);
        }
        self.user(c, SignIn::Interactive(options))
    }

    #[cfg(not(feature = "interactive"))]
    fn interactive(self, _c: UserConfig) -> Result<DynCredential> {
        Err(Error::configuration(
            "flow.type: interactive needs tokenhop-flows' `interactive` feature",
        ))
    }

    fn agent<C: crate::agent_id::AgentChain>(
        self,
        chain: crate::agent_id::AgentIdBuilder<C>,
        c: &AgentConfig,
    ) -> Result<crate::agent_id::AgentIdBuilder<C>> {
        Ok(chain
            .authority_host(
                c.authority_host
                    .clone()
                    .unwrap_or_else(|| PUBLIC_CLOUD.into()),
            )
            .blueprint_credential(c.blueprint_credential()?)
            .resource(c.resource()?)
            .http(self.http)
            .cache(self.cache)
            .clock(self.clock)
            .client_capabilities(self.capabilities))
    }
}

/// Prefixes a configuration error with the field it is about.
pub(crate) fn field_error(field: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Configuration { message } => Error::configuration(format!("{field}: {message}")),
        other => other,
    }
}
