//! `tokenhop token`: an access token from the cache or the authority, printed alone
//! (for pipes) or as JSON with where it came from.

use tokenhop_cache::entry::F;
use tokenhop_cache::{Section, SharedTokenCache};
use tokenhop_core::{AccessToken, Secret, TokenRequestOptions, epoch_seconds};

use crate::cli::{GlobalArgs, TokenArgs};
use crate::failure::{Failure, Outcome};
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
    let (credential, scopes) =
        credential::resolve(global, &args.flow, &args.scopes, cache.clone())?;
    // The credential answers from this same cache when it can; a token that was in it
    // before the call came from there.
    let before = if args.force_refresh {
        Vec::new()
    } else {
        cached_tokens(&cache)?
    };
    let options = if args.force_refresh {
        TokenRequestOptions::force_refresh()
    } else {
        TokenRequestOptions::default()
    };
    let token = runtime()?.block_on(credential.get_token(&scopes, &options))?;
    let source = if before.contains(&token.secret) {
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

/// The access tokens the cache holds now.
fn cached_tokens(cache: &SharedTokenCache) -> Outcome<Vec<Secret>> {
    Ok(cache.read(|c| {
        c.entries(Section::AccessToken)
            .filter_map(|(_, entry)| entry.get(F::Secret))
            .map(Secret::new)
            .collect()
    })?)
}

/// A small runtime for one command's requests.
pub fn runtime() -> Outcome<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the async runtime: {e}")))
}
