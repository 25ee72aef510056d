//! [`ConfidentialClient`]: app tokens (client credentials) for a client that can keep a
//! secret, cached in the MSAL-compatible token cache.

use std::fmt;
use std::sync::Arc;

use tokenhop_cache::{SharedTokenCache, keys};
use tokenhop_core::{
    AccessToken, BoxFuture, Cached, ClientId, Clock, Result, Scopes, SystemClock, TokenCredential,
    TokenFlights, TokenRequestOptions,
};

use crate::authority::Authority;
use crate::cache_slot::{CacheSlot, access_token_for};
use crate::client_auth::{AssertionContext, ClientCredential};
use crate::endpoint::TokenEndpoint;
use crate::http::{Form, HttpClient};
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
        let http = HttpClient::given_or_default(self.http)?;
        let cache = self.cache.unwrap_or_else(SharedTokenCache::in_memory);
        let flights = slot_of(&self.authority, &self.client_id).flights(&cache);
        Ok(ConfidentialClient {
            client_id: self.client_id,
            endpoint: TokenEndpoint::new(self.authority, http),
            credential: self.credential,
            cache,
            flights,
            clock: self.clock,
        })
    }
}

/// A confidential client: it authenticates with a secret or an assertion and gets app
/// tokens for resources (and, with [`crate::OnBehalfOfCredential`], tokens on behalf of
/// a user). Tokens live in the token cache under MSAL's keys; a cached token is
/// returned without any network I/O (not even discovery); concurrent misses for the
/// same token make one request and share its outcome; a token past `refresh_on` is
/// refreshed by one caller, and served when that refresh fails.
pub struct ConfidentialClient {
    client_id: ClientId,
    endpoint: TokenEndpoint,
    credential: ClientCredential,
    cache: SharedTokenCache,
    flights: TokenFlights<String>,
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
#[derive(Clone, Debug)]
pub(crate) struct AppTokenRequest<'a> {
    pub scopes: &'a Scopes,
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

    /// The authority.
    pub fn authority(&self) -> &Authority {
        self.endpoint.authority()
    }

    /// An app token for `scopes` (a resource's `/.default`) by the client-credentials grant.
    pub async fn acquire_token_for_client(
        &self,
        scopes: &Scopes,
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        let request = AppTokenRequest {
            scopes,
            extra_fields: Vec::new(),
            hop: None,
            force_refresh: options.force_refresh,
        };
        self.app_token(&request).await
    }

    pub(crate) async fn app_token(&self, request: &AppTokenRequest<'_>) -> Result<AccessToken> {
        let scopes = request.scopes;
        let ext = keys::ext_cache_key(
            request
                .extra_fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let flight = format!(
            "app|{}|{}",
            scopes.to_space_separated(),
            ext.as_deref().unwrap_or_default()
        );
        self.flights
            .acquire(
                flight,
                request.force_refresh,
                || self.cached(None, scopes, ext.as_deref()),
                || async {
                    let mut form = Form::new()
                        .field("grant_type", "client_credentials")
                        .field("client_id", self.client_id.as_str())
                        .field("scope", scopes.to_space_separated());
                    for (name, value) in &request.extra_fields {
                        form = form.field(name, value.as_str());
                    }
                    let response = self.post_authenticated(form, &[], request.hop).await?;
                    self.store(
                        "client_credentials",
                        scopes,
                        &response,
                        &request.extra_fields,
                    )
                    .await
                },
            )
            .await
    }

    /// Adds the client's credential to `form` and posts it to the token endpoint.
    pub(crate) async fn post_authenticated(
        &self,
        form: Form,
        headers: &[(&str, &str)],
        hop: Option<u8>,
    ) -> Result<TokenResponse> {
        let endpoints = self.endpoint.endpoints().await?;
        let context = AssertionContext {
            client_id: self.client_id.to_string(),
            token_endpoint: endpoints.token.to_string(),
        };
        let (form, basic) = self
            .credential
            .authenticate(form, &context, &endpoints.token_auth_methods)
            .await?;
        match basic {
            Some(authorization) => {
                let mut with_basic = headers.to_vec();
                with_basic.push(("Authorization", authorization.expose_secret()));
                self.endpoint.request_token(&form, &with_basic, hop).await
            }
            None => self.endpoint.request_token(&form, headers, hop).await,
        }
    }

    /// The single-flight mechanism of this client's requests, for the flows built on it
    /// (on-behalf-of, the agent user's hop 3).
    pub(crate) fn flights(&self) -> &TokenFlights<String> {
        &self.flights
    }

    fn slot(&self) -> CacheSlot {
        slot_of(self.endpoint.authority(), &self.client_id)
    }

    /// What the cache holds for the request (see [`CacheSlot::lookup`]).
    pub(crate) async fn cached(
        &self,
        home_account_id: Option<&str>,
        scopes: &Scopes,
        ext: Option<&str>,
    ) -> Result<Cached> {
        let wanted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        self.slot()
            .lookup(&self.cache, home_account_id, &wanted, ext, self.clock.now())
            .await
    }

    pub(crate) async fn store(
        &self,
        grant_type: &'static str,
        scopes: &Scopes,
        response: &TokenResponse,
        extra: &[(String, String)],
    ) -> Result<AccessToken> {
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
        self.slot()
            .store(
                &self.cache,
                grant_type,
                granted,
                response.raw.clone(),
                extra.to_vec(),
                now,
            )
            .await?;
        Ok(access_token_for(
            response.access_token.clone(),
            &response.token_type,
            response.expires_in,
            response.refresh_in,
            granted_scopes,
            now,
        ))
    }
}

/// Where a client's tokens live in the cache.
fn slot_of(authority: &Authority, client_id: &ClientId) -> CacheSlot {
    CacheSlot {
        environment: authority.environment(),
        realm: authority.realm().to_owned(),
        client_id: client_id.to_string(),
    }
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
