//! `tokenhop cert thumbprint|assertion|generate`, on tokenhop-cert.

use std::path::Path;

use tokenhop_cert::{
    Certificate, ClientAssertionBuilder, ClientCertificate, KeySize, SigningAlgorithm, Thumbprint,
    generate_self_signed,
};

use crate::cli::{
    Alg, AssertionArgs, CertCommand, Digest, GenerateArgs, GlobalArgs, ThumbprintArgs,
};
use crate::context::{password, read_file};
use crate::failure::{Outcome, config};
use crate::files::{Access, write};
use crate::output;

/// Runs a `cert` command.
pub fn run(global: &GlobalArgs, command: &CertCommand) -> Outcome {
    match command {
        CertCommand::Thumbprint(args) => thumbprint(global, args),
        CertCommand::Assertion(args) => assertion(global, args),
        CertCommand::Generate(args) => generate(args),
    }
}

fn thumbprint(global: &GlobalArgs, args: &ThumbprintArgs) -> Outcome {
    let certificate = read_certificate(&args.file, args.password_env.as_deref())?;
    let (name, digest): (&str, Thumbprint) = match args.digest() {
        Digest::Sha1 => ("sha1", certificate.sha1_thumbprint()),
        Digest::Sha256 => ("sha256", certificate.sha256_thumbprint()),
    };
    if global.json {
        return output::json(&serde_json::json!({
            "subject": certificate.subject(),
            "algorithm": name,
            "hex": digest.to_hex(),
            "base64url": digest.to_base64url(),
        }));
    }
    output::line(&if args.hex {
        digest.to_hex()
    } else {
        digest.to_base64url()
    })
}

/// The (leaf) certificate of a PEM, DER or PFX file; a key is not needed.
fn read_certificate(path: &Path, password_env: Option<&str>) -> Outcome<Certificate> {
    let bytes = read_file(path, "the certificate")?;
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let blocks = pem::parse_many(&bytes)
            .map_err(|e| config(format!("{} is not valid PEM: {e}", path.display())))?;
        let block = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| config(format!("{} holds no CERTIFICATE", path.display())))?;
        return Ok(Certificate::from_der(block.contents())?);
    }
    if let Ok(certificate) = Certificate::from_der(&bytes) {
        return Ok(certificate);
    }
    let password = password(password_env)?;
    let pfx = ClientCertificate::from_pfx(
        &bytes,
        password.as_ref().map(|p| p.expose_secret()).unwrap_or(""),
    )?;
    Ok(pfx.certificate().clone())
}

fn assertion(global: &GlobalArgs, args: &AssertionArgs) -> Outcome {
    let client_id = global.client_id()?;
    let certificate: ClientCertificate =
        load_certificate(&args.certificate, args.password_env.as_deref())?;
    let algorithm = match args.alg {
        Alg::Ps256 => SigningAlgorithm::Ps256,
        Alg::Rs256 => SigningAlgorithm::Rs256,
    };
    let assertion = ClientAssertionBuilder::new(client_id.as_str(), &args.audience, &certificate)
        .algorithm(algorithm)
        .include_x5c(args.x5c)
        .build()?;
    output::line(assertion.expose_secret())
}

fn generate(args: &GenerateArgs) -> Outcome {
    for path in [&args.out_cert, &args.out_key] {
        if path.exists() {
            return Err(config(format!(
                "{} already exists; remove it or choose another path",
                path.display()
            )));
        }
    }
    let generated = generate_self_signed(&args.subject, args.days, KeySize::Rsa2048)?;
    write(
        &args.out_key,
        generated.private_key_pem.expose_secret().as_bytes(),
        Access::Private,
        false,
    )?;
    write(
        &args.out_cert,
        generated.certificate_pem.as_bytes(),
        Access::Public,
        false,
    )?;
    let certificate = &generated.certificate;
    output::line(&format!(
        "wrote {} and {} (mode 0600)\nsubject {}\nthumbprint SHA-1 {} (x5t#S256 {})",
        args.out_cert.display(),
        args.out_key.display(),
        certificate.subject(),
        certificate.sha1_thumbprint().to_hex(),
        certificate.sha256_thumbprint().to_base64url(),
    ))
}

/// A certificate with its key (PEM or PFX), decrypted with the password in the
/// environment variable `password_env`.
fn load_certificate(path: &Path, password_env: Option<&str>) -> Outcome<ClientCertificate> {
    let password = password(password_env)?;
    Ok(ClientCertificate::from_file(
        path,
        password.as_ref().map(|p| p.expose_secret()),
    )?)
}
