//! `tokenhop cert thumbprint|assertion|generate`, on tokenhop-cert (and tokenhop-pkcs11
//! for `generate --pkcs11`).

use std::path::{Path, PathBuf};

use tokenhop_cert::{
    Certificate, ClientAssertionBuilder, ClientCertificate, KeySize, SigningAlgorithm, Thumbprint,
    generate_self_signed, self_signed_certificate,
};
use tokenhop_pkcs11::{PinSource, Pkcs11Error, Pkcs11Signer, Pkcs11Uri};

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
        CertCommand::Generate(args) => match &args.pkcs11 {
            Some(uri) => generate_in_token(global, args, uri),
            None => generate(args),
        },
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
    args.token.refuse_unused(false)?;
    let (Some(out_cert), Some(out_key)) = (&args.out_cert, &args.out_key) else {
        return Err(config(
            "cert generate needs --out-cert and --out-key (or --pkcs11)",
        ));
    };
    refuse_existing(&[out_cert, out_key])?;
    let generated = generate_self_signed(&args.subject, args.days, KeySize::Rsa2048)?;
    write(
        out_key,
        generated.private_key_pem.expose_secret().as_bytes(),
        Access::Private,
        false,
    )?;
    write(
        out_cert,
        generated.certificate_pem.as_bytes(),
        Access::Public,
        false,
    )?;
    output::line(&format!(
        "wrote {} and {} (mode 0600)\n{}",
        out_cert.display(),
        out_key.display(),
        described(&generated.certificate)
    ))
}

/// `cert generate --pkcs11 URI`: a self-signed certificate for the key in the token,
/// signed there and stored beside the key, so that `--certificate pkcs11:URI` finds it.
fn generate_in_token(global: &GlobalArgs, args: &GenerateArgs, uri: &str) -> Outcome {
    if let Some(out_cert) = &args.out_cert {
        refuse_existing(&[out_cert])?;
    }
    let uri: Pkcs11Uri = uri.parse()?;
    let pin = PinSource::from(args.token.pin());
    let signer = Pkcs11Signer::open(args.token.module()?, &uri, &pin)?;
    match signer.token_certificate() {
        Err(Pkcs11Error::CertificateNotFound { .. }) => {}
        Ok(existing) => {
            return Err(config(format!(
                "PKCS#11 token {} already holds a certificate for {uri} ({}); use it as it is, or delete it with the token's own tool first",
                signer.token_label(),
                existing.subject()
            )));
        }
        Err(other) => return Err(other.into()),
    }
    let certificate =
        self_signed_certificate(&args.subject, args.days, signer.public_key(), &signer)?;
    signer.store_certificate(&certificate)?;
    if let Some(out_cert) = &args.out_cert {
        write(
            out_cert,
            certificate.to_pem().as_bytes(),
            Access::Public,
            false,
        )?;
    }
    let never_left = signer.key_protection().never_left_the_token();
    if global.json {
        return output::json(&serde_json::json!({
            "token": signer.token_label(),
            "key": uri.to_string(),
            "subject": certificate.subject(),
            "sha1": certificate.sha1_thumbprint().to_hex(),
            "x5t#S256": certificate.sha256_thumbprint().to_base64url(),
            "out_cert": args.out_cert,
            "key_never_left_the_token": never_left,
        }));
    }
    let wrote = args
        .out_cert
        .as_ref()
        .map(|p| format!(" and wrote {}", p.display()))
        .unwrap_or_default();
    output::line(&format!(
        "stored the certificate on PKCS#11 token {} beside {uri}{wrote}\n{}\nthe key {} the token",
        signer.token_label(),
        described(&certificate),
        if never_left {
            "was made on and has never left"
        } else {
            "may have been outside (imported, or once extractable or not sensitive)"
        }
    ))
}

fn refuse_existing(paths: &[&PathBuf]) -> Outcome {
    match paths.iter().find(|p| p.exists()) {
        Some(path) => Err(config(format!(
            "{} already exists; remove it or choose another path",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// A certificate's subject and thumbprints, as `cert generate` prints them.
fn described(certificate: &Certificate) -> String {
    format!(
        "subject {}\nthumbprint SHA-1 {} (x5t#S256 {})",
        certificate.subject(),
        certificate.sha1_thumbprint().to_hex(),
        certificate.sha256_thumbprint().to_base64url(),
    )
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
