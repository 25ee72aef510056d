//! Entra Agent ID: configuration and the requests of each hop.
//!
//! - Hop 1: the blueprint (an app with a certificate) gets T1 by client credentials
//!   with `scope=api://AzureADTokenExchange/.default` and `fmi_path={agent id}`.
//! - Hop 2: the agent identity gets T2 by client credentials with T1 as its client
//!   assertion: for the resource (two hops, app-only), or for the token exchange
//!   (going on to hop 3).
//! - Hop 3: `grant_type=user_fic` for the agent user, with T1 as client assertion and T2
//!   as `user_federated_identity_credential` → a delegated token.

use std::marker::PhantomData;
use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, ClientId, Clock, Error, Result, Scopes, Secret, SystemClock, TenantId,
    TokenCredential, TokenRequestOptions,
};

use crate::authority::Authority;
use crate::client_auth::{AssertionContext, AssertionSource, ClientCredential};
use crate::cloud::Cloud;
use crate::confidential::{AppTokenRequest, ConfidentialClient};
use crate::http::HttpClient;

/// The audience of the intermediate tokens.
pub(crate) const TOKEN_EXCHANGE_SCOPE: &str = "api://AzureADTokenExchange/.default";

/// The resource the last hop asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentResource {
    /// Microsoft Graph (`https://graph.microsoft.com/.default`).
    #[default]
    Graph,
    /// Azure Storage (`https://storage.azure.com/.default`).
    Storage,
    /// Any other scopes.
    Scopes(Scopes),
}

impl AgentResource {
    /// The scopes of the last hop, in the public cloud.
    pub fn scopes(&self) -> Result<Scopes> {
        self.scopes_in(Cloud::Public)
    }

    /// The scopes of the last hop in `cloud` (whose Graph has its own name).
    pub fn scopes_in(&self, cloud: Cloud) -> Result<Scopes> {
        match self {
            Self::Graph => Scopes::new([cloud.graph_default_scope()]),
            Self::Storage => Scopes::new([cloud.storage_default_scope()]),
            Self::Scopes(scopes) => Ok(scopes.clone()),
        }
    }

    /// `graph`, `storage`, or scopes (space-separated).
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "graph" => Ok(Self::Graph),
            "storage" => Ok(Self::Storage),
            _ => {
                let scopes = Scopes::parse(text)?;
                if scopes.is_empty() {
                    return Err(Error::configuration(
                        "the agent resource is empty; use graph, storage or scopes",
                    ));
                }
                Ok(Self::Scopes(scopes))
            }
        }
    }
}

/// Who the agent user is: by object id (`user_id`) or by UPN (`username`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentUser {
    /// The agent user's object id.
    ObjectId(String),
    /// The agent user's UPN.
    Upn(String),
}

impl AgentUser {
    /// The `X-AnchorMailbox` header MSAL sends with hop 3.
    pub(crate) fn anchor_mailbox(&self, tenant: &TenantId) -> String {
        match self {
            Self::ObjectId(oid) => format!("Oid:{oid}@{tenant}"),
            Self::Upn(upn) => format!("upn:{upn}"),
        }
    }
}

/// Agent ID settings as they arrive from a builder or a file: every field optional, so
/// that building a credential can name all the missing ones at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentIdSettings {
    /// The tenant.
    pub tenant_id: Option<String>,
    /// The blueprint's application (client) id.
    pub blueprint_id: Option<String>,
    /// The agent identity's client id.
    pub agent_id: Option<String>,
    /// The agent user's object id (three-hop chain).
    pub agent_user_id: Option<String>,
    /// The agent user's UPN (three-hop chain; instead of the object id).
    pub agent_user_upn: Option<String>,
}

/// Validated Agent ID identities (not nameable outside the crate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentIdentities {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The blueprint app.
    pub blueprint_id: ClientId,
    /// The agent identity.
    pub agent_id: ClientId,
    /// The agent user, for the three-hop chain.
    pub agent_user: Option<AgentUser>,
}

impl AgentIdSettings {
    /// Checks the settings; `needs_user` for the three-hop chain. A missing field is
    /// [`Error::AgentIdNotAvailable`] naming every missing field.
    pub(crate) fn validate(&self, needs_user: bool) -> Result<AgentIdentities> {
        let present = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let (tenant, blueprint, agent) = (
            present(&self.tenant_id),
            present(&self.blueprint_id),
            present(&self.agent_id),
        );
        let (user_id, upn) = (present(&self.agent_user_id), present(&self.agent_user_upn));
        let mut missing = Vec::new();
        for (name, value) in [
            ("tenant_id", &tenant),
            ("blueprint_id", &blueprint),
            ("agent_id", &agent),
        ] {
            if value.is_none() {
                missing.push(name.to_owned());
            }
        }
        if needs_user && user_id.is_none() && upn.is_none() {
            missing.push("agent_user_id or agent_user_upn".to_owned());
        }
        if needs_user && user_id.is_some() && upn.is_some() {
            return Err(Error::configuration(
                "give the agent user by agent_user_id or by agent_user_upn, not both",
            ));
        }
        let (Some(tenant), Some(blueprint), Some(agent)) = (tenant, blueprint, agent) else {
            return Err(Error::AgentIdNotAvailable { missing });
        };
        if !missing.is_empty() {
            return Err(Error::AgentIdNotAvailable { missing });
        }
        let agent_user = match (user_id, upn) {
            (Some(oid), _) if needs_user => Some(AgentUser::ObjectId(oid)),
            (_, Some(upn)) if needs_user => Some(AgentUser::Upn(upn)),
            _ => None,
        };
        Ok(AgentIdentities {
            tenant_id: TenantId::new(tenant)?,
            blueprint_id: ClientId::new(blueprint)?,
            agent_id: ClientId::new(agent)?,
            agent_user,
        })
    }
}

/// The two-hop chain: an app-only token for the agent identity, for a resource.
///
/// Hop 1 (the blueprint's token for this agent, by `fmi_path`) and hop 2 (the agent's
/// token for the resource) are each cached; a call while both are valid makes no
/// request, and when only hop 2's token expired only hop 2 runs again. Errors name the
/// hop that failed. Constructing it does no I/O.
#[derive(Debug)]
pub struct AgentIdentityCredential {
    agent: ConfidentialClient,
    resource: Scopes,
}

/// Builds an Agent ID credential: [`AgentIdentityCredential::builder`] for the two-hop
/// chain, [`crate::AgentUserCredential::builder`] for three. Every missing setting is reported
/// at once as [`Error::AgentIdNotAvailable`]. Building does no I/O.
pub struct AgentIdBuilder<C> {
    settings: AgentIdSettings,
    authority_host: Option<String>,
    blueprint_credential: Option<ClientCredential>,
    resource: AgentResource,
    cache: Option<SharedTokenCache>,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
    credential: PhantomData<fn() -> C>,
}

impl<C> std::fmt::Debug for AgentIdBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentIdBuilder")
            .field("settings", &self.settings)
            .field("authority_host", &self.authority_host)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// The credentials an [`AgentIdBuilder`] builds: [`AgentIdentityCredential`] (two hops)
/// and [`crate::AgentUserCredential`] (three). Sealed.
pub trait AgentChain: sealed::Chain {}

impl<C: sealed::Chain> AgentChain for C {}

pub(crate) mod sealed {
    use tokenhop_core::{Result, Scopes};

    use super::AgentIdentities;
    use crate::confidential::ConfidentialClient;

    /// What [`super::AgentIdBuilder::build`] needs of a chain; not nameable outside.
    pub trait Chain: Sized {
        /// Whether the chain needs an agent user (three hops).
        const NEEDS_USER: bool;

        /// The credential from validated settings and the agent identity's client.
        fn assemble(
            identities: AgentIdentities,
            agent: ConfidentialClient,
            resource: Scopes,
        ) -> Result<Self>;
    }
}

impl<C: AgentChain> AgentIdBuilder<C> {
    pub(crate) fn new(settings: AgentIdSettings) -> Self {
        Self {
            settings,
            authority_host: None,
            blueprint_credential: None,
            resource: AgentResource::default(),
            cache: None,
            http: None,
            clock: Arc::new(SystemClock),
            credential: PhantomData,
        }
    }

    /// The blueprint's credential (normally a certificate).
    pub fn blueprint_credential(mut self, credential: ClientCredential) -> Self {
        self.blueprint_credential = Some(credential);
        self
    }

    /// The authority host (default `https://login.microsoftonline.com`).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = Some(host.into());
        self
    }

    /// The resource of the last hop (Graph by default).
    pub fn resource(mut self, resource: AgentResource) -> Self {
        self.resource = resource;
        self
    }

    /// Keeps every hop's token in `cache`.
    pub fn cache(mut self, cache: SharedTokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Sends requests through `http`.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Uses `clock` for every hop's expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Validates everything (naming every missing field) and builds the chain: the
    /// agent identity's client, whose assertion is the blueprint's hop-1 token.
    pub fn build(self) -> Result<C> {
        let mut missing = match self.settings.validate(C::NEEDS_USER) {
            Err(Error::AgentIdNotAvailable { missing }) => missing,
            Err(other) => return Err(other),
            Ok(_) => Vec::new(),
        };
        if self.blueprint_credential.is_none() {
            missing.push("blueprint_credential".to_owned());
        }
        if !missing.is_empty() {
            return Err(Error::AgentIdNotAvailable { missing });
        }
        let identities = self.settings.validate(C::NEEDS_USER)?;
        let Some(blueprint_credential) = self.blueprint_credential else {
            return Err(Error::AgentIdNotAvailable {
                missing: vec!["blueprint_credential".into()],
            });
        };
        let host = self
            .authority_host
            .unwrap_or_else(|| crate::PUBLIC_CLOUD.to_owned());
        let authority = Authority::parse(&format!(
            "{}/{}",
            host.trim_end_matches('/'),
            identities.tenant_id
        ))?;
        let http = HttpClient::given_or_default(self.http)?;
        let cache = self.cache.unwrap_or_else(SharedTokenCache::in_memory);
        let blueprint = ConfidentialClient::builder(
            identities.blueprint_id.clone(),
            authority.clone(),
            blueprint_credential,
        )
        .cache(cache.clone())
        .http(http.clone())
        .clock(Arc::clone(&self.clock))
        .build()?;
        let t1 = BlueprintToken {
            blueprint: Arc::new(blueprint),
            fmi_path: identities.agent_id.as_str().to_owned(),
        };
        let agent = ConfidentialClient::builder(
            identities.agent_id.clone(),
            authority,
            ClientCredential::assertion_source(t1),
        )
        .cache(cache)
        .http(http)
        .clock(self.clock)
        .build()?;
        C::assemble(identities, agent, self.resource.scopes()?)
    }
}

/// An Agent ID credential serves its configured resource only: `requested` must be
/// those scopes (or empty, meaning them).
pub(crate) fn only_for(resource: &Scopes, requested: &Scopes, credential: &str) -> Result<()> {
    if requested.is_empty() || requested == resource {
        Ok(())
    } else {
        Err(Error::configuration(format!(
            "this {credential} credential is for {resource}, not {requested}"
        )))
    }
}

/// Hop 1 as the agent's client assertion: the blueprint's (cached) token for this agent.
struct BlueprintToken {
    blueprint: Arc<ConfidentialClient>,
    fmi_path: String,
}

impl AssertionSource for BlueprintToken {
    fn assertion<'a>(&'a self, _context: &'a AssertionContext) -> BoxFuture<'a, Result<Secret>> {
        Box::pin(async move {
            let scopes = Scopes::new([TOKEN_EXCHANGE_SCOPE])?;
            let request = AppTokenRequest {
                scopes: &scopes,
                extra_fields: vec![("fmi_path".to_owned(), self.fmi_path.clone())],
                hop: Some(1),
                force_refresh: false,
            };
            Ok(self.blueprint.app_token(&request).await?.secret)
        })
    }
}

impl sealed::Chain for AgentIdentityCredential {
    const NEEDS_USER: bool = false;

    fn assemble(
        _identities: AgentIdentities,
        agent: ConfidentialClient,
        resource: Scopes,
    ) -> Result<Self> {
        Ok(Self { agent, resource })
    }
}

impl AgentIdentityCredential {
    /// A builder from settings (tenant, blueprint, agent).
    pub fn builder(settings: AgentIdSettings) -> AgentIdBuilder<Self> {
        AgentIdBuilder::new(settings)
    }

    /// The app-only token of the agent identity for its resource.
    pub async fn token(&self, options: &TokenRequestOptions) -> Result<AccessToken> {
        let request = AppTokenRequest {
            scopes: &self.resource,
            extra_fields: Vec::new(),
            hop: Some(2),
            force_refresh: options.force_refresh,
        };
        self.agent.app_token(&request).await
    }

    /// The token cache every hop uses.
    pub fn cache(&self) -> &SharedTokenCache {
        self.agent.cache()
    }
}

impl TokenCredential for AgentIdentityCredential {
    /// The requested scopes must be the configured resource's (or empty for it).
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            only_for(&self.resource, scopes, "agent identity")?;
            self.token(options).await
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Settings with every id of the three hops (agent_user's tests use them too).
    pub(crate) fn settings() -> AgentIdSettings {
        AgentIdSettings {
            tenant_id: Some("t".into()),
            blueprint_id: Some("bp".into()),
            agent_id: Some("agent".into()),
            agent_user_id: Some("oid-1".into()),
            agent_user_upn: None,
        }
    }

    #[test]
    fn names_every_missing_field() {
        let err = AgentIdSettings::default().validate(true).unwrap_err();
        match err {
            Error::AgentIdNotAvailable { missing } => assert_eq!(
                missing,
                vec![
                    "tenant_id",
                    "blueprint_id",
                    "agent_id",
                    "agent_user_id or agent_user_upn"
                ]
            ),
            other => panic!("{other:?}"),
        }
        let two_hop = AgentIdSettings {
            agent_user_id: None,
            ..settings()
        };
        assert!(two_hop.validate(false).is_ok());
        assert!(
            matches!(two_hop.validate(true), Err(Error::AgentIdNotAvailable { missing }) if missing.len() == 1)
        );
        let blank = AgentIdSettings {
            agent_id: Some("  ".into()),
            ..settings()
        };
        assert!(
            matches!(blank.validate(false), Err(Error::AgentIdNotAvailable { missing }) if missing == ["agent_id"])
        );
    }

    #[test]
    fn one_user_identifier_only() {
        let both = AgentIdSettings {
            agent_user_upn: Some("u@x".into()),
            ..settings()
        };
        assert!(both.validate(true).is_err());
    }

    #[test]
    fn resources_by_name_or_scopes() {
        assert_eq!(AgentResource::parse("Graph").unwrap(), AgentResource::Graph);
        assert_eq!(
            AgentResource::parse("https://vault.azure.net/.default")
                .unwrap()
                .scopes()
                .unwrap()
                .to_space_separated(),
            "https://vault.azure.net/.default"
        );
        assert!(AgentResource::parse(" ").is_err());
    }
}
