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
use crate::cloud::environment_aliases;
use crate::device_code::{self, DeviceCodeInfo, PollWait};
use crate::endpoint::TokenEndpoint;
use crate::http::{Form, HttpClient};
use crate::oidc_scopes::with_oidc_scopes;
use crate::response::TokenResponse;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Builds a [`PublicClient`]. Building does no I/O.
pub struct PublicClientBuilder {
    client_id: ClientId,
    authority: Authority,
    cache: Option<SharedTokenCache>,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
    wait: PollWait,
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

    /// The client.
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
            endpoint: TokenEndpoint::new(self.authority, http),
            cache,
            clock: self.clock,
            flights,
            wait: self.wait,
        })
    }
}

/// A public client (no credential of its own) that signs users in and keeps their
/// accounts and tokens in the MSAL-compatible cache. A cache hit makes no request;
/// concurrent silent calls for one token make one refresh and share its outcome.
pub struct PublicClient {
    client_id: ClientId,
    endpoint: TokenEndpoint,
    cache: SharedTokenCache,
    clock: Arc<dyn Clock>,
    flights: TokenFlights<String>,
    wait: PollWait,
}

impl fmt::Debug for PublicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClient")
            .field("client_id", &self.client_id)
            .field("authority", self.endpoint.authority())
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
        self.endpoint.authority()
    }

    /// Whether logs may show personal data (the HTTP client's `log_pii`).
    pub(crate) fn logs_pii(&self) -> bool {
        self.endpoint.http().config().log_pii
    }

    /// Signs a user in with the device code flow: `on_code` gets the message and code to
    /// show; polling follows the server's interval and `slow_down`. Dropping the future
    /// stops it.
    pub async fn acquire_token_by_device_code(
        &self,
        scopes: &Scopes,
        on_code: impl Fn(&DeviceCodeInfo) + Send + Sync,
    ) -> Result<UserToken> {
        let wire_scopes = Scopes::parse(&with_oidc_scopes(scopes))?;
        let authorization =
            device_code::start(&self.endpoint, &self.client_id, &wire_scopes).await?;
        on_code(&authorization.info);
        let response =
            device_code::poll(&self.endpoint, &self.client_id, &authorization, &self.wait).await?;
        self.store(DEVICE_CODE_GRANT, scopes, &response).await
    }

    /// Signs a user in through the browser (authorization code with PKCE, `state` and
    /// `nonce` checked); falls back to the device code flow (`on_code`) when the loopback
    /// port is taken, no browser opens, or the user does not finish in time.
    #[cfg(feature = "interactive")]
    pub async fn acquire_token_interactive(
        &self,
        scopes: &Scopes,
        options: &crate::interactive::InteractiveOptions,
        on_code: impl Fn(&DeviceCodeInfo) + Send + Sync,
    ) -> Result<UserToken> {
        use crate::interactive::{InteractiveOutcome, sign_in};
        let wire_scopes = Scopes::parse(&with_oidc_scopes(scopes))?;
        match sign_in(&self.endpoint, &self.client_id, &wire_scopes, options).await? {
            InteractiveOutcome::Token(response) => {
                self.store("authorization_code", scopes, &response).await
            }
            InteractiveOutcome::FallBack(reason) => {
                tracing::info!(%reason, "browser sign-in not possible; using the device code flow");
                self.acquire_token_by_device_code(scopes, on_code).await
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
    /// is [`Error::Authentication`]: the user must sign in again.
    pub async fn acquire_token_silent(
        &self,
        scopes: &Scopes,
        account: &Account,
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        self.flights
            .acquire(
                format!("silent|{}|{}", account.home_account_id, scopes),
                options.force_refresh,
                || self.cached(scopes, account),
                || self.refresh(scopes, account),
            )
            .await
    }

    /// Redeems the account's refresh tokens in MSAL's order until one works.
    async fn refresh(&self, scopes: &Scopes, account: &Account) -> Result<AccessToken> {
        for (key, refresh_token, own) in self.refresh_tokens(account).await? {
            match self.redeem(scopes, &refresh_token).await {
                Ok(response) => {
                    return Ok(self.store("refresh_token", scopes, &response).await?.token);
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

    async fn redeem(&self, scopes: &Scopes, refresh_token: &Secret) -> Result<TokenResponse> {
        let form = Form::new()
            .field("grant_type", "refresh_token")
            .field("client_id", self.client_id.as_str())
            .secret("refresh_token", refresh_token)
            .field("scope", with_oidc_scopes(scopes))
            .field("client_info", "1");
        self.endpoint.request_token(&form, &[], None).await
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

    async fn cached(&self, scopes: &Scopes, account: &Account) -> Result<Cached> {
        let wanted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        self.slot_for(&self.realm_for(account))
            .lookup(
                &self.cache,
                Some(&account.home_account_id),
                &wanted,
                None,
                self.clock.now(),
            )
            .await
    }

    pub(crate) async fn store(
        &self,
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
        self.slot_for(self.authority().realm())
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

/// `uid.utid` from the response's `client_info`.
fn home_account_id(response: &TokenResponse) -> Option<String> {
    use base64::Engine;
    let info = response.raw.get("client_info")?.as_str()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(info.trim_end_matches('='))
        .ok()?;
    let info: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(format!(
        "{}.{}",
        info["uid"].as_str()?,
        info["utid"].as_str()?
    ))
}
