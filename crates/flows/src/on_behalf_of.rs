//! On-behalf-of: a middle-tier API exchanges the user token it received for a token to
//! a downstream resource, for the same user.
//!
//! Unlike MSAL, tokens are cached per incoming assertion (under an extended key that
//! hashes it), so a second call with the same incoming token makes no request, and a
//! different incoming token never gets a token minted for another one.

use std::fmt;
use std::sync::Arc;

use sha2::Digest;
use tokenhop_cache::{SharedTokenCache, keys};
use tokenhop_core::{
    AccessToken, BoxFuture, Cached, ClientId, Clock, Result, Scopes, Secret, TokenCredential,
    TokenRequestOptions,
};

use crate::authority::Authority;
use crate::client_auth::ClientCredential;
use crate::confidential::{ConfidentialClient, ConfidentialClientBuilder, flight_key};
use crate::http::{Form, HttpClient};
use crate::oidc_scopes::with_oidc_scopes;
use crate::unverified_jwt::unverified_claims;

const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The extra field that keys the cache entry by incoming assertion (never sent).
const ASSERTION_KEY_FIELD: &str = "obo_assertion_sha256";

impl ConfidentialClient {
    /// A token for `scopes` on behalf of the user whose token `user_assertion` is;
    /// `options` as [`ConfidentialClient`] honours them (a claims challenge from the
    /// downstream API goes to the token endpoint; another tenant, if allowed).
    pub async fn acquire_token_on_behalf_of(
        &self,
        user_assertion: &Secret,
        scopes: &Scopes,
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        let assertion = user_assertion.expose_secret();
        let digest = sha2::Sha256::digest(assertion.as_bytes());
        let digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let extra = vec![(ASSERTION_KEY_FIELD.to_owned(), digest)];
        let ext = keys::ext_cache_key(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // The response's client_info is `{oid}.{tid}` of the incoming token's user, so
        // the account is known before the request.
        let home_account_id = unverified_claims(assertion).ok().and_then(|claims| {
            Some(format!(
                "{}.{}",
                claims["oid"].as_str()?,
                claims["tid"].as_str()?
            ))
        });
        let endpoint = self.endpoint(options.tenant_id.as_ref())?;
        let claims = options.claims.as_deref();
        let flight = flight_key(
            "obo",
            &endpoint,
            &format!("{scopes}|{}", ext.as_deref().unwrap_or_default()),
            claims,
        );
        self.flights()
            .acquire(
                flight,
                options.force_refresh || claims.is_some(),
                || async {
                    match &home_account_id {
                        Some(home) => {
                            self.cached(&endpoint, Some(home), scopes, ext.as_deref())
                                .await
                        }
                        None => Ok(Cached::Missing),
                    }
                },
                || async {
                    let form = Form::new()
                        .field("grant_type", JWT_BEARER_GRANT)
                        .field("client_id", self.client_id().as_str())
                        .secret("assertion", user_assertion)
                        .field("requested_token_use", "on_behalf_of")
                        .field("scope", with_oidc_scopes(scopes))
                        .field("client_info", "1");
                    let form = self.with_claims(form, claims)?;
                    let response = self.post_authenticated(&endpoint, form, &[], None).await?;
                    self.store(&endpoint, JWT_BEARER_GRANT, scopes, &response, &extra)
                        .await
                },
            )
            .await
    }
}

/// Builds an [`OnBehalfOfCredential`]. Building does no I/O.
#[derive(Debug)]
pub struct OnBehalfOfCredentialBuilder {
    client: ConfidentialClientBuilder,
    user_assertion: Secret,
}

impl OnBehalfOfCredentialBuilder {
    /// Keeps tokens in `cache` (default: a cache in memory).
    pub fn cache(mut self, cache: SharedTokenCache) -> Self {
        self.client = self.client.cache(cache);
        self
    }

    /// Sends requests through `http`.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.client = self.client.http(http);
        self
    }

    /// Uses `clock` for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.client = self.client.clock(clock);
        self
    }

    /// The middle tier's client capabilities (see
    /// [`ConfidentialClientBuilder::client_capabilities`]).
    pub fn client_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client = self.client.client_capabilities(capabilities);
        self
    }

    /// Tenants besides its own the middle tier may ask in (see
    /// [`ConfidentialClientBuilder::additionally_allowed_tenants`]).
    pub fn additionally_allowed_tenants(
        mut self,
        tenants: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client = self.client.additionally_allowed_tenants(tenants);
        self
    }

    /// The credential.
    pub fn build(self) -> Result<OnBehalfOfCredential> {
        Ok(OnBehalfOfCredential {
            client: self.client.build()?,
            user_assertion: self.user_assertion,
        })
    }
}

/// A middle tier's tokens on behalf of the user of one incoming token, as a
/// [`TokenCredential`]: the middle tier authenticates as itself (secret or
/// certificate) and exchanges `user_assertion` (the token its caller sent) by the
/// on-behalf-of grant. Tokens are cached per incoming token.
pub struct OnBehalfOfCredential {
    client: ConfidentialClient,
    user_assertion: Secret,
}

impl fmt::Debug for OnBehalfOfCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnBehalfOfCredential")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl OnBehalfOfCredential {
    /// A builder for the middle tier `client_id` at `authority`, authenticating with
    /// `credential`, on behalf of the user whose token is `user_assertion`.
    pub fn builder(
        client_id: ClientId,
        authority: Authority,
        credential: ClientCredential,
        user_assertion: Secret,
    ) -> OnBehalfOfCredentialBuilder {
        OnBehalfOfCredentialBuilder {
            client: ConfidentialClient::builder(client_id, authority, credential),
            user_assertion,
        }
    }

    /// The middle tier's client.
    pub fn client(&self) -> &ConfidentialClient {
        &self.client
    }
}

impl TokenCredential for OnBehalfOfCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(
            self.client
                .acquire_token_on_behalf_of(&self.user_assertion, scopes, options),
        )
    }
}
