//! Which proxy a request goes through: the environment's (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`, upper or lower case, as curl reads them), one given
//! explicitly, or none. Proxy credentials in a URL are used for `Proxy-Authorization`
//! and never shown: logs and errors name a proxy by scheme, host and port only.

use std::fmt;
use std::sync::Arc;

use hyper_util::client::proxy::matcher::Matcher;
use tokenhop_core::{Error, Result};
use url::Url;

/// Where requests go through: a forward proxy for `https://` and `http://` URLs, with
/// hosts that bypass it. `Debug` hides proxy credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    all: Option<String>,
    http: Option<String>,
    https: Option<String>,
    no_proxy: String,
}

impl Default for ProxyConfig {
    /// [`ProxyConfig::from_env`].
    fn default() -> Self {
        Self::from_env()
    }
}

impl ProxyConfig {
    /// The environment's proxies: `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http
    /// ones, `ALL_PROXY` for both when the specific one is not set, and `NO_PROXY`
    /// (comma-separated hosts, domains, `.domain`s, IP ranges, `*`) for the hosts that
    /// bypass them (link-local addresses, such as IMDS's, always do); each upper case first, then lower case. As curl does, `HTTP_PROXY`
    /// is ignored in a CGI process (`REQUEST_METHOD` set), where a client could set it.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The proxies the variables in `lookup` name, read as [`ProxyConfig::from_env`]
    /// reads the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |upper: &str| {
            lookup(upper)
                .or_else(|| lookup(&upper.to_ascii_lowercase()))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let cgi = lookup("REQUEST_METHOD").is_some();
        Self {
            all: get("ALL_PROXY"),
            http: if cgi { None } else { get("HTTP_PROXY") },
            https: get("HTTPS_PROXY"),
            no_proxy: get("NO_PROXY").unwrap_or_default(),
        }
    }

    /// No proxy, whatever the environment says.
    pub fn none() -> Self {
        Self {
            all: None,
            http: None,
            https: None,
            no_proxy: String::new(),
        }
    }

    /// Every request through the proxy at `url` (`http://[user:password@]host:port`;
    /// `https://` for a proxy reached over TLS).
    pub fn url(url: &str) -> Result<Self> {
        check_proxy_url(url, "the proxy URL")?;
        Ok(Self {
            all: Some(url.trim().to_owned()),
            ..Self::none()
        })
    }

    /// Hosts that bypass the proxy (`NO_PROXY`'s syntax: `localhost,.corp.example,10.0.0.0/8`).
    pub fn with_no_proxy(mut self, hosts: &str) -> Self {
        self.no_proxy = hosts.trim().to_owned();
        self
    }

    /// True when no request goes through a proxy.
    pub fn is_none(&self) -> bool {
        self.all.is_none() && self.http.is_none() && self.https.is_none()
    }

    /// Each proxy URL that holds credentials, with its password (or user name): what
    /// errors must never show.
    pub(crate) fn credentials(&self) -> Vec<(String, String)> {
        [&self.all, &self.http, &self.https]
            .into_iter()
            .flatten()
            .filter_map(|value| {
                let url = Url::parse(&with_default_scheme(value)).ok()?;
                let secret = url.password().unwrap_or(url.username());
                (!secret.is_empty()).then(|| (value.clone(), secret.to_owned()))
            })
            .collect()
    }

    /// Checks every proxy URL (an unusable one is a configuration error naming where it
    /// came from, never its credentials) and makes the matcher requests use.
    pub(crate) fn resolve(&self) -> Result<ProxyRoutes> {
        for (value, name) in [
            (&self.all, "ALL_PROXY"),
            (&self.http, "HTTP_PROXY"),
            (&self.https, "HTTPS_PROXY"),
        ] {
            if let Some(value) = value {
                check_proxy_url(value, &format!("the proxy {name}"))?;
            }
        }
        let with_scheme = |value: &Option<String>| value.as_deref().map(with_default_scheme);
        let no_proxy = match self.no_proxy.as_str() {
            "" => LINK_LOCAL.to_owned(),
            hosts => format!("{hosts},{LINK_LOCAL}"),
        };
        let mut matcher = Matcher::builder().no(no_proxy);
        if let Some(all) = with_scheme(&self.all) {
            matcher = matcher.all(all);
        }
        if let Some(http) = with_scheme(&self.http) {
            matcher = matcher.http(http);
        }
        if let Some(https) = with_scheme(&self.https) {
            matcher = matcher.https(https);
        }
        Ok(ProxyRoutes {
            matcher: Arc::new(matcher.build()),
            http: with_scheme(&self.http).or_else(|| with_scheme(&self.all)),
            https: with_scheme(&self.https).or_else(|| with_scheme(&self.all)),
        })
    }
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |value: &Option<String>| value.as_deref().map(redacted);
        f.debug_struct("ProxyConfig")
            .field("all", &shown(&self.all))
            .field("http", &shown(&self.http))
            .field("https", &shown(&self.https))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// The proxy of each request, decided once per client. `Debug` shows no credentials.
#[derive(Clone)]
pub(crate) struct ProxyRoutes {
    matcher: Arc<Matcher>,
    http: Option<String>,
    https: Option<String>,
}

impl fmt::Debug for ProxyRoutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyRoutes")
            .field("matcher", &self.matcher)
            .finish_non_exhaustive()
    }
}

impl ProxyRoutes {
    /// The proxy `url` goes through, credentials included (for the connection only).
    fn proxy_with_credentials(&self, url: &Url) -> Option<String> {
        let uri: http::Uri = url.as_str().parse().ok()?;
        self.matcher.intercept(&uri)?;
        match url.scheme() {
            "https" => self.https.clone(),
            "http" => self.http.clone(),
            _ => None,
        }
    }

    /// The proxy `url` goes through, as logs and errors may show it: no credentials.
    pub(crate) fn shown_for(&self, url: &Url) -> Option<String> {
        let uri: http::Uri = url.as_str().parse().ok()?;
        let intercept = self.matcher.intercept(&uri)?;
        Some(intercept.uri().to_string().trim_end_matches('/').to_owned())
    }

    /// The reqwest proxy that follows these routes.
    pub(crate) fn reqwest_proxy(&self) -> reqwest::Proxy {
        let routes = self.clone();
        reqwest::Proxy::custom(move |url| routes.proxy_with_credentials(url))
    }
}

/// Hosts that always bypass a proxy: link-local addresses are on this machine's own
/// link (IMDS is 169.254.169.254), so through a proxy they would reach the proxy's
/// neighbourhood instead — at worst its managed identity endpoint, and its token.
const LINK_LOCAL: &str = "169.254.0.0/16,fe80::/10";

/// `host:port` is `http://host:port`, as curl reads it.
fn with_default_scheme(value: &str) -> String {
    if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    }
}

/// A proxy URL that can be used: http or https, with a host.
fn check_proxy_url(value: &str, what: &str) -> Result<()> {
    let url = Url::parse(&with_default_scheme(value.trim())).map_err(|e| {
        Error::configuration(format!("{what} {} is not a URL: {e}", redacted(value)))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(Error::configuration(format!(
            "{what} {} must be http://host:port or https://host:port (SOCKS proxies are not supported)",
            redacted(value)
        )));
    }
    Ok(())
}

/// A proxy URL with any credentials replaced by `[redacted]`.
pub(crate) fn redacted(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else {
        return match value.rsplit_once('@') {
            Some((_, host)) => format!("{}@{host}", tokenhop_core::REDACTED),
            None => value.to_owned(),
        };
    };
    match rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority)
        .rsplit_once('@')
    {
        Some((_, host)) => format!("{scheme}://{}@{host}", tokenhop_core::REDACTED),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn shown(config: &ProxyConfig, url: &str) -> Option<String> {
        config
            .resolve()
            .unwrap()
            .shown_for(&Url::parse(url).unwrap())
    }

    #[test]
    fn reads_upper_then_lower_case_and_picks_by_scheme() {
        let config = ProxyConfig::from_lookup(env(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("http_proxy", "plain:3"),
            ("no_proxy", "internal.example,.corp.example"),
        ]));
        assert_eq!(
            shown(&config, "https://login.example/t").as_deref(),
            Some("http://upper:2")
        );
        assert_eq!(
            shown(&config, "http://api.example/").as_deref(),
            Some("http://plain:3")
        );
        assert_eq!(shown(&config, "https://internal.example/"), None);
        assert_eq!(shown(&config, "https://a.corp.example/"), None);
    }

    #[test]
    fn all_proxy_covers_both_schemes_and_cgi_ignores_http_proxy() {
        let config = ProxyConfig::from_lookup(env(&[("ALL_PROXY", "http://all:8")]));
        assert_eq!(
            shown(&config, "https://x/").as_deref(),
            Some("http://all:8")
        );
        assert_eq!(shown(&config, "http://x/").as_deref(), Some("http://all:8"));
        let cgi = ProxyConfig::from_lookup(env(&[
            ("REQUEST_METHOD", "GET"),
            ("HTTP_PROXY", "http://attacker:1"),
        ]));
        assert!(cgi.is_none());
    }

    /// A proxy elsewhere would reach its own machine's managed identity endpoint, and
    /// hand back that machine's token: link-local hosts never go through a proxy.
    #[test]
    fn link_local_hosts_bypass_every_proxy() {
        for config in [
            ProxyConfig::url("http://proxy.example:3128").unwrap(),
            ProxyConfig::from_lookup(env(&[
                ("HTTP_PROXY", "http://proxy.example:3128"),
                ("NO_PROXY", "internal.example"),
            ])),
        ] {
            assert_eq!(
                shown(
                    &config,
                    "http://169.254.169.254/metadata/identity/oauth2/token"
                ),
                None
            );
            assert_eq!(shown(&config, "http://169.254.10.1/"), None);
            assert_eq!(shown(&config, "http://[fe80::1]/"), None);
            assert_eq!(
                shown(&config, "http://169.253.169.254/").as_deref(),
                Some("http://proxy.example:3128")
            );
        }
    }

    #[test]
    fn credentials_are_used_but_never_shown() {
        let config = ProxyConfig::url("http://me:hunter2@proxy.example:3128").unwrap();
        let url = Url::parse("https://login.example/").unwrap();
        let routes = config.resolve().unwrap();
        assert_eq!(
            routes.proxy_with_credentials(&url).as_deref(),
            Some("http://me:hunter2@proxy.example:3128")
        );
        assert_eq!(
            routes.shown_for(&url).as_deref(),
            Some("http://proxy.example:3128")
        );
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("[redacted]@proxy.example:3128"),
            "{debug}"
        );
    }

    #[test]
    fn unusable_proxy_urls_are_configuration_errors_without_credentials() {
        let error = ProxyConfig::url("socks5://me:hunter2@proxy:1080").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let from_env = ProxyConfig::from_lookup(env(&[("HTTPS_PROXY", "ftp://me:hunter2@p:1")]));
        let error = from_env.resolve().err().unwrap().to_string();
        assert!(
            error.contains("HTTPS_PROXY") && !error.contains("hunter2"),
            "{error}"
        );
        assert!(ProxyConfig::none().is_none());
    }
}
