//! `interop-emulator`: MSAL Python 1.39 gets every kind of token from the emulator,
//! served over TLS by the real `tokenhop-emulator serve` binary, managed identity tokens
//! from every host MSAL's managed identity client supports included.

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
    let mut command = Command::new(&python);
    command
        .arg(workspace_root().join("tests/interop/emulator_msal.py"))
        .arg(&emulator.ready_line)
        .arg(&emulator.config_path);
    // The script sets one managed identity host's variables at a time.
    for variable in MANAGED_IDENTITY_VARIABLES {
        command.env_remove(variable);
    }
    run(&mut command)
}

/// The variables by which MSAL finds a managed identity host.
const MANAGED_IDENTITY_VARIABLES: [&str; 8] = [
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZUREPS_HOST_ENVIRONMENT",
];
