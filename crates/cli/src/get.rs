//! `tokenhop get`: a GET with a bearer token through tokenhop-flows' bearer client
//! (which asks once more for a fresh token when the resource says the token is
//! invalid), printing the response body.

use tokenhop_core::TokenCredentialExt;
use tokenhop_flows::BearerClient;

use crate::cli::{GetArgs, GlobalArgs};
use crate::context::runtime;
use crate::failure::{Failure, Outcome};
use crate::{credential, output};

/// Runs `get`.
pub fn run(global: &GlobalArgs, args: &GetArgs) -> Outcome {
    let resolved = credential::resolve(global, &args.flow, &args.scopes, global.token_cache()?)?;
    let client = BearerClient::builder(resolved.credential.into_provider(resolved.scopes))
        .http(resolved.http)
        .build()?;
    let (status, shown_url, body) = runtime()?.block_on(async {
        let response = client.get(&args.url).await?;
        let status = response.status();
        let mut url = response.url().clone();
        url.set_query(None);
        url.set_fragment(None);
        let body = response.bytes().await?;
        Ok::<_, Failure>((status, url.to_string(), body))
    })?;
    tracing::debug!(status = status.as_u16(), bytes = body.len(), "response");
    output::bytes(&body)?;
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::Other(format!(
            "GET {shown_url} answered HTTP {status}"
        )))
    }
}
