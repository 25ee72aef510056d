//! [`BearerClient`]: an HTTP client for protected resources that adds
//! `Authorization: Bearer …` from a token provider to every request and survives one
//! revoked or expired token.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Request, Response, StatusCode};
use tokenhop_core::{
    AccessToken, BlockingTokenProvider, Error, Result, TokenProvider, blocking_to_async,
};

use crate::http::{HttpClient, HttpConfig, loggable};

/// How much of a 401 body is read to see why the token was refused.
const MAX_CHALLENGE_BODY: usize = 64 * 1024;

/// Sends requests with a bearer token from a provider. It keeps no token itself:
/// whoever owns the provider decides about caching and refresh.
///
/// On a `401` whose body says `InvalidAuthenticationToken` or whose `WWW-Authenticate`
/// says `invalid_token`, it asks the provider for a refreshed token once and sends the
/// request once more (only requests whose body can be replayed; a streaming body is
/// sent once). A second such `401` is [`Error::TokenExpired`]. Any other response,
/// including other `401`s, is returned untouched.
#[derive(Clone)]
pub struct BearerClient {
    http: reqwest::Client,
    provider: Arc<dyn TokenProvider>,
}

impl fmt::Debug for BearerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerClient").finish_non_exhaustive()
    }
}

impl BearerClient {
    /// A client that asks `provider` for tokens, with default HTTP settings.
    pub fn new(provider: impl TokenProvider + 'static) -> Result<Self> {
        Self::with_http(provider, &HttpClient::new(HttpConfig::default())?)
    }

    /// A client for a blocking provider: each token is fetched on tokio's blocking pool.
    pub fn from_blocking(provider: impl BlockingTokenProvider + 'static) -> Result<Self> {
        Self::new(blocking_to_async(provider))
    }

    /// A client that shares `http`'s connection pool and settings (e.g. an extra CA).
    pub fn with_http(provider: impl TokenProvider + 'static, http: &HttpClient) -> Result<Self> {
        Ok(Self {
            http: http.reqwest().clone(),
            provider: Arc::new(provider),
        })
    }

    /// The underlying `reqwest` client, to build requests for [`BearerClient::send`].
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.http
    }

    /// GETs `url`.
    pub async fn get(&self, url: &str) -> Result<Response> {
        let request = self.http.get(url).build().map_err(|e| {
            Error::configuration(format!("cannot build a request: {}", e.without_url()))
        })?;
        self.send(request).await
    }

    /// Sends `request` with a bearer token, retrying once with a refreshed token as
    /// described on [`BearerClient`].
    pub async fn send(&self, request: Request) -> Result<Response> {
        let replay = request.try_clone();
        let token = self.provider.token().await?;
        let response = self.execute(request, &token).await?;
        let Some(replay) = replay else {
            return Ok(response);
        };
        let (response, rejection) = inspect_rejection(response).await?;
        let Some(first_reason) = rejection else {
            return Ok(response);
        };
        tracing::debug!(reason = %first_reason, "the resource rejected the token; refreshing once");
        let token = self.provider.refreshed_token().await?;
        let response = self.execute(replay, &token).await?;
        let (response, rejection) = inspect_rejection(response).await?;
        match rejection {
            Some(reason) => Err(Error::TokenExpired { reason }),
            None => Ok(response),
        }
    }

    async fn execute(&self, mut request: Request, token: &AccessToken) -> Result<Response> {
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
        request.headers_mut().insert(AUTHORIZATION, value);
        let url = loggable(request.url());
        self.http
            .execute(request)
            .await
            .map_err(|e| Error::Transport {
                message: format!("request to {url} failed: {}", e.without_url()),
                source: None,
            })
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
