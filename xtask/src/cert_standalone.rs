//! `cert-standalone`: copy `crates/cert` out of the workspace and build and test it
//! there, offline, with the workspace's `Cargo.lock` — the proof that users can vendor
//! it alone.

use std::path::Path;

use crate::util::{cargo, run, workspace_root};

pub fn check() -> Result<(), String> {
    let root = workspace_root();
    let scratch =
        std::env::temp_dir().join(format!("tokenhop-cert-standalone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let outcome = build_copy(&root, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

fn build_copy(root: &Path, scratch: &Path) -> Result<(), String> {
    copy_dir(&root.join("crates/cert"), scratch)
        .map_err(|e| format!("copying crates/cert failed: {e}"))?;
    std::fs::copy(root.join("Cargo.lock"), scratch.join("Cargo.lock"))
        .map_err(|e| format!("copying Cargo.lock failed: {e}"))?;
    // The same profiles as the workspace (so the shared target directory's artifacts are
    // reused), and an empty [workspace] so cargo never looks for a parent workspace.
    let workspace_manifest =
        std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let profiles = workspace_manifest
        .find("\n[profile")
        .map(|i| &workspace_manifest[i..])
        .unwrap_or("");
    let manifest_path = scratch.join("Cargo.toml");
    let mut manifest = std::fs::read_to_string(&manifest_path).map_err(|e| e.to_string())?;
    if manifest.contains("workspace = true") || manifest.contains(".workspace") {
        return Err("crates/cert/Cargo.toml inherits from the workspace; it must not".into());
    }
    manifest.push_str("\n[workspace]\n");
    manifest.push_str(profiles);
    std::fs::write(&manifest_path, manifest).map_err(|e| e.to_string())?;
    println!(
        "testing a copy of crates/cert in {} (offline)",
        scratch.display()
    );
    run(cargo()
        .current_dir(scratch)
        .args(["test", "--offline", "--quiet"]))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&entry.path(), &target)?;
            }
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
