//! `tokenhop token`: an access token from the cache or the authority, printed alone
//! (for pipes) or as JSON with where it came from.

use tokenhop_core::{AccessToken, TokenRequestOptions, epoch_seconds};

use crate::cli::{GlobalArgs, TokenArgs};
use crate::context::runtime;
use crate::failure::Outcome;
use crate::{credential, output};

/// Where the token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Cache,
    Network,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Self::Cache => "cache",
            Self::Network => "network",
        }
    }
}

/// Runs `token`.
pub fn run(global: &GlobalArgs, args: &TokenArgs) -> Outcome {
    let cache = global.token_cache()?;
    let resolved = credential::resolve(global, &args.flow, &args.scopes, cache)?;
    // A token got without any request came from the cache.
    let sent_before = resolved.http.requests_sent();
    let options = if args.force_refresh {
        TokenRequestOptions::force_refresh()
    } else {
        TokenRequestOptions::default()
    };
    let token = runtime()?.block_on(resolved.credential.get_token(&resolved.scopes, &options))?;
    let source = if resolved.http.requests_sent() == sent_before {
        Source::Cache
    } else {
        Source::Network
    };
    tracing::debug!(
        source = source.name(),
        expires_on = epoch_seconds(token.expires_on),
        "got a token"
    );
    if global.json {
        output::json(&json(&token, source))
    } else {
        output::line(token.secret.expose_secret())
    }
}

fn json(token: &AccessToken, source: Source) -> serde_json::Value {
    serde_json::json!({
        "access_token": token.secret.expose_secret(),
        "token_type": token.token_type,
        "expires_on": epoch_seconds(token.expires_on),
        "scopes": token.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "source": source.name(),
    })
}
