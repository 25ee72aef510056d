//! The error type shared by every tokenhop layer.

use std::sync::Arc;
use std::time::Duration;

/// What can go wrong getting or using a token. Every message says what happened and
/// what to do; none contains a secret (tokens, assertions and client secrets are never
/// put into an error). Errors are `Clone`, so that callers who shared one request
/// (see [`crate::TokenFlights`]) each get its outcome.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No cached account, or silent acquisition is impossible: a user must sign in.
    #[error("interaction required: {reason}; sign in again (interactive or device code login)")]
    Authentication {
        /// Why silent acquisition was impossible.
        reason: String,
    },

    /// A token request, or one hop of a multi-hop exchange, got an OAuth error back.
    #[error(
        "the token endpoint refused {} ({error}): {description}{}{}",
        hop.map(|h| format!("hop {h} of the exchange")).unwrap_or_else(|| "the request".to_owned()),
        if error_codes.is_empty() { String::new() } else {
            format!(" [AADSTS{}]", error_codes.iter().map(u64::to_string).collect::<Vec<_>>().join(", AADSTS"))
        },
        correlation_id.as_deref().map(|c| format!(" (correlation id {c})")).unwrap_or_default()
    )]
    TokenExchange {
        /// Which hop of a chain failed (1-based); `None` for a single request.
        hop: Option<u8>,
        /// The OAuth `error` code, e.g. `invalid_client`.
        error: String,
        /// The server's `error_description`.
        description: String,
        /// Entra's AADSTS numbers.
        error_codes: Vec<u64>,
        /// Entra's correlation id, to quote to support.
        correlation_id: Option<String>,
        /// Entra's `suberror` (`basic_action`, `consent_required`, …), when it gave one.
        suberror: Option<String>,
        /// The `claims` the server asks for (a Conditional Access challenge, JSON): what
        /// a middle tier passes up to its caller, who asks again with them.
        claims: Option<String>,
        /// Entra's trace id, to quote to support.
        trace_id: Option<String>,
    },

    /// Entra Agent ID configuration is incomplete.
    #[error("Entra Agent ID is not configured: missing {}; set them in the configuration or builder", missing.join(", "))]
    AgentIdNotAvailable {
        /// The names of every missing field.
        missing: Vec<String>,
    },

    /// A downstream resource rejected the token even after one forced refresh.
    #[error(
        "the resource rejected the access token after a refresh ({reason}); check the token's audience, scopes and revocation"
    )]
    TokenExpired {
        /// What the resource said.
        reason: String,
    },

    /// A resource challenged the token for claims (`insufficient_claims`, a CAE or
    /// Conditional Access challenge) that the token asked with them did not satisfy
    /// either, or that the provider cannot ask for.
    #[error(
        "the resource asked for claims the token does not satisfy ({reason}); get a token with these claims (for a user: sign in again interactively with them), claims: {claims}"
    )]
    InsufficientClaims {
        /// The claims the resource asked for (JSON), to pass on to whoever can satisfy
        /// them.
        claims: String,
        /// What happened.
        reason: String,
    },

    /// The server throttled the request (`429` or `5xx` with `Retry-After`) for longer
    /// than the caller waits, or a throttle it asked for earlier is still running: no
    /// request was (or will be) sent before that time.
    #[error(
        "throttled: {endpoint} asked to wait {} s before the next request (HTTP {status} with Retry-After); try again after that time (or allow a longer wait budget in the retry policy)",
        retry_after.as_secs().max(1)
    )]
    Throttled {
        /// Which endpoint throttled.
        endpoint: String,
        /// How long is left to wait.
        retry_after: Duration,
        /// The status it answered with (429, 503, …).
        status: u16,
    },

    /// A signing certificate or key could not be found.
    #[error("certificate not found: {what}; check the path, thumbprint or key store")]
    CertNotFound {
        /// Which certificate was looked for.
        what: String,
    },

    /// Signing a client assertion failed.
    #[error("signing failed: {reason}")]
    Signing {
        /// Why.
        reason: String,
    },

    /// The request did not get an answer: connection, TLS, timeout, or too many retries.
    #[error("network error: {message}; check connectivity and the authority URL")]
    Transport {
        /// What failed, without secrets.
        message: String,
        /// The underlying error, when one is safe to keep.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// The server answered something that is not a valid token response.
    #[error("invalid response from {endpoint}: {reason}")]
    InvalidResponse {
        /// Which endpoint answered.
        endpoint: String,
        /// What was wrong with it.
        reason: String,
    },

    /// The configuration is wrong or incomplete.
    #[error("configuration error: {message}")]
    Configuration {
        /// What is wrong, naming the field.
        message: String,
    },

    /// The token cache could not be read or written.
    #[error("token cache error: {message}")]
    Cache {
        /// What failed.
        message: String,
    },

    /// The operation was cancelled or its task died.
    #[error("cancelled: {reason}")]
    Cancelled {
        /// Why.
        reason: String,
    },
}

impl Error {
    /// A [`Error::Transport`] with no source.
    pub fn transport(message: impl Into<String>) -> Self {
        Self::Transport {
            message: message.into(),
            source: None,
        }
    }

    /// A [`Error::Configuration`].
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::Configuration {
            message: message.into(),
        }
    }

    /// True when a user must sign in ([`Error::Authentication`]), or satisfy claims a
    /// resource asked for ([`Error::InsufficientClaims`]).
    pub fn is_interaction_required(&self) -> bool {
        matches!(
            self,
            Self::Authentication { .. } | Self::InsufficientClaims { .. }
        )
    }

    /// The claims a server or resource asked for, when the error carries them
    /// ([`Error::InsufficientClaims`], or a [`Error::TokenExchange`] with `claims`): what
    /// a middle tier passes up to its caller.
    pub fn claims(&self) -> Option<&str> {
        match self {
            Self::InsufficientClaims { claims, .. } => Some(claims),
            Self::TokenExchange { claims, .. } => claims.as_deref(),
            _ => None,
        }
    }
}

/// `Result` with tokenhop's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_exchange_names_the_hop_and_codes() {
        let err = Error::TokenExchange {
            hop: Some(2),
            error: "invalid_client".into(),
            description: "AADSTS7002137: no matching federated credential".into(),
            error_codes: vec![7002137, 50000],
            correlation_id: Some("c0ffee".into()),
            suberror: None,
            claims: None,
            trace_id: None,
        };
        let text = err.to_string();
        assert!(text.contains("hop 2"), "{text}");
        assert!(text.contains("AADSTS7002137, AADSTS50000"), "{text}");
        assert!(text.contains("correlation id c0ffee"), "{text}");
    }

    #[test]
    fn throttled_names_the_wait_and_what_to_do() {
        let err = Error::Throttled {
            endpoint: "https://login/token".into(),
            retry_after: Duration::from_secs(120),
            status: 429,
        };
        let text = err.to_string();
        assert!(
            text.contains("120 s") && text.contains("try again"),
            "{text}"
        );
    }

    #[test]
    fn agent_id_lists_every_missing_field() {
        let err = Error::AgentIdNotAvailable {
            missing: vec!["blueprint_id".into(), "agent_id".into()],
        };
        assert!(err.to_string().contains("blueprint_id, agent_id"));
    }
}
