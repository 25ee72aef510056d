//! The authorization code flow with PKCE in the user's browser, and the decision to fall
//! back to the device code flow.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokenhop_core::{ClientId, Error, Result, Scopes, Secret};
use url::Url;

use crate::endpoint::TokenEndpoint;
use crate::http::Form;
use crate::loopback::RedirectListener;
use crate::pkce::{Pkce, random_token};
use crate::response::TokenResponse;
use crate::unverified_jwt::unverified_claims;

/// Opens a URL in a browser. Closures `Fn(&str) -> Result<()>` implement it, so tests
/// and hosts can drive the sign-in page themselves.
pub trait BrowserOpener: Send + Sync {
    /// Opens `url`; an error means no browser could be opened.
    fn open(&self, url: &str) -> Result<()>;
}

impl<F> BrowserOpener for F
where
    F: Fn(&str) -> Result<()> + Send + Sync,
{
    fn open(&self, url: &str) -> Result<()> {
        self(url)
    }
}

/// The system's default browser (the `webbrowser` crate).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemBrowser;

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &str) -> Result<()> {
        webbrowser::open(url).map_err(|e| Error::Authentication {
            reason: format!("no browser could be opened: {e}"),
        })
    }
}

/// How the interactive flow runs.
#[derive(Clone)]
#[non_exhaustive]
pub struct InteractiveOptions {
    /// The loopback port for the redirect (`http://127.0.0.1:{port}`); 0 = any free port.
    pub port: u16,
    /// How long the user has to finish in the browser.
    pub timeout: Duration,
    /// What opens the sign-in page.
    pub opener: Arc<dyn BrowserOpener>,
    /// `form_post` instead of `query` for the response mode.
    pub form_post: bool,
    /// A `login_hint` (username) for the sign-in page.
    pub login_hint: Option<String>,
}

impl Default for InteractiveOptions {
    fn default() -> Self {
        Self {
            port: 8400,
            timeout: Duration::from_secs(120),
            opener: Arc::new(SystemBrowser),
            form_post: false,
            login_hint: None,
        }
    }
}

impl fmt::Debug for InteractiveOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractiveOptions")
            .field("port", &self.port)
            .field("timeout", &self.timeout)
            .field("form_post", &self.form_post)
            .finish_non_exhaustive()
    }
}

impl InteractiveOptions {
    /// Sets the port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the browser opener.
    pub fn with_opener(mut self, opener: impl BrowserOpener + 'static) -> Self {
        self.opener = Arc::new(opener);
        self
    }

    /// Uses `response_mode=form_post`.
    pub fn with_form_post(mut self, form_post: bool) -> Self {
        self.form_post = form_post;
        self
    }
}

/// How the interactive attempt ended.
#[derive(Debug)]
pub(crate) enum InteractiveOutcome {
    /// The user signed in.
    Token(Box<TokenResponse>),
    /// The browser path is not possible; use the device code flow. The reason says why.
    FallBack(String),
}

/// Runs the browser sign-in. Returns [`InteractiveOutcome::FallBack`] when the port is
/// taken, no browser opens, or the user does not finish within the timeout; returns an
/// error when the identity provider or the token endpoint refused.
pub(crate) async fn sign_in(
    endpoint: &TokenEndpoint,
    client_id: &ClientId,
    scopes: &Scopes,
    options: &InteractiveOptions,
) -> Result<InteractiveOutcome> {
    let listener = match RedirectListener::bind(options.port).await {
        Ok(listener) => listener,
        Err(e) => {
            return Ok(InteractiveOutcome::FallBack(format!(
                "port {} is not available: {e}",
                options.port
            )));
        }
    };
    let redirect_uri = listener.redirect_uri();
    let pkce = Pkce::generate()?;
    let state = random_token(16)?;
    let nonce = random_token(16)?;
    let authorize = endpoint
        .endpoints()
        .await?
        .authorization
        .clone()
        .ok_or_else(|| {
            Error::configuration(format!(
                "{} has no authorization endpoint",
                endpoint.authority()
            ))
        })?;
    let url = authorize_url(
        authorize,
        client_id,
        scopes,
        &redirect_uri,
        &pkce,
        &state,
        &nonce,
        options,
    );
    if let Err(error) = options.opener.open(url.as_str()) {
        return Ok(InteractiveOutcome::FallBack(error.to_string()));
    }
    let code = match tokio::time::timeout(options.timeout, listener.wait_for_code(&state)).await {
        Ok(code) => code?,
        Err(_) => {
            return Ok(InteractiveOutcome::FallBack(format!(
                "the browser sign-in did not finish within {} s",
                options.timeout.as_secs()
            )));
        }
    };
    let form = Form::new()
        .field("grant_type", "authorization_code")
        .field("client_id", client_id.as_str())
        .secret("code", &code)
        .field("redirect_uri", redirect_uri)
        .secret("code_verifier", &pkce.verifier)
        .field("scope", scopes.to_space_separated())
        .field("client_info", "1");
    let response = endpoint.request_token(&form, &[], None).await?;
    check_nonce(&response, &nonce)?;
    Ok(InteractiveOutcome::Token(Box::new(response)))
}

#[allow(clippy::too_many_arguments)]
fn authorize_url(
    mut url: Url,
    client_id: &ClientId,
    scopes: &Scopes,
    redirect_uri: &str,
    pkce: &Pkce,
    state: &Secret,
    nonce: &Secret,
    options: &InteractiveOptions,
) -> Url {
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("client_id", client_id.as_str())
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.to_space_separated())
            .append_pair("state", state.expose_secret())
            .append_pair("nonce", nonce.expose_secret())
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair(
                "response_mode",
                if options.form_post {
                    "form_post"
                } else {
                    "query"
                },
            );
        if let Some(hint) = &options.login_hint {
            query.append_pair("login_hint", hint);
        }
    }
    url
}

/// The id token must carry the nonce we sent: otherwise it answers someone else's request.
fn check_nonce(response: &TokenResponse, nonce: &Secret) -> Result<()> {
    let Some(id_token) = &response.id_token else {
        return Ok(());
    };
    let claims = unverified_claims(id_token.expose_secret())?;
    match claims.get("nonce").and_then(|n| n.as_str()) {
        Some(found) if found == nonce.expose_secret() => Ok(()),
        _ => Err(Error::InvalidResponse {
            endpoint: "token".into(),
            reason: "the id token's nonce does not match the sign-in request; sign in again".into(),
        }),
    }
}
