//! [`HttpClient`]: one pooled `reqwest` client with timeouts, a response size cap and
//! retries, that logs requests with secrets redacted.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use tokenhop_core::{Error, Result};
use tracing::Instrument;
use url::Url;

use super::{Form, RetryPolicy, is_retryable_status, parse_retry_after};

/// Timeouts, limits and retries for [`HttpClient`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpConfig {
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long one whole request may take.
    pub request_timeout: Duration,
    /// Larger response bodies are refused (token responses are a few KiB).
    pub max_response_bytes: usize,
    /// What is retried, how often, how long apart.
    pub retry: RetryPolicy,
    extra_ca_pem: Option<Vec<u8>>,
    reqwest_client: Option<reqwest::Client>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
            retry: RetryPolicy::default(),
            extra_ca_pem: None,
            reqwest_client: None,
        }
    }
}

impl HttpConfig {
    /// Trusts one more CA (PEM, one or more certificates) besides the platform's roots,
    /// e.g. the emulator's.
    pub fn with_extra_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_ca_pem = Some(pem.into());
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the timeout of one whole request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the response size cap.
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sends through the caller's own `reqwest::Client` — the one escape hatch to
    /// reqwest: its TLS roots, connect timeout, proxies, redirect policy and connection
    /// settings are the client's, so [`HttpConfig::with_extra_ca_pem`] and a
    /// non-default `connect_timeout` are refused with it (set them on the client, and
    /// build it with `redirect::Policy::none()` as tokenhop does, so that no form is
    /// replayed to another host). The request timeout, the response size cap and the
    /// retry policy still apply.
    pub fn with_reqwest_client(mut self, client: reqwest::Client) -> Self {
        self.reqwest_client = Some(client);
        self
    }
}

/// An HTTP response, read whole (up to the size cap).
#[derive(Clone)]
pub(crate) struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body. May hold tokens: never log it.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl HttpResponse {
    /// A header's value, when present and text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One pooled client for every request a credential makes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    config: Arc<HttpConfig>,
    sent: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone, Copy, Debug)]
enum Method {
    Get,
    Post,
}

impl HttpClient {
    /// Builds the client (no I/O). Installs rustls' `ring` provider as the process default
    /// when none is installed yet.
    pub fn new(config: HttpConfig) -> Result<Self> {
        // Err means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = match &config.reqwest_client {
            Some(client) => {
                if config.extra_ca_pem.is_some()
                    || config.connect_timeout != HttpConfig::default().connect_timeout
                {
                    return Err(Error::configuration(
                        "with your own reqwest::Client, set its CA certificates and connect timeout on that client, not in HttpConfig",
                    ));
                }
                client.clone()
            }
            None => Self::build_reqwest(&config, None)?,
        };
        Ok(Self {
            client,
            config: Arc::new(config),
            sent: Arc::default(),
        })
    }

    /// The reqwest client for `config`; `tls`, when given, replaces its TLS trust.
    fn build_reqwest(
        config: &HttpConfig,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("tokenhop/", env!("CARGO_PKG_VERSION")));
        if let Some(tls) = tls {
            builder = builder.tls_backend_preconfigured(tls);
        } else if let Some(pem) = &config.extra_ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                Error::configuration(format!("the extra CA certificate is not valid PEM: {e}"))
            })?;
            builder = builder.tls_certs_merge(certificates);
        }
        builder
            .build()
            .map_err(|e| Error::configuration(format!("cannot build the HTTP client: {e}")))
    }

    /// This client without retries, sharing its pool and request counter: for callers
    /// that retry as their protocol says (managed identity hosts).
    pub(crate) fn without_retries(&self) -> Self {
        let mut config = (*self.config).clone();
        config.retry = RetryPolicy::none();
        Self {
            client: self.client.clone(),
            config: Arc::new(config),
            sent: Arc::clone(&self.sent),
        }
    }

    /// A client with this one's settings and request counter but a connection pool of
    /// its own, connecting within `connect_timeout` and, when `tls` is given, trusting
    /// servers as it says (Service Fabric's pinned certificate; the managed identity
    /// probe's short connect timeout). A caller's own reqwest client is not used for it.
    pub(crate) fn with_own_pool(
        &self,
        connect_timeout: Duration,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<Self> {
        let mut config = (*self.config).clone();
        config.connect_timeout = connect_timeout;
        config.reqwest_client = None;
        Ok(Self {
            client: Self::build_reqwest(&config, tls)?,
            config: Arc::new(config),
            sent: Arc::clone(&self.sent),
        })
    }

    /// How many requests (attempts, retries included) this client and its clones sent
    /// (token requests, discovery, managed identity): a caller can tell a
    /// cache hit (none) from a network fetch.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `http` if the caller gave one, else a client with default settings: what every
    /// builder does with its optional HTTP client.
    pub(crate) fn given_or_default(http: Option<HttpClient>) -> Result<Self> {
        match http {
            Some(http) => Ok(http),
            None => Self::new(HttpConfig::default()),
        }
    }

    /// The pooled `reqwest` client, for the bearer client's resource calls.
    pub(crate) fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// POSTs a form, retrying as the policy says.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: &Form,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse> {
        let span = tracing::debug_span!("tokenhop.http", method = "POST", url = %loggable(url), grant_type = form.get("grant_type").unwrap_or(""));
        async {
            tracing::debug!(form = ?form, headers = ?header_names(headers), "sending");
            self.send(Method::Post, url, Some(form), headers).await
        }
        .instrument(span)
        .await
    }

    /// GETs a URL, retrying as the policy says.
    pub(crate) async fn get(&self, url: &Url, headers: &[(&str, &str)]) -> Result<HttpResponse> {
        let span = tracing::debug_span!("tokenhop.http", method = "GET", url = %loggable(url));
        async {
            tracing::debug!(headers = ?header_names(headers), "sending");
            self.send(Method::Get, url, None, headers).await
        }
        .instrument(span)
        .await
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        form: Option<&Form>,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse> {
        let policy = &self.config.retry;
        let body = form.map(Form::encode);
        let mut attempt = 1;
        loop {
            let mut request = match method {
                Method::Get => self.client.get(url.clone()),
                Method::Post => self.client.post(url.clone()),
            }
            .timeout(self.config.request_timeout);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(body) = &body {
                request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body.expose_secret().to_owned());
            }
            self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let outcome = match request.send().await {
                Ok(response) => self.read(response).await,
                Err(error) => Err(ReadFailure::Http(error)),
            };
            match outcome {
                Ok(response)
                    if is_retryable_status(response.status)
                        && attempt < policy.max_attempts.max(1) =>
                {
                    let retry_after = response
                        .header("retry-after")
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let wait = policy.delay(attempt, retry_after);
                    tracing::debug!(
                        status = response.status,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                Ok(response) => {
                    tracing::debug!(status = response.status, attempt, "response");
                    return Ok(response);
                }
                Err(ReadFailure::Http(error))
                    if is_retryable_error(&error) && attempt < policy.max_attempts.max(1) =>
                {
                    let wait = policy.delay(attempt, None);
                    tracing::debug!(error = %error.without_url(), attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(ReadFailure::Http(error)) => {
                    return Err(self.transport_error(url, attempt, error));
                }
                Err(ReadFailure::TooLarge) => {
                    return Err(Error::InvalidResponse {
                        endpoint: loggable(url),
                        reason: format!(
                            "the response is larger than {} bytes",
                            self.config.max_response_bytes
                        ),
                    });
                }
            }
            attempt += 1;
        }
    }

    async fn read(
        &self,
        mut response: reqwest::Response,
    ) -> std::result::Result<HttpResponse, ReadFailure> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let limit = self.config.max_response_bytes;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(ReadFailure::Http)? {
            if body.len() + chunk.len() > limit {
                return Err(ReadFailure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn transport_error(&self, url: &Url, attempts: u32, error: reqwest::Error) -> Error {
        let what = if error.is_timeout() {
            format!(
                "no answer from {} within {:?}",
                loggable(url),
                self.config.request_timeout
            )
        } else if error.is_connect() {
            format!("cannot connect to {}", loggable(url))
        } else {
            format!("request to {} failed", loggable(url))
        };
        let source = error.without_url();
        Error::Transport {
            message: format!("{what} after {attempts} attempt(s): {source}"),
            source: Some(Arc::new(source)),
        }
    }
}

enum ReadFailure {
    Http(reqwest::Error),
    TooLarge,
}

fn is_retryable_error(error: &reqwest::Error) -> bool {
    !error.is_timeout() && (error.is_connect() || error.is_request() || error.is_body())
}

/// The URL without query or fragment: what goes into logs and errors.
pub(crate) fn loggable(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

fn header_names<'a>(headers: &'a [(&'a str, &'a str)]) -> Vec<&'a str> {
    headers.iter().map(|(name, _)| *name).collect()
}
