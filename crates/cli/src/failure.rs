//! What a command can fail with, the exit code each failure gives, and how it is
//! reported: one line on stderr, then its causes, never a secret.

use std::error::Error as _;
use std::process::ExitCode;

use tokenhop_core::Error;

/// Exit code: any other failure.
pub const OTHER: u8 = 1;
/// Exit code: a user must sign in.
pub const INTERACTION_REQUIRED: u8 = 3;
/// Exit code: the token endpoint answered with an OAuth error.
pub const TOKEN_ENDPOINT_REFUSED: u8 = 4;
/// Exit code: no (valid) answer from the network.
pub const NETWORK: u8 = 5;
/// Exit code: a setting, certificate or file is missing or wrong.
pub const CONFIGURATION: u8 = 6;
/// Exit code: the server throttled the request for longer than tokenhop waits.
pub const THROTTLED: u8 = 7;

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// A tokenhop error; its variant decides the exit code.
    Token(Error),
    /// Anything else, with a message that names what to do.
    Other(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Token(error)
    }
}

impl From<tokenhop_cert::CertError> for Failure {
    fn from(error: tokenhop_cert::CertError) -> Self {
        Self::Token(tokenhop_flows::cert_error(error))
    }
}

/// A result of a command.
pub type Outcome<T = ()> = Result<T, Failure>;

/// A configuration failure (exit code 6).
pub fn config(message: impl Into<String>) -> Failure {
    Failure::Token(Error::configuration(message))
}

impl Failure {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Token(error) => exit_code_of(error),
            Self::Other(_) => OTHER,
        }
    }

    /// Writes the failure to stderr: `tokenhop: <error>` and one `caused by:` line per
    /// source. Errors never hold secrets (tokenhop's error types promise it).
    pub fn report(&self) {
        let mut text = match self {
            Self::Token(error) => format!("tokenhop: {error}"),
            Self::Other(message) => format!("tokenhop: {message}"),
        };
        if let Self::Token(error) = self {
            let mut source = error.source();
            while let Some(cause) = source {
                text.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
        }
        eprintln!("{text}");
    }

    /// The exit code as the process returns it.
    pub fn exit(&self) -> ExitCode {
        ExitCode::from(self.exit_code())
    }
}

/// The exit code of a tokenhop error.
pub fn exit_code_of(error: &Error) -> u8 {
    match error {
        Error::Authentication { .. } | Error::InsufficientClaims { .. } => INTERACTION_REQUIRED,
        Error::Throttled { .. } => THROTTLED,
        Error::TokenExchange { .. } => TOKEN_ENDPOINT_REFUSED,
        Error::Transport { .. } | Error::InvalidResponse { .. } => NETWORK,
        Error::Configuration { .. }
        | Error::AgentIdNotAvailable { .. }
        | Error::CertNotFound { .. } => CONFIGURATION,
        _ => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_variant_has_its_code() {
        let exchange = Error::TokenExchange {
            hop: None,
            error: "invalid_client".into(),
            description: "bad secret".into(),
            error_codes: vec![7000215],
            correlation_id: None,
            suberror: None,
            claims: None,
            trace_id: None,
        };
        assert_eq!(exit_code_of(&exchange), 4);
        assert_eq!(
            exit_code_of(&Error::Authentication { reason: "x".into() }),
            3
        );
        assert_eq!(exit_code_of(&Error::transport("down")), 5);
        assert_eq!(exit_code_of(&Error::configuration("no id")), 6);
        assert_eq!(
            exit_code_of(&Error::AgentIdNotAvailable {
                missing: vec!["agent_id".into()]
            }),
            6
        );
        assert_eq!(exit_code_of(&Error::TokenExpired { reason: "x".into() }), 1);
        let throttled = Error::Throttled {
            endpoint: "token".into(),
            retry_after: std::time::Duration::from_secs(120),
            status: 429,
        };
        assert_eq!(exit_code_of(&throttled), 7);
        let claims = Error::InsufficientClaims {
            claims: "{}".into(),
            reason: "again".into(),
        };
        assert_eq!(exit_code_of(&claims), 3);
        assert_eq!(Failure::Other("x".into()).exit_code(), 1);
    }
}
