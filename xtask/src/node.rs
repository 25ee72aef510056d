//! Node and the npm packages of the interop steps: each package set is a project under
//! `tests/interop/<name>/` with its `package.json` and committed `package-lock.json`
//! (the one place its versions are named), installed with `npm ci` into a cache
//! directory outside the clone (`$HOME/.cache/tokenhop/node/<name>`, or under
//! `TOKENHOP_NODE_DIR`), again only when the lock file changed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::python::skip_or_fail;
use crate::util::{run, workspace_root};

/// The Node version the peers need (the machine's Node 20).
const NODE_MAJOR: u32 = 20;

/// The npm projects under `tests/interop/` that `cargo xtask ci` installs before the
/// tests run (the tests find them in the install directory).
const PROJECTS: &[&str] = &["oidc_provider", "msal_node"];

/// Installs every project of [`PROJECTS`] that is not installed at its lock file yet.
pub fn ensure() -> Result<(), String> {
    if node()?.is_none() {
        return Ok(());
    }
    for project in PROJECTS {
        npm_project(project)?;
    }
    Ok(())
}

/// The machine's `node`, if it is new enough; `Ok(None)` means skip (outside CI only).
pub fn node() -> Result<Option<PathBuf>, String> {
    match version_of("node") {
        None => skip_or_fail(format!(
            "node is not installed (the interop peers need Node {NODE_MAJOR} or later)"
        )),
        Some(version) => {
            let major = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|major| major.parse::<u32>().ok());
            match major {
                Some(major) if major >= NODE_MAJOR => Ok(Some(PathBuf::from("node"))),
                _ => skip_or_fail(format!(
                    "node {version} is too old: the interop peers need Node {NODE_MAJOR} or later"
                )),
            }
        }
    }
}

/// The `node_modules` of the project `tests/interop/<name>`, installed by its lock file;
/// `Ok(None)` means skip (no npm, outside CI only).
pub fn npm_project(name: &str) -> Result<Option<PathBuf>, String> {
    if version_of("npm").is_none() {
        return skip_or_fail("npm is not installed (it comes with Node)".to_owned());
    }
    let project = workspace_root().join("tests/interop").join(name);
    let dir = install_dir().join(name);
    let modules = dir.join("node_modules");
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let lock = read(&project.join("package-lock.json"))?;
    let pins = pinned(&project)?;
    let installed = std::fs::read(dir.join("package-lock.json")).ok();
    if installed.as_deref() == Some(lock.as_slice()) && unmet(&modules, &pins).is_none() {
        return Ok(Some(modules));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(project.join(file), dir.join(file))
            .map_err(|e| format!("cannot copy {file} to {}: {e}", dir.display()))?;
    }
    println!(
        "installing the npm packages of tests/interop/{name} into {}",
        dir.display()
    );
    run(Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(&dir))?;
    match unmet(&modules, &pins) {
        None => Ok(Some(modules)),
        Some(why) => Err(format!("after npm ci in {}: {why}", dir.display())),
    }
}

fn install_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOKENHOP_NODE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/tokenhop/node")
}

/// The project's direct dependencies and the exact versions its package.json pins.
fn pinned(project: &Path) -> Result<Vec<(String, String)>, String> {
    let path = project.join("package.json");
    let manifest: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| format!("{} is not readable JSON", path.display()))?;
    let dependencies = manifest["dependencies"]
        .as_object()
        .ok_or_else(|| format!("{} has no dependencies", path.display()))?;
    dependencies
        .iter()
        .map(|(name, version)| match version.as_str() {
            Some(v) if v.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                Ok((name.clone(), v.to_owned()))
            }
            _ => Err(format!(
                "{} must pin {name} to an exact version",
                path.display()
            )),
        })
        .collect()
}

/// Which pinned package is missing or at another version, if any.
fn unmet(modules: &Path, pins: &[(String, String)]) -> Option<String> {
    pins.iter().find_map(|(name, pinned)| {
        let installed = std::fs::read_to_string(modules.join(name).join("package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|manifest| manifest["version"].as_str().map(str::to_owned));
        (installed.as_deref() != Some(pinned.as_str()))
            .then(|| format!("{name} is {installed:?}, not {pinned}"))
    })
}

fn version_of(program: &str) -> Option<String> {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
