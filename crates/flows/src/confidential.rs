//! [`ConfidentialClient`]: app tokens (client credentials) for a client that can keep a
//! secret, cached in the MSAL-compatible token cache.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokenhop_cache::entry::F;
use tokenhop_cache::{AccessTokenLookup, AccessTokenQuery, SharedTokenCache, TokenEvent, keys};
use tokenhop_core::{
    AccessToken, BoxFuture, ClientId, Clock, Error, KeyedLocks, Result, Scopes, SystemClock,
    TokenCredential, TokenRequestOptions, epoch_seconds, from_epoch_seconds,
};

use crate::authority::Authority;
use crate::client_auth::{AssertionContext, ClientCredential};
use crate::endpoint::TokenEndpoint;
use crate::http::{Form, HttpClient, HttpConfig};
use crate::response::TokenResponse;

/// Builds a [`ConfidentialClient`]. Building does no I/O.
#[derive(Debug)]
pub struct ConfidentialClientBuilder {
    client_id: ClientId,
    authority: Authority,
    credential: ClientCredential,
    cache: Option<SharedTokenCache>,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
}

impl ConfidentialClientBuilder {
    /// Keeps tokens in `cache` (default: a cache in memory).
    pub fn cache(mut self, cache: SharedTokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Sends requests through `http` (to share its pool, CA and retry settings).
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Uses `clock` for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The client.
    pub fn build(self) -> Result<ConfidentialClient> {
        let http = match self.http {
            Some(http) => http,
            None => HttpClient::new(HttpConfig::default())?,
        };
        Ok(ConfidentialClient {
            client_id: self.client_id,
            endpoint: TokenEndpoint::new(self.authority, http),
            credential: self.credential,
            cache: self.cache.unwrap_or_else(SharedTokenCache::in_memory),
            flights: KeyedLocks::new(),
            clock: self.clock,
        })
    }
}

/// A confidential client: it authenticates with a secret or an assertion and gets app
/// tokens for resources. Tokens live in the token cache under MSAL's keys; a cached
/// token is returned without any network I/O (not even discovery); concurrent misses
/// for the same token make one request.
pub struct ConfidentialClient {
    client_id: ClientId,
    endpoint: TokenEndpoint,
    credential: ClientCredential,
    cache: SharedTokenCache,
    flights: KeyedLocks<String>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ConfidentialClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidentialClient")
            .field("client_id", &self.client_id)
            .field("authority", self.endpoint.authority())
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// One app-token request: which scopes, which extra fields, which hop of a chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct AppTokenRequest<'a> {
    pub scopes: Option<&'a Scopes>,
    pub extra_fields: Vec<(String, String)>,
    pub hop: Option<u8>,
    pub force_refresh: bool,
}

impl ConfidentialClient {
    /// A builder for `client_id` at `authority`, authenticating with `credential`.
    pub fn builder(
        client_id: ClientId,
        authority: Authority,
        credential: ClientCredential,
    ) -> ConfidentialClientBuilder {
        ConfidentialClientBuilder {
            client_id,
            authority,
            credential,
            cache: None,
            http: None,
            clock: Arc::new(SystemClock),
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

    /// An app token for `scopes` (a resource's `/.default`) by the client-credentials grant.
    pub async fn acquire_token_for_client(
        &self,
        scopes: &Scopes,
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        let request = AppTokenRequest {
            scopes: Some(scopes),
            force_refresh: options.force_refresh,
            ..AppTokenRequest::default()
        };
        self.app_token(&request).await
    }

    pub(crate) async fn app_token(&self, request: &AppTokenRequest<'_>) -> Result<AccessToken> {
        let scopes = request
            .scopes
            .ok_or_else(|| Error::configuration("a token request needs scopes"))?;
        let ext = keys::ext_cache_key(
            request
                .extra_fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if !request.force_refresh
            && let Some(token) = self.cached(scopes, ext.as_deref()).await?
        {
            return Ok(token);
        }
        let flight = format!(
            "{}|{}|{}",
            scopes.to_space_separated(),
            ext.as_deref().unwrap_or_default(),
            request.force_refresh
        );
        let _guard = self.flights.lock(&flight).await;
        if !request.force_refresh
            && let Some(token) = self.cached(scopes, ext.as_deref()).await?
        {
            return Ok(token);
        }
        let mut form = Form::new()
            .field("grant_type", "client_credentials")
            .field("client_id", self.client_id.as_str())
            .field("scope", scopes.to_space_separated());
        for (name, value) in &request.extra_fields {
            form = form.field(name, value.as_str());
        }
        let token_url = self.endpoint.endpoints().await?.token.to_string();
        let context = AssertionContext {
            client_id: self.client_id.to_string(),
            token_endpoint: token_url,
        };
        let form = self.credential.authenticate(form, &context).await?;
        let response = self.endpoint.request_token(&form, &[], request.hop).await?;
        self.store(
            "client_credentials",
            scopes,
            &response,
            &request.extra_fields,
        )
        .await
    }

    /// The cached token, if it is good for at least the cache's margin and not due
    /// for refresh.
    async fn cached(&self, scopes: &Scopes, ext: Option<&str>) -> Result<Option<AccessToken>> {
        self.ensure_cache_loaded().await?;
        let authority = self.endpoint.authority();
        let environment = authority.environment();
        let wanted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let now = epoch_seconds(self.clock.now());
        self.cache.read(|cache| {
            let query = AccessTokenQuery {
                home_account_id: None,
                environment: &environment,
                client_id: self.client_id.as_str(),
                realm: authority.realm(),
                scopes: &wanted,
                ext_cache_key: ext,
            };
            match cache.find_access_token(&query, now) {
                AccessTokenLookup::Hit(entry) => Some(access_token_from(entry)),
                AccessTokenLookup::Aging(_) | AccessTokenLookup::Miss => None,
            }
        })
    }

    async fn ensure_cache_loaded(&self) -> Result<()> {
        if self.cache.is_loaded() {
            return Ok(());
        }
        let cache = self.cache.clone();
        tokio::task::spawn_blocking(move || cache.read(|_| ()))
            .await
            .map_err(|e| Error::Cancelled {
                reason: format!("loading the token cache failed: {e}"),
            })?
    }

    async fn store(
        &self,
        grant_type: &'static str,
        scopes: &Scopes,
        response: &TokenResponse,
        extra: &[(String, String)],
    ) -> Result<AccessToken> {
        let now = self.clock.now();
        let granted: Vec<String> = match &response.scope {
            Some(scope) if !scope.trim().is_empty() => {
                scope.split_whitespace().map(str::to_owned).collect()
            }
            _ => scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        };
        let authority = self.endpoint.authority();
        let (environment, realm, client_id) = (
            authority.environment(),
            authority.realm().to_owned(),
            self.client_id.to_string(),
        );
        let raw = response.raw.clone();
        let extra = extra.to_vec();
        let cache = self.cache.clone();
        tokio::task::spawn_blocking(move || {
            let granted: Vec<&str> = granted.iter().map(String::as_str).collect();
            let extra: Vec<(&str, &str)> = extra
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            cache.write(|c| {
                c.add(&TokenEvent {
                    client_id: &client_id,
                    environment: &environment,
                    realm: &realm,
                    scopes: &granted,
                    grant_type,
                    response: &raw,
                    extra_fields: &extra,
                    now: epoch_seconds(now),
                });
            })
        })
        .await
        .map_err(|e| Error::Cancelled {
            reason: format!("saving the token cache failed: {e}"),
        })??;
        let granted_scopes = response
            .scope
            .as_deref()
            .and_then(|s| Scopes::parse(s).ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| scopes.clone());
        let mut token = AccessToken::new(
            response.access_token.clone(),
            now + Duration::from_secs(response.expires_in),
        )
        .with_scopes(granted_scopes);
        token.token_type.clone_from(&response.token_type);
        if let Some(refresh_in) = response.refresh_in {
            token = token.with_refresh_on(now + Duration::from_secs(refresh_in));
        }
        Ok(token)
    }
}

fn access_token_from(entry: &tokenhop_cache::entry::Entry) -> AccessToken {
    let expires_on = entry
        .get_u64(F::ExpiresOn)
        .map(from_epoch_seconds)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut token = AccessToken::new(entry.get(F::Secret).unwrap_or_default(), expires_on)
        .with_scopes(Scopes::parse(entry.get(F::Target).unwrap_or_default()).unwrap_or_default());
    token.token_type = entry.get(F::TokenType).unwrap_or("Bearer").to_owned();
    if let Some(refresh_on) = entry.get_u64(F::RefreshOn) {
        token = token.with_refresh_on(from_epoch_seconds(refresh_on));
    }
    token
}

impl TokenCredential for ConfidentialClient {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.acquire_token_for_client(scopes, options))
    }
}
