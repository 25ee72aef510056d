//! Where a secret or a certificate comes from: the environment, a file, a PKCS#11
//! token or the program.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{Error, Result, Secret};

use crate::pkcs11_key::Pkcs11Key;

/// Where a secret comes from: `${VAR}` (an environment variable), `{ env: VAR }`,
/// `{ file: PATH }` (trimmed), the value itself in a file (discouraged), or a value the
/// program already holds. Values are trimmed; an empty one counts as missing.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum SecretSource {
    /// A string: `${VAR}` names an environment variable, anything else is the secret.
    Text(String),
    /// `{ env: VAR }`.
    Env {
        /// The variable.
        env: String,
    },
    /// `{ file: PATH }`: the file's contents, trimmed.
    File {
        /// The file.
        file: PathBuf,
    },
    /// A value the program holds (never read from a file).
    #[serde(skip)]
    Value(Secret),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) if env_reference(text).is_some() => write!(f, "{text}"),
            Self::Text(_) | Self::Value(_) => f.write_str("[redacted]"),
            Self::Env { env } => write!(f, "${{{env}}}"),
            Self::File { file } => write!(f, "file:{}", file.display()),
        }
    }
}

fn env_reference(text: &str) -> Option<&str> {
    text.strip_prefix("${")?.strip_suffix('}')
}

impl SecretSource {
    /// The secret from the environment variable `name`.
    pub fn env(name: impl Into<String>) -> Self {
        Self::Env { env: name.into() }
    }

    /// The secret in `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File { file: path.into() }
    }

    /// The secret; errors name `field`, and the variable or file, never the value.
    pub fn resolve(&self, field: &str) -> Result<Secret> {
        let from_env = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| {
                    Error::configuration(format!(
                        "{field}: the environment variable {name} is not set"
                    ))
                })
        };
        let secret = match self {
            Self::Text(text) => match env_reference(text) {
                Some(name) => return from_env(name),
                None => Secret::new(text.trim()),
            },
            Self::Env { env } => return from_env(env),
            Self::File { file } => std::fs::read_to_string(file)
                .map(|text| Secret::new(text.trim()))
                .map_err(|e| {
                    Error::configuration(format!("{field}: cannot read {}: {e}", file.display()))
                })?,
            Self::Value(secret) => secret.clone(),
        };
        if secret.is_empty() {
            return Err(Error::configuration(format!(
                "{field}: the secret is empty"
            )));
        }
        Ok(secret)
    }
}

/// Where a certificate with its private key comes from: a file (PEM with its key, or
/// PFX), a key in a PKCS#11 token with the token's certificate for it, or one the
/// program already loaded (never read from a file). In a configuration file: a path,
/// or `{ pkcs11: { module, uri, pin } }` ([`Pkcs11Key`]).
#[derive(Clone)]
#[non_exhaustive]
pub enum CertificateSource {
    /// A PEM or PFX file.
    File(PathBuf),
    /// A key that never leaves its PKCS#11 token (needs the `pkcs11` feature to sign).
    Pkcs11(Pkcs11Key),
    /// A certificate the program holds (its key may live in a key store).
    Loaded(ClientCertificate),
}

impl fmt::Debug for CertificateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "file:{}", path.display()),
            Self::Pkcs11(key) => write!(f, "{key:?}"),
            Self::Loaded(certificate) => {
                write!(f, "loaded:{}", certificate.certificate().subject())
            }
        }
    }
}

impl<'de> Deserialize<'de> for CertificateSource {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        /// The table form, so that its errors name its fields (`pkcs11.pin`).
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            pkcs11: Pkcs11Key,
        }
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = CertificateSource;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a certificate file's path, or { pkcs11: { module, uri, pin } }")
            }

            fn visit_str<E: serde::de::Error>(
                self,
                path: &str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(CertificateSource::File(PathBuf::from(path)))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let table = Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(CertificateSource::Pkcs11(table.pkcs11))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl From<PathBuf> for CertificateSource {
    fn from(path: PathBuf) -> Self {
        Self::File(path)
    }
}

impl From<Pkcs11Key> for CertificateSource {
    fn from(key: Pkcs11Key) -> Self {
        Self::Pkcs11(key)
    }
}

impl From<ClientCertificate> for CertificateSource {
    fn from(certificate: ClientCertificate) -> Self {
        Self::Loaded(certificate)
    }
}

impl CertificateSource {
    /// The certificate, decrypting a file with `password`; errors name `field`.
    pub(super) fn load(
        &self,
        password: Option<&SecretSource>,
        field: &str,
    ) -> Result<ClientCertificate> {
        let not_a_file = |what: &str| {
            Error::configuration(format!(
                "{field}: a password is for a certificate file, not {what}"
            ))
        };
        match self {
            Self::File(path) => {
                let password = password
                    .map(|p| p.resolve(&format!("{field}.password")))
                    .transpose()?;
                ClientCertificate::from_file(path, password.as_ref().map(|p| p.expose_secret()))
                    .map_err(|e| Error::configuration(format!("{field}: {}: {e}", path.display())))
            }
            Self::Pkcs11(_) if password.is_some() => Err(not_a_file("a key in a PKCS#11 token")),
            Self::Pkcs11(key) => key.client_certificate(&format!("{field}.pkcs11")),
            Self::Loaded(_) if password.is_some() => Err(not_a_file("a loaded certificate")),
            Self::Loaded(certificate) => Ok(certificate.clone()),
        }
    }
}
