//! Which URLs may carry tokens and credentials: `https://`, and `http://` only to a
//! loopback host (the emulator, tests).

use std::net::IpAddr;

use tokenhop_core::{Error, Result};
use url::Url;

/// Checks that a URL may carry tokens: `https://`, or `http://` to a loopback host.
pub(crate) fn check_transport_security(url: &Url) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::configuration(format!(
            "{url} uses http://; tokens are only sent over https:// (http:// is allowed for loopback hosts only)"
        ))),
        other => Err(Error::configuration(format!(
            "{url}: unsupported scheme {other:?}; use https://"
        ))),
    }
}

/// True for `localhost`, `127.0.0.0/8` and `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}
