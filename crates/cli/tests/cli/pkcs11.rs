//! Keys in a PKCS#11 token from the command line: a fresh SoftHSM2 token per test (in a
//! temporary directory, through `SOFTHSM2_CONF`), RSA keys generated inside it by
//! OpenSC's `pkcs11-tool` (sensitive, never extractable), `tokenhop cert generate
//! --pkcs11` certifying them, and the emulator trusting those certificates without ever
//! seeing a key. The PIN is only ever in an environment variable or a file, and never
//! in what tokenhop prints.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command as Process;

use tokenhop_emulator::{EmulatorConfig, names};

use crate::common::{GRAPH, Run, TestEnv, approving, jwt_part, ok, run};

/// The user PIN of every test token; tests look for it in everything tokenhop prints.
const USER_PIN: &str = "hsm-pin-5150-never-printed";
/// The variable the tests put the PIN in (not tokenhop's default, to test --pin-env).
const PIN_VARIABLE: &str = "TEST_HSM_PIN";
const TOKEN_LABEL: &str = "tokenhop cli";

/// Where Debian, Fedora and a source build put SoftHSM2's module.
const MODULE_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// A SoftHSM2 token of its own, initialized with [`USER_PIN`].
struct SoftHsm {
    dir: tempfile::TempDir,
    module: PathBuf,
}

impl SoftHsm {
    /// A new token, or `None` (with a line saying why) when SoftHSM2 or `pkcs11-tool`
    /// is missing outside CI; in CI a missing tool is a failure.
    fn new() -> Option<Self> {
        let module = MODULE_PATHS.iter().map(PathBuf::from).find(|p| p.exists());
        let tools = ["softhsm2-util", "pkcs11-tool"]
            .iter()
            .all(|tool| Process::new(tool).arg("--help").output().is_ok());
        let Some(module) = module.filter(|_| tools) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "SoftHSM2 or pkcs11-tool is not installed (apt-get install -y softhsm2 opensc); CI must run the PKCS#11 tests"
            );
            eprintln!(
                "SKIPPED: SoftHSM2 or pkcs11-tool is not installed (apt-get install -y softhsm2 opensc)"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let hsm = Self { dir, module };
        // A test token's PINs may go on softhsm2-util's command line; tokenhop's never do.
        hsm.run_tool(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--so-pin",
                "so-pin-0815",
                "--pin",
                USER_PIN,
            ],
        );
        Some(hsm)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// Runs `program args` against this token and expects it to succeed.
    fn run_tool(&self, program: &str, args: &[&str]) {
        let output = Process::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", self.conf())
            .env(PIN_VARIABLE, USER_PIN)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A 2048-bit RSA key pair generated inside the token, labelled `label`: the private
    /// key sensitive and never extractable.
    fn generate_key(&self, label: &str, id: &str) {
        let module = self.module.display().to_string();
        let pin = format!("env:{PIN_VARIABLE}");
        self.run_tool(
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
                label,
                "--id",
                id,
            ],
        );
    }

    /// The URI of the key labelled `label`.
    fn uri(&self, label: &str) -> String {
        format!(
            "pkcs11:token={};object={label}",
            TOKEN_LABEL.replace(' ', "%20")
        )
    }

    /// `tokenhop` with an empty environment but SoftHSM2's configuration and the PIN in
    /// [`PIN_VARIABLE`], and a cache in the token's directory.
    fn tokenhop(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_tokenhop"));
        cmd.env_clear()
            .env("SOFTHSM2_CONF", self.conf())
            .env(PIN_VARIABLE, USER_PIN)
            .arg("--cache")
            .arg(self.dir.path().join("cache.json"));
        cmd
    }

    /// `tokenhop cert generate --pkcs11 … --pkcs11-module … --pin-env …` for the key
    /// `label`.
    fn generate(&self, label: &str) -> assert_cmd::Command {
        let mut cmd = self.tokenhop();
        cmd.args(["cert", "generate", "--subject", label, "--pkcs11"])
            .arg(self.uri(label))
            .arg("--pkcs11-module")
            .arg(&self.module)
            .args(["--pin-env", PIN_VARIABLE]);
        cmd
    }

    /// Certifies the key `label` (`cert generate --pkcs11`): its certificate, PEM.
    fn certify(&self, label: &str) -> String {
        let out_cert = self.dir.path().join(format!("{label}.pem"));
        let out = ok(self.generate(label).arg("--out-cert").arg(&out_cert));
        assert!(
            out.stdout.contains("has never left the token"),
            "{}",
            out.stdout
        );
        std::fs::read_to_string(out_cert).unwrap()
    }
}

/// An emulator whose apps `(name, certificate PEM)` also trust those certificates.
fn emulator_trusting(certificates: &[(&str, &str)]) -> TestEnv {
    let mut config = EmulatorConfig::default();
    config.device_code.interval_secs = 1;
    for (name, pem) in certificates {
        let app = config.apps.iter_mut().find(|a| a.name == *name).unwrap();
        app.registered_certificates.push((*pem).to_owned());
    }
    TestEnv::start_with(config)
}

/// Nothing tokenhop printed holds the PIN (or `other`, a wrong one).
fn assert_no_pin(out: &Run, other: &str) {
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains(USER_PIN) && !text.contains(other),
            "a PIN was printed: {text}"
        );
    }
}

#[test]
fn cert_generate_certifies_a_key_in_the_token_for_client_credentials_and_a_config_file() {
    let Some(hsm) = SoftHsm::new() else { return };
    hsm.generate_key("daemon", "01");
    // The certificate comes first: the emulator is told of it when it starts.
    let pem = hsm.certify("daemon");
    let again = run(&mut hsm.generate("daemon"));
    assert_eq!(again.code, 6, "{}", again.stderr);
    assert!(
        again.stderr.contains("already holds a certificate"),
        "{}",
        again.stderr
    );

    let env = emulator_trusting(&[(names::CONFIDENTIAL_CERT, &pem)]);
    let client_id = env.client_id(names::CONFIDENTIAL_CERT);
    let out = ok(hsm
        .tokenhop()
        .env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .env("TOKENHOP_CLIENT_ID", &client_id)
        .env("TOKENHOP_PKCS11_MODULE", &hsm.module)
        .args(["-vv", "token", "--scope", GRAPH, "--certificate"])
        .arg(hsm.uri("daemon"))
        .args(["--pin-env", PIN_VARIABLE]));
    assert_eq!(jwt_part(out.stdout.trim(), 1)["appid"], client_id.as_str());
    assert_no_pin(&out, USER_PIN);

    let config = env.dir.path().join("hsm.yaml");
    let pin_file = env.dir.path().join("pin");
    std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
    std::fs::write(
        &config,
        format!(
            "scopes: [\"https://storage.azure.com/.default\"]\ncache: {{ disabled: true }}\nflow:\n  type: client-certificate\n  authority: {}\n  client_id: {client_id}\n  certificate:\n    pkcs11: {{ module: {}, uri: \"{}\", pin: {{ file: {} }} }}\n",
            env.emulator.authority(),
            hsm.module.display(),
            hsm.uri("daemon"),
            pin_file.display()
        ),
    )
    .unwrap();
    let out = ok(hsm
        .tokenhop()
        .env_remove(PIN_VARIABLE)
        .arg("--config")
        .arg(&config)
        .arg("token"));
    assert_eq!(
        jwt_part(out.stdout.trim(), 1)["aud"],
        "https://storage.azure.com"
    );
    assert_eq!(env.emulator.counters().grant("client_credentials"), 2);
}

#[test]
fn the_agent_id_blueprint_and_an_on_behalf_of_middle_tier_sign_in_the_token() {
    let Some(hsm) = SoftHsm::new() else { return };
    hsm.generate_key("blueprint", "02");
    hsm.generate_key("middle-tier", "03");
    let blueprint_pem = hsm.certify("blueprint");
    let middle_pem = hsm.certify("middle-tier");
    let env = emulator_trusting(&[
        (names::AGENT_BLUEPRINT, &blueprint_pem),
        (names::CONFIDENTIAL_SECRET, &middle_pem),
    ]);
    let agent_id = env
        .emulator
        .config()
        .agent_identity(names::AGENT_IDENTITY)
        .unwrap()
        .client_id
        .clone();
    let out = ok(hsm
        .tokenhop()
        .env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .args(["token", "--flow", "agent-identity", "--scope", GRAPH])
        .args(["--blueprint-id", &env.client_id(names::AGENT_BLUEPRINT)])
        .arg("--blueprint-certificate")
        .arg(hsm.uri("blueprint"))
        .arg("--pkcs11-module")
        .arg(&hsm.module)
        .args(["--pin-env", PIN_VARIABLE, "--agent-id", &agent_id]));
    let claims = jwt_part(out.stdout.trim(), 1);
    assert_eq!(claims["appid"], agent_id.as_str());
    assert_eq!(
        claims["xms_par_app_azp"],
        env.client_id(names::AGENT_BLUEPRINT).as_str()
    );

    let middle = env.client_id(names::CONFIDENTIAL_SECRET);
    let mut sign_in = env.cmd();
    sign_in
        .env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .env("TOKENHOP_CLIENT_ID", env.client_id(names::PUBLIC_CLIENT))
        .args(["token", "--flow", "device-code", "--scope"])
        .arg(format!("api://{middle}/access_as_user"));
    let incoming = approving(&env, names::ALICE, sign_in);
    assert_eq!(incoming.code, 0, "{}", incoming.stderr);
    let assertion_file = env.dir.path().join("incoming");
    std::fs::write(&assertion_file, incoming.stdout.trim()).unwrap();
    let out = ok(hsm
        .tokenhop()
        .env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .env("TOKENHOP_CLIENT_ID", &middle)
        .env("TOKENHOP_PKCS11_MODULE", &hsm.module)
        .args(["token", "--flow", "on-behalf-of", "--assertion-file"])
        .arg(&assertion_file)
        .args(["--scope", "https://graph.microsoft.com/User.Read"])
        .arg("--certificate")
        .arg(hsm.uri("middle-tier"))
        .args(["--pin-env", PIN_VARIABLE]));
    let claims = jwt_part(out.stdout.trim(), 1);
    assert_eq!(claims["appid"], middle.as_str());
    assert_eq!(claims["upn"], "alice@contoso.onmicrosoft.com");
}

#[test]
fn a_wrong_pin_a_missing_key_or_module_are_configuration_errors_without_the_pin() {
    let Some(hsm) = SoftHsm::new() else { return };
    hsm.generate_key("daemon", "01");
    let env = TestEnv::start();
    let wrong_pin = "9999-wrong-pin-0000";
    // `tokenhop -vv token … --certificate CERTIFICATE` for the certificate app, then `more`.
    let token = |certificate: &OsStr, more: &[&OsStr]| {
        let mut cmd = hsm.tokenhop();
        cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
            .env(
                "TOKENHOP_CLIENT_ID",
                env.client_id(names::CONFIDENTIAL_CERT),
            )
            .env("WRONG_PIN", wrong_pin)
            .args(["-vv", "token", "--scope", GRAPH, "--certificate"])
            .arg(certificate)
            .args(more);
        run(&mut cmd)
    };
    let daemon = OsString::from(hsm.uri("daemon"));
    let module = [OsStr::new("--pkcs11-module"), hsm.module.as_os_str()];
    let with_pin = |pin_variable: &'static str| {
        let mut args = module.to_vec();
        args.extend([OsStr::new("--pin-env"), OsStr::new(pin_variable)]);
        args
    };
    let cases = [
        (
            token(&daemon, &with_pin("WRONG_PIN")),
            "refused the PIN from the environment variable WRONG_PIN",
        ),
        (
            token(OsStr::new(&hsm.uri("absent")), &with_pin(PIN_VARIABLE)),
            "no private key object=absent",
        ),
        (
            token(
                &daemon,
                &[
                    OsStr::new("--pkcs11-module"),
                    OsStr::new("/nonexistent/libvendor-pkcs11.so"),
                ],
            ),
            "cannot load the PKCS#11 module /nonexistent/libvendor-pkcs11.so",
        ),
        (
            token(&daemon, &module),
            "the environment variable TOKENHOP_PKCS11_PIN: it is not set",
        ),
        (
            token(
                OsStr::new(&format!("{}?pin-value={wrong_pin}", hsm.uri("daemon"))),
                &module,
            ),
            "a PIN in the URI is refused",
        ),
        (
            token(&daemon, &[]),
            "give --pkcs11-module PATH or set TOKENHOP_PKCS11_MODULE",
        ),
        (
            token(
                env.certificate_file(names::CONFIDENTIAL_CERT).as_os_str(),
                &[OsStr::new("--pin-env"), OsStr::new(PIN_VARIABLE)],
            ),
            "--pin-env is for a key in a PKCS#11 token",
        ),
    ];
    for (out, expected) in cases {
        assert_eq!(out.code, 6, "{expected}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{expected}: {}", out.stderr);
        assert_no_pin(&out, wrong_pin);
    }
    assert_eq!(env.token_requests(), 0, "nothing was sent");
}
