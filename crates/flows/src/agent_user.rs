//! The Entra Agent ID three-hop chain: a delegated token for the agent user.

use std::sync::Mutex;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, Cached, Error, Result, Scopes, Secret, TokenCredential,
    TokenRequestOptions,
};

use crate::agent_id::{
    AgentIdBuilder, AgentIdSettings, AgentIdentities, AgentUser, Chain, TOKEN_EXCHANGE_SCOPE,
    only_for, refuses_the_chain, sealed,
};
use crate::cache_slot::read_cache;
use crate::http::Form;
use crate::oidc_scopes::with_oidc_scopes;
use crate::response::home_account_id;

/// The three-hop chain: the blueprint's T1 (hop 1, cached per agent under its
/// `fmi_path` key), the agent identity's T2 (hop 2, cached), and the agent user's
/// delegated token by `user_fic` (hop 3, cached under the account the response's
/// `client_info` names, recorded with `account_source=user_fic` as MSAL does). A call
/// while all three are valid makes no request; when only hop 3's token expired only hop
/// 3 runs. Errors name their hop.
///
/// A forced refresh (after a resource rejected the token) redoes hop 3; if hop 3
/// refuses T1 or T2, or the resource rejects that new token too, hops 1 and 2 are redone
/// as well. A claims challenge goes to hop 3. Build it with
/// [`AgentUserCredential::builder`]; that does no I/O.
#[derive(Debug)]
pub struct AgentUserCredential {
    chain: Chain,
    identities: AgentIdentities,
    user: AgentUser,
    /// The agent user's account as hop 3's `client_info` named it (`uid.utid`).
    home_account_id: Mutex<Option<String>>,
}

impl sealed::Chain for AgentUserCredential {
    const NEEDS_USER: bool = true;

    fn assemble(identities: AgentIdentities, chain: Chain) -> Result<Self> {
        let user = identities
            .agent_user
            .clone()
            .ok_or_else(|| Error::AgentIdNotAvailable {
                missing: vec!["agent_user_id or agent_user_upn".into()],
            })?;
        Ok(Self {
            chain,
            identities,
            user,
            home_account_id: Mutex::new(None),
        })
    }
}

/// Hop 3's form, before client authentication (T1 as `client_assertion` is added like
/// any other assertion).
fn hop3_form(identities: &AgentIdentities, user: &AgentUser, scopes: &Scopes, t2: &Secret) -> Form {
    let form = Form::new()
        .field("grant_type", "user_fic")
        .field("client_id", identities.agent_id.as_str())
        .field("scope", with_oidc_scopes(scopes))
        .secret("user_federated_identity_credential", t2)
        .field("client_info", "1");
    match user {
        AgentUser::ObjectId(oid) => form.field("user_id", oid.as_str()),
        AgentUser::Upn(upn) => form.field("username", upn.as_str()),
    }
}

impl AgentUserCredential {
    /// A builder from settings (tenant, blueprint, agent, and the agent user by object id
    /// or UPN).
    pub fn builder(settings: AgentIdSettings) -> AgentIdBuilder<Self> {
        AgentIdBuilder::new(settings)
    }

    /// The agent user's delegated token for the configured resource; `options` as the
    /// type describes (no other tenant).
    pub async fn token(&self, options: &TokenRequestOptions) -> Result<AccessToken> {
        let chain = &self.chain;
        chain.check_tenant(options)?;
        let claims = options.claims.as_deref();
        let forced = options.force_refresh || claims.is_some();
        chain
            .agent
            .flights()
            .acquire(
                format!("agent-user|{}|{}", chain.resource, claims.unwrap_or_default()),
                forced,
                || self.cached(),
                || async move {
                    if !forced {
                        return self.hop3(claims, false).await;
                    }
                    let whole_chain = chain.forced.rejected_again(&self.cached().await?);
                    let token = match self.hop3(claims, whole_chain).await {
                        Err(error) if !whole_chain && refuses_the_chain(&error) => {
                            tracing::debug!(%error, "hop 3 refused the chain's tokens; refreshing hops 1 and 2");
                            self.hop3(claims, true).await?
                        }
                        outcome => outcome?,
                    };
                    chain.forced.remember(&token);
                    Ok(token)
                },
            )
            .await
    }

    /// Hop 3 (after hops 1 and 2 again with `refresh_chain`), with `claims`.
    async fn hop3(&self, claims: Option<&str>, refresh_chain: bool) -> Result<AccessToken> {
        let chain = &self.chain;
        let exchange = Scopes::new([TOKEN_EXCHANGE_SCOPE])?;
        let t2 = chain
            .agent_token(&exchange, None, false, refresh_chain)
            .await?
            .secret;
        let form = hop3_form(&self.identities, &self.user, &chain.resource, &t2);
        let form = chain.agent.with_claims(form, claims)?;
        let anchor = self.user.anchor_mailbox(&self.identities.tenant_id);
        let endpoint = chain.agent.endpoint(None)?;
        let response = chain
            .agent
            .post_authenticated(
                &endpoint,
                form,
                &[("X-AnchorMailbox", anchor.as_str())],
                Some(3),
            )
            .await?;
        if let Some(home) = home_account_id(&response) {
            *self
                .home_account_id
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(home);
        }
        chain
            .agent
            .store(&endpoint, "user_fic", &chain.resource, &response, &[])
            .await
    }

    /// The token cache every hop uses.
    pub fn cache(&self) -> &SharedTokenCache {
        self.chain.agent.cache()
    }

    async fn cached(&self) -> Result<Cached> {
        let endpoint = self.chain.agent.endpoint(None)?;
        match self.home_account_id().await? {
            Some(home) => {
                self.chain
                    .agent
                    .cached(&endpoint, Some(&home), &self.chain.resource, None)
                    .await
            }
            None => Ok(Cached::Missing),
        }
    }

    /// The agent user's account: as hop 3's `client_info` named it, else the cached
    /// account of this realm whose object id or username is the configured user's (a
    /// cache another process filled).
    async fn home_account_id(&self) -> Result<Option<String>> {
        if let Some(home) = self
            .home_account_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(Some(home));
        }
        let authority = self.chain.agent.authority();
        let (environment, realm) = (authority.environment(), authority.realm());
        read_cache(self.cache(), |c| {
            c.accounts(&environment)
                .into_iter()
                .find(|a| {
                    a.realm.eq_ignore_ascii_case(realm)
                        && match &self.user {
                            AgentUser::ObjectId(oid) => a.local_account_id == *oid,
                            AgentUser::Upn(upn) => a.username.eq_ignore_ascii_case(upn),
                        }
                })
                .map(|a| a.home_account_id)
        })
        .await
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
            only_for(&self.chain.resource, scopes, "agent user")?;
            self.token(options).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent_id::AgentResource;
    use crate::agent_id::tests::settings;

    #[test]
    fn hop3_sends_user_fic_with_exactly_one_user_field() {
        let ids = settings().validate(true).unwrap();
        let user = ids.agent_user.clone().unwrap();
        let form = hop3_form(
            &ids,
            &user,
            &AgentResource::Storage.scopes().unwrap(),
            &Secret::new("t2"),
        );
        assert_eq!(form.get("grant_type"), Some("user_fic"));
        assert_eq!(form.get("user_id"), Some("oid-1"));
        assert_eq!(form.get("username"), None);
        assert_eq!(
            form.get("scope"),
            Some("https://storage.azure.com/.default openid profile offline_access")
        );
        assert_eq!(form.get("user_federated_identity_credential"), Some("t2"));
        assert_eq!(user.anchor_mailbox(&ids.tenant_id), "Oid:oid-1@t");
    }
}
