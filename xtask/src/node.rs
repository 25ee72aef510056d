//! Node peers: the machine's `node` and `npm` run them; the packages come from a locked
//! `package.json` under `tests/interop/` (the one place their versions are named) and
//! are installed with `npm ci` into a cache directory outside the clone, again only
//! when the lock file changed. Under CI a missing Node is a failure; elsewhere the
//! caller skips with a line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::python::skip_or_fail;
use crate::util::{run, workspace_root};

/// The Node major version the peers are tested with.
const NODE_MAJOR: u32 = 20;

/// Azurite, Microsoft's storage emulator, for tokenhop-azure's tests (which find it
/// in the same place) and the demo.
pub const AZURITE: NodePeer = NodePeer {
    project: "azurite",
    package: "azurite",
    dir_variable: "TOKENHOP_AZURITE_DIR",
    dir_name: "azurite",
};

/// A locked npm project of `tests/interop/` and where it is installed.
pub struct NodePeer {
    /// Its directory under `tests/interop/`.
    pub project: &'static str,
    /// The package whose version the project pins (and the install is checked for).
    pub package: &'static str,
    /// The environment variable that overrides [`NodePeer::install_dir`]'s default.
    pub dir_variable: &'static str,
    /// The default install directory, under `$HOME/.cache/tokenhop/`.
    pub dir_name: &'static str,
}

impl NodePeer {
    /// Where it is installed: `$dir_variable`, else `$HOME/.cache/tokenhop/{dir_name}`.
    pub fn install_dir(&self) -> PathBuf {
        if let Some(dir) = std::env::var_os(self.dir_variable) {
            return PathBuf::from(dir);
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        home.join(".cache/tokenhop").join(self.dir_name)
    }

    /// Installs the locked packages unless they are installed already; `Ok(None)`
    /// means "skip" (outside CI only: no Node 20 or npm here).
    pub fn ensure(&self) -> Result<Option<PathBuf>, String> {
        if let Some(why) = missing_node() {
            return skip_or_fail(why);
        }
        let project = workspace_root().join("tests/interop").join(self.project);
        let dir = self.install_dir();
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let lock = read(&project.join("package-lock.json"))?;
        let pinned = self.pinned_version(&project)?;
        let installed_lock = std::fs::read(dir.join("package-lock.json")).ok();
        if installed_lock.as_deref() == Some(lock.as_slice())
            && self.installed_version(&dir).as_deref() == Some(pinned.as_str())
        {
            return Ok(Some(dir));
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(project.join(file), dir.join(file))
                .map_err(|e| format!("cannot copy {file} to {}: {e}", dir.display()))?;
        }
        println!(
            "installing {} {pinned} into {}",
            self.package,
            dir.display()
        );
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .arg("--loglevel=error")
            .current_dir(&dir))?;
        match self.installed_version(&dir) {
            Some(version) if version == pinned => Ok(Some(dir)),
            other => Err(format!(
                "npm ci left {} {other:?} in {}, not {pinned}",
                self.package,
                dir.display()
            )),
        }
    }

    /// The version the project's `package.json` pins.
    fn pinned_version(&self, project: &Path) -> Result<String, String> {
        let path = project.join("package.json");
        let manifest: serde_json::Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .ok_or_else(|| format!("{} is not readable JSON", path.display()))?;
        manifest["dependencies"][self.package]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{} pins no {}", path.display(), self.package))
    }

    fn installed_version(&self, dir: &Path) -> Option<String> {
        let manifest = dir
            .join("node_modules")
            .join(self.package)
            .join("package.json");
        let text = std::fs::read_to_string(manifest).ok()?;
        let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
        manifest["version"].as_str().map(str::to_owned)
    }
}

/// Why the machine's Node cannot run the peers, if it cannot.
fn missing_node() -> Option<String> {
    let version = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let Some(node) = version("node") else {
        return Some(format!(
            "node is not installed (Node {NODE_MAJOR} with npm runs the Node peers)"
        ));
    };
    let major = node
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    if major.is_none_or(|major| major < NODE_MAJOR) {
        return Some(format!(
            "node {node} is too old: the Node peers need Node {NODE_MAJOR} or later"
        ));
    }
    version("npm")
        .is_none()
        .then(|| "npm is not installed (it comes with Node)".to_owned())
}
