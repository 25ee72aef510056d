//! [`BearerClient`]: an HTTP client for protected resources that adds
//! `Authorization: Bearer …` from a token provider to every request and survives one
//! revoked or expired token.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Request, Response, StatusCode};
use tokenhop_core::{
    AccessToken, BlockingTokenProvider, Error, Result, TokenProvider, blocking_to_async,
};

use crate::http::{HttpClient, check_resource_url, loggable, send_with_token};

/// How much of a 401 body is read to see why the token was refused.
const MAX_CHALLENGE_BODY: usize = 64 * 1024;

/// Builds a [`BearerClient`]. Building does no I/O.
pub struct BearerClientBuilder {
    provider: Arc<dyn TokenProvider>,
    http: Option<HttpClient>,
}

impl fmt::Debug for BearerClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerClientBuilder")
            .finish_non_exhaustive()
    }
}

impl BearerClientBuilder {
    /// Shares `http`'s connection pool and settings (e.g. an extra CA).
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// The client.
    pub fn build(self) -> Result<BearerClient> {
        Ok(BearerClient {
            http: HttpClient::given_or_default(self.http)?,
            provider: self.provider,
        })
    }
}

/// Sends requests with a bearer token from a provider. It keeps no token itself:
/// whoever owns the provider decides about caching and refresh.
///
/// Tokens go over `https://` only (plain `http://` to loopback hosts aside): another
/// URL is a configuration error before a token is asked for. Redirects are followed
/// with the token only on the first request's origin, and never to plain http. Calls
/// have no whole-request timeout: the HTTP client's connect and read (idle between
/// bytes) timeouts apply, so a large download takes as long as it needs.
///
/// On a `401` whose body says `InvalidAuthenticationToken` or whose `WWW-Authenticate`
/// says `invalid_token`, it asks the provider for a refreshed token once and sends the
/// request once more. A second such `401` is [`Error::TokenExpired`]. Any other
/// response, including other `401`s, is returned untouched.
#[derive(Clone)]
pub struct BearerClient {
    http: HttpClient,
    provider: Arc<dyn TokenProvider>,
}

impl fmt::Debug for BearerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerClient").finish_non_exhaustive()
    }
}

/// A resource's answer to a [`BearerClient`] request. Its body is read on demand, so
/// a large download is not held in memory until asked for.
#[derive(Debug)]
pub struct BearerResponse {
    response: Response,
}

impl BearerResponse {
    /// The status code.
    pub fn status(&self) -> http::StatusCode {
        self.response.status()
    }

    /// The headers.
    pub fn headers(&self) -> &http::HeaderMap {
        self.response.headers()
    }

    /// The URL that answered.
    pub fn url(&self) -> &url::Url {
        self.response.url()
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let url = loggable(self.response.url());
        self.response
            .chunk()
            .await
            .map(|chunk| chunk.map(|bytes| bytes.to_vec()))
            .map_err(|e| body_error(&url, e))
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Vec<u8>> {
        let url = loggable(self.response.url());
        self.response
            .bytes()
            .await
            .map(|bytes| bytes.to_vec())
            .map_err(|e| body_error(&url, e))
    }
}

fn body_error(url: &str, error: reqwest::Error) -> Error {
    Error::transport(format!(
        "reading the response body from {url} failed: {}",
        error.without_url()
    ))
}

impl BearerClient {
    /// A client that asks `provider` for tokens, with default HTTP settings.
    pub fn new(provider: impl TokenProvider + 'static) -> Result<Self> {
        Self::builder(provider).build()
    }

    /// A builder for a client that asks `provider` for tokens.
    pub fn builder(provider: impl TokenProvider + 'static) -> BearerClientBuilder {
        BearerClientBuilder {
            provider: Arc::new(provider),
            http: None,
        }
    }

    /// A client for a blocking provider: each token is fetched on tokio's blocking pool.
    pub fn from_blocking(provider: impl BlockingTokenProvider + 'static) -> Result<Self> {
        Self::new(blocking_to_async(provider))
    }

    /// GETs `url`.
    pub async fn get(&self, url: &str) -> Result<BearerResponse> {
        let url = url::Url::parse(url)
            .map_err(|e| Error::configuration(format!("{url:?} is not a URL: {e}")))?;
        self.send(
            http::Request::get(url.as_str())
                .body(Vec::new())
                .map_err(|e| Error::configuration(format!("cannot build a request: {e}")))?,
        )
        .await
    }

    /// Sends `request` with a bearer token, retrying once with a refreshed token as
    /// described on [`BearerClient`].
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<BearerResponse> {
        let request = Request::try_from(request.map(reqwest::Body::from)).map_err(|e| {
            Error::configuration(format!("cannot send this request: {}", e.without_url()))
        })?;
        // Before a token is even asked for: plain http is for loopback only.
        check_resource_url(request.url())?;
        let replay = request.try_clone();
        let token = self.provider.token().await?;
        let response = self.execute(request, &token).await?;
        let Some(replay) = replay else {
            return Ok(BearerResponse { response });
        };
        let (response, rejection) = inspect_rejection(response).await?;
        let Some(first_reason) = rejection else {
            return Ok(BearerResponse { response });
        };
        tracing::debug!(reason = %first_reason, "the resource rejected the token; refreshing once");
        let token = self.provider.refreshed_token().await?;
        let response = self.execute(replay, &token).await?;
        let (response, rejection) = inspect_rejection(response).await?;
        match rejection {
            Some(reason) => Err(Error::TokenExpired { reason }),
            None => Ok(BearerResponse { response }),
        }
    }

    async fn execute(&self, request: Request, token: &AccessToken) -> Result<Response> {
        let mut value = HeaderValue::try_from(format!(
            "{} {}",
            token.token_type,
            token.secret.expose_secret()
        ))
        .map_err(|_| Error::InvalidResponse {
            endpoint: "token provider".into(),
            reason: "the token has characters that cannot go in a header".into(),
        })?;
        value.set_sensitive(true);
        send_with_token(&self.http, request, value).await
    }
}

/// For a token-related 401, the reason (and the response rebuilt from what was read);
/// otherwise the response untouched.
async fn inspect_rejection(response: Response) -> Result<(Response, Option<String>)> {
    if response.status() != StatusCode::UNAUTHORIZED {
        return Ok((response, None));
    }
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.contains("invalid_token"))
        .map(str::to_owned);
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = read_capped(response).await?;
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/code")
                .and_then(|c| c.as_str())
                .map(str::to_owned)
        });
    let reason = match (code.as_deref(), challenge) {
        (Some("InvalidAuthenticationToken"), _) => Some("InvalidAuthenticationToken".to_owned()),
        (_, Some(challenge)) => Some(format!("WWW-Authenticate: {challenge}")),
        _ => None,
    };
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok((Response::from(rebuilt), reason))
}

async fn read_capped(mut response: Response) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::Transport {
        message: format!("reading a 401 body failed: {}", e.without_url()),
        source: None,
    })? {
        let room = MAX_CHALLENGE_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(body)
}
