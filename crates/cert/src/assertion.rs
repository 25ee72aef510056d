//! JWT client assertions (RFC 7523) as Entra expects them from a certificate credential.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use crate::{CertError, ClientCertificate, SecretString, SigningAlgorithm};

/// The longest lifetime Entra accepts for an assertion.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(600);

/// A signed client assertion. It never prints itself; MSAL reuses one until it is
/// 540 s old, which [`ClientAssertion::age_at`] lets a caller do too.
#[derive(Clone, Debug)]
pub struct ClientAssertion {
    jwt: SecretString,
    issued_at: SystemTime,
    expires_at: SystemTime,
}

impl ClientAssertion {
    /// The compact JWT, for the `client_assertion` form field.
    pub fn expose_secret(&self) -> &str {
        self.jwt.expose_secret()
    }

    /// When it was issued (`iat`).
    pub fn issued_at(&self) -> SystemTime {
        self.issued_at
    }

    /// When it expires (`exp`).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// How old it is at `now`.
    pub fn age_at(&self, now: SystemTime) -> Duration {
        now.duration_since(self.issued_at).unwrap_or_default()
    }
}

/// Builds a client assertion: `PS256` with `x5t#S256` by default, or `RS256` with a
/// SHA-1 `x5t`; optionally the `x5c` chain; a fresh `jti`; `iat`/`nbf` now; a lifetime
/// of at most 10 minutes.
#[derive(Debug)]
pub struct ClientAssertionBuilder<'a> {
    client_id: String,
    audience: String,
    certificate: &'a ClientCertificate,
    algorithm: SigningAlgorithm,
    include_x5c: bool,
    lifetime: Duration,
    issued_at: Option<SystemTime>,
}

impl<'a> ClientAssertionBuilder<'a> {
    /// An assertion for `client_id` (`iss`, `sub`) to the token endpoint `audience` (`aud`).
    pub fn new(
        client_id: impl Into<String>,
        audience: impl Into<String>,
        certificate: &'a ClientCertificate,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            audience: audience.into(),
            certificate,
            algorithm: SigningAlgorithm::Ps256,
            include_x5c: false,
            lifetime: MAX_ASSERTION_LIFETIME,
            issued_at: None,
        }
    }

    /// Signs with `algorithm`; `RS256` switches the header to a SHA-1 `x5t`.
    pub fn algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sends the certificate chain in `x5c` (for subject name/issuer authentication).
    pub fn include_x5c(mut self, include: bool) -> Self {
        self.include_x5c = include;
        self
    }

    /// A shorter lifetime than 10 minutes.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Issues it at `time` instead of now (for tests).
    pub fn issued_at(mut self, time: SystemTime) -> Self {
        self.issued_at = Some(time);
        self
    }

    /// Signs the assertion.
    pub fn build(self) -> Result<ClientAssertion, CertError> {
        if self.lifetime.is_zero() || self.lifetime > MAX_ASSERTION_LIFETIME {
            return Err(CertError::Invalid(format!(
                "an assertion lifetime must be between 1 s and 600 s, not {} s",
                self.lifetime.as_secs()
            )));
        }
        if self.client_id.is_empty() || self.audience.is_empty() {
            return Err(CertError::Invalid(
                "an assertion needs a client id and an audience".into(),
            ));
        }
        let signer = self.certificate.signer();
        if !signer.algorithms().contains(&self.algorithm) {
            return Err(CertError::Invalid(format!(
                "the signer cannot sign {}",
                self.algorithm.jws_name()
            )));
        }
        let leaf = self.certificate.certificate();
        let mut header = match self.algorithm {
            SigningAlgorithm::Rs256 => {
                json!({"alg": "RS256", "typ": "JWT", "x5t": leaf.sha1_thumbprint().to_base64url()})
            }
            SigningAlgorithm::Ps256 => {
                json!({"alg": "PS256", "typ": "JWT", "x5t#S256": leaf.sha256_thumbprint().to_base64url()})
            }
        };
        if self.include_x5c {
            header["x5c"] = self
                .certificate
                .chain()
                .iter()
                .map(|c| STANDARD.encode(c.der()))
                .collect();
        }
        let issued_at = self.issued_at.unwrap_or_else(SystemTime::now);
        let expires_at = issued_at + self.lifetime;
        let claims = json!({
            "aud": self.audience,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": epoch(issued_at),
            "nbf": epoch(issued_at),
            "exp": epoch(expires_at),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = signer.sign(self.algorithm, signing_input.as_bytes())?;
        let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
        Ok(ClientAssertion {
            jwt: SecretString::new(jwt),
            issued_at,
            expires_at,
        })
    }
}

/// The seed's convenience: a `PS256` assertion with `x5t#S256`, no `x5c`, 10 minutes.
pub fn build_client_assertion(
    client_id: &str,
    token_endpoint: &str,
    certificate: &ClientCertificate,
) -> Result<ClientAssertion, CertError> {
    ClientAssertionBuilder::new(client_id, token_endpoint, certificate).build()
}

fn epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
