//! [`TokenEndpoint`]: an authority plus the HTTP client, with discovery (and authority
//! validation) done lazily and once — only when a request must be sent — and token
//! requests that come back as [`TokenResponse`]s or OAuth errors.

use tokenhop_core::Result;
use tokio::sync::OnceCell;

use crate::authority::{Authority, Endpoints};
use crate::http::{Form, HttpClient, loggable};
use crate::response::{TokenResponse, parse_token_response};

/// Talks to one authority's token endpoint. Constructing it does no I/O; discovery
/// runs on the first request that needs an endpoint and is then kept (a failed discovery
/// is tried again next time).
#[derive(Debug)]
pub(crate) struct TokenEndpoint {
    authority: Authority,
    http: HttpClient,
    endpoints: OnceCell<Endpoints>,
}

impl TokenEndpoint {
    /// An endpoint client for `authority`.
    pub(crate) fn new(authority: Authority, http: HttpClient) -> Self {
        Self {
            authority,
            http,
            endpoints: OnceCell::new(),
        }
    }

    /// The authority.
    pub(crate) fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The HTTP client.
    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The discovered endpoints (fetched on first use), after the authority was
    /// validated as the HTTP client's [`crate::AuthorityValidation`] says: nothing is
    /// sent to an authority that fails it.
    pub(crate) async fn endpoints(&self) -> Result<&Endpoints> {
        self.endpoints
            .get_or_try_init(|| async {
                let validation = &self.http.config().authority_validation;
                validation
                    .check_instance(&self.http, &self.authority)
                    .await?;
                let url = self.authority.discovery_url()?;
                let response = self.http.get(&url, &[]).await?;
                if response.status != 200 {
                    return Err(tokenhop_core::Error::InvalidResponse {
                        endpoint: loggable(&url),
                        reason: format!(
                            "discovery answered HTTP {}; check the authority (tenant, policy) {}",
                            response.status, self.authority
                        ),
                    });
                }
                let endpoints = Endpoints::from_discovery(&self.authority, &response.body)?;
                validation.check_discovered(&self.authority, &endpoints)?;
                Ok(endpoints)
            })
            .await
    }

    /// Posts `form` to the token endpoint; `hop` labels errors in multi-hop chains.
    pub(crate) async fn request_token(
        &self,
        form: &Form,
        headers: &[(&str, &str)],
        hop: Option<u8>,
    ) -> Result<TokenResponse> {
        let token_url = &self.endpoints().await?.token;
        let response = self.http.post_form(token_url, form, headers).await?;
        let parsed = parse_token_response(&response, &loggable(token_url), hop);
        if let Err(error) = &parsed {
            tracing::debug!(%error, "token request refused");
        }
        parsed
    }
}
