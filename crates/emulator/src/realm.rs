//! Which tenant (and, for B2C, which policy) a request's path names.

use std::collections::HashMap;

use crate::config::EmulatorConfig;

/// The tenant a request is for: the main tenant, or the B2C tenant with a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Realm {
    /// The tenant's GUID (`tid` of its tokens).
    pub(crate) tenant_id: String,
    /// The GUID of the tenant accounts are homed in (`utid` of `client_info`): the main
    /// tenant for its other tenants, the B2C tenant itself for B2C.
    pub(crate) home_tenant_id: String,
    /// The B2C policy, lowercased as B2C reports it in `tfp`.
    pub(crate) policy: Option<String>,
    /// The authority's path as the client wrote it (`/{tenant}` or `/{tenant}/{policy}`).
    pub(crate) path: String,
}

impl Realm {
    /// From the path parameters axum extracts (`tenant`, optionally `policy`) and the
    /// request path (which tells the older `/tfp/{tenant}/{policy}` form).
    pub(crate) fn from_path(
        config: &EmulatorConfig,
        params: &HashMap<String, String>,
        request_path: &str,
    ) -> Option<Realm> {
        let tenant = params.get("tenant")?;
        let Some(policy) = params.get("policy") else {
            return config.tenant_of(tenant).map(|tenant_id| Realm {
                tenant_id: tenant_id.to_owned(),
                home_tenant_id: config.tenant_id.clone(),
                policy: None,
                path: format!("/{tenant}"),
            });
        };
        let b2c = config.b2c.as_ref()?;
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
            home_tenant_id: b2c.tenant_id.clone(),
            policy: Some(policy.to_ascii_lowercase()),
            path: format!("{tfp}/{tenant}/{policy}"),
        })
    }

    /// The `iss` of this realm's tokens, as its discovery document states it, for an
    /// emulator serving at `base_url`.
    pub(crate) fn issuer(&self, base_url: &str) -> String {
        format!("{base_url}/{}/v2.0", self.tenant_id)
    }

    /// The authority URL (`{base_url}{path}`).
    pub(crate) fn authority(&self, base_url: &str) -> String {
        format!("{base_url}{}", self.path)
    }

    /// The token endpoint, which client assertions must name as `aud`.
    pub(crate) fn token_endpoint(&self, base_url: &str) -> String {
        format!("{}/oauth2/v2.0/token", self.authority(base_url))
    }
}
