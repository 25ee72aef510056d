//! `interop-flows`: tokenhop's flows write a token cache file against the emulator
//! (over TLS, through the real binary), and MSAL Python 1.39 finds every token in it
//! without a request; then MSAL writes a cache and tokenhop uses it.

use std::process::Command;

use crate::emulator_process::EmulatorProcess;
use crate::python::msal_python;
use crate::util::{cargo, run, workspace_root};

pub fn check() -> Result<(), String> {
    let Some(python) = msal_python()? else {
        return Ok(());
    };
    // Device code polls wait `interval` seconds, on both sides.
    let emulator = EmulatorProcess::start("interop-flows", true, |config| {
        config["device_code"]["interval_secs"] = 1.into();
    })?;
    let file = |name: &str| emulator.state_dir.join(name);
    let (cache, tokens) = (file("tokenhop-cache.json"), file("tokens.json"));
    let (msal_cache, msal_tokens) = (file("msal-cache.json"), file("msal-tokens.json"));
    let example = |mode: &str, cache: &std::path::Path, tokens: &std::path::Path| {
        let mut command = cargo();
        command
            .args([
                "run",
                "--quiet",
                "-p",
                "tokenhop-flows",
                "--example",
                "msal_interop",
                "--",
            ])
            .arg(mode)
            .arg(&emulator.ready_line)
            .arg(&emulator.config_path)
            .arg(cache)
            .arg(tokens);
        command
    };
    run(&mut example("write", &cache, &tokens))?;
    run(Command::new(&python)
        .arg(workspace_root().join("tests/interop/flows_cache_msal.py"))
        .arg(&emulator.ready_line)
        .arg(&emulator.config_path)
        .args([&cache, &tokens, &msal_cache, &msal_tokens]))?;
    run(&mut example("read-msal", &msal_cache, &msal_tokens))
}
