//! From a [`FlowConfig`] to a credential: the builder and what every flow shares.

use std::fmt;
use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Clock, Error, Result, SystemClock};

use crate::agent_id::AgentIdentityCredential;
use crate::agent_user::AgentUserCredential;
use crate::authority::{Authority, AuthorityKind};
use crate::azure_cli::AzureCliCredential;
use crate::certificate::CertificateAssertions;
use crate::client_auth::ClientCredential;
use crate::confidential::ConfidentialClient;
use crate::default_chain::{DefaultCredential, DefaultStep};
use crate::device_code::DeviceCodeInfo;
use crate::environment::EnvironmentCredential;
use crate::http::HttpClient;
use crate::managed_identity::ManagedIdentityCredential;
use crate::on_behalf_of::OnBehalfOfCredential;
use crate::public_client::PublicClient;
use crate::sign_in::{ShowCode, SignIn, SignInCredential};
use crate::workload_identity::WorkloadIdentityCredential;

use super::settings::{
    AgentConfig, AzureCliConfig, DefaultChainConfig, OnBehalfOfConfig, UserConfig,
};
use super::{DynCredential, FlowConfig, FlowKind, PUBLIC_CLOUD};

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
    pub(super) fn new(flow: FlowConfig) -> Self {
        Self {
            flow,
            http: None,
            cache: None,
            clock: Arc::new(SystemClock),
            show_code: None,
            client_capabilities: Vec::new(),
            allowed_tenants: Vec::new(),
        }
    }

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
        refuse_unused_options(
            self.flow.kind(),
            &self.client_capabilities,
            &self.allowed_tenants,
        )?;
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
            FlowConfig::AzureCli(c) => parts.azure_cli(c),
            FlowConfig::Environment(c) => Ok(Arc::new(
                EnvironmentCredential::builder(c.settings()?)
                    .http(parts.http)
                    .cache(parts.cache)
                    .clock(parts.clock)
                    .build()?,
            )),
            FlowConfig::Default(c) => parts.default_chain(c),
        }
    }
}

/// Refuses client capabilities and extra tenants for the flows that would not use them:
/// an option that is accepted and ignored is a bug report waiting to happen.
fn refuse_unused_options(
    kind: FlowKind,
    client_capabilities: &[String],
    allowed_tenants: &[String],
) -> Result<()> {
    let stays_in_its_tenant = matches!(
        kind,
        FlowKind::ManagedIdentity | FlowKind::AgentIdentity | FlowKind::AgentUser
    );
    if stays_in_its_tenant && !allowed_tenants.is_empty() {
        return Err(Error::configuration(format!(
            "additionally_allowed_tenants: a {kind} credential gets tokens in its own tenant only"
        )));
    }
    if kind == FlowKind::ManagedIdentity && !client_capabilities.is_empty() {
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
    if found_elsewhere && !client_capabilities.is_empty() {
        return Err(Error::configuration(format!(
            "client_capabilities: the {kind} flow does not send client capabilities; leave them out"
        )));
    }
    if found_elsewhere && !allowed_tenants.is_empty() {
        return Err(Error::configuration(format!(
            "additionally_allowed_tenants: the {kind} flow gets tokens in the tenant its settings name; leave them out"
        )));
    }
    Ok(())
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

    fn azure_cli(self, c: AzureCliConfig) -> Result<DynCredential> {
        let mut builder = AzureCliCredential::builder()
            .http(self.http)
            .clock(self.clock);
        if let Some(dir) = c.config_dir {
            builder = builder.config_dir(dir);
        }
        if let Some(tenant) = c.tenant {
            builder = builder.tenant(tenant);
        }
        if let Some(subscription) = c.subscription {
            builder = builder.subscription(subscription);
        }
        if let Some(host) = c.authority_host {
            builder = builder.authority_host(host);
        }
        if let Some(secs) = c.az_timeout_secs {
            builder = builder.az_timeout(std::time::Duration::from_secs(secs));
        }
        Ok(Arc::new(builder.build()?))
    }

    fn default_chain(self, c: DefaultChainConfig) -> Result<DynCredential> {
        let mut builder = DefaultCredential::builder();
        if let Some(dir) = c.azure_config_dir.clone() {
            builder = builder.env(move |name| match name {
                "AZURE_CONFIG_DIR" => Some(dir.display().to_string()),
                _ => std::env::var(name).ok(),
            });
        }
        let mut builder = builder.http(self.http).cache(self.cache).clock(self.clock);
        for name in &c.exclude {
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
