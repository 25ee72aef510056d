//! [`Cloud`]: the Entra clouds by name, with their authority hosts, their Graph and
//! Storage resources, and the hosts that are aliases of one cloud's environment (a
//! token cached under one is found under the others, as MSAL's environment aliases do).

use std::fmt;

use serde::Deserialize;
use tokenhop_core::{Error, Result};

/// Hosts Entra answers on that need no instance discovery (MSAL Python 1.39's
/// `WELL_KNOWN_AUTHORITY_HOSTS`).
pub(crate) const KNOWN_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "login-us.microsoftonline.com",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.microsoftonline.de",
    "login.sovcloud-identity.fr",
    "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg",
];

/// The hosts of one environment: the same tenant, the same cache entries.
const ALIAS_GROUPS: &[&[&str]] = &[
    &[
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    ],
    &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    &["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
];

/// An Entra cloud: where its users sign in and what its resources are called.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
#[non_exhaustive]
pub enum Cloud {
    /// `public`: the global Azure cloud (`login.microsoftonline.com`).
    #[default]
    Public,
    /// `usgov`: Azure US Government (`login.microsoftonline.us`, Graph L4).
    UsGov,
    /// `usgov-dod`: Azure US Government, Department of Defense (Graph L5).
    UsGovDod,
    /// `china`: Azure operated by 21Vianet (`login.chinacloudapi.cn`).
    China,
}

impl Cloud {
    /// Every cloud.
    pub const ALL: [Cloud; 4] = [Self::Public, Self::UsGov, Self::UsGovDod, Self::China];

    /// The name in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::UsGov => "usgov",
            Self::UsGovDod => "usgov-dod",
            Self::China => "china",
        }
    }

    /// The cloud of that name (`public`, `usgov`, `usgov-dod`, `china`).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|cloud| cloud.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                Error::configuration(format!(
                    "unknown cloud {name:?}; one of {}",
                    Self::ALL.map(Self::name).join(", ")
                ))
            })
    }

    /// Where its users and apps get tokens: `https://login.microsoftonline.com`, …
    pub fn authority_host(self) -> &'static str {
        match self {
            Self::Public => "https://login.microsoftonline.com",
            Self::UsGov | Self::UsGovDod => "https://login.microsoftonline.us",
            Self::China => "https://login.chinacloudapi.cn",
        }
    }

    /// Microsoft Graph's resource URI in this cloud.
    pub fn graph(self) -> &'static str {
        match self {
            Self::Public => "https://graph.microsoft.com",
            Self::UsGov => "https://graph.microsoft.us",
            Self::UsGovDod => "https://dod-graph.microsoft.us",
            Self::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// Azure Storage's resource URI (the same in every cloud; the account hosts differ).
    pub fn storage(self) -> &'static str {
        "https://storage.azure.com"
    }

    /// Graph's app-token scope in this cloud (`{graph}/.default`).
    pub fn graph_default_scope(self) -> String {
        format!("{}/.default", self.graph())
    }

    /// Storage's app-token scope (`{storage}/.default`).
    pub fn storage_default_scope(self) -> String {
        format!("{}/.default", self.storage())
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Cloud {
    type Error = Error;

    fn try_from(name: String) -> Result<Self> {
        Self::from_name(&name)
    }
}

/// True for a host of an Entra cloud (lowercase).
#[cfg(test)]
fn is_known_host(host: &str) -> bool {
    KNOWN_HOSTS.contains(&host)
}

/// The environments a cache entry for `environment` may be under: itself first, then
/// the other hosts of its cloud.
pub(crate) fn environment_aliases(environment: &str) -> Vec<String> {
    let mut environments = vec![environment.to_owned()];
    if let Some(group) = ALIAS_GROUPS.iter().find(|g| g.contains(&environment)) {
        environments.extend(
            group
                .iter()
                .filter(|host| **host != environment)
                .map(|host| (*host).to_owned()),
        );
    }
    environments
}

/// True when `a` and `b` are the same host or aliases of one environment.
pub(crate) fn same_environment(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || ALIAS_GROUPS.iter().any(|g| {
            g.contains(&a.to_ascii_lowercase().as_str())
                && g.contains(&b.to_ascii_lowercase().as_str())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cloud_has_its_name_host_and_resources() {
        for cloud in Cloud::ALL {
            assert_eq!(Cloud::from_name(cloud.name()).unwrap(), cloud);
            let host = url::Url::parse(cloud.authority_host()).unwrap();
            assert!(is_known_host(host.host_str().unwrap()), "{cloud}");
            assert!(cloud.graph().starts_with("https://"));
        }
        assert_eq!(Cloud::from_name("USGov").unwrap(), Cloud::UsGov);
        assert_eq!(
            Cloud::UsGov.graph_default_scope(),
            "https://graph.microsoft.us/.default"
        );
        assert!(
            Cloud::from_name("mars")
                .unwrap_err()
                .to_string()
                .contains("usgov")
        );
    }

    #[test]
    fn aliases_of_one_environment() {
        assert_eq!(
            environment_aliases("login.windows.net"),
            [
                "login.windows.net",
                "login.microsoftonline.com",
                "login.microsoft.com",
                "sts.windows.net"
            ]
        );
        assert_eq!(environment_aliases("127.0.0.1"), ["127.0.0.1"]);
        assert!(same_environment(
            "login.microsoftonline.us",
            "LOGIN.usgovcloudapi.net"
        ));
        assert!(!same_environment(
            "login.microsoftonline.com",
            "login.microsoftonline.us"
        ));
    }
}
