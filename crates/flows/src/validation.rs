//! [`AuthorityValidation`]: whether an authority may receive credentials, checked as
//! MSAL does before the first token request: a host of an Entra cloud (or loopback) is
//! trusted; any other Entra host must be vouched for by instance discovery; and the
//! discovery document must name the authority as its issuer and keep its endpoints on
//! the authority's host (or an alias of it). B2C and CIAM hosts are checked by their
//! shape, ADFS and generic OpenID Connect issuers (which the caller declares as such) by
//! their issuer.

use tokenhop_core::{Error, Result};
use url::Url;

use crate::authority::{Authority, AuthorityKind, Endpoints, join};
use crate::cloud::same_environment;
use crate::http::AuthorityValidation;
use crate::http::{HttpClient, loggable};

impl AuthorityValidation {
    /// Asks instance discovery about an Entra host that is not trusted by name; B2C,
    /// CIAM, ADFS and generic issuers need no instance discovery.
    pub(crate) async fn check_instance(
        &self,
        http: &HttpClient,
        authority: &Authority,
    ) -> Result<()> {
        if !self.is_enabled()
            || authority.kind() != AuthorityKind::Entra
            || self.trusts(&authority.environment(), authority.url())
        {
            return Ok(());
        }
        let endpoint = self.instance_discovery_endpoint()?;
        let mut url = endpoint.clone();
        url.query_pairs_mut()
            .append_pair("api-version", "1.1")
            .append_pair(
                "authorization_endpoint",
                join(authority.url(), "oauth2/v2.0/authorize")?.as_str(),
            );
        let response = http.get(&url, &[("Accept", "application/json")]).await?;
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        if response.status == 200 && body.get("tenant_discovery_endpoint").is_some() {
            return Ok(());
        }
        match body.get("error").and_then(|e| e.as_str()) {
            Some(error) => Err(Error::configuration(format!(
                "the authority {authority} is not known to Entra ({error}: instance discovery at {} does not vouch for {}); \
                 check the authority URL, or turn authority validation off if you trust this host",
                loggable(&endpoint),
                authority.environment(),
            ))),
            None => Err(Error::InvalidResponse {
                endpoint: loggable(&endpoint),
                reason: format!(
                    "instance discovery answered HTTP {} without tenant_discovery_endpoint or error",
                    response.status
                ),
            }),
        }
    }

    /// Checks the discovery document of `authority`: its issuer, and where its endpoints are.
    pub(crate) fn check_discovered(
        &self,
        authority: &Authority,
        endpoints: &Endpoints,
    ) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        let refused = |what: String| {
            Error::configuration(format!(
                "the authority {authority} is not valid: {what}; check the authority URL, \
                 or turn authority validation off if you trust it"
            ))
        };
        if !issuer_matches(authority, &endpoints.issuer) {
            return Err(refused(format!(
                "its discovery document names the issuer {:?}, which is not this authority",
                endpoints.issuer
            )));
        }
        if authority.kind() == AuthorityKind::Oidc {
            // A generic issuer is vouched for by its issuer alone; its endpoints may be
            // anywhere it says.
            return Ok(());
        }
        let named = [
            ("token_endpoint", Some(&endpoints.token)),
            ("authorization_endpoint", endpoints.authorization.as_ref()),
            (
                "device_authorization_endpoint",
                endpoints.device_authorization.as_ref(),
            ),
        ];
        for (name, url) in named {
            if let Some(url) = url
                && !same_place(authority.url(), url)
            {
                return Err(refused(format!(
                    "its {name} {} is not on the authority's host",
                    loggable(url)
                )));
            }
        }
        Ok(())
    }
}

/// Same scheme and port, and the same host or an alias of it.
fn same_place(authority: &Url, other: &Url) -> bool {
    authority.scheme() == other.scheme()
        && authority.port_or_known_default() == other.port_or_known_default()
        && match (authority.host_str(), other.host_str()) {
            (Some(a), Some(b)) => same_environment(a, b),
            _ => false,
        }
}

/// Whether `issuer` is the authority's, as each kind states it.
fn issuer_matches(authority: &Authority, issuer: &str) -> bool {
    let Ok(issuer_url) = Url::parse(issuer) else {
        return false;
    };
    let trimmed = |text: &str| text.trim_end_matches('/').to_owned();
    match authority.kind() {
        AuthorityKind::Oidc | AuthorityKind::Adfs => {
            trimmed(issuer) == trimmed(authority.url().as_str())
        }
        AuthorityKind::Entra | AuthorityKind::B2c | AuthorityKind::Ciam => {
            let place = match authority.kind() {
                // CIAM issuers are on `{tenant id}.ciamlogin.com`.
                AuthorityKind::Ciam => {
                    issuer_url.scheme() == "https"
                        && issuer_url
                            .host_str()
                            .is_some_and(|h| h.ends_with(".ciamlogin.com"))
                }
                _ => same_place(authority.url(), &issuer_url),
            };
            let segments: Vec<&str> = issuer_url
                .path_segments()
                .map(|s| s.filter(|p| !p.is_empty()).collect())
                .unwrap_or_default();
            place
                && matches!(segments.as_slice(), [tenant, "v2.0"] if tenant_matches(authority.realm(), tenant))
        }
    }
}

/// The issuer's tenant segment for an authority's realm: the realm itself; Entra's
/// `{tenantid}` template for a multi-tenant realm; or a tenant id, which is what a
/// tenant named by its domain resolves to.
fn tenant_matches(realm: &str, tenant: &str) -> bool {
    let multi_tenant = matches!(
        realm.to_ascii_lowercase().as_str(),
        "common" | "organizations" | "consumers"
    );
    tenant.eq_ignore_ascii_case(realm)
        // The URL parser keeps the template's braces percent-encoded.
        || (multi_tenant && (tenant == "{tenantid}" || tenant.eq_ignore_ascii_case("%7Btenantid%7D")))
        || (!is_guid(realm) && is_guid(tenant))
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(issuer: &str, token: &str) -> Endpoints {
        Endpoints {
            issuer: issuer.to_owned(),
            token: Url::parse(token).unwrap(),
            authorization: None,
            device_authorization: None,
            jwks: None,
            token_auth_methods: Vec::new(),
        }
    }

    fn check(authority: &str, issuer: &str, token: &str) -> Result<()> {
        let authority = match authority.strip_prefix("oidc:") {
            Some(issuer) => Authority::oidc(issuer).unwrap(),
            None => Authority::parse(authority).unwrap(),
        };
        AuthorityValidation::default().check_discovered(&authority, &endpoints(issuer, token))
    }

    const TID: &str = "7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b";

    #[test]
    fn entra_issuers_with_the_tenant_its_id_or_the_template() {
        let token = |host: &str, t: &str| format!("https://{host}/{t}/oauth2/v2.0/token");
        let public = "login.microsoftonline.com";
        for (authority, issuer) in [
            (
                format!("https://{public}/{TID}"),
                format!("https://{public}/{TID}/v2.0"),
            ),
            (
                format!("https://{public}/contoso.com"),
                format!("https://{public}/{TID}/v2.0"),
            ),
            (
                format!("https://{public}/common"),
                format!("https://{public}/{{tenantid}}/v2.0"),
            ),
            (
                format!("https://login.windows.net/{TID}"),
                format!("https://{public}/{TID}/v2.0"),
            ),
        ] {
            let realm = authority.rsplit('/').next().unwrap();
            check(&authority, &issuer, &token(public, realm))
                .unwrap_or_else(|e| panic!("{authority}: {e}"));
        }
        let other = "aaaaaaaa-2b4d-4e6f-9a0b-1c2d3e4f5a6b";
        for (authority, issuer) in [
            // Another tenant's id.
            (
                format!("https://{public}/{TID}"),
                format!("https://{public}/{other}/v2.0"),
            ),
            // The template for a single tenant.
            (
                format!("https://{public}/{TID}"),
                format!("https://{public}/{{tenantid}}/v2.0"),
            ),
            // Another host, another cloud.
            (
                format!("https://{public}/{TID}"),
                format!("https://evil.example/{TID}/v2.0"),
            ),
            (
                format!("https://{public}/{TID}"),
                format!("https://login.microsoftonline.us/{TID}/v2.0"),
            ),
            (format!("https://{public}/{TID}"), "not a url".to_owned()),
        ] {
            let error = check(&authority, &issuer, &token(public, TID))
                .unwrap_err()
                .to_string();
            assert!(error.contains("issuer"), "{issuer}: {error}");
        }
    }

    #[test]
    fn endpoints_stay_on_the_authority_host_or_an_alias() {
        let authority = format!("https://login.microsoftonline.com/{TID}");
        let issuer = format!("https://login.microsoftonline.com/{TID}/v2.0");
        check(
            &authority,
            &issuer,
            &format!("https://login.windows.net/{TID}/oauth2/v2.0/token"),
        )
        .unwrap();
        let error = check(&authority, &issuer, "https://evil.example/token")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("token_endpoint") && error.contains("evil.example"),
            "{error}"
        );
    }

    #[test]
    fn adfs_and_generic_issuers_must_name_themselves() {
        check(
            "https://adfs.contoso.com/adfs",
            "https://adfs.contoso.com/adfs",
            "https://adfs.contoso.com/adfs/oauth2/token",
        )
        .unwrap();
        assert!(
            check(
                "https://adfs.contoso.com/adfs",
                "https://other.example/adfs",
                "https://adfs.contoso.com/adfs/oauth2/token"
            )
            .is_err()
        );
        // A generic issuer's endpoints may be elsewhere.
        check(
            "oidc:https://idp.example/realms/x",
            "https://idp.example/realms/x/",
            "https://tokens.idp.example/t",
        )
        .unwrap();
        assert!(
            check(
                "oidc:https://idp.example/realms/x",
                "https://idp.example/realms/y",
                "https://idp.example/t"
            )
            .is_err()
        );
    }

    #[test]
    fn ciam_issuers_live_on_the_tenant_id_host() {
        let authority = "https://fabrikam.ciamlogin.com/fabrikam.onmicrosoft.com";
        let token = "https://fabrikam.ciamlogin.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token";
        check(
            authority,
            &format!("https://{TID}.ciamlogin.com/{TID}/v2.0"),
            token,
        )
        .unwrap();
        assert!(
            check(
                authority,
                &format!("https://{TID}.evil.example/{TID}/v2.0"),
                token
            )
            .is_err()
        );
    }

    #[test]
    fn off_checks_nothing_and_trust_is_replaceable() {
        let authority = Authority::parse("https://login.contoso.example/t").unwrap();
        let wrong = endpoints("https://evil.example/", "https://evil.example/token");
        assert!(
            AuthorityValidation::off()
                .check_discovered(&authority, &wrong)
                .is_ok()
        );
        let trusts = |v: AuthorityValidation, a: &Authority| v.trusts(&a.environment(), a.url());
        assert!(!trusts(AuthorityValidation::default(), &authority));
        let contoso = AuthorityValidation::default().with_trusted_hosts(["Login.Contoso.Example"]);
        assert!(trusts(contoso, &authority));
        let loopback = Authority::parse("http://127.0.0.1:1/t").unwrap();
        assert!(trusts(AuthorityValidation::default(), &loopback));
        let strict = AuthorityValidation::default().with_loopback_trusted(false);
        assert!(!trusts(strict, &loopback));
    }
}
