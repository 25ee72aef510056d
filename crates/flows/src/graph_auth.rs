//! [`GraphAuth`]: one-line constructors for the common flows, each returning a token
//! provider for Microsoft Graph (or other scopes) with a persistent cache at the
//! platform's default path — overridable or disabled. Each helper builds a
//! [`FlowConfig`] and goes the one road from a flow to a credential
//! ([`FlowConfig::credential`]); [`GraphAuth::flow`] takes any flow. Constructing does
//! no I/O.

use std::sync::Arc;

use tokenhop_cert::ClientCertificate;
use tokenhop_core::{
    ClientId, Result, ScopedProvider, Scopes, Secret, TokenCredential, TokenCredentialExt,
};

use crate::agent_id::AgentIdSettings;
use crate::authority::Authority;
use crate::cache_location::CacheLocation;
use crate::cloud::Cloud;
use crate::flow::{
    AgentConfig, AzureCliConfig, ClientCertificateConfig, ClientSecretConfig, DefaultChainConfig,
    EnvironmentConfig, FlowConfig, ManagedIdentityConfig, OnBehalfOfConfig, PUBLIC_CLOUD,
    SecretSource, UserConfig, WorkloadIdentityConfig,
};
use crate::http::HttpClient;
use crate::managed_identity::ManagedIdentityId;

/// Microsoft Graph's app-token scope.
pub const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A provider from [`GraphAuth`]: a credential bound to scopes.
pub type GraphProvider = ScopedProvider<Arc<dyn TokenCredential>>;

/// Builds providers for the common flows. The defaults: the public cloud, Graph's
/// `/.default` scope, the platform's default cache file.
#[derive(Clone, Debug)]
pub struct GraphAuth {
    authority_host: String,
    cache: CacheLocation,
    scopes: Scopes,
    http: Option<HttpClient>,
    client_capabilities: Vec<String>,
}

impl Default for GraphAuth {
    fn default() -> Self {
        Self {
            authority_host: PUBLIC_CLOUD.into(),
            cache: CacheLocation::PlatformDefault,
            // A constant, valid scope: `new` cannot fail here.
            scopes: Scopes::new([GRAPH_DEFAULT_SCOPE]).unwrap_or_default(),
            http: None,
            client_capabilities: Vec::new(),
        }
    }
}

impl GraphAuth {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another authority host (a national cloud, or the emulator).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = host.into().trim_end_matches('/').to_owned();
        self
    }

    /// Another cloud: its authority host, and its Graph's `/.default` as the scopes.
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.authority_host = cloud.authority_host().to_owned();
        // A constant, valid scope: `new` cannot fail here.
        self.scopes = Scopes::new([cloud.graph_default_scope()]).unwrap_or_default();
        self
    }

    /// Where tokens are kept.
    pub fn cache(mut self, cache: CacheLocation) -> Self {
        self.cache = cache;
        self
    }

    /// Other scopes than Graph's `/.default` (user flows take delegated scopes).
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// Sends requests through `http` (an extra trusted CA, other timeouts).
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Declares client capabilities (`cp1`: CAE-aware; Graph then gives long-lived
    /// tokens it revokes in near real time, and the bearer client answers its claims
    /// challenges).
    pub fn client_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Any flow, with this helper's cache, HTTP client, capabilities and scopes.
    pub fn flow(&self, flow: FlowConfig) -> Result<GraphProvider> {
        let mut credential = flow
            .credential()
            .cache(self.cache.open()?)
            .client_capabilities(self.client_capabilities.clone());
        if let Some(http) = &self.http {
            credential = credential.http(http.clone());
        }
        Ok(credential.build()?.into_provider(self.scopes.clone()))
    }

    fn authority(&self, tenant: &str) -> Result<Authority> {
        Authority::parse(&format!("{}/{tenant}", self.authority_host))
    }

    fn user(&self, tenant: &str, client_id: &str) -> Result<UserConfig> {
        Ok(UserConfig::new(
            self.authority(tenant)?,
            ClientId::new(client_id)?,
        ))
    }

    fn agent(&self, settings: AgentIdSettings, certificate: ClientCertificate) -> AgentConfig {
        let mut agent = AgentConfig::new(settings, certificate);
        agent.authority_host = Some(self.authority_host.clone());
        // The chain's last hop is for this helper's scopes.
        agent.resource = Some(self.scopes.to_space_separated());
        agent
    }

    /// App tokens with a client secret.
    pub fn client_secret(
        &self,
        tenant: &str,
        client_id: &str,
        secret: Secret,
    ) -> Result<GraphProvider> {
        self.flow(FlowConfig::ClientSecret(ClientSecretConfig::new(
            self.authority(tenant)?,
            ClientId::new(client_id)?,
            SecretSource::Value(secret),
        )))
    }

    /// App tokens with a certificate (PS256 assertions, reused for 540 s).
    pub fn certificate(
        &self,
        tenant: &str,
        client_id: &str,
        certificate: ClientCertificate,
    ) -> Result<GraphProvider> {
        self.flow(FlowConfig::ClientCertificate(ClientCertificateConfig::new(
            self.authority(tenant)?,
            ClientId::new(client_id)?,
            certificate,
        )))
    }

    /// A middle tier's tokens on behalf of the user whose token is `user_assertion`,
    /// authenticating with a client secret.
    pub fn on_behalf_of(
        &self,
        tenant: &str,
        client_id: &str,
        secret: Secret,
        user_assertion: Secret,
    ) -> Result<GraphProvider> {
        self.flow(FlowConfig::OnBehalfOf(OnBehalfOfConfig::new(
            self.authority(tenant)?,
            ClientId::new(client_id)?,
            Some(SecretSource::Value(secret)),
            SecretSource::Value(user_assertion),
        )))
    }

    /// A signed-in user's tokens from the cache (refreshed when needed); never a
    /// sign-in: without a cached account the answer is
    /// [`tokenhop_core::Error::Authentication`].
    pub fn silent(&self, tenant: &str, client_id: &str) -> Result<GraphProvider> {
        self.flow(FlowConfig::Silent(self.user(tenant, client_id)?))
    }

    /// A user's tokens: silent from the cache, else the device code flow (the message
    /// goes to stderr).
    pub fn device_code(&self, tenant: &str, client_id: &str) -> Result<GraphProvider> {
        self.flow(FlowConfig::DeviceCode(self.user(tenant, client_id)?))
    }

    /// A user's tokens: silent from the cache, else the browser (falling back to the
    /// device code flow).
    pub fn interactive(&self, tenant: &str, client_id: &str) -> Result<GraphProvider> {
        self.flow(FlowConfig::Interactive(self.user(tenant, client_id)?))
    }

    /// The host's managed identity (IMDS or App Service, as the environment says).
    pub fn managed_identity(&self, id: ManagedIdentityId) -> Result<GraphProvider> {
        self.flow(FlowConfig::ManagedIdentity(ManagedIdentityConfig::new(id)))
    }

    /// Workload identity, from `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
    /// `AZURE_FEDERATED_TOKEN_FILE` and `AZURE_AUTHORITY_HOST`.
    pub fn workload_identity(&self) -> Result<GraphProvider> {
        self.flow(FlowConfig::WorkloadIdentity(
            WorkloadIdentityConfig::default(),
        ))
    }

    /// The sign-in of `az login` (the tenant and subscription of the CLI's default
    /// subscription unless given; the cloud of the subscription), from the Azure CLI's
    /// own files. Tokens stay in the CLI's cache file, whatever [`GraphAuth::cache`] says.
    pub fn azure_cli(
        &self,
        tenant: Option<&str>,
        subscription: Option<&str>,
    ) -> Result<GraphProvider> {
        self.flow(FlowConfig::AzureCli(AzureCliConfig {
            tenant: tenant.map(str::to_owned),
            subscription: subscription.map(str::to_owned),
            ..AzureCliConfig::default()
        }))
    }

    /// An app's client credentials from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, and
    /// `AZURE_CLIENT_SECRET` or `AZURE_CLIENT_CERTIFICATE_PATH`, at
    /// `AZURE_AUTHORITY_HOST`.
    pub fn environment(&self) -> Result<GraphProvider> {
        self.flow(FlowConfig::Environment(EnvironmentConfig::default()))
    }

    /// The default chain: environment, workload identity, managed identity, Azure CLI —
    /// the first that is set up ([`crate::DefaultCredential`]).
    pub fn default_chain(&self) -> Result<GraphProvider> {
        self.flow(FlowConfig::Default(DefaultChainConfig::default()))
    }

    /// The Entra Agent ID two-hop chain: the agent identity's app tokens.
    pub fn agent_identity(
        &self,
        settings: AgentIdSettings,
        blueprint_certificate: ClientCertificate,
    ) -> Result<GraphProvider> {
        self.flow(FlowConfig::AgentIdentity(
            self.agent(settings, blueprint_certificate),
        ))
    }

    /// The Entra Agent ID three-hop chain: delegated tokens for the agent user.
    pub fn agent_user(
        &self,
        settings: AgentIdSettings,
        blueprint_certificate: ClientCertificate,
    ) -> Result<GraphProvider> {
        self.flow(FlowConfig::AgentUser(
            self.agent(settings, blueprint_certificate),
        ))
    }
}
