//! `interop-node`: Microsoft's Node library, msal-node (pinned in
//! `tests/interop/msal_node/package.json` and its lock file), against the emulator
//! served over TLS by the real `tokenhop-emulator serve` binary: every flow msal-node
//! offers that the emulator plays, each managed identity source, and token caches
//! shared with the `tokenhop` CLI both ways.
//!
//! The machine's Node (20 or later, as msal-node requires) runs the scripts; the
//! packages are installed by [`crate::node::npm_project`] outside the clone and found
//! through `NODE_PATH`; `NODE_EXTRA_CA_CERTS` makes Node trust the emulator's CA. Under
//! CI a missing Node, npm or Chromium is a failure; elsewhere the step (or the browser
//! scenarios) is skipped with a line saying why.

use std::path::PathBuf;
use std::process::Command;

use crate::emulator_process::EmulatorProcess;
use crate::python::in_ci;
use crate::util::{run, workspace_root};

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
    let Some(node) = crate::node::node()? else {
        return Ok(());
    };
    let Some(modules) = crate::node::npm_project("msal_node")? else {
        return Ok(());
    };
    let chromium = chromium()?;
    let tokenhop = crate::emulator_process::build_tokenhop_cli()?;
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
