//! The Entra Agent ID three-hop chain: a delegated token for the agent user.

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, Cached, Error, Result, Scopes, Secret, TokenCredential,
    TokenRequestOptions,
};

use crate::agent_id::{
    AgentIdBuilder, AgentIdSettings, AgentIdentities, AgentUser, TOKEN_EXCHANGE_SCOPE, only_for,
    sealed,
};
use crate::cache_slot::read_cache;
use crate::confidential::{AppTokenRequest, ConfidentialClient};
use crate::http::Form;
use crate::oidc_scopes::with_oidc_scopes;

/// The three-hop chain: the blueprint's T1 (hop 1, cached per agent under its
/// `fmi_path` key), the agent identity's T2 (hop 2, cached), and the agent user's
/// delegated token by `user_fic` (hop 3, cached under the user's account, recorded with
/// `account_source=user_fic` as MSAL does). A call while all three are valid makes no
/// request; when only hop 3's token expired only hop 3 runs. Errors name their hop.
/// Build it with [`AgentUserCredential::builder`]; that does no I/O.
#[derive(Debug)]
pub struct AgentUserCredential {
    agent: ConfidentialClient,
    identities: AgentIdentities,
    user: AgentUser,
    resource: Scopes,
}

impl sealed::Chain for AgentUserCredential {
    const NEEDS_USER: bool = true;

    fn assemble(
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

    /// The agent user's delegated token for the configured resource.
    pub async fn token(&self, options: &TokenRequestOptions) -> Result<AccessToken> {
        self.agent
            .flights()
            .acquire(
                format!("agent-user|{}", self.resource),
                options.force_refresh,
                || self.cached(),
                || self.hop3(),
            )
            .await
    }

    async fn hop3(&self) -> Result<AccessToken> {
        let exchange = Scopes::new([TOKEN_EXCHANGE_SCOPE])?;
        let t2 = self
            .agent
            .app_token(&AppTokenRequest {
                scopes: &exchange,
                extra_fields: Vec::new(),
                hop: Some(2),
                force_refresh: false,
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

    async fn cached(&self) -> Result<Cached> {
        match self.home_account_id().await? {
            Some(home) => self.agent.cached(Some(&home), &self.resource, None).await,
            None => Ok(Cached::Missing),
        }
    }

    /// The agent user's account: `{oid}.{tenant}` when configured by object id (Entra's
    /// `client_info`), else the cached account whose username is the UPN.
    async fn home_account_id(&self) -> Result<Option<String>> {
        match &self.user {
            AgentUser::ObjectId(oid) => Ok(Some(format!("{oid}.{}", self.identities.tenant_id))),
            AgentUser::Upn(upn) => {
                let environment = self.agent.authority().environment();
                let realm = self.agent.authority().realm().to_owned();
                read_cache(self.cache(), |c| {
                    c.accounts(&environment)
                        .into_iter()
                        .find(|a| a.username.eq_ignore_ascii_case(upn) && a.realm == realm)
                        .map(|a| a.home_account_id)
                })
                .await
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
