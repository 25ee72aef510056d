//! HTTP: one pooled client with timeouts, a size cap, retries, proxies and redacted
//! logs; form bodies that never print their secrets; which URLs may carry them; resource
//! calls that keep their bearer token on https and on its origin.

mod client;
mod form;
mod proxy;
mod resource;
mod retry;
mod transport;
mod trust;

pub use client::{HttpClient, HttpConfig};
pub(crate) use client::{HttpResponse, loggable};
pub(crate) use form::Form;
pub use proxy::ProxyConfig;
pub(crate) use proxy::{ProxyRoutes, redacted};
pub(crate) use resource::{check_resource_url, send_with_token};
pub use retry::RetryPolicy;
pub(crate) use retry::{is_retryable_status, parse_retry_after};
pub(crate) use transport::{check_transport_security, is_loopback};
pub use trust::AuthorityValidation;
