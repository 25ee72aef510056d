//! The Python venv the interop steps run: MSAL Python and the other Python peers,
//! pinned in `tests/interop/requirements.txt` (the one place their versions are named)
//! and installed by `cargo xtask` itself, outside the clone.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{run, workspace_root};

/// The pinned Python peers.
pub fn requirements_file() -> PathBuf {
    workspace_root().join("tests/interop/requirements.txt")
}

/// Where the venv lives unless `TOKENHOP_VENV` says otherwise.
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

/// `Ok(None)` ("skip") outside CI with a line saying why; an error under CI.
pub fn skip_or_fail<T>(message: String) -> Result<Option<T>, String> {
    if in_ci() {
        Err(message)
    } else {
        println!("skipping: {message}");
        Ok(None)
    }
}

/// The venv's python with the pinned requirements installed: created and brought up
/// to date here when the pins changed (a stamp in the venv remembers what it holds).
/// `Ok(None)` means "skip" (only outside CI: no Python, or no package registry).
pub fn msal_python() -> Result<Option<PathBuf>, String> {
    let venv = venv_dir();
    match ensure_venv(&venv, &requirements_file()) {
        Ok(python) => Ok(Some(python)),
        Err(why) => skip_or_fail(format!(
            "no Python venv with the interop peers at {}: {why}",
            venv.display()
        )),
    }
}

/// The real Azure CLI (`az`), pinned in `tests/interop/azure-cli/requirements.txt`, in a
/// venv of its own beside the interop one (it brings its own MSAL, which must not meet
/// the pinned 1.39). `Ok(None)` means "skip", as for [`msal_python`].
pub fn azure_cli() -> Result<Option<PathBuf>, String> {
    let venv = venv_dir().with_file_name("venv-azure-cli");
    let pins = workspace_root().join("tests/interop/azure-cli/requirements.txt");
    match ensure_venv(&venv, &pins) {
        Ok(python) => Ok(Some(python.with_file_name("az"))),
        Err(why) => skip_or_fail(format!(
            "no venv with the Azure CLI at {}: {why}",
            venv.display()
        )),
    }
}

fn ensure_venv(venv: &Path, requirements: &Path) -> Result<PathBuf, String> {
    let python = venv.join("bin/python");
    let pins = std::fs::read_to_string(requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let stamp = venv.join(".tokenhop-requirements");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&pins) {
        return Ok(python);
    }
    if !python.exists() {
        println!("creating the interop venv in {}", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    }
    println!(
        "installing {} into {}",
        requirements.display(),
        venv.display()
    );
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(requirements))?;
    std::fs::write(&stamp, pins).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(python)
}
