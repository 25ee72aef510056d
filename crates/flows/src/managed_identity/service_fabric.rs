//! Service Fabric's TLS: the cluster's endpoint shows a self-signed certificate, and the
//! one trust anchor is its thumbprint in `IDENTITY_SERVER_THUMBPRINT`. Exactly that
//! certificate is accepted (SHA-1, or SHA-256 when the thumbprint has 64 digits); the
//! handshake's signatures are still verified with its key, so a server that merely
//! copies the certificate cannot pass. Nothing else is trusted on this connection.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokenhop_cert::Thumbprint;
use tokenhop_core::{Error, Result};

/// A thumbprint to pin: SHA-1 (20 bytes) or SHA-256 (32 bytes) of the certificate's DER.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pin(Vec<u8>);

impl Pin {
    /// Parses `IDENTITY_SERVER_THUMBPRINT`: hex, with colons and white space ignored.
    fn parse(text: &str) -> Result<Self> {
        let digits: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        let bytes = (0..digits.len())
            .step_by(2)
            .map(|i| {
                digits
                    .get(i..i + 2)
                    .and_then(|d| u8::from_str_radix(d, 16).ok())
            })
            .collect::<Option<Vec<u8>>>();
        match bytes {
            Some(bytes) if bytes.len() == 20 || bytes.len() == 32 => Ok(Self(bytes)),
            _ => Err(Error::configuration(format!(
                "IDENTITY_SERVER_THUMBPRINT {text:?} is not a certificate thumbprint: give the Service Fabric endpoint certificate's SHA-1 (40 hex digits) or SHA-256 (64)"
            ))),
        }
    }

    fn matches(&self, der: &[u8]) -> bool {
        let actual = if self.0.len() == 20 {
            Thumbprint::sha1(der)
        } else {
            Thumbprint::sha256(der)
        };
        // Not secret, but compared without early exit all the same.
        actual.as_bytes().len() == self.0.len()
            && actual
                .as_bytes()
                .iter()
                .zip(&self.0)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// Accepts the one server certificate whose thumbprint is pinned.
#[derive(Debug)]
struct PinnedCertificate {
    pin: Pin,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // The pin is the whole trust: names, dates and issuers of a cluster's
        // self-signed certificate are not what a client can check.
        if self.pin.matches(end_entity) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS configuration for a Service Fabric endpoint whose certificate has
/// `thumbprint`. No I/O.
pub(super) fn pinned_tls(thumbprint: &str) -> Result<rustls::ClientConfig> {
    let pin = Pin::parse(thumbprint)?;
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedCertificate {
        pin,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::configuration(format!("cannot configure TLS for Service Fabric: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Service Fabric's secret goes over https only.
pub(super) fn check_https(endpoint: &url::Url) -> Result<()> {
    if endpoint.scheme() == "https" {
        Ok(())
    } else {
        Err(Error::configuration(format!(
            "Service Fabric's IDENTITY_ENDPOINT {} must be https:// (its certificate is pinned by IDENTITY_SERVER_THUMBPRINT)",
            crate::http::loggable(endpoint)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_in_the_forms_people_paste() {
        let der = b"not really a certificate";
        let sha1 = Thumbprint::sha1(der).to_hex();
        let sha256 = Thumbprint::sha256(der).to_hex();
        let with_colons: String = sha1
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(":");
        for text in [sha1.clone(), sha256, with_colons, format!(" {sha1} ")] {
            assert!(Pin::parse(&text).unwrap().matches(der), "{text}");
        }
        assert!(!Pin::parse(&sha1).unwrap().matches(b"another certificate"));
        for bad in ["", "abc", "zz", &sha1[..38]] {
            let err = Pin::parse(bad).unwrap_err().to_string();
            assert!(err.contains("IDENTITY_SERVER_THUMBPRINT"), "{err}");
        }
    }

    #[test]
    fn only_https_carries_the_secret() {
        assert!(check_https(&url::Url::parse("https://10.0.0.4:2377/t").unwrap()).is_ok());
        assert!(check_https(&url::Url::parse("http://10.0.0.4:2377/t").unwrap()).is_err());
    }
}
