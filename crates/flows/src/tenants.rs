//! Per-request tenants: which authority a request with `TokenRequestOptions::tenant_id`
//! goes to, and whether the credential may go there — its own tenant always; another
//! only when `additionally_allowed_tenants` names it (or holds `*`), as the Azure SDKs
//! decide.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokenhop_core::{Error, Result, TenantId};

use crate::authority::{Authority, AuthorityKind};
use crate::endpoint::TokenEndpoint;
use crate::http::HttpClient;

/// The name of the setting, for errors.
pub(crate) const SETTING: &str = "additionally_allowed_tenants";

/// Which other tenants a credential may ask for tokens in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AllowedTenants(Vec<String>);

impl AllowedTenants {
    /// From a builder's or a file's list: tenant ids or domains, or `*` for any.
    pub(crate) fn new(tenants: impl IntoIterator<Item = impl Into<String>>) -> Result<Self> {
        let tenants: Vec<String> = tenants
            .into_iter()
            .map(|t| t.into().trim().to_owned())
            .collect();
        if let Some(bad) = tenants
            .iter()
            .find(|t| t.is_empty() || (t.as_str() != "*" && TenantId::new(t.as_str()).is_err()))
        {
            return Err(Error::configuration(format!(
                "{SETTING}: {bad:?} is neither a tenant id, a domain nor \"*\""
            )));
        }
        Ok(Self(tenants))
    }

    fn allows(&self, tenant: &str) -> bool {
        self.0
            .iter()
            .any(|t| t == "*" || t.eq_ignore_ascii_case(tenant))
    }
}

/// The token endpoints of a credential: its own authority's, and those of the other
/// tenants it was asked for (each discovered once, on first use).
#[derive(Debug)]
pub(crate) struct TenantEndpoints {
    home: Arc<TokenEndpoint>,
    allowed: AllowedTenants,
    others: Mutex<HashMap<String, Arc<TokenEndpoint>>>,
}

impl TenantEndpoints {
    /// The endpoints of `authority` through `http`, switching only to `allowed` tenants.
    pub(crate) fn new(authority: Authority, http: HttpClient, allowed: AllowedTenants) -> Self {
        Self {
            home: Arc::new(TokenEndpoint::new(authority, http)),
            allowed,
            others: Mutex::default(),
        }
    }

    /// The credential's own endpoint.
    pub(crate) fn home(&self) -> &Arc<TokenEndpoint> {
        &self.home
    }

    /// The endpoint a request for `tenant` (none: the credential's own) goes to. A
    /// tenant the credential does not allow is [`Error::Configuration`] naming
    /// `additionally_allowed_tenants`.
    pub(crate) fn for_tenant(&self, tenant: Option<&TenantId>) -> Result<Arc<TokenEndpoint>> {
        let home = self.home.authority();
        let Some(tenant) = tenant.filter(|t| !t.as_str().eq_ignore_ascii_case(home.realm())) else {
            return Ok(Arc::clone(&self.home));
        };
        if !matches!(home.kind(), AuthorityKind::Entra | AuthorityKind::Ciam) {
            return Err(Error::configuration(format!(
                "tenant_id {tenant}: a per-request tenant needs an Entra authority, not {home}"
            )));
        }
        if !self.allowed.allows(tenant.as_str()) {
            return Err(Error::configuration(format!(
                "tenant_id {tenant}: this credential gets tokens in {} only; add {tenant} to {SETTING} (or \"*\" for any tenant) to allow it",
                home.realm()
            )));
        }
        let key = tenant.as_str().to_ascii_lowercase();
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(endpoint) = others.get(&key) {
            return Ok(Arc::clone(endpoint));
        }
        let endpoint = Arc::new(TokenEndpoint::new(
            home.with_tenant(tenant.as_str())?,
            self.home.http().clone(),
        ));
        others.insert(key, Arc::clone(&endpoint));
        Ok(endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(allowed: &[&str]) -> TenantEndpoints {
        TenantEndpoints::new(
            Authority::parse("https://login.microsoftonline.com/contoso.onmicrosoft.com").unwrap(),
            HttpClient::new(crate::http::HttpConfig::default()).unwrap(),
            AllowedTenants::new(allowed.iter().copied()).unwrap(),
        )
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::new(name).unwrap()
    }

    #[test]
    fn the_own_tenant_always_others_only_when_allowed() {
        let none = endpoints(&[]);
        assert!(Arc::ptr_eq(&none.for_tenant(None).unwrap(), none.home()));
        let own = none
            .for_tenant(Some(&tenant("Contoso.onmicrosoft.com")))
            .unwrap();
        assert!(Arc::ptr_eq(&own, none.home()));
        let err = none
            .for_tenant(Some(&tenant("fabrikam.com")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(SETTING) && err.contains("fabrikam.com"),
            "{err}"
        );

        let some = endpoints(&["FABRIKAM.com"]);
        let other = some.for_tenant(Some(&tenant("fabrikam.com"))).unwrap();
        assert_eq!(other.authority().realm(), "fabrikam.com");
        assert!(Arc::ptr_eq(
            &other,
            &some.for_tenant(Some(&tenant("fabrikam.com"))).unwrap()
        ));
        assert!(some.for_tenant(Some(&tenant("northwind.com"))).is_err());
        assert!(
            endpoints(&["*"])
                .for_tenant(Some(&tenant("any.example")))
                .is_ok()
        );
    }

    #[test]
    fn b2c_authorities_do_not_switch_and_bad_entries_are_refused() {
        let b2c = TenantEndpoints::new(
            Authority::parse("https://c.b2clogin.com/c.onmicrosoft.com/B2C_1_x").unwrap(),
            HttpClient::new(crate::http::HttpConfig::default()).unwrap(),
            AllowedTenants::new(["*"]).unwrap(),
        );
        assert!(
            b2c.for_tenant(Some(&tenant("other.onmicrosoft.com")))
                .is_err()
        );
        assert!(AllowedTenants::new([""]).is_err());
        assert!(AllowedTenants::new(["a b"]).is_err());
    }
}
