//! [`FlowConfig`]: which flow, with which settings — the one description that a
//! configuration file ([`crate::AuthConfig`]), the `tokenhop` CLI and
//! [`crate::GraphAuth`] all turn into a credential, through one function:
//! [`FlowConfig::credential`].
//!
//! Settings are plain data (they deserialize from a file's `flow` table); what a file
//! cannot hold — the HTTP client, the token cache, the clock, how a device code is
//! shown — is given to the [`FlowCredentialBuilder`].

mod build;
mod settings;
mod source;

use std::fmt;
use std::sync::Arc;

use tokenhop_core::{Error, TokenCredential};

use crate::cloud::Cloud;

pub use build::FlowCredentialBuilder;
pub use settings::{
    AgentConfig, AzureCliConfig, ClientCertificateConfig, ClientSecretConfig, DefaultChainConfig,
    EnvironmentConfig, ManagedIdentityConfig, OnBehalfOfConfig, UserConfig, WorkloadIdentityConfig,
};
pub use source::{CertificateSource, SecretSource};

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
        FlowCredentialBuilder::new(self)
    }
}

/// Prefixes a configuration error with the field it is about.
pub(crate) fn field_error(field: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Configuration { message } => Error::configuration(format!("{field}: {message}")),
        other => other,
    }
}
