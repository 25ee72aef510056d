//! A SoftHSM2 token for the demo, made before the emulator starts (the emulator reads
//! the certificates it trusts from its configuration file): a fresh token in a
//! directory of its own, an RSA key generated inside it by OpenSC's `pkcs11-tool`, and
//! a certificate for that key made and stored by `tokenhop cert generate --pkcs11`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::python::in_ci;

/// Where Debian, Fedora and a source build put SoftHSM2's module.
const MODULE_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];
const TOKEN_LABEL: &str = "tokenhop demo";
/// The variable the demo keeps the token's user PIN in: tokenhop reads it there, it
/// never goes on tokenhop's command line.
pub const PIN_VARIABLE: &str = "TOKENHOP_DEMO_HSM_PIN";
const USER_PIN: &str = "demo-hsm-pin-2468";

/// The demo's token, or why there is none.
pub enum DemoToken {
    /// The key is in the token and certified.
    Ready(Token),
    /// SoftHSM2 or pkcs11-tool is not installed (outside CI only).
    Skipped(String),
    /// Making the token, the key or the certificate failed.
    Failed(String),
}

/// A token holding the key `object` and its certificate; removed when dropped.
pub struct Token {
    dir: PathBuf,
    /// SoftHSM2's module.
    pub module: PathBuf,
    /// The key's URI.
    pub uri: String,
    /// The key's certificate, PEM.
    pub certificate_pem: String,
}

impl DemoToken {
    /// Makes a token with a key for `app` and certifies the key with `tokenhop`.
    pub fn prepare(tokenhop: &Path, app: &str) -> Self {
        let module = MODULE_PATHS.iter().map(PathBuf::from).find(|p| p.exists());
        let tools = ["softhsm2-util", "pkcs11-tool"]
            .iter()
            .all(|tool| Command::new(tool).arg("--help").output().is_ok());
        let Some(module) = module.filter(|_| tools) else {
            let why =
                "softhsm2 or pkcs11-tool is not installed (.ci/run installs softhsm2 and opensc)";
            return if in_ci() {
                Self::Failed(why.into())
            } else {
                println!("skipping the SoftHSM2 step: {why}");
                Self::Skipped(why.into())
            };
        };
        let dir = std::env::temp_dir().join(format!("tokenhop-demo-hsm-{}", std::process::id()));
        let mut token = Token {
            uri: format!(
                "pkcs11:token={};object={app}",
                TOKEN_LABEL.replace(' ', "%20")
            ),
            dir,
            module,
            certificate_pem: String::new(),
        };
        match token.make_key_and_certificate(tokenhop, app) {
            Ok(certificate_pem) => {
                token.certificate_pem = certificate_pem;
                Self::Ready(token)
            }
            Err(why) => Self::Failed(why),
        }
    }

    /// Adds the certificate to `app`'s registered certificates in the emulator's
    /// configuration, beside the one the emulator generates for it.
    pub fn register(&self, config: &mut Value, app: &str) {
        let Self::Ready(token) = self else { return };
        let apps = config["apps"].as_array_mut().into_iter().flatten();
        for entry in apps.filter(|a| a["name"] == app) {
            entry["registered_certificates"] = Value::from(vec![token.certificate_pem.clone()]);
        }
    }
}

impl Token {
    fn make_key_and_certificate(&self, tokenhop: &Path, app: &str) -> Result<String, String> {
        let _ = std::fs::remove_dir_all(&self.dir);
        let tokens = self.dir.join("tokens");
        std::fs::create_dir_all(&tokens).map_err(|e| e.to_string())?;
        std::fs::write(
            self.conf(),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        // softhsm2-util takes PINs on its command line only; this token is the demo's own.
        self.run(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--so-pin",
                "demo-so-pin-1357",
                "--pin",
                USER_PIN,
            ],
        )?;
        let module = self.module.display().to_string();
        let pin = format!("env:{PIN_VARIABLE}");
        self.run(
            "pkcs11-tool",
            &[
                "--module",
                &module,
                "--token-label",
                TOKEN_LABEL,
                "--login",
                "--pin",
                &pin,
                "--keypairgen",
                "--key-type",
                "rsa:2048",
                "--usage-sign",
                "--sensitive",
                "--private",
                "--label",
                app,
                "--id",
                "01",
            ],
        )?;
        let out_cert = self.dir.join(format!("{app}.cert.pem"));
        let mut generate = Command::new(tokenhop);
        self.point_at(&mut generate);
        generate
            .args(["--json", "cert", "generate", "--subject", app, "--pkcs11"])
            .arg(&self.uri)
            .arg("--pkcs11-module")
            .arg(&self.module)
            .args(["--pin-env", PIN_VARIABLE, "--out-cert"])
            .arg(&out_cert);
        let printed = output(&mut generate)?;
        let answer: Value = serde_json::from_slice(&printed)
            .map_err(|e| format!("tokenhop cert generate printed no JSON: {e}"))?;
        if answer["key_never_left_the_token"] != true {
            return Err(format!("the token says the key may have left it: {answer}"));
        }
        std::fs::read_to_string(&out_cert).map_err(|e| format!("{}: {e}", out_cert.display()))
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// Points `command` at this token: SoftHSM2's configuration, and the PIN in
    /// [`PIN_VARIABLE`].
    pub fn point_at(&self, command: &mut Command) {
        command
            .env("SOFTHSM2_CONF", self.conf())
            .env(PIN_VARIABLE, USER_PIN);
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let mut command = Command::new(program);
        self.point_at(&mut command);
        output(command.args(args)).map(drop)
    }
}

/// What `command` printed, or why it failed.
fn output(command: &mut Command) -> Result<Vec<u8>, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .map_err(|e| format!("could not run {program}: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
