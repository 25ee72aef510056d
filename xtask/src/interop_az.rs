//! `interop-az`: the real Azure CLI (pinned in `tests/interop/azure-cli/requirements.txt`,
//! in a venv of its own) signs in against the emulator over TLS with `az login
//! --use-device-code`; the `tokenhop` binary reuses that sign-in (`--flow azure-cli`) and
//! `az` finds what tokenhop wrote back.

use std::process::Command;

use crate::emulator_process::{EmulatorProcess, build_tokenhop_cli};
use crate::python::azure_cli;
use crate::util::{run, workspace_root};

pub fn check() -> Result<(), String> {
    let Some(az) = azure_cli()? else {
        return Ok(());
    };
    let python = az.with_file_name("python");
    let tokenhop = build_tokenhop_cli()?;
    let emulator = EmulatorProcess::start("interop-az", true, |config| {
        config["device_code"]["interval_secs"] = 1.into();
    })?;
    let work = emulator.state_dir.join("az-home");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    run(Command::new(&python)
        .arg(workspace_root().join("tests/interop/azure_cli_real.py"))
        .arg(&emulator.ready_line)
        .arg(&az)
        .arg(&tokenhop)
        .arg(&work))
}
