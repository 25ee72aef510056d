//! [`Pkcs11Key`]: a certificate whose private key stays in a PKCS#11 token (an HSM, a
//! smart card, a YubiKey, a TPM), as a configuration file and the CLI name it. The
//! signing itself is `tokenhop-pkcs11`'s, behind this crate's `pkcs11` feature; without
//! the feature the settings still parse, and building the credential says which
//! feature it needs.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{Error, Result};

/// A key in a PKCS#11 token and its certificate, the token's certificate object with
/// the key's id: `{ module, uri, pin }` in a file's `certificate` or
/// `blueprint_certificate`
/// (`{ pkcs11: { module: /usr/lib/softhsm/libsofthsm2.so, uri: "pkcs11:token=prod;object=app", pin: { env: APP_PIN } } }`).
/// `Debug` shows the module and the URI's token and object, never the PIN.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Pkcs11Key {
    /// The vendor's PKCS#11 module (`/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// The private key's RFC 7512 URI (`pkcs11:token=prod-hsm;object=app-key`).
    pub uri: String,
    /// Where the token's user PIN is.
    pub pin: Pkcs11Pin,
}

/// Where a token's user PIN is: `{ env: VAR }` or `{ file: PATH }` (its first line).
/// Never the PIN itself: a file that holds anything else is refused without repeating
/// what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pkcs11Pin {
    /// The environment variable with this name.
    Env(String),
    /// The file at this path.
    File(PathBuf),
}

impl<'de> Deserialize<'de> for Pkcs11Pin {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Pkcs11Pin;

            // serde's own messages would repeat a value given where `{ env: VAR }` was
            // expected, and that value is most likely the PIN.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("{ env: VAR } or { file: PATH }, never the PIN itself")
            }

            fn visit_str<E: serde::de::Error>(
                self,
                _: &str,
            ) -> std::result::Result<Self::Value, E> {
                Err(E::custom(PIN_SHAPE))
            }

            fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Err(E::custom(PIN_SHAPE))
            }

            fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Err(E::custom(PIN_SHAPE))
            }

            fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Err(E::custom(PIN_SHAPE))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let refused = || serde::de::Error::custom(PIN_SHAPE);
                let key: String = map.next_key()?.ok_or_else(refused)?;
                let pin = match key.as_str() {
                    "env" => Pkcs11Pin::Env(map.next_value().map_err(|_: A::Error| refused())?),
                    "file" => Pkcs11Pin::File(map.next_value().map_err(|_: A::Error| refused())?),
                    _ => return Err(refused()),
                };
                match map.next_key::<serde::de::IgnoredAny>() {
                    Ok(None) => Ok(pin),
                    _ => Err(refused()),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(feature = "pkcs11")]
impl From<Pkcs11Pin> for tokenhop_pkcs11::PinSource {
    fn from(pin: Pkcs11Pin) -> Self {
        match pin {
            Pkcs11Pin::Env(name) => Self::env(name),
            Pkcs11Pin::File(path) => Self::file(path),
        }
    }
}

/// What a PIN setting must look like.
const PIN_SHAPE: &str =
    "give the PIN's place, { env: VAR } or { file: PATH }, never the PIN itself";

impl Pkcs11Key {
    /// The key `uri` on a token of `module`, logged in to with the PIN from `pin`.
    pub fn new(module: impl Into<PathBuf>, uri: impl Into<String>, pin: Pkcs11Pin) -> Self {
        Self {
            module: module.into(),
            uri: uri.into(),
            pin,
        }
    }

    /// Opens the key (loads the module, logs in) and reads its certificate from the
    /// token. Every failure — an unloadable module, a wrong PIN, a missing key or
    /// certificate — is a configuration error naming `field`, never holding the PIN.
    #[cfg(feature = "pkcs11")]
    pub(crate) fn client_certificate(&self, field: &str) -> Result<ClientCertificate> {
        use tokenhop_pkcs11::{PinSource, Pkcs11Signer, Pkcs11Uri};

        let failed =
            |e: tokenhop_pkcs11::Pkcs11Error| Error::configuration(format!("{field}: {e}"));
        let uri: Pkcs11Uri = self.uri.parse().map_err(failed)?;
        Pkcs11Signer::open(&self.module, &uri, &PinSource::from(self.pin.clone()))
            .and_then(Pkcs11Signer::client_certificate)
            .map_err(failed)
    }

    /// Without the `pkcs11` feature there is no signer to open the key with.
    #[cfg(not(feature = "pkcs11"))]
    pub(crate) fn client_certificate(&self, field: &str) -> Result<ClientCertificate> {
        Err(Error::configuration(format!(
            "{field}: a key in a PKCS#11 token needs tokenhop-flows' `pkcs11` feature"
        )))
    }

    /// The URI as `Debug` shows it: parsed and printed back (which drops anything a PIN
    /// could hide in), or not at all.
    fn shown_uri(&self) -> String {
        #[cfg(feature = "pkcs11")]
        if let Ok(uri) = self.uri.parse::<tokenhop_pkcs11::Pkcs11Uri>() {
            return uri.to_string();
        }
        "(not shown)".into()
    }
}

impl fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("module", &self.module)
            .field("uri", &self.shown_uri())
            .field("pin", &self.pin)
            .finish()
    }
}
