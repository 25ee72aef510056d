//! Finding the Python venv with MSAL 1.39 that the interop steps run.

use std::path::PathBuf;

/// Where `.ci/run` creates the venv unless `TOKENHOP_VENV` says otherwise.
fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOKENHOP_VENV") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/tokenhop/venv")
}

/// True under CI (`CI=true`), where an interop step that cannot run is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// The venv's python if it has MSAL installed. `Ok(None)` means "skip": only outside
/// CI; under CI a missing venv is an error.
pub fn msal_python() -> Result<Option<PathBuf>, String> {
    let python = venv_dir().join("bin/python");
    let has_msal = std::process::Command::new(&python)
        .args(["-c", "import msal"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if has_msal {
        return Ok(Some(python));
    }
    let message = format!(
        "no Python with msal at {} (run `bash .ci/run` once, or set TOKENHOP_VENV)",
        python.display()
    );
    if in_ci() {
        Err(message)
    } else {
        println!("skipping: {message}");
        Ok(None)
    }
}
