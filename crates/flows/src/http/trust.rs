//! [`AuthorityValidation`]: which authorities a client trusts with its credentials, as
//! data; the flows' validation module does the checks it asks for.

use tokenhop_core::{Error, Result};
use url::Url;

use super::is_loopback;
use crate::cloud::KNOWN_HOSTS;

/// Where Entra answers instance discovery for hosts it does not know by name.
const INSTANCE_DISCOVERY: &str = "https://login.microsoftonline.com/common/discovery/instance";

/// Which authorities a client trusts with its credentials. The default validates:
/// the hosts of every Entra cloud and loopback hosts (the emulator) need no instance
/// discovery; other hosts are asked about at Entra's instance discovery. Set on
/// [`crate::HttpConfig::with_authority_validation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityValidation {
    enabled: bool,
    trusted_hosts: Vec<String>,
    trust_loopback: bool,
    instance_discovery: Option<Url>,
}

impl Default for AuthorityValidation {
    fn default() -> Self {
        Self {
            enabled: true,
            trusted_hosts: KNOWN_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
            trust_loopback: true,
            instance_discovery: None,
        }
    }
}

impl AuthorityValidation {
    /// No validation: the caller vouches for every authority (MSAL's
    /// `validate_authority=False`). No instance discovery, no issuer or endpoint check.
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Whether authorities are validated.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Replaces the hosts trusted without instance discovery (default: every Entra
    /// cloud's hosts).
    pub fn with_trusted_hosts(
        mut self,
        hosts: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.trusted_hosts = hosts
            .into_iter()
            .map(|h| h.into().trim().to_ascii_lowercase())
            .collect();
        self
    }

    /// Whether loopback hosts (the emulator) are trusted without instance discovery
    /// (default: yes).
    pub fn with_loopback_trusted(mut self, trusted: bool) -> Self {
        self.trust_loopback = trusted;
        self
    }

    /// Asks another instance discovery endpoint (default: Entra's, at
    /// `https://login.microsoftonline.com/common/discovery/instance`).
    pub fn with_instance_discovery(mut self, endpoint: Url) -> Self {
        self.instance_discovery = Some(endpoint);
        self
    }

    /// Whether `url`'s host (`host`, lowercase) needs no instance discovery.
    pub(crate) fn trusts(&self, host: &str, url: &Url) -> bool {
        self.trusted_hosts.iter().any(|h| h == host) || (self.trust_loopback && is_loopback(url))
    }

    /// Where instance discovery is asked.
    pub(crate) fn instance_discovery_endpoint(&self) -> Result<Url> {
        match &self.instance_discovery {
            Some(endpoint) => Ok(endpoint.clone()),
            None => Url::parse(INSTANCE_DISCOVERY)
                .map_err(|e| Error::configuration(format!("{INSTANCE_DISCOVERY}: {e}"))),
        }
    }
}
