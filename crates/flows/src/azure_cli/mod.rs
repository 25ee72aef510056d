//! [`AzureCliCredential`]: the sign-in of `az login`, reused without spawning `az`.
//!
//! The Azure CLI keeps its tokens in an MSAL cache file (`msal_token_cache.json`,
//! plaintext on Linux and macOS), written by MSAL Python through msal-extensions under
//! `<file>.lockfile`; tokenhop's file cache uses the same format and lock. So a token
//! comes from that file, or by its refresh token with the CLI's own client id (a FOCI
//! member), and what comes back is written to the same file for `az` to find. Only when
//! the file is not there (encrypted on Windows, the CLI's keystore option) does it run
//! `az account get-access-token`.

mod az_process;
mod profile;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokenhop_cache::SharedTokenCache;
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{
    AccessToken, BoxFuture, CachingCredential, ClientId, Clock, Error, Result, Scopes, SystemClock,
    TokenCredential, TokenRequestOptions,
};

use crate::authority::Authority;
use crate::certificate::CertificateAssertions;
use crate::client_auth::ClientCredential;
use crate::confidential::ConfidentialClient;
use crate::http::HttpClient;
use crate::public_client::PublicClient;
use az_process::AzProcess;
pub(crate) use profile::config_dir_from;
pub use profile::{AzureCliProfile, AzureSubscription, AzureUser};
use profile::{
    PROFILE_FILE, ServicePrincipalKey, TOKEN_CACHE_FILE, authority_host, not_signed_in,
    service_principal,
};

/// The Azure CLI's public client id (FOCI family `1`).
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// How long `az account get-access-token` may take by default.
pub const AZ_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds an [`AzureCliCredential`]. Building reads environment variables only.
pub struct AzureCliCredentialBuilder {
    config_dir: Option<PathBuf>,
    tenant: Option<String>,
    subscription: Option<String>,
    authority_host: Option<String>,
    az_program: OsString,
    az_timeout: Duration,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for AzureCliCredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureCliCredentialBuilder")
            .field("config_dir", &self.config_dir)
            .field("tenant", &self.tenant)
            .field("subscription", &self.subscription)
            .finish_non_exhaustive()
    }
}

impl AzureCliCredentialBuilder {
    /// The Azure CLI's directory (default: `$AZURE_CONFIG_DIR`, else `~/.azure`).
    pub fn config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config_dir = Some(dir.into());
        self
    }

    /// The tenant to ask tokens in (default: the chosen subscription's), as
    /// `az account get-access-token --tenant`.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The subscription, by name or id, whose tenant and account to use (default: the
    /// one `az account set` chose), as `az account get-access-token --subscription`.
    pub fn subscription(mut self, subscription: impl Into<String>) -> Self {
        self.subscription = Some(subscription.into());
        self
    }

    /// The authority host (default: the subscription's cloud, built in or from
    /// `clouds.config`).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = Some(host.into());
        self
    }

    /// The program run when the token cache is not readable (default: `az` on `PATH`).
    pub fn az_program(mut self, program: impl Into<OsString>) -> Self {
        self.az_program = program.into();
        self
    }

    /// How long that program may take (default [`AZ_TIMEOUT`], 10 s).
    pub fn az_timeout(mut self, timeout: Duration) -> Self {
        self.az_timeout = timeout;
        self
    }

    /// Sends requests through `http`.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Uses `clock` for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The credential.
    pub fn build(self) -> Result<AzureCliCredential> {
        if self.tenant.is_some() && self.subscription.is_some() {
            return Err(Error::configuration(
                "azure-cli: give a tenant or a subscription, not both (as `az account get-access-token` takes one)",
            ));
        }
        let config_dir = match self.config_dir {
            Some(dir) => dir,
            None => config_dir_from(|name| std::env::var(name).ok())?,
        };
        let cache = SharedTokenCache::file(config_dir.join(TOKEN_CACHE_FILE));
        let az = CachingCredential::new(AzProcess {
            program: self.az_program,
            config_dir: config_dir.clone(),
            tenant: self.tenant.clone(),
            subscription: self.subscription.clone(),
            timeout: self.az_timeout,
            why_not_cache: format!(
                "{} does not exist",
                config_dir.join(TOKEN_CACHE_FILE).display()
            ),
        })
        .with_clock(Arc::clone(&self.clock));
        Ok(AzureCliCredential {
            config_dir,
            tenant: self.tenant,
            subscription: self.subscription,
            authority_host: self.authority_host,
            http: HttpClient::given_or_default(self.http)?,
            clock: self.clock,
            cache,
            clients: Mutex::new(HashMap::new()),
            az,
        })
    }
}

/// Tokens of the account `az login` signed in, from the Azure CLI's own token cache:
/// a valid token makes no request; an expired one is refreshed with the cached refresh
/// token and the CLI's client id, and the result is written back for `az` (and any
/// MSAL) to find. `az login --service-principal` logins use the credential the CLI
/// stored. Only when the cache file is missing (encrypted caches) is `az account
/// get-access-token` run, with a timeout, and its tokens kept in memory.
///
/// ```no_run
/// use tokenhop_core::{Scopes, TokenCredentialExt, TokenProvider};
/// use tokenhop_flows::AzureCliCredential;
///
/// # async fn run() -> tokenhop_core::Result<()> {
/// let credential = AzureCliCredential::builder().subscription("Production").build()?;
/// let arm = credential.into_provider(Scopes::new(["https://management.azure.com/.default"])?);
/// let token = arm.token().await?;
/// # Ok(()) }
/// ```
pub struct AzureCliCredential {
    config_dir: PathBuf,
    tenant: Option<String>,
    subscription: Option<String>,
    authority_host: Option<String>,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    cache: SharedTokenCache,
    /// One client per authority and account kind, so that concurrent callers share
    /// one refresh.
    clients: Mutex<HashMap<String, Client>>,
    az: CachingCredential<AzProcess>,
}

#[derive(Clone)]
enum Client {
    User(Arc<PublicClient>),
    App(Arc<ConfidentialClient>),
}

impl fmt::Debug for AzureCliCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureCliCredential")
            .field("config_dir", &self.config_dir)
            .field("tenant", &self.tenant)
            .field("subscription", &self.subscription)
            .finish_non_exhaustive()
    }
}

/// Who is signed in for a request, from the profile.
struct Login {
    user: AzureUser,
    tenant: String,
    authority: Authority,
}

impl AzureCliCredential {
    /// A builder.
    pub fn builder() -> AzureCliCredentialBuilder {
        AzureCliCredentialBuilder {
            config_dir: None,
            tenant: None,
            subscription: None,
            authority_host: None,
            az_program: "az".into(),
            az_timeout: AZ_TIMEOUT,
            http: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The Azure CLI's directory this credential reads.
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The Azure CLI's token cache (`msal_token_cache.json`), shared with `az`.
    pub fn cache(&self) -> &SharedTokenCache {
        &self.cache
    }

    /// Whether there is a sign-in to use: the profile names a subscription. Reads the
    /// profile (for chains that try this credential only when it is configured).
    pub fn is_signed_in(&self) -> bool {
        AzureCliProfile::load(&self.config_dir)
            .is_ok_and(|p| p.subscription(self.subscription.as_deref()).is_ok())
    }

    async fn token(&self, scopes: &Scopes, options: &TokenRequestOptions) -> Result<AccessToken> {
        let tenant = options.tenant_id.as_ref().map(|t| t.as_str());
        if let Some(claims) = &options.claims {
            return Err(claims_error(claims, tenant.or(self.tenant.as_deref())));
        }
        if !self.config_dir.join(TOKEN_CACHE_FILE).exists() {
            if !self.config_dir.join(PROFILE_FILE).exists() {
                return Err(not_signed_in(
                    &format!(
                        "nobody is signed in to the Azure CLI: {} does not exist",
                        self.config_dir.join(PROFILE_FILE).display()
                    ),
                    "az login",
                ));
            }
            tracing::debug!(dir = %self.config_dir.display(), "no readable Azure CLI token cache; running az");
            return self.az.get_token(scopes, options).await;
        }
        let login = self.login(tenant)?;
        match self.client(&login)? {
            Client::User(client) => {
                let account = client
                    .accounts()
                    .await?
                    .into_iter()
                    .find(|a| a.username.eq_ignore_ascii_case(&login.user.name))
                    .ok_or_else(|| {
                        not_signed_in(
                            &format!(
                                "{} is not signed in to {}",
                                login.user.name,
                                self.cache_path().display()
                            ),
                            &format!("az login --tenant {}", login.tenant),
                        )
                    })?;
                client
                    .acquire_token_silent(scopes, &account, options)
                    .await
                    .map_err(|e| match e {
                        Error::Authentication { reason } => not_signed_in(
                            &format!(
                                "the Azure CLI's sign-in of {} cannot be refreshed ({reason})",
                                login.user.name
                            ),
                            &format!("az login --tenant {}", login.tenant),
                        ),
                        other => other,
                    })
            }
            Client::App(client) => client.acquire_token_for_client(scopes, options).await,
        }
    }

    fn cache_path(&self) -> PathBuf {
        self.config_dir.join(TOKEN_CACHE_FILE)
    }

    /// The account and tenant for a request, from the profile (read each time: `az
    /// account set` may have changed it).
    fn login(&self, tenant: Option<&str>) -> Result<Login> {
        let profile = AzureCliProfile::load(&self.config_dir)?;
        let subscription = profile.subscription(self.subscription.as_deref())?;
        let tenant = tenant
            .or(self.tenant.as_deref())
            .unwrap_or(&subscription.tenant_id)
            .to_owned();
        let host = match &self.authority_host {
            Some(host) => host.clone(),
            None => authority_host(&self.config_dir, &subscription.environment_name)?,
        };
        let authority = Authority::parse(&format!("{}/{tenant}", host.trim_end_matches('/')))?;
        Ok(Login {
            user: subscription.user.clone(),
            tenant,
            authority,
        })
    }

    fn client(&self, login: &Login) -> Result<Client> {
        let key = format!(
            "{}|{}|{}",
            login.user.kind,
            login.user.name,
            login.authority.url()
        );
        let mut clients = self.clients.lock().map_err(|_| Error::Cancelled {
            reason: "the Azure CLI credential's clients were poisoned by a panic".into(),
        })?;
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = if login.user.is_service_principal() {
            Client::App(Arc::new(self.service_principal_client(login)?))
        } else {
            Client::User(Arc::new(
                PublicClient::builder(ClientId::new(AZURE_CLI_CLIENT_ID)?, login.authority.clone())
                    .http(self.http.clone())
                    .cache(self.cache.clone())
                    .clock(Arc::clone(&self.clock))
                    .build()?,
            ))
        };
        clients.insert(key, client.clone());
        Ok(client)
    }

    fn service_principal_client(&self, login: &Login) -> Result<ConfidentialClient> {
        let credential = match service_principal(&self.config_dir, &login.user.name, &login.tenant)?
        {
            ServicePrincipalKey::Secret(secret) => ClientCredential::secret(secret),
            ServicePrincipalKey::Certificate { path, send_x5c } => {
                let certificate = ClientCertificate::from_file(&path, None).map_err(|e| {
                    Error::configuration(format!(
                        "the certificate of `az login --service-principal` ({}): {e}",
                        path.display()
                    ))
                })?;
                CertificateAssertions::new(certificate)
                    .include_x5c(send_x5c)
                    .clock(Arc::clone(&self.clock))
                    .into_credential()
            }
        };
        ConfidentialClient::builder(
            ClientId::new(&login.user.name)?,
            login.authority.clone(),
            credential,
        )
        .http(self.http.clone())
        .cache(self.cache.clone())
        .clock(Arc::clone(&self.clock))
        .build()
    }
}

/// What the Azure SDKs say to a claims challenge the CLI's sign-in cannot answer.
fn claims_error(claims: &str, tenant: Option<&str>) -> Error {
    let encoded = base64::engine::general_purpose::STANDARD.encode(claims);
    let tenant = tenant.map(|t| format!(" --tenant {t}")).unwrap_or_default();
    Error::Authentication {
        reason: format!(
            "the resource asked for claims the Azure CLI's cached sign-in does not satisfy: run `az login{tenant} --claims-challenge {encoded}`"
        ),
    }
}

impl TokenCredential for AzureCliCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.token(scopes, options))
    }
}
