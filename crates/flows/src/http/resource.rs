//! Resource calls with a bearer token: https only (loopback aside), no whole-request
//! timeout (the client's connect and read timeouts apply, so a large download takes as
//! long as its bytes keep coming), and redirects followed by hand so that the token
//! never leaves the origin it was sent to and never goes over plain http.

use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Method, Request, Response, StatusCode};
use tokenhop_core::{Error, Result};
use url::Url;

use super::{HttpClient, check_transport_security, loggable};

/// Redirects followed for one call at most.
const MAX_REDIRECTS: usize = 10;

/// Refuses a URL a token must not go to: a configuration error that says why.
pub(crate) fn check_resource_url(url: &Url) -> Result<()> {
    check_transport_security(url).map_err(|e| match e {
        Error::Configuration { message } => {
            Error::configuration(format!("refusing to send a bearer token: {message}"))
        }
        other => other,
    })
}

/// Sends `request` with `authorization`, following redirects: the token goes only to
/// the origin (scheme, host, port) of the first request; a redirect to plain http on
/// another host is refused.
pub(crate) async fn send_with_token(
    http: &HttpClient,
    mut request: Request,
    authorization: HeaderValue,
) -> Result<Response> {
    check_resource_url(request.url())?;
    let origin = request.url().origin();
    for _ in 0..=MAX_REDIRECTS {
        if request.url().origin() == origin {
            request
                .headers_mut()
                .insert(AUTHORIZATION, authorization.clone());
        } else {
            request.headers_mut().remove(AUTHORIZATION);
        }
        let replay = request.try_clone();
        let url = request.url().clone();
        let response = http
            .reqwest()
            .execute(request)
            .await
            .map_err(|e| http.transport_error(&url, 1, None, e, http.config().read_timeout))?;
        let Some(next) = redirect_target(&response)? else {
            return Ok(response);
        };
        check_resource_url(&next).map_err(|_| {
            Error::configuration(format!(
                "{} redirected to {}, which is not https: the request is not followed there",
                loggable(&url),
                loggable(&next)
            ))
        })?;
        request = match (response.status(), replay) {
            // 307 and 308 repeat the request as it was.
            (StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT, Some(mut replay)) => {
                *replay.url_mut() = next;
                replay
            }
            (StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT, None) => {
                return Ok(response);
            }
            // 301, 302 and 303 continue with a GET without the body, as browsers do.
            (_, replay) => {
                let mut get = Request::new(Method::GET, next);
                if let Some(replay) = replay {
                    *get.headers_mut() = replay.headers().clone();
                }
                for header in [CONTENT_TYPE, CONTENT_LENGTH] {
                    get.headers_mut().remove(header);
                }
                get
            }
        };
    }
    Err(Error::InvalidResponse {
        endpoint: loggable(request.url()),
        reason: format!("more than {MAX_REDIRECTS} redirects"),
    })
}

/// The absolute URL a redirect response points to, if it is one.
fn redirect_target(response: &Response) -> Result<Option<Url>> {
    if !matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return Ok(None);
    }
    let Some(location) = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    response
        .url()
        .join(location)
        .map(Some)
        .map_err(|e| Error::InvalidResponse {
            endpoint: loggable(response.url()),
            reason: format!("the redirect's Location is not a URL: {e}"),
        })
}
