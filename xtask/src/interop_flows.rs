//! `interop-flows`: tokenhop's flows write a token cache file against the emulator
//! (over TLS, through the real binary), and MSAL Python 1.39 finds every token in it
//! without a request.

use std::process::Command;

use crate::emulator_process::EmulatorProcess;
use crate::python::msal_python;
use crate::util::{cargo, run, workspace_root};

pub fn check() -> Result<(), String> {
    let Some(python) = msal_python()? else {
        return Ok(());
    };
    let emulator = EmulatorProcess::start("interop-flows", true, |_| {})?;
    let cache = emulator.state_dir.join("tokenhop-cache.json");
    let tokens = emulator.state_dir.join("tokens.json");
    run(cargo()
        .args([
            "run",
            "--quiet",
            "-p",
            "tokenhop-flows",
            "--example",
            "msal_interop",
            "--",
        ])
        .arg(&emulator.ready_line)
        .arg(&emulator.config_path)
        .arg(&cache)
        .arg(&tokens))?;
    run(Command::new(&python)
        .arg(workspace_root().join("tests/interop/flows_cache_msal.py"))
        .arg(&emulator.ready_line)
        .arg(&emulator.config_path)
        .arg(&cache)
        .arg(&tokens))
}
