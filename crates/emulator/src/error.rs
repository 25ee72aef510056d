//! Why the emulator could not start, sign, read its configuration or do what an admin
//! call asked.

/// Why the emulator could not start or sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// Binding or key generation failed.
    #[error("the emulator could not start: {0}")]
    Startup(String),
    /// Signing a token failed.
    #[error("the emulator could not sign a token: {0}")]
    Signing(String),
    /// A configuration file could not be read or parsed.
    #[error("the emulator configuration is invalid: {0}")]
    Config(String),
    /// An admin request named something that does not exist.
    #[error("the emulator refused an admin request: {0}")]
    Admin(String),
}
