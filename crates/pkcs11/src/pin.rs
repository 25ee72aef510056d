//! [`PinSource`]: where the token's user PIN comes from. Never a command-line argument,
//! never in a URI; the PIN itself is read once, at login, and zeroized after it.

use std::fmt;
use std::path::PathBuf;

use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::Pkcs11Error;

/// Where to read the user PIN: an environment variable or a file (its first line; a
/// trailing newline is not part of the PIN). Printing it shows where, never the PIN.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinSource {
    /// The environment variable with this name.
    Env(String),
    /// The file at this path.
    File(PathBuf),
}

impl PinSource {
    /// The PIN is in the environment variable `name`.
    pub fn env(name: impl Into<String>) -> Self {
        Self::Env(name.into())
    }

    /// The PIN is in the file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(path.into())
    }

    /// Reads the PIN now.
    pub(crate) fn read(&self) -> Result<AuthPin, Pkcs11Error> {
        let unavailable = |reason: String| Pkcs11Error::PinUnavailable {
            pin_source: self.to_string(),
            reason,
        };
        let pin = match self {
            Self::Env(name) => Zeroizing::new(std::env::var(name).map_err(|e| {
                unavailable(match e {
                    std::env::VarError::NotPresent => "it is not set".into(),
                    std::env::VarError::NotUnicode(_) => "it is not valid UTF-8".into(),
                })
            })?),
            Self::File(path) => {
                let text =
                    Zeroizing::new(std::fs::read(path).map_err(|e| unavailable(e.to_string()))?);
                let text = std::str::from_utf8(&text)
                    .map_err(|_| unavailable("it is not valid UTF-8".into()))?;
                Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
            }
        };
        if pin.is_empty() {
            return Err(unavailable("the PIN is empty".into()));
        }
        Ok(AuthPin::new(pin.as_str().into()))
    }
}

impl fmt::Display for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "the environment variable {name}"),
            Self::File(path) => write!(f, "the file {}", path.display()),
        }
    }
}

impl fmt::Debug for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PinSource({self})")
    }
}
