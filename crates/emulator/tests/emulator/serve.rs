//! TLS, the state directory, and the `tokenhop-emulator` binary: `serve`'s ready line,
//! configuration files, SIGTERM, and `print-config`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;
use tokenhop_emulator::{Emulator, EmulatorConfig, names};

use crate::common;

const BINARY: &str = env!("CARGO_BIN_EXE_tokenhop-emulator");

fn https_client(ca_pem: &str) -> reqwest::Client {
    let _ = common::http();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn tls_serves_https_that_only_the_generated_ca_vouches_for() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::builder()
        .tls(true)
        .state_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert!(emulator.url().starts_with("https://127.0.0.1:"));
    let ca = emulator.ca_cert_pem().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
        ca
    );
    let discovery = format!(
        "{}/v2.0/.well-known/openid-configuration",
        emulator.authority()
    );
    let doc: Value = https_client(ca)
        .get(&discovery)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], format!("{}/v2.0", emulator.authority()));
    // Without the CA the handshake fails: the certificate is not from a public CA.
    assert!(common::http().get(&discovery).send().await.is_err());

    let certificate = emulator.app_certificate(names::CONFIDENTIAL_CERT).unwrap();
    let written = dir.path().join("confidential-cert.cert.pem");
    assert_eq!(
        std::fs::read_to_string(written).unwrap(),
        certificate.certificate_pem
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(dir.path().join("confidential-cert.key.pem")).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
}

/// Starts the binary's `serve` with `args`; the child and its ready line.
fn serve(args: &[&str]) -> (std::process::Child, Value) {
    let mut child = Command::new(BINARY)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, serde_json::from_str(&line).unwrap_or(Value::Null))
}

#[tokio::test]
async fn serve_prints_one_ready_line_serves_a_yaml_config_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::default();
    config.tenant_domain = "fabrikam.onmicrosoft.com".into();
    let config_path = dir.path().join("directory.yaml");
    std::fs::write(&config_path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    let state_dir = dir.path().join("state");
    let (mut child, ready) = serve(&[
        "--tls",
        "--config",
        config_path.to_str().unwrap(),
        "--state-dir",
        state_dir.to_str().unwrap(),
    ]);
    assert_eq!(ready["tenant_id"], config.tenant_id.as_str());
    assert_eq!(ready["state_dir"], state_dir.to_str().unwrap());
    let ca_path = ready["ca_cert"].as_str().unwrap();
    let ca = std::fs::read_to_string(ca_path).unwrap();
    let url = ready["url"].as_str().unwrap();
    let response = https_client(&ca)
        .get(format!(
            "{url}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The managed identity hosts that need more than the URL: Service Fabric's own
    // https endpoint and certificate thumbprint, Azure Arc's key file directory.
    let fabric = ready["service_fabric_endpoint"].as_str().unwrap();
    assert!(
        fabric.starts_with("https://127.0.0.1:") && !fabric.starts_with(url),
        "{ready}"
    );
    assert_eq!(
        ready["service_fabric_thumbprint"].as_str().unwrap().len(),
        40,
        "{ready}"
    );
    assert_eq!(
        ready["arc_token_dir"],
        state_dir.join("azcmagent").join("tokens").to_str().unwrap()
    );

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn print_config_is_the_built_in_configuration_and_bad_files_name_the_field() {
    let output = Command::new(BINARY).arg("print-config").output().unwrap();
    assert!(output.status.success());
    let printed: EmulatorConfig = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, EmulatorConfig::default());

    let dir = tempfile::tempdir().unwrap();
    let mut json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["tenant_domian"] = "typo.onmicrosoft.com".into();
    let path = dir.path().join("config.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let output = Command::new(BINARY)
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tenant_domian") && stderr.contains("config.json"),
        "{stderr}"
    );
}
