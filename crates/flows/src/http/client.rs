//! [`HttpClient`]: one pooled `reqwest` client with timeouts, a response size cap,
//! retries, proxies and MSAL's telemetry headers, that logs requests with secrets (and,
//! unless asked, personal data) redacted.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;
use tokenhop_core::{Error, Result};
use tracing::Instrument;
use url::Url;

use super::retry::AfterStatus;
use super::throttle::{ThrottleKey, ThrottleMemory};
use super::{
    AuthorityValidation, Form, ProxyConfig, ProxyRoutes, RetryPolicy, is_retryable_status,
    parse_retry_after, redacted,
};

/// Timeouts, limits and retries for [`HttpClient`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpConfig {
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long one whole token, discovery or managed identity request may take.
    pub request_timeout: Duration,
    /// How long a response may stall between two reads. Resource calls (the bearer
    /// client) have no whole-request limit, so a large download takes as long as it
    /// needs while bytes keep coming.
    pub read_timeout: Duration,
    /// Larger response bodies are refused (token responses are a few KiB).
    pub max_response_bytes: usize,
    /// What is retried, how often, how long apart.
    pub retry: RetryPolicy,
    /// Which proxy requests go through (default: the environment's).
    pub proxy: ProxyConfig,
    /// Which authorities may receive credentials (default: validated as MSAL does).
    pub authority_validation: AuthorityValidation,
    /// Whether logs may show personal data: usernames, user and object ids, `fmi_path`
    /// values (default: no, they print as `[pii]`).
    pub log_pii: bool,
    extra_ca_pem: Option<Vec<u8>>,
    reqwest_client: Option<reqwest::Client>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
            retry: RetryPolicy::default(),
            proxy: ProxyConfig::from_env(),
            authority_validation: AuthorityValidation::default(),
            log_pii: false,
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

    /// Sends requests through `proxy` (default: [`ProxyConfig::from_env`]).
    pub fn with_proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = proxy;
        self
    }

    /// Validates authorities as `validation` says (default: as MSAL does).
    pub fn with_authority_validation(mut self, validation: AuthorityValidation) -> Self {
        self.authority_validation = validation;
        self
    }

    /// Sets the timeout of one whole request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets how long a response may stall between two reads.
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Lets logs show personal data (usernames, user ids, `fmi_path` values): for
    /// debugging only.
    pub fn with_log_pii(mut self, log_pii: bool) -> Self {
        self.log_pii = log_pii;
        self
    }

    /// Sets the response size cap.
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sends through the caller's own `reqwest::Client` — the one escape hatch to
    /// reqwest: its TLS roots, connect and read timeouts, proxies, redirect policy and
    /// connection settings are the client's, so [`HttpConfig::with_extra_ca_pem`], an
    /// explicit proxy and non-default connect or read timeouts are refused with it
    /// (set them on the client, and
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
    /// The `client-request-id` it answered (Entra's correlation id).
    pub request_id: String,
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

/// One pooled client for every request a credential makes. Cheap to clone; clones share
/// the pool, the request count and the throttle memory (a `429`/`5xx` with
/// `Retry-After` is remembered per request, and repeats inside that time are answered
/// with [`Error::Throttled`] without a request, as MSAL does).
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    config: Arc<HttpConfig>,
    /// The proxy each request goes through, for logs and errors (`None`: the caller's
    /// own reqwest client decides).
    proxies: Option<ProxyRoutes>,
    sent: Arc<std::sync::atomic::AtomicU64>,
    throttles: Arc<ThrottleMemory>,
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
        let defaults = HttpConfig::default();
        let (client, proxies) = match &config.reqwest_client {
            Some(client) => {
                if config.extra_ca_pem.is_some()
                    || config.connect_timeout != defaults.connect_timeout
                    || config.read_timeout != defaults.read_timeout
                    || (config.proxy != ProxyConfig::from_env() && !config.proxy.is_none())
                {
                    return Err(Error::configuration(
                        "with your own reqwest::Client, set its CA certificates, proxy and connect and read timeouts on that client, not in HttpConfig",
                    ));
                }
                (client.clone(), None)
            }
            None => {
                let proxies = config.proxy.resolve()?;
                (Self::build_reqwest(&config, &proxies, None)?, Some(proxies))
            }
        };
        Ok(Self {
            client,
            proxies,
            config: Arc::new(config),
            sent: Arc::default(),
            throttles: Arc::default(),
        })
    }

    /// The reqwest client for `config`, through `proxies`; `tls`, when given, replaces
    /// its TLS trust.
    fn build_reqwest(
        config: &HttpConfig,
        proxies: &ProxyRoutes,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("tokenhop/", env!("CARGO_PKG_VERSION")));
        if !config.proxy.is_none() {
            builder = builder.proxy(proxies.reqwest_proxy());
        }
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

    /// This client without retries, sharing its pool, request counter, throttle memory
    /// and wait budget: for callers that retry as their protocol says (managed identity
    /// hosts). A retryable status with `Retry-After` comes back as
    /// [`Error::Throttled`], for the caller to wait out or give up on.
    pub(crate) fn without_retries(&self) -> Self {
        let mut config = (*self.config).clone();
        config.retry = RetryPolicy {
            max_attempts: 1,
            ..config.retry
        };
        Self {
            client: self.client.clone(),
            config: Arc::new(config),
            proxies: self.proxies.clone(),
            sent: Arc::clone(&self.sent),
            throttles: Arc::clone(&self.throttles),
        }
    }

    /// A client with this one's settings, request counter and throttle memory but a
    /// connection pool of its own, connecting within `connect_timeout` and, when `tls`
    /// is given, trusting servers as it says (Service Fabric's pinned certificate; the
    /// managed identity probe's short connect timeout). A caller's own reqwest client is
    /// not used for it.
    pub(crate) fn with_own_pool(
        &self,
        connect_timeout: Duration,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<Self> {
        let mut config = (*self.config).clone();
        config.connect_timeout = connect_timeout;
        config.reqwest_client = None;
        let proxies = config.proxy.resolve()?;
        Ok(Self {
            client: Self::build_reqwest(&config, &proxies, tls)?,
            config: Arc::new(config),
            proxies: Some(proxies),
            sent: Arc::clone(&self.sent),
            throttles: Arc::clone(&self.throttles),
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

    /// The proxy requests to `url` go through, without credentials.
    pub(crate) fn proxy_for(&self, url: &Url) -> Option<String> {
        self.proxies.as_ref()?.shown_for(url)
    }

    /// Counts one request sent (the bearer client's resource calls count too).
    pub(crate) fn count_sent(&self) {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// What a failed request says: what failed, where (and through which proxy), how
    /// often it was tried, the client-request-id, and reqwest's reason; no credentials.
    pub(crate) fn transport_error(
        &self,
        url: &Url,
        attempts: u32,
        request_id: Option<&str>,
        error: reqwest::Error,
        timeout: Duration,
    ) -> Error {
        let via = match self.proxy_for(url) {
            Some(proxy) => format!(" through the proxy {proxy}"),
            None => String::new(),
        };
        let what = if error.is_timeout() {
            format!("no answer from {}{via} within {timeout:?}", loggable(url))
        } else if error.is_connect() {
            format!("cannot connect to {}{via}", loggable(url))
        } else {
            format!("request to {}{via} failed", loggable(url))
        };
        let source = error.without_url();
        let mut chain = source.to_string();
        let mut cause = std::error::Error::source(&source);
        while let Some(inner) = cause {
            chain.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        let id = request_id
            .map(|id| format!(" (client-request-id {id})"))
            .unwrap_or_default();
        Error::Transport {
            message: self.without_proxy_credentials(format!(
                "{what} after {attempts} attempt(s){id}: {chain}"
            )),
            source: None,
        }
    }

    /// `text` with any proxy credentials of the configuration taken out.
    fn without_proxy_credentials(&self, text: String) -> String {
        self.config
            .proxy
            .credentials()
            .into_iter()
            .fold(text, |text, (url, secret)| {
                text.replace(&url, &redacted(&url))
                    .replace(&secret, tokenhop_core::REDACTED)
            })
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
            tracing::debug!(form = ?form.loggable(self.config.log_pii), headers = ?header_names(headers), "sending");
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
        let body = form.map(Form::encode);
        let throttle = match form {
            Some(form) => ThrottleKey::post(url, form),
            None => ThrottleKey::get(url),
        };
        self.throttles.check(&throttle, &loggable(url))?;
        // One id for the request and its retries: Entra echoes it as the correlation id.
        let request_id = new_request_id();
        let mut attempt = 1;
        let mut waited = Duration::ZERO;
        loop {
            let mut request = match method {
                Method::Get => self.client.get(url.clone()),
                Method::Post => self.client.post(url.clone()),
            }
            .timeout(self.config.request_timeout);
            for (name, value) in telemetry_headers(&request_id).iter().chain(headers) {
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
            self.count_sent();
            let outcome = match request.send().await {
                Ok(response) => self.read(response, &request_id).await,
                Err(error) => Err(ReadFailure::Http(error)),
            };
            let next = match outcome {
                Ok(response) if is_retryable_status(response.status) => self
                    .after_retryable_status(response, url, &throttle, &request_id, attempt, waited),
                Ok(response) => {
                    tracing::debug!(status = response.status, attempt, client_request_id = %request_id, "response");
                    Next::Give(Ok(response))
                }
                Err(failure) => self.after_failure(failure, method, url, &request_id, attempt),
            };
            let wait = match next {
                Next::Give(answer) => return answer,
                Next::Retry(wait) => wait,
            };
            let started = Instant::now();
            tokio::time::sleep(wait).await;
            waited += started.elapsed();
            attempt += 1;
        }
    }

    /// After a 429 or 5xx: remember its `Retry-After` for everyone who sends this
    /// request, then retry within the policy's budget, answer, or report the throttle.
    fn after_retryable_status(
        &self,
        response: HttpResponse,
        url: &Url,
        throttle: &ThrottleKey,
        request_id: &str,
        attempt: u32,
        waited: Duration,
    ) -> Next {
        let retry_after = response
            .header("retry-after")
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        if let Some(retry_after) = retry_after {
            // Nobody sends this request again before the server said.
            self.throttles
                .remember(throttle.clone(), retry_after, response.status);
        }
        match self.config.retry.after_status(attempt, retry_after, waited) {
            AfterStatus::Retry(wait) => {
                tracing::debug!(
                    status = response.status,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
                Next::Retry(wait)
            }
            AfterStatus::Answer => {
                tracing::debug!(status = response.status, attempt, client_request_id = %request_id, "response");
                Next::Give(Ok(response))
            }
            AfterStatus::Throttled(retry_after) => {
                tracing::debug!(
                    status = response.status,
                    attempt,
                    retry_after_s = retry_after.as_secs(),
                    "throttled beyond the wait budget"
                );
                Next::Give(Err(Error::Throttled {
                    endpoint: loggable(url),
                    retry_after,
                    status: response.status,
                }))
            }
        }
    }

    /// After no response: retry what may be sent again within the policy's attempts,
    /// otherwise the typed error (marked "not sent again" when a POST's body went out).
    fn after_failure(
        &self,
        failure: ReadFailure,
        method: Method,
        url: &Url,
        request_id: &str,
        attempt: u32,
    ) -> Next {
        let error = match failure {
            ReadFailure::Http(error) => error,
            ReadFailure::TooLarge => {
                return Next::Give(Err(Error::InvalidResponse {
                    endpoint: loggable(url),
                    reason: format!(
                        "the response is larger than {} bytes",
                        self.config.max_response_bytes
                    ),
                }));
            }
        };
        if may_send_again(method, &error) && attempt < self.config.retry.max_attempts.max(1) {
            let wait = self.config.retry.delay(attempt);
            tracing::debug!(error = %error.without_url(), attempt, wait_ms = wait.as_millis() as u64, "retrying");
            return Next::Retry(wait);
        }
        // A POST whose body went out may have been acted on: not replayed.
        let body_went_out = matches!(method, Method::Post) && !error.is_connect();
        let error = self.transport_error(
            url,
            attempt,
            Some(request_id),
            error,
            self.config.request_timeout,
        );
        Next::Give(Err(if body_went_out {
            not_sent_again(error)
        } else {
            error
        }))
    }

    async fn read(
        &self,
        mut response: reqwest::Response,
        request_id: &str,
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
            request_id: request_id.to_owned(),
        })
    }
}

/// A new `client-request-id` (a random UUID, as MSAL sends).
pub(crate) fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The headers MSAL sends with every request to an authority: who the client is, and
/// the request's id.
pub(crate) fn telemetry_headers(request_id: &str) -> [(&'static str, &str); 4] {
    [
        ("client-request-id", request_id),
        ("x-client-SKU", "tokenhop.rust"),
        ("x-client-VER", env!("CARGO_PKG_VERSION")),
        ("x-client-OS", std::env::consts::OS),
    ]
}

/// `error` (a transport error) saying that its request was not sent again.
fn not_sent_again(error: Error) -> Error {
    match error {
        Error::Transport { message, source } => Error::Transport {
            message: format!(
                "{message} (a request whose body was sent is not sent again: the server may have acted on it)"
            ),
            source,
        },
        other => other,
    }
}

enum ReadFailure {
    Http(reqwest::Error),
    TooLarge,
}

/// What [`HttpClient::send`] does after one attempt.
enum Next {
    /// Wait this long, then send the request again.
    Retry(Duration),
    /// The answer (or the error) to give the caller.
    Give(Result<HttpResponse>),
}

/// Whether a request that failed with `error` may be sent again: a connection that was
/// never made, always; otherwise only a GET. A POST whose body went out may have been
/// acted on (an authorization code is redeemed once, and its tokens would be lost), so
/// it is not replayed. A timeout is not retried either: the budget is spent.
fn may_send_again(method: Method, error: &reqwest::Error) -> bool {
    if error.is_connect() {
        return true;
    }
    matches!(method, Method::Get) && !error.is_timeout() && (error.is_request() || error.is_body())
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
