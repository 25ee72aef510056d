//! Authorities: where tokens come from, validated, with their cache identity and
//! their endpoints from discovery.

use std::fmt;

use serde::Deserialize;
use tokenhop_core::{Error, Result};
use url::Url;

use crate::http::check_transport_security;

/// The public cloud's authority host.
pub const PUBLIC_CLOUD: &str = "https://login.microsoftonline.com";

/// What kind of authority a URL names; it decides the discovery path and the cache realm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorityKind {
    /// An Entra tenant: `https://login.microsoftonline.com/{tenant}` or the same shape on
    /// another cloud's host (or a loopback emulator).
    Entra,
    /// Azure AD B2C: `https://{name}.b2clogin.com/{name}.onmicrosoft.com/{policy}` (or
    /// the older `/tfp/…` form).
    B2c,
    /// Entra External ID (CIAM): `https://{name}.ciamlogin.com/{tenant}`.
    Ciam,
    /// Any OpenID Connect issuer; endpoints come from
    /// `{issuer}/.well-known/openid-configuration`.
    Oidc,
    /// Active Directory Federation Services: `https://{host}/adfs`, discovery at
    /// `https://{host}/adfs/.well-known/openid-configuration`.
    Adfs,
}

/// A validated authority URL. `https://` only, except for loopback hosts
/// (`127.0.0.0/8`, `localhost`, `::1`) where `http://` is allowed for tests and the
/// emulator. Constructing one does no I/O.
#[derive(Clone, PartialEq, Eq)]
pub struct Authority {
    url: Url,
    kind: AuthorityKind,
    realm: String,
    policy: Option<String>,
}

impl Authority {
    /// Parses an Entra, B2C, CIAM or ADFS authority, telling them apart by host and
    /// path as MSAL does (a `tfp` segment or a `B2C_…` policy segment means B2C; a lone
    /// `adfs` segment means ADFS). A generic OpenID Connect issuer is not guessed from
    /// its URL: declare it with [`Authority::oidc`].
    pub fn parse(authority: &str) -> Result<Self> {
        let url = parse_url(authority)?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let owned_segments: Vec<String> =
            path_segments(&url).into_iter().map(str::to_owned).collect();
        let segments: Vec<&str> = owned_segments.iter().map(String::as_str).collect();
        let looks_b2c = host.ends_with(".b2clogin.com")
            || segments
                .first()
                .is_some_and(|s| s.eq_ignore_ascii_case("tfp"))
            || (segments.len() == 2 && segments[1].to_ascii_lowercase().starts_with("b2c_"));
        if looks_b2c {
            return Self::b2c_from(url.clone(), segments);
        }
        if host.ends_with(".ciamlogin.com") {
            let realm = match segments.first() {
                Some(tenant) => (*tenant).to_owned(),
                None => format!(
                    "{}.onmicrosoft.com",
                    host.trim_end_matches(".ciamlogin.com")
                ),
            };
            let url = with_path(&url, &realm)?;
            return Ok(Self {
                url,
                kind: AuthorityKind::Ciam,
                realm,
                policy: None,
            });
        }
        match segments.as_slice() {
            [adfs] if adfs.eq_ignore_ascii_case("adfs") => Ok(Self {
                url: with_path(&url, "adfs")?,
                kind: AuthorityKind::Adfs,
                realm: "adfs".to_owned(),
                policy: None,
            }),
            [tenant] => {
                let realm = (*tenant).to_owned();
                Ok(Self {
                    url: with_path(&url, &realm)?,
                    kind: AuthorityKind::Entra,
                    realm,
                    policy: None,
                })
            }
            _ => Err(Error::configuration(format!(
                "authority {authority} must be https://{{host}}/{{tenant}} (Entra), a B2C policy URL, \
                 a CIAM URL or https://{{host}}/adfs (ADFS); another OpenID Connect provider is \
                 declared as an issuer instead of an authority (the CLI's --issuer URL, a \
                 configuration file's issuer: URL)"
            ))),
        }
    }

    /// An Entra tenant on the public cloud: `https://login.microsoftonline.com/{tenant}`.
    pub fn entra(tenant: &str) -> Result<Self> {
        Self::parse(&format!("https://login.microsoftonline.com/{tenant}"))
    }

    /// A generic OpenID Connect issuer, declared as such: its endpoints come from
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must be this URL; no
    /// Entra instance discovery is asked about it.
    pub fn oidc(issuer: &str) -> Result<Self> {
        let url = parse_url(issuer)?;
        let realm = path_segments(&url)
            .last()
            .map(|s| (*s).to_owned())
            .unwrap_or_else(|| url.host_str().unwrap_or_default().to_ascii_lowercase());
        Ok(Self {
            url,
            kind: AuthorityKind::Oidc,
            realm,
            policy: None,
        })
    }

    fn b2c_from(url: Url, segments: Vec<&str>) -> Result<Self> {
        let rest: Vec<&str> = match segments.first() {
            Some(first) if first.eq_ignore_ascii_case("tfp") => segments[1..].to_vec(),
            _ => segments,
        };
        match rest.as_slice() {
            [tenant, policy] => {
                let realm = (*tenant).to_owned();
                let policy = (*policy).to_owned();
                let url = with_path(&url, &format!("{realm}/{policy}"))?;
                Ok(Self {
                    url,
                    kind: AuthorityKind::B2c,
                    realm,
                    policy: Some(policy),
                })
            }
            _ => Err(Error::configuration(format!(
                "B2C authority {url} must be https://{{name}}.b2clogin.com/{{tenant}}/{{policy}}"
            ))),
        }
    }

    /// The kind of authority.
    pub fn kind(&self) -> AuthorityKind {
        self.kind
    }

    /// The authority URL, normalised (no trailing slash, `tfp` dropped).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The cache's `environment`: the host, lowercased, without a port.
    pub fn environment(&self) -> String {
        self.url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase()
    }

    /// The cache's `realm`: the tenant segment as configured (B2C: the
    /// `{name}.onmicrosoft.com` segment).
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The B2C policy, for B2C authorities.
    pub fn policy(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    /// Where the OpenID configuration document is.
    pub(crate) fn discovery_url(&self) -> Result<Url> {
        let path = match self.kind {
            AuthorityKind::Oidc | AuthorityKind::Adfs => ".well-known/openid-configuration",
            _ => "v2.0/.well-known/openid-configuration",
        };
        join(&self.url, path)
    }

    /// The same authority with another tenant (for per-request tenant overrides).
    pub fn with_tenant(&self, tenant: &str) -> Result<Self> {
        match self.kind {
            AuthorityKind::Entra | AuthorityKind::Ciam => {
                let url = with_path(&self.url, tenant)?;
                Ok(Self {
                    url,
                    realm: tenant.to_owned(),
                    ..self.clone()
                })
            }
            _ => Err(Error::configuration(format!(
                "a per-request tenant needs an Entra or CIAM authority, not {}",
                self.url
            ))),
        }
    }
}

/// From a configuration file: the authority URL, parsed as [`Authority::parse`] does,
/// or `{ issuer: URL }` for a generic OpenID Connect issuer ([`Authority::oidc`]).
impl<'de> Deserialize<'de> for Authority {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Url(String),
            Issuer { issuer: String },
        }
        match Written::deserialize(deserializer)? {
            Written::Url(text) => Authority::parse(&text),
            Written::Issuer { issuer } => Authority::oidc(&issuer),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("url", &self.url.as_str())
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str().trim_end_matches('/'))
    }
}

fn parse_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim())
        .map_err(|e| Error::configuration(format!("authority {text:?} is not a valid URL: {e}")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::configuration(format!(
            "authority {text:?} has no host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::configuration(format!(
            "authority {text:?} must not have a query or fragment"
        )));
    }
    check_transport_security(&url)?;
    Ok(url)
}

fn path_segments(url: &Url) -> Vec<&str> {
    url.path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default()
}

fn with_path(url: &Url, path: &str) -> Result<Url> {
    let mut url = url.clone();
    url.set_path(path);
    Ok(url)
}

/// `base` + "/" + `path`, whatever `base`'s trailing slash.
pub(crate) fn join(base: &Url, path: &str) -> Result<Url> {
    let mut text = base.as_str().trim_end_matches('/').to_owned();
    text.push('/');
    text.push_str(path);
    Url::parse(&text).map_err(|e| {
        Error::configuration(format!("cannot build a URL from {base} and {path}: {e}"))
    })
}

/// The endpoints an authority's discovery document names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoints {
    /// The issuer.
    pub issuer: String,
    /// The token endpoint.
    pub token: Url,
    /// The authorization endpoint (auth code flow).
    pub authorization: Option<Url>,
    /// The device authorization endpoint (device code flow).
    pub device_authorization: Option<Url>,
    /// The JWKS endpoint.
    pub jwks: Option<Url>,
    /// The client authentication methods the token endpoint takes, as discovery lists
    /// them (`token_endpoint_auth_methods_supported`; empty when it does not say).
    pub token_auth_methods: Vec<String>,
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    token_endpoint: String,
    authorization_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    jwks_uri: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

impl Endpoints {
    /// Reads a discovery document; every endpoint must be https (or loopback http).
    pub(crate) fn from_discovery(authority: &Authority, body: &[u8]) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidResponse {
            endpoint: format!("discovery for {authority}"),
            reason,
        };
        let doc: DiscoveryDocument = serde_json::from_slice(body)
            .map_err(|e| invalid(format!("not an OpenID configuration: {e}")))?;
        let endpoint = |name: &str, value: &str| -> Result<Url> {
            let url = Url::parse(value)
                .map_err(|e| invalid(format!("{name} {value:?} is not a URL: {e}")))?;
            check_transport_security(&url)?;
            Ok(url)
        };
        let optional = |name: &str, value: &Option<String>| {
            value.as_deref().map(|v| endpoint(name, v)).transpose()
        };
        let mut device_authorization = optional(
            "device_authorization_endpoint",
            &doc.device_authorization_endpoint,
        )?;
        let entra = matches!(
            authority.kind,
            AuthorityKind::Entra | AuthorityKind::B2c | AuthorityKind::Ciam
        );
        if device_authorization.is_none() && entra {
            // Entra serves the device endpoint beside the token endpoint even where
            // discovery does not name it.
            device_authorization = Some(join(authority.url(), "oauth2/v2.0/devicecode")?);
        }
        Ok(Self {
            issuer: doc.issuer,
            token: endpoint("token_endpoint", &doc.token_endpoint)?,
            authorization: optional("authorization_endpoint", &doc.authorization_endpoint)?,
            device_authorization,
            jwks: optional("jwks_uri", &doc.jwks_uri)?,
            token_auth_methods: doc.token_endpoint_auth_methods_supported,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_tenant_on_any_cloud() {
        let a =
            Authority::parse("https://login.microsoftonline.us/Contoso.onmicrosoft.com/").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Entra);
        assert_eq!(a.environment(), "login.microsoftonline.us");
        assert_eq!(a.realm(), "Contoso.onmicrosoft.com");
        assert_eq!(
            a.discovery_url().unwrap().as_str(),
            "https://login.microsoftonline.us/Contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );
    }

    #[test]
    fn environment_drops_the_port_and_lowercases() {
        let a = Authority::parse("http://LOCALHOST:8443/tenant").unwrap();
        assert_eq!(a.environment(), "localhost");
        let v6 = Authority::parse("http://[::1]:9000/t").unwrap();
        assert_eq!(v6.environment(), "::1");
    }

    #[test]
    fn b2c_in_both_forms() {
        for url in [
            "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin",
            "https://contoso.b2clogin.com/tfp/contoso.onmicrosoft.com/B2C_1_signin",
            "http://127.0.0.1:1234/tfp/contoso.onmicrosoft.com/B2C_1_signin",
        ] {
            let a = Authority::parse(url).unwrap();
            assert_eq!(a.kind(), AuthorityKind::B2c, "{url}");
            assert_eq!(a.realm(), "contoso.onmicrosoft.com");
            assert_eq!(a.policy(), Some("B2C_1_signin"));
            assert!(
                a.url()
                    .path()
                    .ends_with("/contoso.onmicrosoft.com/B2C_1_signin"),
                "{}",
                a.url()
            );
        }
    }

    #[test]
    fn ciam_defaults_its_tenant() {
        let a = Authority::parse("https://fabrikam.ciamlogin.com").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Ciam);
        assert_eq!(a.realm(), "fabrikam.onmicrosoft.com");
    }

    #[test]
    fn http_only_for_loopback() {
        assert!(Authority::parse("http://127.0.0.5:80/t").is_ok());
        assert!(Authority::parse("http://localhost/t").is_ok());
        let err = Authority::parse("http://login.microsoftonline.com/t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("https"), "{err}");
        assert!(Authority::parse("ftp://localhost/t").is_err());
        assert!(Authority::oidc("http://idp.example.com/realms/x").is_err());
    }

    #[test]
    fn refuses_malformed_authorities() {
        for bad in [
            "",
            "not a url",
            "https://",
            "https://host/a/b/c",
            "https://host/t?x=1",
            "https://host",
        ] {
            assert!(Authority::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn discovery_endpoints_must_be_secure() {
        let authority = Authority::parse("https://login.microsoftonline.com/t").unwrap();
        let doc = br#"{"issuer":"x","token_endpoint":"http://evil.example.com/token"}"#;
        assert!(Endpoints::from_discovery(&authority, doc).is_err());
        let doc = br#"{"issuer":"x","token_endpoint":"https://login.microsoftonline.com/t/oauth2/v2.0/token"}"#;
        let endpoints = Endpoints::from_discovery(&authority, doc).unwrap();
        assert_eq!(
            endpoints.device_authorization.unwrap().as_str(),
            "https://login.microsoftonline.com/t/oauth2/v2.0/devicecode"
        );
        assert!(Endpoints::from_discovery(&authority, b"<html>").is_err());
    }

    #[test]
    fn adfs_is_its_own_kind_with_its_own_discovery_path() {
        let adfs = Authority::parse("https://adfs.contoso.com/adfs").unwrap();
        assert_ne!(
            adfs.kind(),
            AuthorityKind::Entra,
            "ADFS is not an Entra tenant"
        );
        assert_eq!(adfs.kind(), AuthorityKind::Adfs);
        assert_eq!(adfs.realm(), "adfs");
        let doc = br#"{"issuer":"https://adfs.contoso.com/adfs","token_endpoint":"https://adfs.contoso.com/adfs/oauth2/token"}"#;
        let endpoints = Endpoints::from_discovery(&adfs, doc).unwrap();
        assert_eq!(endpoints.device_authorization, None);
        assert_eq!(
            adfs.discovery_url().unwrap().as_str(),
            "https://adfs.contoso.com/adfs/.well-known/openid-configuration"
        );
    }

    #[test]
    fn with_tenant_switches_realm() {
        let a = Authority::parse("https://login.microsoftonline.com/common").unwrap();
        let b = a.with_tenant("contoso.com").unwrap();
        assert_eq!(b.realm(), "contoso.com");
        assert_eq!(
            b.to_string(),
            "https://login.microsoftonline.com/contoso.com"
        );
    }
}
