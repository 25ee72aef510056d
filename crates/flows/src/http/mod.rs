//! HTTP for token requests.

mod client;
mod form;
mod retry;

pub(crate) use client::loggable;
pub use client::{HttpClient, HttpConfig, HttpResponse};
pub use form::{Form, SECRET_FIELDS};
pub use retry::{RetryPolicy, is_retryable_status, parse_retry_after};
