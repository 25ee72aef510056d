//! [`DefaultCredential`]: the first credential the host is set up for, in the Azure
//! SDKs' order — environment, workload identity, managed identity (probed), Azure CLI.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, Clock, Error, Result, Scopes, SystemClock, TokenCredential,
    TokenRequestOptions,
};

use crate::azure_cli::AzureCliCredential;
use crate::environment::{EnvironmentCredential, EnvironmentSettings};
use crate::http::HttpClient;
use crate::managed_identity::{
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource, ProbeOutcome,
};
use crate::workload_identity::{WorkloadIdentityCredential, WorkloadIdentityEnv};

/// A link of the [`DefaultCredential`] chain, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DefaultStep {
    /// [`EnvironmentCredential`]: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and a secret or
    /// certificate.
    Environment,
    /// [`WorkloadIdentityCredential`]: `AZURE_FEDERATED_TOKEN_FILE` and its companions.
    WorkloadIdentity,
    /// [`ManagedIdentityCredential`], when its endpoint answers a probe
    /// (user-assigned by `AZURE_CLIENT_ID` when that is set).
    ManagedIdentity,
    /// [`AzureCliCredential`], when `az login` signed someone in.
    AzureCli,
}

impl DefaultStep {
    /// Every link, in order.
    pub const ALL: [DefaultStep; 4] = [
        Self::Environment,
        Self::WorkloadIdentity,
        Self::ManagedIdentity,
        Self::AzureCli,
    ];

    /// Its name in errors and settings (`environment`, `workload-identity`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Environment => "environment",
            Self::WorkloadIdentity => "workload-identity",
            Self::ManagedIdentity => "managed-identity",
            Self::AzureCli => "azure-cli",
        }
    }

    /// The link of that name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for DefaultStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A link's credential.
type DynCredential = Arc<dyn TokenCredential>;

/// Builds a [`DefaultCredential`]. Building does no I/O: the links are set up on first
/// use.
pub struct DefaultCredentialBuilder {
    lookup: Lookup,
    excluded: Vec<DefaultStep>,
    http: Option<HttpClient>,
    cache: Option<SharedTokenCache>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for DefaultCredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultCredentialBuilder")
            .field("excluded", &self.excluded)
            .finish_non_exhaustive()
    }
}

impl DefaultCredentialBuilder {
    /// Skips `step`.
    pub fn exclude(mut self, step: DefaultStep) -> Self {
        self.excluded.push(step);
        self
    }

    /// Reads variables from `lookup` instead of the process environment (tests, hosts
    /// that pass their environment around).
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// Sends requests through `http`.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Keeps app and managed identity tokens in `cache` (the Azure CLI link uses the
    /// CLI's own cache file).
    pub fn cache(mut self, cache: SharedTokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Uses `clock` for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The credential.
    pub fn build(self) -> Result<DefaultCredential> {
        Ok(DefaultCredential {
            steps: DefaultStep::ALL
                .into_iter()
                .filter(|s| !self.excluded.contains(s))
                .collect(),
            lookup: self.lookup,
            http: HttpClient::given_or_default(self.http)?,
            cache: self.cache.unwrap_or_else(SharedTokenCache::in_memory),
            clock: self.clock,
            chosen: Mutex::new(None),
        })
    }
}

/// The first credential the host is set up for, tried in the Azure SDKs' order:
/// [`DefaultStep::Environment`], [`DefaultStep::WorkloadIdentity`],
/// [`DefaultStep::ManagedIdentity`] (only when its endpoint answers
/// [`ManagedIdentityCredential::probe`]), [`DefaultStep::AzureCli`]. A link whose
/// settings are missing is skipped; one that fails hands on to the next. The first that
/// gives a token is kept for every later call. When none does, the error lists each
/// link and why it was not used (no secret is in it): a configuration error when no
/// link is set up at all, [`Error::Authentication`] when one was and gave no token.
pub struct DefaultCredential {
    steps: Vec<DefaultStep>,
    lookup: Lookup,
    http: HttpClient,
    cache: SharedTokenCache,
    clock: Arc<dyn Clock>,
    chosen: Mutex<Option<(DefaultStep, DynCredential)>>,
}

impl fmt::Debug for DefaultCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultCredential")
            .field("steps", &self.steps)
            .field("chosen", &self.chosen_step())
            .finish_non_exhaustive()
    }
}

/// A link set up, or why it is not.
enum Link {
    Ready(DynCredential),
    NotConfigured(String),
}

impl DefaultCredential {
    /// A builder over the process environment.
    pub fn builder() -> DefaultCredentialBuilder {
        DefaultCredentialBuilder {
            lookup: Arc::new(|name| std::env::var(name).ok()),
            excluded: Vec::new(),
            http: None,
            cache: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The link that gave the first token, once one did.
    pub fn chosen_step(&self) -> Option<DefaultStep> {
        self.chosen
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|(step, _)| *step))
    }

    fn chosen(&self) -> Option<DynCredential> {
        self.chosen
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|(_, credential)| Arc::clone(credential)))
    }

    async fn token(&self, scopes: &Scopes, options: &TokenRequestOptions) -> Result<AccessToken> {
        if let Some(credential) = self.chosen() {
            return credential.get_token(scopes, options).await;
        }
        let mut why_not = Vec::new();
        // Whether a link was set up and still gave no token: then signing in (or the
        // network) is the problem, else the chain has nothing to work with.
        let mut one_was_set_up = false;
        for step in &self.steps {
            let credential = match self.link(*step).await {
                Ok(Link::Ready(credential)) => credential,
                Ok(Link::NotConfigured(why)) => {
                    why_not.push(format!("{step}: not configured ({why})"));
                    continue;
                }
                Err(e) => {
                    one_was_set_up = true;
                    why_not.push(format!("{step}: {e}"));
                    continue;
                }
            };
            one_was_set_up = true;
            match credential.get_token(scopes, options).await {
                Ok(token) => {
                    tracing::debug!(%step, "the default chain uses this credential");
                    if let Ok(mut chosen) = self.chosen.lock() {
                        *chosen = Some((*step, credential));
                    }
                    return Ok(token);
                }
                Err(e) => why_not.push(format!("{step}: failed: {e}")),
            }
        }
        if self.steps.is_empty() {
            why_not.push("every link was excluded".into());
        }
        if !one_was_set_up {
            return Err(Error::configuration(format!(
                "no credential of the default chain is set up — {}. Set one up: an app's \
                 AZURE_* variables, workload identity's, a managed identity on Azure, or \
                 `az login`",
                why_not.join("; ")
            )));
        }
        Err(Error::Authentication {
            reason: format!(
                "no credential of the default chain gave a token — {}",
                why_not.join("; ")
            ),
        })
    }

    async fn link(&self, step: DefaultStep) -> Result<Link> {
        let lookup = |name: &str| (self.lookup)(name);
        let not_configured = |e: Error| match e {
            Error::Configuration { message } => Ok(Link::NotConfigured(message)),
            other => Err(other),
        };
        let credential: DynCredential = match step {
            DefaultStep::Environment => match EnvironmentSettings::from_lookup(lookup) {
                Ok(settings) => Arc::new(
                    EnvironmentCredential::builder(settings)
                        .http(self.http.clone())
                        .cache(self.cache.clone())
                        .clock(Arc::clone(&self.clock))
                        .build()?,
                ),
                Err(e) => return not_configured(e),
            },
            DefaultStep::WorkloadIdentity => match WorkloadIdentityEnv::from_lookup(lookup) {
                Ok(env) => Arc::new(
                    WorkloadIdentityCredential::builder(env)
                        .http(self.http.clone())
                        .cache(self.cache.clone())
                        .clock(Arc::clone(&self.clock))
                        .build()?,
                ),
                Err(e) => return not_configured(e),
            },
            DefaultStep::ManagedIdentity => {
                let source = ManagedIdentitySource::from_lookup_and_files(lookup, Path::exists)?;
                let id = match lookup("AZURE_CLIENT_ID").filter(|v| !v.trim().is_empty()) {
                    Some(client_id) => ManagedIdentityId::ClientId(client_id),
                    None => ManagedIdentityId::SystemAssigned,
                };
                let managed = ManagedIdentityCredential::builder(source, id)
                    .http(self.http.clone())
                    .cache(self.cache.clone())
                    .clock(Arc::clone(&self.clock))
                    .build()?;
                match managed.probe().await? {
                    ProbeOutcome::Answered => Arc::new(managed),
                    ProbeOutcome::NoEndpoint { reason } => return Ok(Link::NotConfigured(reason)),
                }
            }
            DefaultStep::AzureCli => {
                // Neither AZURE_CONFIG_DIR nor HOME (a service, a bare container): no CLI
                // login to look for, as for a link without its variables.
                let dir = match crate::azure_cli::config_dir_from(lookup) {
                    Ok(dir) => dir,
                    Err(e) => return not_configured(e),
                };
                let cli = AzureCliCredential::builder()
                    .config_dir(&dir)
                    .http(self.http.clone())
                    .clock(Arc::clone(&self.clock))
                    .build()?;
                if !cli.is_signed_in() {
                    return Ok(Link::NotConfigured(format!(
                        "nobody is signed in to the Azure CLI in {} (az login)",
                        dir.display()
                    )));
                }
                Arc::new(cli)
            }
        };
        Ok(Link::Ready(credential))
    }
}

impl TokenCredential for DefaultCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.token(scopes, options))
    }
}
