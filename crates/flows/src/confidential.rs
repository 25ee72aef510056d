//! [`ConfidentialClient`]: app tokens (client credentials) for a client that can keep a
//! secret, cached in the MSAL-compatible token cache.

use std::fmt;
use std::sync::Arc;

use tokenhop_cache::{SharedTokenCache, keys};
use tokenhop_core::{
    AccessToken, BoxFuture, Cached, ClientId, Clock, Result, Scopes, SystemClock, TenantId,
    TokenCredential, TokenFlights, TokenRequestOptions,
};

use crate::authority::Authority;
use crate::cache_slot::{CacheSlot, access_token_for};
use crate::claims::{checked_capabilities, with_claims};
use crate::client_auth::{AssertionContext, ClientCredential};
use crate::endpoint::TokenEndpoint;
use crate::http::{Form, HttpClient};
use crate::response::TokenResponse;
use crate::tenants::{AllowedTenants, TenantEndpoints};

/// Builds a [`ConfidentialClient`]. Building does no I/O.
#[derive(Debug)]
pub struct ConfidentialClientBuilder {
    client_id: ClientId,
    authority: Authority,
    credential: ClientCredential,
    cache: Option<SharedTokenCache>,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
    client_capabilities: Vec<String>,
    allowed_tenants: Vec<String>,
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

    /// Declares client capabilities (`cp1`: the client handles claims challenges, so
    /// CAE-capable resources give it long-lived tokens they revoke in near real time).
    /// Sent as `xms_cc` in the `claims` of every token request, as MSAL sends them.
    pub fn client_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Tenants besides the authority's own that a request may name in
    /// [`TokenRequestOptions::tenant_id`] (ids or domains; `*` for any), as the Azure
    /// SDKs' `additionally_allowed_tenants`. Any other tenant is refused.
    pub fn additionally_allowed_tenants(
        mut self,
        tenants: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// The client; an invalid capability or tenant is [`tokenhop_core::Error::Configuration`].
    pub fn build(self) -> Result<ConfidentialClient> {
        let http = HttpClient::given_or_default(self.http)?;
        let cache = self.cache.unwrap_or_else(SharedTokenCache::in_memory);
        let flights = slot_of(&self.authority, &self.client_id).flights(&cache);
        Ok(ConfidentialClient {
            client_id: self.client_id,
            endpoints: TenantEndpoints::new(
                self.authority,
                http,
                AllowedTenants::new(self.allowed_tenants)?,
            ),
            credential: self.credential,
            cache,
            flights,
            clock: self.clock,
            capabilities: checked_capabilities(self.client_capabilities)?,
        })
    }
}

/// A confidential client: it authenticates with a secret or an assertion and gets app
/// tokens for resources (and, with [`crate::OnBehalfOfCredential`], tokens on behalf of
/// a user). Tokens live in the token cache under MSAL's keys; a cached token is
/// returned without any network I/O (not even discovery); concurrent misses for the
/// same token make one request and share its outcome; a token past `refresh_on` is
/// refreshed by one caller, and served when that refresh fails.
///
/// [`TokenRequestOptions`] are honoured: `claims` bypasses the cache and is sent (with
/// the client capabilities merged in), its token stored; `tenant_id` sends the request
/// to that tenant (if allowed) and caches its token under that tenant's realm.
pub struct ConfidentialClient {
    client_id: ClientId,
    endpoints: TenantEndpoints,
    credential: ClientCredential,
    cache: SharedTokenCache,
    flights: TokenFlights<String>,
    clock: Arc<dyn Clock>,
    capabilities: Vec<String>,
}

impl fmt::Debug for ConfidentialClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidentialClient")
            .field("client_id", &self.client_id)
            .field("authority", self.authority())
            .field("credential", &self.credential)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

/// One app-token request: which scopes, which extra fields, which hop of a chain, and
/// the request's options.
#[derive(Clone, Debug)]
pub(crate) struct AppTokenRequest<'a> {
    pub scopes: &'a Scopes,
    pub extra_fields: Vec<(String, String)>,
    pub hop: Option<u8>,
    pub force_refresh: bool,
    /// A claims challenge: bypasses the cache and goes to the token endpoint.
    pub claims: Option<&'a str>,
    /// Another tenant than the client's own.
    pub tenant: Option<&'a TenantId>,
}

impl<'a> AppTokenRequest<'a> {
    /// A request for `scopes` with `options`, no extra fields, no hop.
    pub(crate) fn new(scopes: &'a Scopes, options: &'a TokenRequestOptions) -> Self {
        Self {
            scopes,
            extra_fields: Vec::new(),
            hop: None,
            force_refresh: options.force_refresh,
            claims: options.claims.as_deref(),
            tenant: options.tenant_id.as_ref(),
        }
    }

    /// The same request as hop `hop` of a chain.
    pub(crate) fn hop(mut self, hop: u8) -> Self {
        self.hop = Some(hop);
        self
    }
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

    /// An app token for `scopes` (a resource's `/.default`) by the client-credentials grant.
    pub async fn acquire_token_for_client(
        &self,
        scopes: &Scopes,
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        self.app_token(&AppTokenRequest::new(scopes, options)).await
    }

    pub(crate) async fn app_token(&self, request: &AppTokenRequest<'_>) -> Result<AccessToken> {
        let scopes = request.scopes;
        let endpoint = self.endpoint(request.tenant)?;
        let ext = keys::ext_cache_key(
            request
                .extra_fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let flight = flight_key(
            "app",
            &endpoint,
            &format!("{scopes}|{}", ext.as_deref().unwrap_or_default()),
            request.claims,
        );
        self.flights
            .acquire(
                flight,
                request.force_refresh || request.claims.is_some(),
                || self.cached(&endpoint, None, scopes, ext.as_deref()),
                || async {
                    let mut form = Form::new()
                        .field("grant_type", "client_credentials")
                        .field("client_id", self.client_id.as_str())
                        .field("scope", scopes.to_space_separated());
                    for (name, value) in &request.extra_fields {
                        form = form.field(name, value.as_str());
                    }
                    let form = self.with_claims(form, request.claims)?;
                    let response = self
                        .post_authenticated(&endpoint, form, &[], request.hop)
                        .await?;
                    self.store(
                        &endpoint,
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

    /// The token endpoint of `tenant` (none: the client's own), if the client may go there.
    pub(crate) fn endpoint(&self, tenant: Option<&TenantId>) -> Result<Arc<TokenEndpoint>> {
        self.endpoints.for_tenant(tenant)
    }

    /// `form` with the `claims` this client sends for `challenge` (its capabilities
    /// merged in).
    pub(crate) fn with_claims(&self, form: Form, challenge: Option<&str>) -> Result<Form> {
        with_claims(form, &self.capabilities, challenge)
    }

    /// Adds the client's credential to `form` and posts it to `endpoint`.
    pub(crate) async fn post_authenticated(
        &self,
        endpoint: &TokenEndpoint,
        form: Form,
        headers: &[(&str, &str)],
        hop: Option<u8>,
    ) -> Result<TokenResponse> {
        let endpoints = endpoint.endpoints().await?;
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
                endpoint.request_token(&form, &with_basic, hop).await
            }
            None => endpoint.request_token(&form, headers, hop).await,
        }
    }

    /// The single-flight mechanism of this client's requests, for the flows built on it
    /// (on-behalf-of, the agent user's hop 3).
    pub(crate) fn flights(&self) -> &TokenFlights<String> {
        &self.flights
    }

    fn slot(&self, endpoint: &TokenEndpoint) -> CacheSlot {
        slot_of(endpoint.authority(), &self.client_id)
    }

    /// What the cache holds for the request to `endpoint` (see [`CacheSlot::lookup`]).
    pub(crate) async fn cached(
        &self,
        endpoint: &TokenEndpoint,
        home_account_id: Option<&str>,
        scopes: &Scopes,
        ext: Option<&str>,
    ) -> Result<Cached> {
        let wanted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        self.slot(endpoint)
            .lookup(&self.cache, home_account_id, &wanted, ext, self.clock.now())
            .await
    }

    /// Stores `endpoint`'s response in the cache, under that tenant's realm.
    pub(crate) async fn store(
        &self,
        endpoint: &TokenEndpoint,
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
        self.slot(endpoint)
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

/// The flight of a request: its kind, the tenant's realm, what identifies the token,
/// and a claims challenge (requests with different claims never share a flight).
pub(crate) fn flight_key(
    kind: &str,
    endpoint: &TokenEndpoint,
    token: &str,
    claims: Option<&str>,
) -> String {
    format!(
        "{kind}|{}|{token}|{}",
        endpoint.authority().realm().to_ascii_lowercase(),
        claims.unwrap_or_default()
    )
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
