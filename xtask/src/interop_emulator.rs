//! `interop-emulator`: MSAL Python 1.39 gets every kind of token from the emulator,
//! served over TLS by the real `tokenhop-emulator serve` binary.

use std::process::Command;

use crate::emulator_process::EmulatorProcess;
use crate::python::msal_python;
use crate::util::{run, workspace_root};

pub fn check() -> Result<(), String> {
    let Some(python) = msal_python()? else {
        return Ok(());
    };
    // MSAL sleeps `interval` seconds between device code polls.
    let emulator = EmulatorProcess::start("interop-emulator", true, |config| {
        config["device_code"]["interval_secs"] = 1.into();
    })?;
    run(Command::new(&python)
        .arg(workspace_root().join("tests/interop/emulator_msal.py"))
        .arg(&emulator.ready_line)
        .arg(&emulator.config_path)
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IDENTITY_HEADER"))
}
