//! `cargo xtask demo`: the main job, end to end, with the real `tokenhop` CLI against the
//! emulator (`tokenhop-emulator serve`): app tokens with a secret and a certificate, a
//! device code sign-in approved through the admin API, a silent token from the cache,
//! the three-hop Agent ID chain (with the blueprint's key in a file, then in SoftHSM2),
//! a bearer call that survives a revoked token, and the agent user's blob in Azurite
//! through the Azure SDK for Rust.
//! Prints a table (flow, result, time, token requests) and fails if any step fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::emulator_process::EmulatorProcess;
use crate::softhsm::{DemoToken, PIN_VARIABLE};
use crate::util::{cargo, run};

/// The app whose key the SoftHSM2 step keeps in the token.
const HSM_APP: &str = "agent-blueprint";

struct Demo {
    tokenhop: PathBuf,
    /// tokenhop-azure's `azurite_blob` example.
    azurite_blob: PathBuf,
    emulator: EmulatorProcess,
    hsm: DemoToken,
    url: String,
    authority: String,
    config: Value,
    cache: PathBuf,
}

struct Row {
    flow: &'static str,
    outcome: Result<String, String>,
    elapsed: Duration,
    token_requests: u64,
}

impl Demo {
    fn app(&self, name: &str) -> &Value {
        self.named("apps", name)
    }

    fn named(&self, list: &str, name: &str) -> &Value {
        self.config[list]
            .as_array()
            .and_then(|items| items.iter().find(|a| a["name"] == name))
            .unwrap_or(&Value::Null)
    }

    fn admin(&self, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/admin/{path}", self.url);
        let response = match body {
            Some(body) => ureq::post(&url).send_json(body),
            None => ureq::get(&url).call(),
        }
        .map_err(|e| format!("admin {path}: {e}"))?;
        if response.status() == 204 {
            return Ok(Value::Null);
        }
        response
            .into_body()
            .read_json()
            .map_err(|e| format!("admin {path}: {e}"))
    }

    fn token_requests(&self) -> u64 {
        self.admin("counters", None)
            .ok()
            .and_then(|c| c["endpoints"]["token"].as_u64())
            .unwrap_or(0)
    }

    /// `tokenhop` with the demo's global options and `args`.
    fn tokenhop(&self, client: &str, args: &[&str]) -> Command {
        self.tokenhop_with_cache(client, &self.cache, args)
    }

    /// [`Demo::tokenhop`] with a cache file of its own.
    fn tokenhop_with_cache(&self, client: &str, cache: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(&self.tokenhop);
        command
            .args(["--authority", &self.authority, "--cache"])
            .arg(cache)
            .args(["--client-id", client, "--json"])
            .args(args)
            .env_remove("TOKENHOP_CONFIG")
            .stdin(Stdio::null());
        command
    }

    fn state_file(&self, name: &str) -> PathBuf {
        self.emulator.state_dir.join(name)
    }

    fn step(&self, flow: &'static str, work: impl FnOnce() -> Result<String, String>) -> Row {
        let before = self.token_requests();
        let started = Instant::now();
        let outcome = work();
        Row {
            flow,
            outcome,
            elapsed: started.elapsed(),
            token_requests: self.token_requests().saturating_sub(before),
        }
    }
}

fn finished(output: std::io::Result<Output>) -> Result<Value, String> {
    let output = output.map_err(|e| format!("could not run tokenhop: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "tokenhop exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("tokenhop printed no JSON: {e}"))
}

/// The part of a `token --json` answer worth showing (never the token).
fn described(token: &Value) -> String {
    format!(
        "token from {}, scopes {}",
        token["source"].as_str().unwrap_or("?"),
        token["scopes"]
    )
}

fn pem_with_key(demo: &Demo, app: &str) -> Result<PathBuf, String> {
    let read = |name: String| {
        std::fs::read_to_string(demo.state_file(&name)).map_err(|e| format!("{name}: {e}"))
    };
    let path = demo.state_file(&format!("{app}.pem"));
    let both = format!(
        "{}{}",
        read(format!("{app}.cert.pem"))?,
        read(format!("{app}.key.pem"))?
    );
    std::fs::write(&path, both).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The agent user chain's options, the blueprint signing with `blueprint_certificate`
/// (a file, or a `pkcs11:` URI).
fn agent_args(demo: &Demo, blueprint_certificate: &str) -> Vec<String> {
    let agent = demo.named("agent_identities", "agent-identity");
    let user = demo.named("users", agent["agent_user"].as_str().unwrap_or_default());
    [
        "--flow",
        "agent-user",
        "--blueprint-id",
        demo.app("agent-blueprint")["client_id"]
            .as_str()
            .unwrap_or_default(),
        "--blueprint-certificate",
        blueprint_certificate,
        "--agent-id",
        agent["client_id"].as_str().unwrap_or_default(),
        "--agent-user-id",
        user["object_id"].as_str().unwrap_or_default(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

const GRAPH: &str = "https://graph.microsoft.com/.default";
const STORAGE: &str = "https://storage.azure.com/.default";

/// The demo's steps, in order: a name for the table and what it does.
type Step = (&'static str, fn(&Demo) -> Result<String, String>);

const STEPS: &[Step] = &[
    ("client credentials, secret", client_secret),
    ("client credentials, certificate", client_certificate),
    ("device code (approved by the admin API)", device_code),
    ("silent (cached account)", silent),
    ("Agent ID three hops (agent user)", agent_user),
    (
        "Agent ID three hops, blueprint key in SoftHSM2",
        agent_user_hsm,
    ),
    (
        "bearer GET /v1.0/me after a revocation",
        bearer_after_revocation,
    ),
    (
        "Azure SDK blob client, agent user, in Azurite",
        agent_user_blob,
    ),
];

impl Demo {
    fn client_id(&self, app: &str) -> String {
        self.app(app)["client_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

fn client_secret(demo: &Demo) -> Result<String, String> {
    let app = demo.app("confidential-secret");
    let token = finished(
        demo.tokenhop(
            &demo.client_id("confidential-secret"),
            &["token", "--flow", "client-secret", "--scope", GRAPH],
        )
        .env(
            "TOKENHOP_CLIENT_SECRET",
            app["secret"].as_str().unwrap_or_default(),
        )
        .output(),
    )?;
    Ok(described(&token))
}

fn client_certificate(demo: &Demo) -> Result<String, String> {
    let pem = pem_with_key(demo, "confidential-cert")?;
    let token = finished(
        demo.tokenhop(
            &demo.client_id("confidential-cert"),
            &[
                "token",
                "--flow",
                "client-certificate",
                "--scope",
                GRAPH,
                "--certificate",
            ],
        )
        .arg(pem)
        .output(),
    )?;
    Ok(described(&token))
}

fn device_code(demo: &Demo) -> Result<String, String> {
    let child = demo
        .tokenhop(
            &demo.client_id("public-client"),
            &["token", "--flow", "device-code", "--scope", "User.Read"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The user approves at the verification page: here, the admin API does.
    let deadline = Instant::now() + Duration::from_secs(20);
    while demo
        .admin("device/approve", Some(json!({"user": "alice"})))
        .is_err()
    {
        if Instant::now() > deadline {
            return Err("no device code to approve appeared".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let token = finished(child.wait_with_output())?;
    Ok(described(&token))
}

fn silent(demo: &Demo) -> Result<String, String> {
    let token = finished(
        demo.tokenhop(
            &demo.client_id("public-client"),
            &["token", "--scope", "User.Read"],
        )
        .output(),
    )?;
    match token["source"].as_str() {
        Some("cache") => Ok(described(&token)),
        other => Err(format!("expected a cache hit, got {other:?}")),
    }
}

/// `tokenhop` with the agent user's options after `first` (the command and its own
/// arguments).
fn agent_user_command(demo: &Demo, first: &[&str]) -> Result<Command, String> {
    let pem = pem_with_key(demo, "agent-blueprint")?;
    let mut args: Vec<String> = first.iter().map(|s| (*s).to_owned()).collect();
    args.extend(["--scope".to_owned(), GRAPH.to_owned()]);
    args.extend(agent_args(demo, &pem.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(demo.tokenhop("", &args))
}

fn agent_user(demo: &Demo) -> Result<String, String> {
    let token = finished(agent_user_command(demo, &["token"])?.output())?;
    Ok(described(&token))
}

/// The three-hop chain again, the blueprint signing with its key in a SoftHSM2 token
/// (the emulator trusts the certificate `tokenhop cert generate --pkcs11` made for it),
/// with a cache of its own so that every hop is asked for anew.
fn agent_user_hsm(demo: &Demo) -> Result<String, String> {
    let token = match &demo.hsm {
        DemoToken::Ready(token) => token,
        DemoToken::Skipped(why) => return Ok(format!("skipped: {why}")),
        DemoToken::Failed(why) => return Err(why.clone()),
    };
    let module = token.module.display().to_string();
    let mut args: Vec<String> = ["token", "--scope", GRAPH]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(agent_args(demo, &token.uri));
    args.extend([
        "--pkcs11-module".into(),
        module,
        "--pin-env".into(),
        PIN_VARIABLE.into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cache = demo.emulator.state_dir.join("hsm_token_cache.json");
    let mut command = demo.tokenhop_with_cache("", &cache, &args);
    token.point_at(&mut command);
    let answer = finished(command.output())?;
    Ok(format!(
        "{}; the key never left the token",
        described(&answer)
    ))
}

fn bearer_after_revocation(demo: &Demo) -> Result<String, String> {
    demo.admin("revoke", Some(json!({"user": "agent-user"})))?;
    let me = format!("{}/v1.0/me", demo.url);
    let body = finished(agent_user_command(demo, &["get", &me])?.output())?;
    Ok(format!(
        "200 for {} after one refresh",
        body["userPrincipalName"].as_str().unwrap_or("?")
    ))
}

/// The agent user stores a blob in Azurite and reads it back, through the Azure SDK's
/// blob client with the tokenhop credential a configuration file describes
/// (tokenhop-azure's `azurite_blob` example), sharing the demo's token cache.
fn agent_user_blob(demo: &Demo) -> Result<String, String> {
    if crate::node::node()?.is_none() || crate::node::npm_project("azurite")?.is_none() {
        return Ok("skipped: no Node 20 with npm here (the line above the table says why)".into());
    }
    let agent = demo.named("agent_identities", "agent-identity");
    let user = demo.named("users", agent["agent_user"].as_str().unwrap_or_default());
    let auth = json!({
        "scopes": [STORAGE],
        "cache": {"path": demo.cache},
        "flow": {
            "type": "agent-user",
            "authority_host": demo.url,
            "tenant_id": demo.config["tenant_id"],
            "blueprint_id": demo.app("agent-blueprint")["client_id"],
            "blueprint_certificate": pem_with_key(demo, "agent-blueprint")?,
            "agent_id": agent["client_id"],
            "agent_user_id": user["object_id"],
            "resource": "storage",
        },
    });
    let auth_file = demo.state_file("azure_blob_auth.json");
    std::fs::write(&auth_file, auth.to_string()).map_err(|e| e.to_string())?;
    let output = Command::new(&demo.azurite_blob)
        .arg(&auth_file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run the azurite_blob example: {e}"))?;
    let line: Value = serde_json::from_slice(&output.stdout).map_err(|_| {
        format!(
            "the azurite_blob example failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })?;
    match line["read_back_equal"].as_bool() {
        Some(true) => Ok(format!(
            "blob {}/{}: {} bytes stored and read back equal",
            line["container"].as_str().unwrap_or("?"),
            line["blob"].as_str().unwrap_or("?"),
            line["bytes"]
        )),
        _ => Err(format!("the blob read back differs: {line}")),
    }
}

/// Builds tokenhop-azure's `azurite_blob` example (debug, sharing the test build).
fn build_azurite_blob() -> Result<PathBuf, String> {
    run(cargo().args([
        "build",
        "--quiet",
        "-p",
        "tokenhop-azure",
        "--example",
        "azurite_blob",
    ]))?;
    Ok(crate::emulator_process::target_dir().join("debug/examples/azurite_blob"))
}

pub fn run_demo(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask demo".into());
    }
    // Built before the table, so that its times are the steps' own.
    let tokenhop = crate::emulator_process::build_tokenhop_cli()?;
    let azurite_blob = build_azurite_blob()?;
    // Before the emulator: it reads the certificates it trusts from its configuration.
    let hsm = DemoToken::prepare(&tokenhop, HSM_APP);
    let emulator = EmulatorProcess::start("demo", false, |config| {
        config["device_code"]["interval_secs"] = 1.into();
        hsm.register(config, HSM_APP);
    })?;
    let ready: Value = serde_json::from_str(&emulator.ready_line).map_err(|e| e.to_string())?;
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(&emulator.config_path).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let url = ready["url"].as_str().unwrap_or_default().to_owned();
    let demo = Demo {
        tokenhop,
        azurite_blob,
        authority: format!("{url}/{}", ready["tenant_id"].as_str().unwrap_or_default()),
        cache: emulator.state_dir.join("token_cache.json"),
        url,
        config,
        emulator,
        hsm,
    };
    println!("emulator at {} (authority {})\n", demo.url, demo.authority);
    let started = Instant::now();
    let rows: Vec<Row> = STEPS
        .iter()
        .map(|&(flow, work)| demo.step(flow, || work(&demo)))
        .collect();
    println!("| flow | result | time | token requests |\n|---|---|---:|---:|");
    for row in &rows {
        let result = match &row.outcome {
            Ok(what) if what.starts_with("skipped") => what.clone(),
            Ok(what) => format!("ok: {what}"),
            Err(why) => format!("FAILED: {why}"),
        };
        println!(
            "| {} | {result} | {} ms | {} |",
            row.flow,
            row.elapsed.as_millis(),
            row.token_requests
        );
    }
    println!(
        "\n{} steps in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    if rows.iter().all(|r| r.outcome.is_ok()) {
        Ok(())
    } else {
        Err("a demo step failed".into())
    }
}
