//! The emulator as a separate process (`tokenhop-emulator serve`), for the steps that
//! drive it from outside: the MSAL interop, the demo, the benchmarks.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::util::{cargo, run, workspace_root};

/// A running `tokenhop-emulator serve`; killed when dropped.
pub struct EmulatorProcess {
    child: Child,
    /// The JSON line `serve` printed when ready.
    pub ready_line: String,
    /// The configuration it serves (written to the state dir).
    pub config_path: PathBuf,
    /// Its state directory (removed when dropped).
    pub state_dir: PathBuf,
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Builds the `tokenhop` CLI (debug, sharing the test build) and returns its path.
pub fn build_tokenhop_cli() -> Result<PathBuf, String> {
    run(cargo().args([
        "build",
        "--quiet",
        "-p",
        "tokenhop-cli",
        "--bin",
        "tokenhop",
    ]))?;
    Ok(target_dir().join("debug/tokenhop"))
}

/// How the emulator binary is built: `Debug` for tests and the demo (shares the test
/// build), `Optimized` for benchmarks, so the server is not what they measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    Debug,
    Optimized,
}

/// Builds the emulator binary and returns its path.
pub fn build(kind: Build) -> Result<PathBuf, String> {
    let mut command = cargo();
    command.args([
        "build",
        "--quiet",
        "-p",
        "tokenhop-emulator",
        "--bin",
        "tokenhop-emulator",
    ]);
    if kind == Build::Optimized {
        command.args(["--profile", "bench"]);
    }
    run(&mut command)?;
    let dir = if kind == Build::Optimized {
        "release"
    } else {
        "debug"
    };
    Ok(target_dir().join(dir).join("tokenhop-emulator"))
}

impl EmulatorProcess {
    /// Starts `serve --tls` in a fresh state directory under `name`, with the built-in
    /// configuration changed by `adjust` (e.g. a shorter device code interval).
    pub fn start(
        name: &str,
        tls: bool,
        adjust: impl FnOnce(&mut serde_json::Value),
    ) -> Result<Self, String> {
        Self::start_built(Build::Debug, name, tls, adjust)
    }

    /// [`EmulatorProcess::start`] with the binary built as `kind` says.
    pub fn start_built(
        kind: Build,
        name: &str,
        tls: bool,
        adjust: impl FnOnce(&mut serde_json::Value),
    ) -> Result<Self, String> {
        let binary = build(kind)?;
        let state_dir =
            std::env::temp_dir().join(format!("tokenhop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state_dir);
        std::fs::create_dir_all(&state_dir).map_err(|e| e.to_string())?;
        let printed = Command::new(&binary)
            .arg("print-config")
            .output()
            .map_err(|e| format!("could not run {}: {e}", binary.display()))?;
        let mut config: serde_json::Value =
            serde_json::from_slice(&printed.stdout).map_err(|e| format!("print-config: {e}"))?;
        adjust(&mut config);
        let config_path = state_dir.join("config.json");
        std::fs::write(&config_path, config.to_string()).map_err(|e| e.to_string())?;
        let mut command = Command::new(&binary);
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--state-dir")
            .arg(&state_dir)
            .stdout(Stdio::piped());
        if tls {
            command.arg("--tls");
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not start the emulator: {e}"))?;
        let mut ready_line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut ready_line);
        }
        let url = serde_json::from_str::<serde_json::Value>(&ready_line)
            .ok()
            .and_then(|v| v["url"].as_str().map(str::to_owned));
        if url.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the emulator did not say it was ready: {ready_line:?}"
            ));
        };
        Ok(Self {
            child,
            ready_line: ready_line.trim().to_owned(),
            config_path,
            state_dir,
        })
    }
}

/// The emulator's confidential app with a secret, as a client is given it.
pub struct SecretApp {
    /// `{url}/{tenant id}`.
    pub authority: String,
    pub client_id: String,
    pub secret: String,
    /// The emulator's CA certificate (PEM file) when it serves TLS.
    pub ca_cert: String,
}

impl EmulatorProcess {
    /// The app `confidential-secret` of the configuration it serves.
    pub fn secret_app(&self) -> Result<SecretApp, String> {
        let ready: serde_json::Value =
            serde_json::from_str(&self.ready_line).map_err(|e| e.to_string())?;
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&self.config_path).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let app = config["apps"]
            .as_array()
            .and_then(|apps| apps.iter().find(|a| a["name"] == "confidential-secret"))
            .ok_or("no confidential-secret app")?;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        Ok(SecretApp {
            authority: format!("{}/{}", text(&ready["url"]), text(&ready["tenant_id"])),
            client_id: text(&app["client_id"]),
            secret: text(&app["secret"]),
            ca_cert: text(&ready["ca_cert"]),
        })
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}
