//! The PKCS#11 options — `--pkcs11-module`, `--pin-env`, `--pin-file` — as the place of
//! a token and of its PIN, for `pkcs11:` certificates and `cert generate --pkcs11`.
//! The PIN itself is read by tokenhop-pkcs11 when it logs in, never here.

use std::path::PathBuf;

use tokenhop_flows::{Pkcs11Key, Pkcs11Pin};

use crate::cli::Pkcs11Args;
use crate::failure::{Failure, Outcome, config};

/// The module's path when `--pkcs11-module` is not given.
pub const MODULE_ENV: &str = "TOKENHOP_PKCS11_MODULE";
/// The PIN's variable when neither `--pin-env` nor `--pin-file` is given.
pub const PIN_ENV: &str = "TOKENHOP_PKCS11_PIN";

impl Pkcs11Args {
    /// `--pkcs11-module`, else TOKENHOP_PKCS11_MODULE.
    pub fn module(&self) -> Outcome<PathBuf> {
        self.pkcs11_module
            .clone()
            .or_else(|| std::env::var_os(MODULE_ENV).map(PathBuf::from))
            .ok_or_else(|| {
                config(format!(
                    "a key in a PKCS#11 token needs its module: give --pkcs11-module PATH or set {MODULE_ENV}"
                ))
            })
    }

    /// `--pin-file`, `--pin-env`, else TOKENHOP_PKCS11_PIN.
    pub fn pin(&self) -> Pkcs11Pin {
        match (&self.pin_file, &self.pin_env) {
            (Some(path), _) => Pkcs11Pin::File(path.clone()),
            (None, Some(name)) => Pkcs11Pin::Env(name.clone()),
            (None, None) => Pkcs11Pin::Env(PIN_ENV.into()),
        }
    }

    /// The key `uri` on this token, as the flows' setting.
    pub fn key(&self, uri: &str) -> Outcome<Pkcs11Key> {
        Ok(Pkcs11Key::new(self.module()?, uri, self.pin()))
    }

    /// Refuses these options when nothing uses a token (`used` false): an option is
    /// never accepted and ignored. The variables alone are no error.
    pub fn refuse_unused(&self, used: bool) -> Outcome {
        let given = [
            ("--pkcs11-module", self.pkcs11_module.is_some()),
            ("--pin-env", self.pin_env.is_some()),
            ("--pin-file", self.pin_file.is_some()),
        ];
        match given.iter().find(|(_, given)| *given) {
            Some((option, _)) if !used => Err(config(format!(
                "{option} is for a key in a PKCS#11 token: give the certificate as pkcs11:URI (or cert generate --pkcs11 URI)"
            ))),
            _ => Ok(()),
        }
    }
}

impl From<tokenhop_pkcs11::Pkcs11Error> for Failure {
    /// Every token failure is a setting to fix (exit code 6); none holds the PIN.
    fn from(error: tokenhop_pkcs11::Pkcs11Error) -> Self {
        config(error.to_string())
    }
}
