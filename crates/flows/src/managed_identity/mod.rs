//! Managed identity on every Azure host: IMDS (VMs, AKS pod identity), App Service and
//! Functions, Service Fabric, Machine Learning, Azure Arc and Cloud Shell — found from
//! the environment as MSAL finds them ([`ManagedIdentitySource::from_env`]) or named
//! explicitly, each asked in its own protocol.
//!
//! The hosts' quirks live in their own modules: `source` (which host, in MSAL's order),
//! `request` (api-versions, headers, parameter names), `retry` (IMDS's 404/410 while it
//! starts or upgrades), `reply` (error shapes, `expires_on` forms), `service_fabric` (the
//! pinned certificate) and `arc` (the key-file challenge).

mod arc;
mod reply;
mod request;
mod retry;
mod service_fabric;
mod source;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, Clock, Error, Result, Scopes, Secret, SystemClock, TokenCredential,
    TokenFlights, TokenRequestOptions, epoch_seconds,
};

pub use retry::ManagedIdentityRetry;
pub use source::{ManagedIdentityHost, ManagedIdentitySource};

use crate::cache_slot::{CacheSlot, access_token_for};
use crate::http::{HttpClient, HttpResponse, loggable};
use reply::ManagedIdentityToken;
use request::token_request;
use retry::send_with_retries;

/// How long [`ManagedIdentityCredential::probe`] waits for a connection.
pub const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

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

/// What [`ManagedIdentityCredential::probe`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeOutcome {
    /// Something answered at the host's endpoint (any HTTP status): ask it for tokens.
    Answered,
    /// No managed identity endpoint here: nothing took a connection within
    /// [`PROBE_CONNECT_TIMEOUT`], or the connection failed.
    NoEndpoint {
        /// "no managed identity endpoint at …" and what the connection attempt said.
        reason: String,
    },
}

/// Builds a [`ManagedIdentityCredential`]. Building does no I/O.
#[derive(Debug)]
pub struct ManagedIdentityCredentialBuilder {
    source: ManagedIdentitySource,
    id: ManagedIdentityId,
    http: Option<HttpClient>,
    cache: Option<SharedTokenCache>,
    clock: Arc<dyn Clock>,
    retry: ManagedIdentityRetry,
}

impl ManagedIdentityCredentialBuilder {
    /// Sends requests through `http`: its timeouts, size cap and request counter apply;
    /// its retry policy does not (managed identity hosts are retried as
    /// [`ManagedIdentityCredentialBuilder::retry`] says), and Service Fabric gets a
    /// connection pool of its own that trusts only the pinned certificate.
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

    /// Retries as `retry` says (default: MSAL's numbers, [`ManagedIdentityRetry::default`]).
    pub fn retry(mut self, retry: ManagedIdentityRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The credential. Refuses, naming the host, an identity the host cannot give (a
    /// user-assigned one on Azure Arc, Cloud Shell or Service Fabric; one by object or
    /// resource id on Machine Learning), a Service Fabric endpoint that is not https, and
    /// a thumbprint that is not one.
    pub fn build(self) -> Result<ManagedIdentityCredential> {
        let host = self.source.host();
        host.check_supports(&self.id)?;
        let http = HttpClient::given_or_default(self.http)?;
        let transport = match &self.source {
            ManagedIdentitySource::ServiceFabric {
                endpoint,
                thumbprint,
                ..
            } => {
                service_fabric::check_https(endpoint)?;
                http.with_own_pool(
                    http.config().connect_timeout,
                    Some(service_fabric::pinned_tls(thumbprint)?),
                )?
                .without_retries()
            }
            _ => http.without_retries(),
        };
        let mut credential = ManagedIdentityCredential {
            source: self.source,
            id: self.id,
            http,
            transport,
            retry: self.retry,
            cache: self.cache.unwrap_or_else(SharedTokenCache::in_memory),
            clock: self.clock,
            flights: TokenFlights::new(),
        };
        credential.flights = credential.slot().flights(&credential.cache);
        Ok(credential)
    }
}

/// Managed identity as a [`TokenCredential`]: tokens from the host's endpoint, cached
/// where MSAL caches them (environment `localhost`, realm `managed_identity`, client id
/// the identity's or `SYSTEM_ASSIGNED_MANAGED_IDENTITY`), per identity and resource, and
/// refreshed at half their life when they live two hours or more. Constructing it does
/// no I/O.
pub struct ManagedIdentityCredential {
    source: ManagedIdentitySource,
    id: ManagedIdentityId,
    /// The caller's client, for the probe's own pool.
    http: HttpClient,
    /// What token requests go through: no retries of its own; Service Fabric's pinned pool.
    transport: HttpClient,
    retry: ManagedIdentityRetry,
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
            retry: ManagedIdentityRetry::default(),
        }
    }

    /// The host it asks.
    pub fn source(&self) -> &ManagedIdentitySource {
        &self.source
    }

    /// Learns quickly whether a managed identity endpoint is there, for chains that try
    /// managed identity before other credentials: one GET of the host's endpoint, with
    /// no secret, no token request and no retry, connecting within
    /// [`PROBE_CONNECT_TIMEOUT`] (1 s, against the usual 10 s). Off Azure, IMDS's
    /// `169.254.169.254` takes no connection, and this says
    /// [`ProbeOutcome::NoEndpoint`] in about a second; any HTTP answer is
    /// [`ProbeOutcome::Answered`]. The probe uses a connection pool of its own; errors
    /// are only for what it could not even try (a bad configuration).
    ///
    /// ```no_run
    /// use tokenhop_flows::{ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource, ProbeOutcome};
    ///
    /// # async fn run() -> tokenhop_core::Result<()> {
    /// let source = ManagedIdentitySource::from_env()?;
    /// let managed = ManagedIdentityCredential::builder(source, ManagedIdentityId::SystemAssigned).build()?;
    /// match managed.probe().await? {
    ///     ProbeOutcome::Answered => { /* use `managed` */ }
    ///     ProbeOutcome::NoEndpoint { reason } => { /* try the next credential; say `reason` */ }
    ///     _ => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn probe(&self) -> Result<ProbeOutcome> {
        let tls = match &self.source {
            ManagedIdentitySource::ServiceFabric { thumbprint, .. } => {
                Some(service_fabric::pinned_tls(thumbprint)?)
            }
            _ => None,
        };
        let client = self
            .http
            .with_own_pool(PROBE_CONNECT_TIMEOUT, tls)?
            .without_retries();
        let endpoint = self.source.endpoint();
        match client.get(endpoint, &[]).await {
            Ok(response) => {
                tracing::debug!(host = %self.source.host(), status = response.status, "managed identity endpoint answered the probe");
                Ok(ProbeOutcome::Answered)
            }
            Err(Error::Transport { message, .. }) => Ok(ProbeOutcome::NoEndpoint {
                reason: format!(
                    "no managed identity endpoint at {} ({}): {message}",
                    loggable(endpoint),
                    self.source.host()
                ),
            }),
            Err(other) => Err(other),
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

    /// Asks the host (answering Azure Arc's challenge once) and reads its answer.
    async fn request_token(&self, resource: &str) -> Result<ManagedIdentityToken> {
        let host = self.source.host();
        let request = token_request(&self.source, &self.id, resource);
        let endpoint = loggable(&request.url);
        let mut response = self.send(&request).await?;
        if let (ManagedIdentitySource::AzureArc { token_dir, .. }, 401) =
            (&self.source, response.status)
        {
            let secret = arc::challenge_secret(&response, token_dir, &endpoint).await?;
            let answer = Secret::new(format!("Basic {}", secret.expose_secret()));
            response = self
                .send(&request.with_header("Authorization", answer))
                .await?;
        }
        let now = epoch_seconds(self.clock.now());
        reply::read_token(host, &response, &endpoint, now)
    }

    async fn send(&self, request: &request::HostRequest) -> Result<HttpResponse> {
        send_with_retries(&self.transport, self.source.host(), request, &self.retry).await
    }

    async fn fetch(&self, resource: &str) -> Result<AccessToken> {
        let token = self.request_token(resource).await?;
        let now = self.clock.now();
        // MSAL refreshes long-lived managed identity tokens at half their life.
        let refresh_in = token
            .refresh_in
            .or((token.expires_in >= 7200).then_some(token.expires_in / 2));
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
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.token(scopes, options.force_refresh))
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

#[cfg(test)]
mod tests {
    use super::*;

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
