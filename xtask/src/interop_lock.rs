//! `interop-lock`: tokenhop and msal-extensions exclude each other on one cache file.
//! Two tokenhop processes and two Python processes using msal-extensions'
//! `PersistedTokenCache` (one with each of its lock flavours) each write 50 distinct
//! tokens to the same file at once; all 200 must be there at the end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::python::msal_python;
use crate::util::{cargo, workspace_root};

const WRITES: usize = 50;

pub fn check() -> Result<(), String> {
    // msal-extensions and the portalocker of its second lock flavour are pinned in
    // tests/interop/requirements.txt with MSAL.
    let Some(python) = msal_python()? else {
        return Ok(());
    };
    let example = build_example()?;
    let dir = std::env::temp_dir().join(format!("tokenhop-interop-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let outcome = write_at_once(&python, &example, &dir.join("cache.json"));
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// Builds the cache crate's `interop` example; returns its executable.
fn build_example() -> Result<PathBuf, String> {
    let output = cargo()
        .args([
            "build",
            "--quiet",
            "-p",
            "tokenhop-cache",
            "--example",
            "interop",
            "--message-format=json",
        ])
        .output()
        .map_err(|e| format!("could not run cargo build: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build --example interop failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "interop")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built no interop example executable".to_owned())
}

fn write_at_once(python: &Path, example: &Path, cache: &Path) -> Result<(), String> {
    // Every writer sleeps until the same moment, after all have started.
    let start_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis()
        + 2_000;
    let script = workspace_root().join("tests/interop/lock_writers.py");
    let writers: [(&str, Command); 4] = [
        ("t0", tokenhop(example, cache, "t0", start_ms)),
        ("t1", tokenhop(example, cache, "t1", start_ms)),
        (
            "p0",
            msal(python, &script, cache, "p0", "filelock", start_ms),
        ),
        (
            "p1",
            msal(python, &script, cache, "p1", "portalocker", start_ms),
        ),
    ];
    let mut running: Vec<(&str, Child)> = Vec::new();
    for (name, mut command) in writers {
        let child = command
            .spawn()
            .map_err(|e| format!("could not start writer {name}: {e}"))?;
        running.push((name, child));
    }
    let mut failed = Vec::new();
    for (name, mut child) in running {
        match child.wait() {
            Ok(status) if status.success() => {}
            Ok(status) => failed.push(format!("{name} exited with {status}")),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    if !failed.is_empty() {
        return Err(format!("writers failed: {}", failed.join("; ")));
    }
    count_tokens(cache)
}

fn tokenhop(example: &Path, cache: &Path, name: &str, start_ms: u128) -> Command {
    let mut command = Command::new(example);
    command
        .arg("lock-writer")
        .arg(cache)
        .arg(name)
        .arg(start_ms.to_string());
    command
}

fn msal(
    python: &Path,
    script: &Path,
    cache: &Path,
    name: &str,
    flavour: &str,
    start_ms: u128,
) -> Command {
    let mut command = Command::new(python);
    command
        .arg(script)
        .arg(cache)
        .arg(name)
        .arg(flavour)
        .arg(start_ms.to_string());
    command
}

/// Every writer's every token is in the file, and the lock file is gone.
fn count_tokens(cache: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(cache)
        .map_err(|e| format!("cannot read {}: {e}", cache.display()))?;
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", cache.display()))?;
    let secrets: std::collections::HashSet<&str> = document["AccessToken"]
        .as_object()
        .into_iter()
        .flat_map(|entries| entries.values())
        .filter_map(|entry| entry["secret"].as_str())
        .collect();
    let lost: Vec<String> = ["t0", "t1", "p0", "p1"]
        .iter()
        .flat_map(|name| (0..WRITES).map(move |i| format!("at-{name}-{i}")))
        .filter(|secret| !secrets.contains(secret.as_str()))
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "{} of {} tokens were lost (overwritten by a writer that did not wait for the lock): {}",
            lost.len(),
            4 * WRITES,
            lost.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut lock = cache.as_os_str().to_owned();
    lock.push(".lockfile");
    if Path::new(&lock).exists() {
        return Err(format!("the lock file {lock:?} was left behind"));
    }
    println!(
        "all {} tokens of 2 tokenhop and 2 msal-extensions writers are in the file",
        4 * WRITES
    );
    Ok(())
}
