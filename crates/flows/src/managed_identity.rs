//! Managed identity: Azure VM (IMDS) and App Service / Functions, detected from the
//! environment as MSAL detects them.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, Clock, Error, Result, Scopes, Secret, SystemClock, TokenCredential,
    TokenFlights, TokenRequestOptions, epoch_seconds,
};
use url::Url;

use crate::cache_slot::{CacheSlot, access_token_for};
use crate::http::{HttpClient, loggable};
use crate::response::{MAX_LIFETIME_SECS, json_object, number_field, oauth_error, string_field};

const IMDS_DEFAULT_HOST: &str = "http://169.254.169.254";

/// Which managed identity to use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentityId {
    /// The host's system-assigned identity.
    #[default]
    SystemAssigned,
    /// A user-assigned identity by client id.
    ClientId(String),
    /// A user-assigned identity by object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by ARM resource id.
    ResourceId(String),
}

impl ManagedIdentityId {
    /// The id MSAL files the identity's tokens under in the cache.
    pub(crate) fn cache_client_id(&self) -> &str {
        match self {
            Self::SystemAssigned => "SYSTEM_ASSIGNED_MANAGED_IDENTITY",
            Self::ClientId(id) | Self::ObjectId(id) | Self::ResourceId(id) => id,
        }
    }
}

/// Where managed identity tokens come from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// The VM's Instance Metadata Service.
    Imds {
        /// `…/metadata/identity/oauth2/token`.
        endpoint: Url,
    },
    /// App Service and Functions (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
    AppService {
        /// `IDENTITY_ENDPOINT`.
        endpoint: Url,
        /// `IDENTITY_HEADER`, sent as `X-IDENTITY-HEADER`.
        header: Secret,
    },
}

impl fmt::Debug for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Imds { endpoint } => f
                .debug_struct("Imds")
                .field("endpoint", &endpoint.as_str())
                .finish(),
            Self::AppService { endpoint, header } => f
                .debug_struct("AppService")
                .field("endpoint", &endpoint.as_str())
                .field("header", header)
                .finish(),
        }
    }
}

impl ManagedIdentitySource {
    /// Detects the source from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Detects the source from variables `lookup` returns: App Service when
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set, otherwise IMDS at
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` (default `http://169.254.169.254`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        if let (Some(endpoint), Some(header)) =
            (lookup("IDENTITY_ENDPOINT"), lookup("IDENTITY_HEADER"))
        {
            let endpoint = Url::parse(&endpoint).map_err(|e| {
                Error::configuration(format!("IDENTITY_ENDPOINT {endpoint:?} is not a URL: {e}"))
            })?;
            return Ok(Self::AppService {
                endpoint,
                header: Secret::new(header),
            });
        }
        let host = lookup("AZURE_POD_IDENTITY_AUTHORITY_HOST")
            .unwrap_or_else(|| IMDS_DEFAULT_HOST.to_owned());
        let endpoint = format!(
            "{}/metadata/identity/oauth2/token",
            host.trim().trim_end_matches('/')
        );
        let endpoint = Url::parse(&endpoint).map_err(|e| {
            Error::configuration(format!(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST {host:?} does not make a URL: {e}"
            ))
        })?;
        Ok(Self::Imds { endpoint })
    }
}

/// A managed identity token, normalised from either source's answer.
#[derive(Clone)]
struct ManagedIdentityToken {
    access_token: Secret,
    /// Seconds until it expires.
    expires_in: u64,
    token_type: String,
}

impl fmt::Debug for ManagedIdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityToken")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// The resource a managed identity token is asked for: one scope, `/.default` dropped.
fn resource_for(scopes: &Scopes) -> Result<String> {
    let mut iter = scopes.iter();
    match (iter.next(), iter.next()) {
        (Some(scope), None) => Ok(scope.as_str().trim_end_matches("/.default").to_owned()),
        _ => Err(Error::configuration(format!(
            "managed identity takes exactly one scope (a resource's /.default), not {:?}",
            scopes.to_space_separated()
        ))),
    }
}

/// Asks the source for a token for `resource`. `now` (epoch seconds) turns App Service's
/// `expires_on` into seconds left.
async fn request_token(
    http: &HttpClient,
    source: &ManagedIdentitySource,
    id: &ManagedIdentityId,
    resource: &str,
    now: u64,
) -> Result<ManagedIdentityToken> {
    let (mut url, api_version, resource_id_param) = match source {
        ManagedIdentitySource::Imds { endpoint } => (endpoint.clone(), "2018-02-01", "msi_res_id"),
        ManagedIdentitySource::AppService { endpoint, .. } => {
            (endpoint.clone(), "2019-08-01", "mi_res_id")
        }
    };
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("api-version", api_version)
            .append_pair("resource", resource);
        match id {
            ManagedIdentityId::SystemAssigned => {}
            ManagedIdentityId::ClientId(v) => {
                query.append_pair("client_id", v);
            }
            ManagedIdentityId::ObjectId(v) => {
                query.append_pair("object_id", v);
            }
            ManagedIdentityId::ResourceId(v) => {
                query.append_pair(resource_id_param, v);
            }
        }
    }
    let response = match source {
        ManagedIdentitySource::Imds { .. } => http.get(&url, &[("Metadata", "true")]).await?,
        ManagedIdentitySource::AppService { header, .. } => {
            http.get(
                &url,
                &[
                    ("X-IDENTITY-HEADER", header.expose_secret()),
                    ("Metadata", "true"),
                ],
            )
            .await?
        }
    };
    let endpoint = loggable(&url);
    let object = json_object(&response, &endpoint)?;
    if let Some(error) = oauth_error(&object, None) {
        return Err(error);
    }
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => Secret::new(token.as_str()),
        _ => {
            let message = string_field(&object, "message").unwrap_or_default();
            return Err(Error::InvalidResponse {
                endpoint,
                reason: format!("HTTP {} without an access_token {message}", response.status),
            });
        }
    };
    let expires_in = number_field(&object, "expires_in")
        .or_else(|| number_field(&object, "expires_on").map(|on| on.saturating_sub(now)))
        .ok_or_else(|| Error::InvalidResponse {
            endpoint: endpoint.clone(),
            reason: "neither expires_in nor expires_on in the response".into(),
        })?;
    Ok(ManagedIdentityToken {
        access_token,
        expires_in: expires_in.min(MAX_LIFETIME_SECS),
        token_type: string_field(&object, "token_type").unwrap_or_else(|| "Bearer".into()),
    })
}

/// Builds a [`ManagedIdentityCredential`]. Building does no I/O.
#[derive(Debug)]
pub struct ManagedIdentityCredentialBuilder {
    source: ManagedIdentitySource,
    id: ManagedIdentityId,
    http: Option<HttpClient>,
    cache: Option<SharedTokenCache>,
    clock: Arc<dyn Clock>,
}

impl ManagedIdentityCredentialBuilder {
    /// Sends requests through `http`.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Keeps tokens in `cache` (default: a cache in memory).
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
    pub fn build(self) -> Result<ManagedIdentityCredential> {
        Ok(ManagedIdentityCredential {
            source: self.source,
            id: self.id,
            http: HttpClient::given_or_default(self.http)?,
            cache: self.cache.unwrap_or_else(SharedTokenCache::in_memory),
            clock: self.clock,
            flights: TokenFlights::new(),
        })
    }
}

/// Managed identity as a [`TokenCredential`]: tokens from IMDS or App Service, cached
/// where MSAL caches them (environment `localhost`, realm `managed_identity`, client id
/// the identity's or `SYSTEM_ASSIGNED_MANAGED_IDENTITY`). Constructing it does no I/O.
pub struct ManagedIdentityCredential {
    source: ManagedIdentitySource,
    id: ManagedIdentityId,
    http: HttpClient,
    cache: SharedTokenCache,
    clock: Arc<dyn Clock>,
    flights: TokenFlights<String>,
}

impl fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityCredential")
            .field("source", &self.source)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ManagedIdentityCredential {
    /// A builder for the identity `id` at `source` (see
    /// [`ManagedIdentitySource::from_env`]).
    pub fn builder(
        source: ManagedIdentitySource,
        id: ManagedIdentityId,
    ) -> ManagedIdentityCredentialBuilder {
        ManagedIdentityCredentialBuilder {
            source,
            id,
            http: None,
            cache: None,
            clock: Arc::new(SystemClock),
        }
    }

    fn slot(&self) -> CacheSlot {
        CacheSlot {
            environment: "localhost".into(),
            realm: "managed_identity".into(),
            client_id: self.id.cache_client_id().to_owned(),
        }
    }

    async fn token(&self, scopes: &Scopes, force_refresh: bool) -> Result<AccessToken> {
        let resource = resource_for(scopes)?;
        let target = [resource.as_str()];
        let slot = self.slot();
        self.flights
            .acquire(
                resource.clone(),
                force_refresh,
                || slot.lookup(&self.cache, None, &target, None, self.clock.now()),
                || self.fetch(&resource),
            )
            .await
    }

    async fn fetch(&self, resource: &str) -> Result<AccessToken> {
        let now = self.clock.now();
        let token = request_token(
            &self.http,
            &self.source,
            &self.id,
            resource,
            epoch_seconds(now),
        )
        .await?;
        // MSAL refreshes long-lived managed identity tokens at half their life.
        let refresh_in = (token.expires_in >= 7200).then_some(token.expires_in / 2);
        let mut response = serde_json::Map::new();
        response.insert(
            "access_token".into(),
            token.access_token.expose_secret().into(),
        );
        response.insert("expires_in".into(), token.expires_in.into());
        response.insert("token_type".into(), token.token_type.clone().into());
        if let Some(refresh_in) = refresh_in {
            response.insert("refresh_in".into(), refresh_in.into());
        }
        self.slot()
            .store(
                &self.cache,
                "",
                vec![resource.to_owned()],
                response,
                Vec::new(),
                now,
            )
            .await?;
        Ok(access_token_for(
            token.access_token,
            &token.token_type,
            token.expires_in,
            refresh_in,
            Scopes::new([resource])?,
            now,
        ))
    }
}

impl TokenCredential for ManagedIdentityCredential {
    /// A claims challenge cannot be sent to IMDS or App Service: it bypasses the cache
    /// (a new token, as MSAL does). Another tenant is refused: a managed identity lives
    /// in one.
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            if let Some(tenant) = &options.tenant_id {
                return Err(Error::configuration(format!(
                    "tenant_id {tenant}: a managed identity gets tokens in its own tenant only"
                )));
            }
            self.token(scopes, options.force_refresh || options.claims.is_some())
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn detects_app_service_first_then_imds() {
        let app = ManagedIdentitySource::from_lookup(lookup(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"),
            ("IDENTITY_HEADER", "header-secret-77"),
        ]))
        .unwrap();
        assert!(matches!(app, ManagedIdentitySource::AppService { .. }));
        assert!(!format!("{app:?}").contains("header-secret-77"));

        let imds = ManagedIdentitySource::from_lookup(lookup(&[])).unwrap();
        assert_eq!(
            imds,
            ManagedIdentitySource::Imds {
                endpoint: Url::parse("http://169.254.169.254/metadata/identity/oauth2/token")
                    .unwrap()
            }
        );
        let pod = ManagedIdentitySource::from_lookup(lookup(&[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "http://127.0.0.1:9/",
        )]))
        .unwrap();
        assert_eq!(
            pod,
            ManagedIdentitySource::Imds {
                endpoint: Url::parse("http://127.0.0.1:9/metadata/identity/oauth2/token").unwrap()
            }
        );
    }

    #[test]
    fn resource_is_the_one_scope_without_default() {
        let scopes = Scopes::new(["https://graph.microsoft.com/.default"]).unwrap();
        assert_eq!(
            resource_for(&scopes).unwrap(),
            "https://graph.microsoft.com"
        );
        assert!(resource_for(&Scopes::new(["a", "b"]).unwrap()).is_err());
    }
}
