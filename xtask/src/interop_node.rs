//! `interop-node`: Microsoft's Node library, msal-node (pinned in
//! `tests/interop/msal_node/package.json` and its lock file), against the emulator
//! served over TLS by the real `tokenhop-emulator serve` binary: every flow msal-node
//! offers that the emulator plays, each managed identity source, and token caches
//! shared with the `tokenhop` CLI both ways.
//!
//! The machine's Node (20 or later, as msal-node requires) runs the scripts; the
//! packages are installed with `npm ci` into a cache directory outside the clone
//! (`$HOME/.cache/tokenhop/node`, or `TOKENHOP_NODE_DIR`) and found through
//! `NODE_PATH`; `NODE_EXTRA_CA_CERTS` makes Node trust the emulator's CA. Under CI a
//! missing Node, npm or Chromium is a failure; elsewhere the step (or the browser
//! scenarios) is skipped with a line saying why.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::emulator_process::{EmulatorProcess, target_dir};
use crate::python::in_ci;
use crate::util::{cargo, run, workspace_root};

/// The Node version msal-node needs.
const NODE_MAJOR: u32 = 20;

/// The managed identity environment variables msal-node reads to choose a source; each
/// run sets the ones of its source only.
const MANAGED_IDENTITY_VARIABLES: [&str; 7] = [
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
];

pub fn check() -> Result<(), String> {
    let Some(node) = found("node", node_version_problem)? else {
        return Ok(());
    };
    let Some(npm) = found("npm", |_| None)? else {
        return Ok(());
    };
    let modules = install_msal_node(&npm)?;
    let chromium = chromium()?;
    run(cargo().args([
        "build",
        "--quiet",
        "-p",
        "tokenhop-cli",
        "--bin",
        "tokenhop",
    ]))?;
    let tokenhop = target_dir().join("debug/tokenhop");
    // msal-node sleeps `interval` seconds between device code polls; the authorization
    // code scenarios sign alice in without the emulator's form.
    let emulator = EmulatorProcess::start("interop-node", true, |config| {
        config["device_code"]["interval_secs"] = 1.into();
        config["auto_sign_in"] = "alice".into();
    })?;
    let ready: serde_json::Value =
        serde_json::from_str(&emulator.ready_line).map_err(|e| e.to_string())?;
    let url = ready["url"].as_str().unwrap_or_default().to_owned();
    let ca_cert = ready["ca_cert"].as_str().unwrap_or_default().to_owned();
    let identity_header = std::fs::read_to_string(&emulator.config_path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|config| config["identity_header"].as_str().map(str::to_owned))
        .ok_or("the emulator's configuration has no identity_header")?;
    let script = |name: &str, args: &[&std::ffi::OsStr]| {
        let mut command = Command::new(&node);
        command
            .arg(workspace_root().join("tests/interop/msal_node").join(name))
            .arg(&emulator.ready_line)
            .arg(&emulator.config_path)
            .args(args)
            .env("NODE_PATH", &modules)
            .env("NODE_EXTRA_CA_CERTS", &ca_cert);
        for variable in MANAGED_IDENTITY_VARIABLES {
            command.env_remove(variable);
        }
        command
    };
    let mut flows_args = vec!["flows".as_ref()];
    if let Some(chromium) = &chromium {
        flows_args.push(chromium.as_os_str());
    }
    let flows = run(&mut script("emulator_msal_node.cjs", &flows_args));
    let app_service = run(script(
        "emulator_msal_node.cjs",
        &["managed-identity".as_ref(), "AppService".as_ref()],
    )
    .env("IDENTITY_ENDPOINT", format!("{url}/msi/token"))
    .env("IDENTITY_HEADER", &identity_header));
    let imds = run(script(
        "emulator_msal_node.cjs",
        &["managed-identity".as_ref(), "Imds".as_ref()],
    )
    .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &url));
    let cache = run(&mut script(
        "cache_msal_node.cjs",
        &[tokenhop.as_os_str(), emulator.state_dir.as_os_str()],
    ));
    let failed: Vec<String> = [flows, app_service, imds, cache]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// `program` if it runs (and `problem` finds nothing wrong with its `--version`);
/// `Ok(None)` means skip, which only happens outside CI.
fn found(
    program: &str,
    problem: impl Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>, String> {
    let version = Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    let why = match &version {
        None => Some(format!(
            "{program} is not installed (the machine's Node {NODE_MAJOR} with npm runs msal-node)"
        )),
        Some(version) => problem(version),
    };
    match why {
        None => Ok(Some(PathBuf::from(program))),
        Some(why) if in_ci() => Err(why),
        Some(why) => {
            println!("skipping: {why}");
            Ok(None)
        }
    }
}

fn node_version_problem(version: &str) -> Option<String> {
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if major >= NODE_MAJOR => None,
        _ => Some(format!(
            "node {version} is too old: msal-node needs Node {NODE_MAJOR} or later"
        )),
    }
}

/// Where the packages go: outside the clone, kept between runs.
fn node_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOKENHOP_NODE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/tokenhop/node")
}

/// Installs the locked packages into [`node_dir`] unless the same lock file is
/// installed there already; returns the `node_modules` directory.
fn install_msal_node(npm: &Path) -> Result<PathBuf, String> {
    let project = workspace_root().join("tests/interop/msal_node");
    let dir = node_dir();
    let modules = dir.join("node_modules");
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let lock = read(&project.join("package-lock.json"))?;
    let installed = std::fs::read(dir.join("package-lock.json")).ok();
    let pinned = pinned_msal_node_version(&project)?;
    if installed.as_deref() == Some(lock.as_slice())
        && installed_version(&modules).as_deref() == Some(pinned.as_str())
    {
        return Ok(modules);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(project.join(file), dir.join(file))
            .map_err(|e| format!("cannot copy {file} to {}: {e}", dir.display()))?;
    }
    println!(
        "installing @azure/msal-node {pinned} into {}",
        dir.display()
    );
    run(Command::new(npm)
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(&dir))?;
    match installed_version(&modules) {
        Some(version) if version == pinned => Ok(modules),
        other => Err(format!(
            "npm ci left @azure/msal-node {other:?} in {}, not {pinned}",
            modules.display()
        )),
    }
}

/// The one version of msal-node the project names: its package.json's.
fn pinned_msal_node_version(project: &Path) -> Result<String, String> {
    let path = project.join("package.json");
    let manifest: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| format!("{} is not readable JSON", path.display()))?;
    manifest["dependencies"]["@azure/msal-node"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} pins no @azure/msal-node", path.display()))
}

fn installed_version(modules: &Path) -> Option<String> {
    let text = std::fs::read_to_string(modules.join("@azure/msal-node/package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

/// Debian's Chromium for the authorization code scenarios (`.ci/run` installs it).
fn chromium() -> Result<Option<PathBuf>, String> {
    let browser = ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
    });
    match browser {
        Some(browser) => Ok(Some(PathBuf::from(browser))),
        None if in_ci() => {
            Err("chromium is not installed (.ci/run installs Debian's chromium)".into())
        }
        None => {
            println!(
                "skipping the authorization code scenarios: chromium is not installed \
                 (apt-get install chromium)"
            );
            Ok(None)
        }
    }
}
