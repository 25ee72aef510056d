//! [`PublicClient`]: tokens for a signed-in user, for CLIs, desktop tools and devices —
//! device code, interactive (browser, falling back to device code), and silent from the
//! cache (access token, else the refresh token, also a FOCI family member's).

use std::fmt;
use std::sync::Arc;

use tokenhop_cache::entry::Field;
use tokenhop_cache::{Account, SharedTokenCache};
use tokenhop_core::{
    AccessToken, Cached, ClientId, Clock, Error, Result, Scopes, Secret, SystemClock, TokenFlights,
    TokenRequestOptions,
};

use crate::authority::Authority;
use crate::cache_slot::{CacheSlot, access_token_for, read_cache, run_blocking};
use crate::claims::{checked_capabilities, merged};
use crate::cloud::environment_aliases;
use crate::device_code::{self, DeviceCodeInfo, PollWait};
use crate::endpoint::TokenEndpoint;
use crate::http::{Form, HttpClient};
use crate::oidc_scopes::with_oidc_scopes;
use crate::response::{TokenResponse, home_account_id};
use crate::tenants::{AllowedTenants, TenantEndpoints};

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Builds a [`PublicClient`]. Building does no I/O.
pub struct PublicClientBuilder {
    client_id: ClientId,
    authority: Authority,
    cache: Option<SharedTokenCache>,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
    wait: PollWait,
    client_capabilities: Vec<String>,
    allowed_tenants: Vec<String>,
}

impl fmt::Debug for PublicClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClientBuilder")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl PublicClientBuilder {
    /// Keeps tokens and accounts in `cache` (default: in memory).
    pub fn cache(mut self, cache: SharedTokenCache) -> Self {
        self.cache = Some(cache);
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

    /// How device code polls wait (default: sleeping); a test can record the intervals.
    pub fn device_code_wait(mut self, wait: PollWait) -> Self {
        self.wait = wait;
        self
    }

    /// Declares client capabilities (`cp1`), sent as `xms_cc` in the `claims` of every
    /// request, as MSAL sends them (see
    /// [`crate::ConfidentialClientBuilder::client_capabilities`]).
    pub fn client_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Tenants besides the authority's own a request may name (ids or domains; `*` for
    /// any), as the Azure SDKs' `additionally_allowed_tenants`.
    pub fn additionally_allowed_tenants(
        mut self,
        tenants: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// The client; an invalid capability or tenant is a configuration error.
    pub fn build(self) -> Result<PublicClient> {
        let http = HttpClient::given_or_default(self.http)?;
        let cache = self.cache.unwrap_or_else(SharedTokenCache::in_memory);
        let flights = CacheSlot {
            environment: self.authority.environment(),
            realm: self.authority.realm().to_owned(),
            client_id: self.client_id.to_string(),
        }
        .flights(&cache);
        Ok(PublicClient {
            client_id: self.client_id,
            endpoints: TenantEndpoints::new(
                self.authority,
                http,
                AllowedTenants::new(self.allowed_tenants)?,
            ),
            cache,
            clock: self.clock,
            flights,
            wait: self.wait,
            capabilities: checked_capabilities(self.client_capabilities)?,
        })
    }
}

/// A public client (no credential of its own) that signs users in and keeps their
/// accounts and tokens in the MSAL-compatible cache. A cache hit makes no request;
/// concurrent silent calls for one token make one refresh and share its outcome.
///
/// Every request honours [`TokenRequestOptions`]: `claims` skips the cached access token
/// and goes to the token endpoint (with the client capabilities merged in);
/// `tenant_id` signs in or refreshes at that tenant (if allowed), whose tokens are
/// cached under its realm, as MSAL's accounts have one realm per tenant.
pub struct PublicClient {
    client_id: ClientId,
    endpoints: TenantEndpoints,
    cache: SharedTokenCache,
    clock: Arc<dyn Clock>,
    flights: TokenFlights<String>,
    wait: PollWait,
    capabilities: Vec<String>,
}

impl fmt::Debug for PublicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClient")
            .field("client_id", &self.client_id)
            .field("authority", self.authority())
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

/// A user's token and the account it is for.
#[derive(Debug)]
#[non_exhaustive]
pub struct UserToken {
    /// The access token.
    pub token: AccessToken,
    /// The account, when the response identified one (`client_info`).
    pub home_account_id: Option<String>,
}

impl PublicClient {
    /// A builder for `client_id` at `authority`.
    pub fn builder(client_id: ClientId, authority: Authority) -> PublicClientBuilder {
        PublicClientBuilder {
            client_id,
            authority,
            cache: None,
            http: None,
            clock: Arc::new(SystemClock),
            wait: device_code::sleep_wait(),
            client_capabilities: Vec::new(),
            allowed_tenants: Vec::new(),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The token cache.
    pub fn cache(&self) -> &SharedTokenCache {
        &self.cache
    }

    /// The authority.
    pub fn authority(&self) -> &Authority {
        self.endpoints.home().authority()
    }

    /// Whether logs may show personal data (the HTTP client's `log_pii`).
    pub(crate) fn logs_pii(&self) -> bool {
        self.endpoints.home().http().config().log_pii
    }

    /// The `claims` this client sends with `options`' challenge (its capabilities
    /// merged in), if any.
    fn claims(&self, options: &TokenRequestOptions) -> Result<Option<String>> {
        merged(&self.capabilities, options.claims.as_deref())
    }

    /// Signs a user in with the device code flow (at `options`' tenant, asking for its
    /// claims): `on_code` gets the message and code to show; polling follows the
    /// server's interval and `slow_down`. Dropping the future stops it.
    pub async fn acquire_token_by_device_code(
        &self,
        scopes: &Scopes,
        options: &TokenRequestOptions,
        on_code: impl Fn(&DeviceCodeInfo) + Send + Sync,
    ) -> Result<UserToken> {
        let endpoint = self.endpoints.for_tenant(options.tenant_id.as_ref())?;
        let claims = self.claims(options)?;
        let wire_scopes = Scopes::parse(&with_oidc_scopes(scopes))?;
        let authorization =
            device_code::start(&endpoint, &self.client_id, &wire_scopes, claims.as_deref()).await?;
        on_code(&authorization.info);
        let response = device_code::poll(
            &endpoint,
            &self.client_id,
            &authorization,
            claims.as_deref(),
            &self.wait,
        )
        .await?;
        self.store(&endpoint, DEVICE_CODE_GRANT, scopes, &response)
            .await
    }

    /// Signs a user in through the browser (authorization code with PKCE, `state` and
    /// `nonce` checked; at `options`' tenant, asking for its claims); falls back to the
    /// device code flow (`on_code`) when the loopback port is taken, no browser opens,
    /// or the user does not finish in time.
    #[cfg(feature = "interactive")]
    pub async fn acquire_token_interactive(
        &self,
        scopes: &Scopes,
        options: &TokenRequestOptions,
        interactive: &crate::interactive::InteractiveOptions,
        on_code: impl Fn(&DeviceCodeInfo) + Send + Sync,
    ) -> Result<UserToken> {
        use crate::interactive::{InteractiveOutcome, sign_in};
        let endpoint = self.endpoints.for_tenant(options.tenant_id.as_ref())?;
        let claims = self.claims(options)?;
        let wire_scopes = Scopes::parse(&with_oidc_scopes(scopes))?;
        let outcome = sign_in(
            &endpoint,
            &self.client_id,
            &wire_scopes,
            claims.as_deref(),
            interactive,
        )
        .await?;
        match outcome {
            InteractiveOutcome::Token(response) => {
                self.store(&endpoint, "authorization_code", scopes, &response)
                    .await
            }
            InteractiveOutcome::FallBack(reason) => {
                tracing::info!(%reason, "browser sign-in not possible; using the device code flow");
                self.acquire_token_by_device_code(scopes, options, on_code)
                    .await
            }
        }
    }

    /// The accounts signed in at this authority's host (or another host of its cloud).
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let environments = environment_aliases(&self.authority().environment());
        read_cache(&self.cache, |c| {
            let mut accounts: Vec<Account> = Vec::new();
            for environment in &environments {
                for account in c.accounts(environment) {
                    if !accounts
                        .iter()
                        .any(|a| a.home_account_id == account.home_account_id)
                    {
                        accounts.push(account);
                    }
                }
            }
            accounts
        })
        .await
    }

    /// Signs an account out: removes it and all its tokens from the cache.
    pub async fn remove_account(&self, account: &Account) -> Result<usize> {
        let (cache, account) = (self.cache.clone(), account.clone());
        run_blocking(move || cache.remove_account(&account.home_account_id, &account.environment))
            .await
    }

    /// A token for `account` without interaction: the cached access token, else a
    /// refresh token (its own, or a FOCI family member's). A refresh token the server
    /// rejects (`invalid_grant`) is removed, as MSAL does. When nothing works the error
    /// is [`Error::Authentication`]: the user must sign in again. A claims challenge
    /// skips the cached access token; another tenant (if allowed) is asked with the
    /// account's refresh token.
    pub async fn acquire_token_silent(
        &self,
        scopes: &Scopes,
        account: &Account,
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        let endpoint = self.endpoints.for_tenant(options.tenant_id.as_ref())?;
        let realm = if Arc::ptr_eq(&endpoint, self.endpoints.home()) {
            self.realm_for(account)
        } else {
            endpoint.authority().realm().to_owned()
        };
        let claims = self.claims(options)?;
        self.flights
            .acquire(
                format!(
                    "silent|{}|{}|{scopes}|{}",
                    account.home_account_id,
                    realm.to_ascii_lowercase(),
                    options.claims.as_deref().unwrap_or_default()
                ),
                options.force_refresh || options.claims.is_some(),
                || self.cached(&realm, scopes, account),
                || self.refresh(&endpoint, scopes, account, claims.as_deref()),
            )
            .await
    }

    /// Redeems the account's refresh tokens at `endpoint` in MSAL's order until one
    /// works.
    async fn refresh(
        &self,
        endpoint: &TokenEndpoint,
        scopes: &Scopes,
        account: &Account,
        claims: Option<&str>,
    ) -> Result<AccessToken> {
        for (key, refresh_token, own) in self.refresh_tokens(account).await? {
            match self.redeem(endpoint, scopes, &refresh_token, claims).await {
                Ok(response) => {
                    return Ok(self
                        .store(endpoint, "refresh_token", scopes, &response)
                        .await?
                        .token);
                }
                Err(Error::TokenExchange { error, .. }) if error == "invalid_grant" => {
                    // Only our own token is dead: a family member's refused to us may
                    // just mean this app is not in the family.
                    if own {
                        tracing::debug!("the server rejected our refresh token; removing it");
                        let cache = self.user_partition(account);
                        run_blocking(move || {
                            cache.write(|c| c.remove(tokenhop_cache::Section::RefreshToken, &key))
                        })
                        .await?;
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Err(Error::Authentication {
            reason: format!(
                "no usable token for {scopes} in the cache for {}: interaction is needed (sign in again)",
                account.username
            ),
        })
    }

    async fn redeem(
        &self,
        endpoint: &TokenEndpoint,
        scopes: &Scopes,
        refresh_token: &Secret,
        claims: Option<&str>,
    ) -> Result<TokenResponse> {
        let mut form = Form::new()
            .field("grant_type", "refresh_token")
            .field("client_id", self.client_id.as_str())
            .secret("refresh_token", refresh_token)
            .field("scope", with_oidc_scopes(scopes))
            .field("client_info", "1");
        if let Some(claims) = claims {
            form = form.field("claims", claims);
        }
        endpoint.request_token(&form, &[], None).await
    }

    /// Refresh tokens to try, in MSAL's order: a family token first when the app is in a
    /// family or not known to be outside one, then the app's own.
    /// Each with its cache key and whether it was issued to this app.
    async fn refresh_tokens(&self, account: &Account) -> Result<Vec<(String, Secret, bool)>> {
        let environments = environment_aliases(&self.authority().environment());
        let client_id = self.client_id.as_str();
        read_cache(&self.user_partition(account), |c| {
            let home = account.home_account_id.as_str();
            let mut candidates = Vec::new();
            for environment in &environments {
                let family = c.app_family_id(environment, client_id).unwrap_or("1");
                candidates.push(c.find_family_refresh_token(home, environment, family));
                candidates.push(c.find_refresh_token(home, environment, client_id));
            }
            let mut found: Vec<(String, Secret, bool)> = Vec::new();
            for (key, entry) in candidates.into_iter().flatten() {
                if !found.iter().any(|(k, _, _)| k == key)
                    && let Some(secret) = entry.get(Field::Secret)
                {
                    let own = entry.get(Field::ClientId) == Some(client_id);
                    found.push((key.to_owned(), Secret::new(secret), own));
                }
            }
            found
        })
        .await
    }

    /// Where the account's refresh tokens live (the whole cache, unless partitioned).
    fn user_partition(&self, account: &Account) -> SharedTokenCache {
        self.cache.partition(&tokenhop_cache::user_partition_key(
            &account.home_account_id,
        ))
    }

    fn slot_for(&self, realm: &str) -> CacheSlot {
        CacheSlot {
            environment: self.authority().environment(),
            realm: realm.to_owned(),
            client_id: self.client_id.to_string(),
        }
    }

    /// The realm tokens are cached under: the authority's tenant, or the account's own
    /// for multi-tenant authorities.
    fn realm_for(&self, account: &Account) -> String {
        let realm = self.authority().realm();
        if matches!(
            realm.to_ascii_lowercase().as_str(),
            "common" | "organizations" | "consumers"
        ) {
            account.realm.clone()
        } else {
            realm.to_owned()
        }
    }

    async fn cached(&self, realm: &str, scopes: &Scopes, account: &Account) -> Result<Cached> {
        let wanted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        self.slot_for(realm)
            .lookup(
                &self.cache,
                Some(&account.home_account_id),
                &wanted,
                None,
                self.clock.now(),
            )
            .await
    }

    /// Stores `endpoint`'s response under that tenant's realm.
    async fn store(
        &self,
        endpoint: &TokenEndpoint,
        grant_type: &'static str,
        scopes: &Scopes,
        response: &TokenResponse,
    ) -> Result<UserToken> {
        let now = self.clock.now();
        let granted_scopes = response
            .scope
            .as_deref()
            .and_then(|s| Scopes::parse(s).ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| scopes.clone());
        let granted = granted_scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        self.slot_for(endpoint.authority().realm())
            .store(
                &self.cache,
                grant_type,
                granted,
                response.raw.clone(),
                Vec::new(),
                now,
            )
            .await?;
        Ok(UserToken {
            token: access_token_for(
                response.access_token.clone(),
                &response.token_type,
                response.expires_in,
                response.refresh_in,
                granted_scopes,
                now,
            ),
            home_account_id: home_account_id(response),
        })
    }
}
