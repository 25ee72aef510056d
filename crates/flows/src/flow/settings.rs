//! Each flow's settings: plain data that deserializes from a file's `flow` table.

use std::path::PathBuf;

use serde::Deserialize;
use tokenhop_core::{ClientId, Error, Result};

use crate::agent_id::{AgentIdSettings, AgentResource};
use crate::authority::Authority;
use crate::certificate::CertificateAssertions;
use crate::client_auth::ClientCredential;
use crate::environment::{EnvironmentKey, EnvironmentSettings};
use crate::managed_identity::{ManagedIdentityId, ManagedIdentitySource};
use crate::workload_identity::WorkloadIdentityEnv;

use super::field_error;
use super::source::{CertificateSource, SecretSource};

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
    pub(super) fn without_port(self) -> Result<Self> {
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

    pub(super) fn id(&self) -> Result<ManagedIdentityId> {
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

    pub(super) fn source(&self) -> Result<ManagedIdentitySource> {
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
    pub(super) fn env(&self) -> Result<WorkloadIdentityEnv> {
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

    pub(super) fn settings(&self) -> AgentIdSettings {
        AgentIdSettings {
            tenant_id: self.tenant_id.clone(),
            blueprint_id: self.blueprint_id.clone(),
            agent_id: self.agent_id.clone(),
            agent_user_id: self.agent_user_id.clone(),
            agent_user_upn: self.agent_user_upn.clone(),
        }
    }

    pub(super) fn resource(&self) -> Result<AgentResource> {
        match &self.resource {
            Some(text) => AgentResource::parse(text).map_err(field_error("flow.resource")),
            None => Ok(AgentResource::Graph),
        }
    }

    pub(super) fn blueprint_credential(&self) -> Result<ClientCredential> {
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
    pub(super) fn settings(&self) -> Result<EnvironmentSettings> {
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
