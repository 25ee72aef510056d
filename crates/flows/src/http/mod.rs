//! HTTP for token requests: one pooled client with timeouts, a size cap, retries and
//! redacted logs; form bodies that never print their secrets; which URLs may carry them.

mod client;
mod form;
mod retry;
mod throttle;
mod transport;

pub use client::{HttpClient, HttpConfig};
pub(crate) use client::{HttpResponse, loggable};
pub(crate) use form::Form;
pub use retry::RetryPolicy;
pub(crate) use retry::{is_retryable_status, parse_retry_after};
pub(crate) use transport::check_transport_security;
