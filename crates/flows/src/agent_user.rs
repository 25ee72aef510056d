//! The Entra Agent ID three-hop chain: a delegated token for the agent user.

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, Error, Result, Scopes, TokenCredential, TokenRequestOptions,
};

use crate::agent_id::{AgentIdentities, AgentUser, TOKEN_EXCHANGE_SCOPE, hop3_form, only_for};
use crate::app_cache::ensure_loaded;
use crate::confidential::{AppTokenRequest, ConfidentialClient};

/// The three-hop chain: the blueprint's T1 (hop 1, cached per agent under its
/// `fmi_path` key), the agent identity's T2 (hop 2, cached), and the agent user's
/// delegated token by `user_fic` (hop 3, cached under the user's account, recorded with
/// `account_source=user_fic` as MSAL does). A call while all three are valid makes no
/// request; when only hop 3's token expired only hop 3 runs. Errors name their hop.
/// Build it with [`crate::agent_id::AgentIdBuilder::build_user`]; that does no I/O.
#[derive(Debug)]
pub struct AgentUserCredential {
    agent: ConfidentialClient,
    identities: AgentIdentities,
    user: AgentUser,
    resource: Scopes,
}

impl AgentUserCredential {
    pub(crate) fn new(
        identities: AgentIdentities,
        agent: ConfidentialClient,
        resource: Scopes,
    ) -> Result<Self> {
        let user = identities
            .agent_user
            .clone()
            .ok_or_else(|| Error::AgentIdNotAvailable {
                missing: vec!["agent_user_id or agent_user_upn".into()],
            })?;
        Ok(Self {
            agent,
            identities,
            user,
            resource,
        })
    }

    /// The agent user's delegated token for the configured resource.
    pub async fn token(&self, options: &TokenRequestOptions) -> Result<AccessToken> {
        if !options.force_refresh
            && let Some(token) = self.cached().await?
        {
            return Ok(token);
        }
        let _flight = self
            .agent
            .flight(format!("agent-user|{}", self.resource))
            .await;
        if !options.force_refresh
            && let Some(token) = self.cached().await?
        {
            return Ok(token);
        }
        let exchange = Scopes::new([TOKEN_EXCHANGE_SCOPE])?;
        let t2 = self
            .agent
            .app_token(&AppTokenRequest {
                scopes: Some(&exchange),
                hop: Some(2),
                ..AppTokenRequest::default()
            })
            .await?
            .secret;
        let form = hop3_form(&self.identities, &self.user, &self.resource, &t2);
        let anchor = self.user.anchor_mailbox(&self.identities.tenant_id);
        let response = self
            .agent
            .post_authenticated(form, &[("X-AnchorMailbox", anchor.as_str())], Some(3))
            .await?;
        self.agent
            .store("user_fic", &self.resource, &response, &[])
            .await
    }

    /// The token cache every hop uses.
    pub fn cache(&self) -> &SharedTokenCache {
        self.agent.cache()
    }

    async fn cached(&self) -> Result<Option<AccessToken>> {
        match self.home_account_id().await? {
            Some(home) => self.agent.cached(Some(&home), &self.resource, None).await,
            None => Ok(None),
        }
    }

    /// The agent user's account: `{oid}.{tenant}` when configured by object id (Entra's
    /// `client_info`), else the cached account whose username is the UPN.
    async fn home_account_id(&self) -> Result<Option<String>> {
        match &self.user {
            AgentUser::ObjectId(oid) => Ok(Some(format!("{oid}.{}", self.identities.tenant_id))),
            AgentUser::Upn(upn) => {
                ensure_loaded(self.cache()).await?;
                let environment = self.agent.authority().environment();
                let realm = self.agent.authority().realm().to_owned();
                self.cache().read(|c| {
                    c.accounts(&environment)
                        .into_iter()
                        .find(|a| a.username.eq_ignore_ascii_case(upn) && a.realm == realm)
                        .map(|a| a.home_account_id)
                })
            }
        }
    }
}

impl TokenCredential for AgentUserCredential {
    /// The requested scopes must be the configured resource's (or empty for it).
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            only_for(&self.resource, scopes, "agent user")?;
            self.token(options).await
        })
    }
}
