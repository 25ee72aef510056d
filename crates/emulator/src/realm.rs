//! Which tenant (and, for B2C, which policy) a request's path names.

use std::collections::HashMap;

use crate::state::State;

/// The tenant a request is for: the main tenant, or the B2C tenant with a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Realm {
    /// The tenant's GUID (`tid` of its tokens).
    pub(crate) tenant_id: String,
    /// The B2C policy, lowercased as B2C reports it in `tfp`.
    pub(crate) policy: Option<String>,
    /// The authority's path as the client wrote it (`/{tenant}` or `/{tenant}/{policy}`).
    pub(crate) path: String,
}

impl Realm {
    /// From the path parameters axum extracts (`tenant`, optionally `policy`) and the
    /// request path (which tells the older `/tfp/{tenant}/{policy}` form).
    pub(crate) fn from_path(
        state: &State,
        params: &HashMap<String, String>,
        request_path: &str,
    ) -> Option<Realm> {
        let tenant = params.get("tenant")?;
        let Some(policy) = params.get("policy") else {
            return state.config.is_tenant(tenant).then(|| Realm {
                tenant_id: state.config.tenant_id.clone(),
                policy: None,
                path: format!("/{tenant}"),
            });
        };
        let b2c = state.config.b2c.as_ref()?;
        let known_tenant =
            tenant.eq_ignore_ascii_case(&b2c.domain) || tenant.eq_ignore_ascii_case(&b2c.tenant_id);
        let known_policy = b2c.policies.iter().any(|p| p.eq_ignore_ascii_case(policy));
        let tfp = if request_path.starts_with("/tfp/") {
            "/tfp"
        } else {
            ""
        };
        (known_tenant && known_policy).then(|| Realm {
            tenant_id: b2c.tenant_id.clone(),
            policy: Some(policy.to_ascii_lowercase()),
            path: format!("{tfp}/{tenant}/{policy}"),
        })
    }

    /// The `iss` of this realm's tokens, as its discovery document states it.
    pub(crate) fn issuer(&self, state: &State) -> String {
        format!("{}/{}/v2.0", state.base_url, self.tenant_id)
    }

    /// The authority URL (`{url}{path}`).
    pub(crate) fn authority(&self, state: &State) -> String {
        format!("{}{}", state.base_url, self.path)
    }

    /// The token endpoint, which client assertions must name as `aud`.
    pub(crate) fn token_endpoint(&self, state: &State) -> String {
        format!("{}/oauth2/v2.0/token", self.authority(state))
    }
}

/// The realm of the request's authority path, as an extractor; an unknown tenant or
/// policy is Entra's "tenant not found".
pub(crate) struct AuthorityRealm(pub(crate) Realm);

impl axum::extract::FromRequestParts<std::sync::Arc<State>> for AuthorityRealm {
    type Rejection = crate::entra_error::EntraError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &std::sync::Arc<State>,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(params) =
            axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| crate::entra_error::EntraError::unknown_tenant(None))?;
        Realm::from_path(state, &params, parts.uri.path())
            .map(AuthorityRealm)
            .ok_or_else(|| crate::entra_error::EntraError::unknown_tenant(params.get("tenant")))
    }
}
