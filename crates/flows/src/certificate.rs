//! Certificate credentials: client assertions signed through `tokenhop-cert`, reused
//! until they are 540 s old as MSAL does, signed off the async executor.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokenhop_cert::{ClientAssertion, ClientAssertionBuilder, ClientCertificate, SigningAlgorithm};
use tokenhop_core::{BoxFuture, Clock, Error, Result, Secret, SystemClock};

use crate::client_auth::{AssertionContext, AssertionSource, ClientCredential};

/// MSAL reuses an assertion until it is this old (assertions live 600 s).
const ASSERTION_REUSE: Duration = Duration::from_secs(540);

/// Signs client assertions with a certificate.
#[derive(Clone)]
pub struct CertificateAssertions {
    certificate: ClientCertificate,
    algorithm: SigningAlgorithm,
    include_x5c: bool,
    clock: Arc<dyn Clock>,
    last: Arc<Mutex<Option<(AssertionContext, ClientAssertion)>>>,
}

impl fmt::Debug for CertificateAssertions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertions")
            .field("certificate", self.certificate.certificate())
            .field("algorithm", &self.algorithm)
            .field("include_x5c", &self.include_x5c)
            .finish_non_exhaustive()
    }
}

impl CertificateAssertions {
    /// PS256 assertions with `x5t#S256`, no `x5c`.
    pub fn new(certificate: ClientCertificate) -> Self {
        Self {
            certificate,
            algorithm: SigningAlgorithm::Ps256,
            include_x5c: false,
            clock: Arc::new(SystemClock),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// Signs with `algorithm` (RS256 sends the SHA-1 `x5t`, for ADFS or old setups).
    pub fn algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sends the chain in `x5c` (subject name/issuer authentication).
    pub fn include_x5c(mut self, include: bool) -> Self {
        self.include_x5c = include;
        self
    }

    /// Uses `clock` to decide when an assertion is too old to reuse.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// As a [`ClientCredential`].
    pub fn into_credential(self) -> ClientCredential {
        ClientCredential::assertion_source(self)
    }

    fn reusable(&self, context: &AssertionContext) -> Option<Secret> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let (for_context, assertion) = last.as_ref()?;
        (for_context == context && assertion.age_at(self.clock.now()) < ASSERTION_REUSE)
            .then(|| Secret::new(assertion.expose_secret()))
    }
}

impl AssertionSource for CertificateAssertions {
    fn assertion<'a>(&'a self, context: &'a AssertionContext) -> BoxFuture<'a, Result<Secret>> {
        Box::pin(async move {
            if let Some(assertion) = self.reusable(context) {
                return Ok(assertion);
            }
            let (certificate, algorithm, include_x5c, now) = (
                self.certificate.clone(),
                self.algorithm,
                self.include_x5c,
                self.clock.now(),
            );
            let owned_context = context.clone();
            let assertion = tokio::task::spawn_blocking(move || {
                ClientAssertionBuilder::new(
                    &owned_context.client_id,
                    &owned_context.token_endpoint,
                    &certificate,
                )
                .algorithm(algorithm)
                .include_x5c(include_x5c)
                .issued_at(now)
                .build()
            })
            .await
            .map_err(|e| Error::Cancelled {
                reason: format!("the signing task failed: {e}"),
            })?
            .map_err(cert_error)?;
            let secret = Secret::new(assertion.expose_secret());
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((context.clone(), assertion));
            Ok(secret)
        })
    }
}

/// A `tokenhop-cert` error as a [`tokenhop_core::Error`] (the two crates do not know
/// each other): a missing key is [`Error::CertNotFound`], a failed signature
/// [`Error::Signing`], anything else a configuration error.
pub fn cert_error(error: tokenhop_cert::CertError) -> Error {
    match error {
        tokenhop_cert::CertError::CertNotFound { what } => Error::CertNotFound { what },
        tokenhop_cert::CertError::Signing { reason } => Error::Signing { reason },
        other => Error::configuration(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenhop_cert::{KeySize, generate_self_signed};
    use tokenhop_core::ManualClock;

    fn certificate() -> ClientCertificate {
        let generated = generate_self_signed("flows-test", 1, KeySize::Rsa2048).unwrap();
        let pem = format!(
            "{}{}",
            generated.certificate_pem,
            generated.private_key_pem.expose_secret()
        );
        ClientCertificate::from_pem(pem.as_bytes(), None).unwrap()
    }

    fn context(audience: &str) -> AssertionContext {
        AssertionContext {
            client_id: "client".into(),
            token_endpoint: audience.into(),
        }
    }

    #[tokio::test]
    async fn reuses_an_assertion_until_540_seconds_then_signs_a_new_one() {
        let clock = Arc::new(ManualClock::new(std::time::SystemTime::now()));
        let source = CertificateAssertions::new(certificate()).clock(clock.clone());
        let first = source.assertion(&context("https://t/token")).await.unwrap();
        clock.advance(Duration::from_secs(539));
        assert_eq!(
            source.assertion(&context("https://t/token")).await.unwrap(),
            first
        );
        clock.advance(Duration::from_secs(1));
        assert_ne!(
            source.assertion(&context("https://t/token")).await.unwrap(),
            first
        );
    }

    #[tokio::test]
    async fn another_audience_gets_its_own_assertion() {
        let source = CertificateAssertions::new(certificate());
        let a = source.assertion(&context("https://a/token")).await.unwrap();
        let b = source.assertion(&context("https://b/token")).await.unwrap();
        assert_ne!(a, b);
        let claims = crate::unverified_jwt::unverified_claims(b.expose_secret()).unwrap();
        assert_eq!(claims["aud"], "https://b/token");
        assert_eq!(claims["iss"], "client");
    }
}
