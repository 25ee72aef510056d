//! The Node peers: npm packages pinned in a `package.json` and its lock file under
//! `tests/interop/<project>/` (the one place their versions are named), installed with
//! `npm ci` into a cache directory outside the clone (`$HOME/.cache/tokenhop/node`, or
//! `TOKENHOP_NODE_DIR`), one directory per project, where the tests find them. Under
//! CI a missing Node or npm is a failure; elsewhere the peers are skipped with a line
//! saying why.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::python::skip_or_fail;
use crate::util::{run, workspace_root};

/// The oldest Node the peers run on.
const NODE_MAJOR: u32 = 20;

/// The npm projects `cargo xtask ci` installs, each with the package it pins.
const PROJECTS: &[(&str, &str)] = &[("oidc_provider", "oidc-provider")];

/// Installs every project (see [`install`]).
pub fn ensure() -> Result<(), String> {
    for (project, package) in PROJECTS {
        install(project, package)?;
    }
    Ok(())
}

/// Where the projects' packages go: outside the clone, kept between runs.
pub fn node_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOKENHOP_NODE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/tokenhop/node")
}

/// Installs `tests/interop/{project}`'s locked packages into `node_dir()/{project}`
/// unless the same lock file is installed there already, and checks that `package`
/// is there at its pinned version; returns that `node_modules` directory. `Ok(None)`
/// means "skip" (only outside CI: no Node 20+ or no npm).
pub fn install(project: &str, package: &str) -> Result<Option<PathBuf>, String> {
    if let Some(why) = missing_node() {
        return skip_or_fail(why);
    }
    let source = workspace_root().join("tests/interop").join(project);
    let dir = node_dir().join(project);
    let modules = dir.join("node_modules");
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let lock = read(&source.join("package-lock.json"))?;
    let pinned = pinned_version(&source, package)?;
    let installed_lock = std::fs::read(dir.join("package-lock.json")).ok();
    if installed_lock.as_deref() == Some(lock.as_slice())
        && installed_version(&modules, package).as_deref() == Some(pinned.as_str())
    {
        return Ok(Some(modules));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), dir.join(file))
            .map_err(|e| format!("cannot copy {file} to {}: {e}", dir.display()))?;
    }
    println!("installing {package} {pinned} into {}", dir.display());
    run(Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(&dir))?;
    match installed_version(&modules, package) {
        Some(version) if version == pinned => Ok(Some(modules)),
        other => Err(format!(
            "npm ci left {package} {other:?} in {}, not {pinned}",
            modules.display()
        )),
    }
}

/// Why Node cannot run the peers, if it cannot.
fn missing_node() -> Option<String> {
    let version = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(node) = version("node") else {
        return Some(format!(
            "node is not installed (Node {NODE_MAJOR} or later with npm runs the Node peers)"
        ));
    };
    let major = node
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|m| m < NODE_MAJOR) {
        return Some(format!(
            "node {node} is too old: the Node peers need Node {NODE_MAJOR} or later"
        ));
    }
    version("npm")
        .is_none()
        .then(|| "npm is not installed (it installs the Node peers)".to_owned())
}

/// The one version of `package` the project names: its package.json's.
fn pinned_version(project: &Path, package: &str) -> Result<String, String> {
    let path = project.join("package.json");
    let manifest: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| format!("{} is not readable JSON", path.display()))?;
    manifest["dependencies"][package]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} pins no {package}", path.display()))
}

fn installed_version(modules: &Path, package: &str) -> Option<String> {
    let text = std::fs::read_to_string(modules.join(package).join("package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}
