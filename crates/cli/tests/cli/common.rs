//! One emulator per test, on its own runtime, and the `tokenhop` binary pointed at it
//! with a cache in a temporary directory (never the user's).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokenhop_emulator::{Emulator, EmulatorHandle, names};

pub const GRAPH: &str = "https://graph.microsoft.com/.default";

/// A running emulator, a temporary directory and the runtime the emulator serves on.
/// Fields drop in order: the emulator stops before its runtime goes.
pub struct TestEnv {
    pub emulator: EmulatorHandle,
    pub dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl TestEnv {
    pub fn start() -> Self {
        Self::start_with(tokenhop_emulator::EmulatorConfig::default())
    }

    /// With `config` instead of the built-in directory.
    pub fn start_with(config: tokenhop_emulator::EmulatorConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime
            .block_on(Emulator::builder().config(config).start())
            .expect("the emulator starts");
        Self {
            emulator,
            dir: tempfile::tempdir().unwrap(),
            _runtime: runtime,
        }
    }

    /// The cache file every command of this test uses.
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache.json")
    }

    /// `tokenhop` with an empty environment and this test's cache.
    pub fn cmd(&self) -> Command {
        self.cmd_on(self.cache())
    }

    /// `tokenhop` with an empty environment and `--cache CACHE` (a path or a URL).
    pub fn cmd_on(&self, cache: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenhop"));
        cmd.env_clear().arg("--cache").arg(cache);
        cmd
    }

    pub fn client_id(&self, app: &str) -> String {
        self.emulator.config().app(app).unwrap().client_id.clone()
    }

    pub fn secret(&self) -> String {
        self.emulator
            .config()
            .app(names::CONFIDENTIAL_SECRET)
            .unwrap()
            .secret
            .clone()
            .unwrap()
    }

    /// `tokenhop` set up for the secret app: authority, client id and secret in the
    /// environment, as a CI job would have them.
    pub fn secret_cmd(&self) -> Command {
        self.secret_cmd_on(self.cache())
    }

    /// [`TestEnv::secret_cmd`] with `--cache CACHE` (a path or a URL).
    pub fn secret_cmd_on(&self, cache: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.cmd_on(cache);
        cmd.env("TOKENHOP_AUTHORITY", self.emulator.authority())
            .env(
                "TOKENHOP_CLIENT_ID",
                self.client_id(names::CONFIDENTIAL_SECRET),
            )
            .env("TOKENHOP_CLIENT_SECRET", self.secret());
        cmd
    }

    /// Writes a YAML configuration for the secret app (its secret in a file of its own)
    /// asking for `scope`, with `more` (YAML lines) added, and returns its path.
    pub fn secret_config(&self, scope: &str, more: &str) -> PathBuf {
        let secret_file = self.dir.path().join("secret");
        std::fs::write(&secret_file, self.secret()).unwrap();
        let config = self.dir.path().join("auth.yaml");
        std::fs::write(
            &config,
            format!(
                "scopes: [\"{scope}\"]\n{more}flow:\n  type: client-secret\n  authority: {}\n  client_id: {}\n  client_secret: {{ file: {} }}\n",
                self.emulator.authority(),
                self.client_id(names::CONFIDENTIAL_SECRET),
                secret_file.display()
            ),
        )
        .unwrap();
        config
    }

    /// `tokenhop --config CONFIG --json token`: what it printed, and its JSON.
    pub fn config_token(&self, config: &Path) -> (Run, serde_json::Value) {
        let out = ok(self
            .cmd()
            .arg("--config")
            .arg(config)
            .args(["--json", "token"]));
        let token = serde_json::from_str(&out.stdout).unwrap();
        (out, token)
    }

    /// Writes the emulator's certificate and key for `app` as one PEM file.
    pub fn certificate_file(&self, app: &str) -> PathBuf {
        let certificate = self.emulator.app_certificate(app).unwrap();
        let path = self.dir.path().join(format!("{app}.pem"));
        std::fs::write(
            &path,
            format!(
                "{}{}",
                certificate.certificate_pem, certificate.private_key_pem
            ),
        )
        .unwrap();
        path
    }

    pub fn token_requests(&self) -> u64 {
        self.emulator.counters().endpoint("token")
    }
}

/// What a finished command printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs and expects exit code 0.
pub fn ok(cmd: &mut Command) -> Run {
    let run = run(cmd);
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run
}

/// Runs `cmd` while approving the device code it shows as `user`.
pub fn approving(env: &TestEnv, user: &str, mut cmd: Command) -> Run {
    let running = std::thread::spawn(move || run(&mut cmd));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !env.emulator.approve_device_code(None, user, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "no device code appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    running.join().unwrap()
}

/// A JWT part, decoded.
pub fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn assert_jwt(token: &str) {
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token:?}");
    assert!(jwt_part(token, 1).is_object());
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
