//! `interop-azure-cli`: MSAL Python 1.39 signs a user in as the Azure CLI against the
//! emulator (over TLS) and lays out the CLI's files; the `tokenhop` binary reuses that
//! sign-in (`--flow azure-cli`), and MSAL finds what tokenhop wrote back.

use std::process::Command;

use crate::emulator_process::{EmulatorProcess, build_tokenhop_cli};
use crate::python::msal_python;
use crate::util::{run, workspace_root};

pub fn check() -> Result<(), String> {
    let Some(python) = msal_python()? else {
        return Ok(());
    };
    let tokenhop = build_tokenhop_cli()?;
    let emulator = EmulatorProcess::start("interop-azure-cli", true, |config| {
        config["device_code"]["interval_secs"] = 1.into();
    })?;
    let work = emulator.state_dir.join("azure");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    run(Command::new(&python)
        .arg(workspace_root().join("tests/interop/azure_cli_msal.py"))
        .arg(&emulator.ready_line)
        .arg(&emulator.config_path)
        .arg(&tokenhop)
        .arg(&work))
}
