//! [`GraphAuth`]: one-line constructors for the common flows, each returning a token
//! provider for Microsoft Graph (or other scopes) with a persistent cache at the
//! platform's default path — overridable or disabled. Constructing does no I/O.

use std::path::PathBuf;
use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{
    ClientId, Result, ScopedProvider, Scopes, Secret, TokenCredential, TokenCredentialExt,
};

use crate::agent_id::{AgentIdBuilder, AgentIdSettings};
use crate::authority::Authority;
use crate::certificate::CertificateAssertions;
use crate::client_auth::ClientCredential;
use crate::confidential::ConfidentialClient;
use crate::http::HttpClient;
use crate::managed_identity::{
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource,
};
use crate::public_client::PublicClient;
use crate::sign_in::{SignIn, SignInCredential};

/// The public cloud's authority host.
pub const PUBLIC_CLOUD: &str = "https://login.microsoftonline.com";
/// Microsoft Graph's app-token scope.
pub const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Where a helper keeps its tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheLocation {
    /// `token_cache.json` in the platform's user config directory.
    #[default]
    PlatformDefault,
    /// A file of the caller's choosing.
    Path(PathBuf),
    /// Memory only: nothing is written.
    Disabled,
}

impl CacheLocation {
    /// The cache (the file is read on first use, not here).
    pub fn open(&self) -> Result<SharedTokenCache> {
        Ok(match self {
            Self::PlatformDefault => SharedTokenCache::file(tokenhop_cache::default_path()?),
            Self::Path(path) => SharedTokenCache::file(path),
            Self::Disabled => SharedTokenCache::in_memory(),
        })
    }
}

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
}

impl Default for GraphAuth {
    fn default() -> Self {
        Self {
            authority_host: PUBLIC_CLOUD.into(),
            cache: CacheLocation::PlatformDefault,
            // A constant, valid scope: `new` cannot fail here.
            scopes: Scopes::new([GRAPH_DEFAULT_SCOPE]).unwrap_or_default(),
            http: None,
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

    fn http_client(&self) -> Result<HttpClient> {
        HttpClient::given_or_default(self.http.clone())
    }

    fn authority(&self, tenant: &str) -> Result<Authority> {
        Authority::parse(&format!("{}/{tenant}", self.authority_host))
    }

    fn provide(&self, credential: impl TokenCredential + 'static) -> GraphProvider {
        let credential: Arc<dyn TokenCredential> = Arc::new(credential);
        credential.into_provider(self.scopes.clone())
    }

    fn confidential(
        &self,
        tenant: &str,
        client_id: &str,
        credential: ClientCredential,
    ) -> Result<GraphProvider> {
        let client = ConfidentialClient::builder(
            ClientId::new(client_id)?,
            self.authority(tenant)?,
            credential,
        )
        .cache(self.cache.open()?)
        .http(self.http_client()?)
        .build()?;
        Ok(self.provide(client))
    }

    /// App tokens with a client secret.
    pub fn client_secret(
        &self,
        tenant: &str,
        client_id: &str,
        secret: Secret,
    ) -> Result<GraphProvider> {
        self.confidential(tenant, client_id, ClientCredential::secret(secret))
    }

    /// App tokens with a certificate (PS256 assertions, reused for 540 s).
    pub fn certificate(
        &self,
        tenant: &str,
        client_id: &str,
        certificate: ClientCertificate,
    ) -> Result<GraphProvider> {
        self.confidential(
            tenant,
            client_id,
            CertificateAssertions::new(certificate).into_credential(),
        )
    }

    fn user(&self, tenant: &str, client_id: &str, sign_in: SignIn) -> Result<GraphProvider> {
        let client = PublicClient::builder(ClientId::new(client_id)?, self.authority(tenant)?)
            .cache(self.cache.open()?)
            .http(self.http_client()?)
            .build()?;
        Ok(self.provide(SignInCredential::new(client, sign_in)))
    }

    /// A user's tokens: silent from the cache, else the device code flow (the message
    /// goes to stderr).
    pub fn device_code(&self, tenant: &str, client_id: &str) -> Result<GraphProvider> {
        self.user(tenant, client_id, SignIn::DeviceCode)
    }

    /// A user's tokens: silent from the cache, else the browser (falling back to the
    /// device code flow).
    #[cfg(feature = "interactive")]
    pub fn interactive(&self, tenant: &str, client_id: &str) -> Result<GraphProvider> {
        self.user(tenant, client_id, SignIn::Interactive(Default::default()))
    }

    /// The host's managed identity (IMDS or App Service, as the environment says).
    pub fn managed_identity(&self, id: ManagedIdentityId) -> Result<GraphProvider> {
        let credential = ManagedIdentityCredential::new(ManagedIdentitySource::from_env()?, id)?
            .with_http(self.http_client()?)
            .with_cache(self.cache.open()?);
        Ok(self.provide(credential))
    }

    /// The Entra Agent ID three-hop chain: delegated tokens for the agent user.
    pub fn agent_user(
        &self,
        settings: AgentIdSettings,
        blueprint_certificate: ClientCertificate,
    ) -> Result<GraphProvider> {
        let credential = AgentIdBuilder::new(settings)
            .authority_host(self.authority_host.clone())
            .blueprint_credential(
                CertificateAssertions::new(blueprint_certificate).into_credential(),
            )
            .cache(self.cache.open()?)
            .http(self.http_client()?)
            .build_user()?;
        Ok(self.provide(credential))
    }
}
