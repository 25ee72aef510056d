//! Self-signed certificates for app registrations and tests.

use std::str::FromStr;
use std::time::Duration;

use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::Sha256;
use x509_cert::TbsCertificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::Validity;

use crate::{CertError, Certificate, SecretString};

/// RSA key sizes for generated certificates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySize {
    /// 2048 bits.
    #[default]
    Rsa2048,
    /// 3072 bits.
    Rsa3072,
    /// 4096 bits.
    Rsa4096,
}

impl KeySize {
    fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }
}

/// A generated certificate and its private key.
#[derive(Debug)]
pub struct GeneratedCertificate {
    /// The certificate.
    pub certificate: Certificate,
    /// The certificate as PEM.
    pub certificate_pem: String,
    /// The private key as PKCS#8 PEM (a secret).
    pub private_key_pem: SecretString,
}

/// A self-signed certificate with `CN={common_name}`, valid for `days` from now.
pub fn generate_self_signed(
    common_name: &str,
    days: u32,
    size: KeySize,
) -> Result<GeneratedCertificate, CertError> {
    if common_name.trim().is_empty() {
        return Err(CertError::Invalid(
            "the certificate subject (CN) is empty".into(),
        ));
    }
    if days == 0 {
        return Err(CertError::Invalid(
            "a certificate must be valid for at least one day".into(),
        ));
    }
    let invalid = |e: &dyn std::fmt::Display| {
        CertError::Invalid(format!("cannot build the certificate: {e}"))
    };
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, size.bits()).map_err(|e| invalid(&e))?;
    let subject = Name::from_str(&format!("CN={}", escape_rdn_value(common_name)))
        .map_err(|e| invalid(&e))?;
    let public_der = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| invalid(&e))?;
    let spki =
        SubjectPublicKeyInfoOwned::try_from(public_der.as_bytes()).map_err(|e| invalid(&e))?;
    let validity = Validity::from_now(Duration::from_secs(u64::from(days) * 86_400))
        .map_err(|e| invalid(&e))?;
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| invalid(&e))?;
    serial[0] &= 0x7f; // positive, as RFC 5280 requires
    let serial = SerialNumber::new(&serial).map_err(|e| invalid(&e))?;
    let profile = ClientCredentialProfile { subject };
    let builder =
        CertificateBuilder::new(profile, serial, validity, spki).map_err(|e| invalid(&e))?;
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
    let parsed = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .map_err(|e| invalid(&e))?;
    let certificate = Certificate::from_parsed(parsed)?;
    let private_key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| invalid(&e))?;
    Ok(GeneratedCertificate {
        certificate_pem: certificate.to_pem(),
        certificate,
        private_key_pem: SecretString::new(private_key_pem.to_string()),
    })
}

/// A self-signed end-entity certificate for signing client assertions: not a CA,
/// digital signatures only. (The CA/Browser Forum profiles demand subject attributes an
/// app credential has no use for.)
struct ClientCredentialProfile {
    subject: Name,
}

impl BuilderProfile for ClientCredentialProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions = Vec::new();
        let constraints = BasicConstraints {
            ca: false,
            path_len_constraint: None,
        };
        extensions.push(constraints.to_extension(tbs.subject(), &extensions)?);
        extensions.push(
            KeyUsage(KeyUsages::DigitalSignature.into())
                .to_extension(tbs.subject(), &extensions)?,
        );
        Ok(extensions)
    }
}

/// Escapes an attribute value for an RFC 4514 string.
fn escape_rdn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let leading = i == 0 && (c == ' ' || c == '#');
        let trailing = i + 1 == value.chars().count() && c == ' ';
        if leading || trailing || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
