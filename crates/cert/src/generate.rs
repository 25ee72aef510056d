//! Self-signed certificates for app registrations and tests.

use std::str::FromStr;
use std::time::Duration;

use der::asn1::BitString;
use rsa::pkcs1v15::VerifyingKey;
use rsa::pkcs8::spki::{self, AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{Keypair, Verifier};
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

use crate::{CertError, Certificate, RsaKeySigner, SecretString, Signer, SigningAlgorithm};

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

/// A self-signed certificate with `CN={common_name}`, valid for `days` from now, and a
/// new RSA key generated in memory.
pub fn generate_self_signed(
    common_name: &str,
    days: u32,
    size: KeySize,
) -> Result<GeneratedCertificate, CertError> {
    check_subject_and_days(common_name, days)?;
    let key =
        rsa::PrivateKey::new(&mut getrandom::SysRng, size.bits()).map_err(|e| cannot_build(&e))?;
    let private_key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| cannot_build(&e))?;
    let public_key = key.to_public_key();
    let certificate =
        self_signed_certificate(common_name, days, &public_key, &RsaKeySigner::new(key))?;
    Ok(GeneratedCertificate {
        certificate_pem: certificate.to_pem(),
        certificate,
        private_key_pem: SecretString::new(private_key_pem.to_string()),
    })
}

/// A self-signed certificate with `CN={common_name}`, valid for `days` from now, for
/// the key behind `signer`, which never has to be in memory (an HSM, an OS key store):
/// `signer` signs the certificate with RS256 (`sha256WithRSAEncryption`), and
/// `public_key` is the key the certificate carries. The signature is checked against
/// `public_key`, so a signer for another key is [`CertError::KeyMismatch`].
pub fn self_signed_certificate(
    common_name: &str,
    days: u32,
    public_key: &rsa::PublicKey,
    signer: &dyn Signer,
) -> Result<Certificate, CertError> {
    check_subject_and_days(common_name, days)?;
    if !signer.algorithms().contains(&SigningAlgorithm::Rs256) {
        return Err(CertError::Invalid(
            "a certificate is signed with RS256, which the signer cannot sign".into(),
        ));
    }
    let subject = Name::from_str(&format!("CN={}", escape_rdn_value(common_name)))
        .map_err(|e| cannot_build(&e))?;
    let public_der = public_key
        .to_public_key_der()
        .map_err(|e| cannot_build(&e))?;
    let spki =
        SubjectPublicKeyInfoOwned::try_from(public_der.as_bytes()).map_err(|e| cannot_build(&e))?;
    let validity = Validity::from_now(Duration::from_secs(u64::from(days) * 86_400))
        .map_err(|e| cannot_build(&e))?;
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| cannot_build(&e))?;
    serial[0] &= 0x7f; // positive, as RFC 5280 requires
    let serial = SerialNumber::new(&serial).map_err(|e| cannot_build(&e))?;
    let profile = ClientCredentialProfile { subject };
    let mut builder =
        CertificateBuilder::new(profile, serial, validity, spki).map_err(|e| cannot_build(&e))?;
    // The builder's own `build` wants a `signature::Signer`, whose error type would lose
    // ours (a token that was removed, a wrong key); so sign the TBS bytes ourselves.
    let key = CertificateKey(VerifyingKey::<Sha256>::new(public_key.clone()));
    let tbs = builder.finalize(&key).map_err(|e| cannot_build(&e))?;
    let signature = signer.sign(SigningAlgorithm::Rs256, &tbs)?;
    let checked = rsa::pkcs1v15::Signature::try_from(signature.as_slice())
        .ok()
        .filter(|s| key.0.verify(&tbs, s).is_ok());
    if checked.is_none() {
        return Err(CertError::KeyMismatch {
            subject: format!("CN={common_name}"),
        });
    }
    let signature = BitString::from_bytes(&signature).map_err(|e| cannot_build(&e))?;
    let parsed = builder
        .assemble(signature, &key)
        .map_err(|e| cannot_build(&e))?;
    Certificate::from_parsed(parsed)
}

fn check_subject_and_days(common_name: &str, days: u32) -> Result<(), CertError> {
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
    Ok(())
}

fn cannot_build(e: &dyn std::fmt::Display) -> CertError {
    CertError::Invalid(format!("cannot build the certificate: {e}"))
}

/// What the certificate builder needs to know of the key: its public half and the
/// signature algorithm (`sha256WithRSAEncryption`).
struct CertificateKey(VerifyingKey<Sha256>);

impl Keypair for CertificateKey {
    type VerifyingKey = VerifyingKey<Sha256>;

    fn verifying_key(&self) -> Self::VerifyingKey {
        self.0.clone()
    }
}

impl DynSignatureAlgorithmIdentifier for CertificateKey {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        self.0.signature_algorithm_identifier()
    }
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
