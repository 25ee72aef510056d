//! The loopback listener that receives the authorization code: it answers the browser
//! with a short page, accepts the one response whose `state` matches, and ignores
//! everything else (favicon requests, stale tabs, forged responses).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokenhop_core::{Error, Result, Secret};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

const MAX_FORM_BYTES: usize = 64 * 1024;

/// A bound listener on `127.0.0.1`. Binding fails when the port is taken, which is the
/// interactive flow's cue to fall back to the device code flow.
#[derive(Debug)]
pub(crate) struct RedirectListener {
    listener: TcpListener,
    address: SocketAddr,
}

impl RedirectListener {
    /// Binds `127.0.0.1:port` (0 = any free port).
    pub(crate) async fn bind(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let address = listener.local_addr()?;
        Ok(Self { listener, address })
    }

    /// `http://127.0.0.1:{port}`: the redirect URI to send, on the address the listener
    /// is bound to (`localhost` may resolve to `::1`, where nothing listens). Entra
    /// takes it for apps registered with `http://localhost`, on any port.
    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The bound port.
    #[cfg(test)]
    pub(crate) fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serves until a response with `state` arrives and returns its code (or the
    /// identity provider's error). Runs until then: wrap it in a timeout.
    pub(crate) async fn wait_for_code(self, state: &Secret) -> Result<Secret> {
        let (sender, mut receiver) = mpsc::channel::<Result<Secret>>(1);
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                outcome = receiver.recv() => {
                    return outcome.unwrap_or_else(|| Err(Error::Cancelled { reason: "the redirect listener stopped".into() }));
                }
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let sender = sender.clone();
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request| handle(request, state.clone(), sender.clone()));
                        // A browser that hangs up mid-request is not our problem.
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                    });
                }
            }
        }
    }
}

async fn handle(
    request: Request<Incoming>,
    expected_state: Secret,
    sender: mpsc::Sender<Result<Secret>>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let params: Vec<(String, String)> = match *request.method() {
        Method::GET => query_pairs(request.uri().query().unwrap_or_default().as_bytes()),
        Method::POST => match Limited::new(request.into_body(), MAX_FORM_BYTES)
            .collect()
            .await
        {
            Ok(body) => query_pairs(&body.to_bytes()),
            Err(_) => return Ok(page(StatusCode::PAYLOAD_TOO_LARGE, "Request too large.")),
        },
        _ => return Ok(page(StatusCode::METHOD_NOT_ALLOWED, "Not supported.")),
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("state") != Some(expected_state.expose_secret()) {
        return Ok(page(
            StatusCode::BAD_REQUEST,
            "This is not the sign-in response tokenhop is waiting for.",
        ));
    }
    if let Some(code) = get("code").filter(|c| !c.is_empty()) {
        let _ = sender.try_send(Ok(Secret::new(code)));
        return Ok(page(
            StatusCode::OK,
            "Sign-in complete. You can close this window and return to the application.",
        ));
    }
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default().to_owned();
        let _ = sender.try_send(Err(Error::TokenExchange {
            hop: None,
            error: error.to_owned(),
            description: description.clone(),
            error_codes: Vec::new(),
            correlation_id: None,
        }));
        return Ok(page(
            StatusCode::OK,
            &format!("Sign-in failed: {error}. {description}"),
        ));
    }
    Ok(page(
        StatusCode::BAD_REQUEST,
        "The response has neither a code nor an error.",
    ))
}

fn query_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn page(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tokenhop</title></head>\
         <body><p>{}</p></body></html>",
        escape_html(text)
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn send(port: u16, request: String) -> String {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    fn get(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    }

    #[tokio::test]
    async fn ignores_strays_and_wrong_state_then_takes_the_right_response() {
        let listener = RedirectListener::bind(0).await.unwrap();
        let port = listener.port();
        let state = Secret::new("expected-state");
        let waiter = tokio::spawn(async move { listener.wait_for_code(&state).await });

        assert!(
            send(port, get("/favicon.ico"))
                .await
                .starts_with("HTTP/1.1 400")
        );
        assert!(
            send(port, get("/?code=forged&state=other"))
                .await
                .starts_with("HTTP/1.1 400")
        );
        assert!(!waiter.is_finished());
        let answer = send(port, get("/?code=the-code&state=expected-state")).await;
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.contains("close this window"),
            "{answer}"
        );
        let code = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(code.expose_secret(), "the-code");
    }

    #[tokio::test]
    async fn form_post_responses_and_identity_provider_errors() {
        let listener = RedirectListener::bind(0).await.unwrap();
        let port = listener.port();
        let waiter = tokio::spawn(async move { listener.wait_for_code(&Secret::new("s1")).await });
        let body = "error=access_denied&error_description=%3Cscript%3E&state=s1";
        let request = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let answer = send(port, request).await;
        assert!(
            answer.contains("&lt;script&gt;") && !answer.contains("<script>"),
            "{answer}"
        );
        let err = waiter.await.unwrap().unwrap_err();
        assert!(
            matches!(err, Error::TokenExchange { ref error, .. } if error == "access_denied"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn the_redirect_uri_is_the_bound_address() {
        let listener = RedirectListener::bind(0).await.unwrap();
        assert_eq!(
            listener.redirect_uri(),
            format!("http://127.0.0.1:{}", listener.port())
        );
    }

    #[tokio::test]
    async fn a_taken_port_fails_to_bind() {
        let first = RedirectListener::bind(0).await.unwrap();
        assert!(RedirectListener::bind(first.port()).await.is_err());
    }
}
