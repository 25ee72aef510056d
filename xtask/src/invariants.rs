//! The architecture invariants a command can check (each is stated in ARCHITECTURE.md):
//! dependency trees, feature-less builds, module cycles, one test binary per crate, no
//! protocol logic in the CLI, pins named in one place, the cert crate's toolchain.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{cargo, run, workspace_root};

/// Crates that must never appear in a package's normal dependency tree.
const FORBIDDEN: &[(&str, &[&str])] = &[
    // core does no I/O and no crypto: consumers that only accept a provider stay light.
    (
        "tokenhop-core",
        &[
            "reqwest", "hyper", "rsa", "openssl", "ring", "rustls", "redis",
        ],
    ),
    // cert is vendored alone.
    (
        "tokenhop-cert",
        &[
            "tokenhop-core",
            "tokenhop-cache",
            "tokenhop-flows",
            "tokenhop-emulator",
        ],
    ),
    // The cache never talks to the network (Redis lives in tokenhop-redis, over it).
    (
        "tokenhop-cache",
        &[
            "tokenhop-flows",
            "tokenhop-cert",
            "tokenhop-redis",
            "redis",
            "reqwest",
            "hyper",
        ],
    ),
    // A signer is a leaf under the flows: the flows (and the CLI) choose it, never it them.
    (
        "tokenhop-pkcs11",
        &["tokenhop-flows", "tokenhop-cache", "tokenhop-emulator"],
    ),
    // The Redis backend sits under the flows beside the cache: it knows tokens and
    // caches (core, cache), never the flows, the network of the identity provider or a
    // signer; the flows choose it (feature `redis`), never it them.
    (
        "tokenhop-redis",
        &[
            "tokenhop-flows",
            "tokenhop-cert",
            "tokenhop-pkcs11",
            "tokenhop-emulator",
            "reqwest",
            "hyper",
        ],
    ),
    // The emulator shares no code with the clients it tests.
    (
        "tokenhop-emulator",
        &[
            "tokenhop-core",
            "tokenhop-cert",
            "tokenhop-cache",
            "tokenhop-flows",
        ],
    ),
];

/// Words that only protocol code uses: the CLI must hold none of them.
const PROTOCOL_WORDS: &[&str] = &["grant_type", "client_assertion", "fmi_path"];

type Check = (&'static str, fn() -> Result<String, String>);

const CHECKS: &[Check] = &[
    ("dependency trees", dependency_trees),
    (
        "flows without default features",
        flows_without_default_features,
    ),
    ("no module cycles", no_module_cycles),
    ("one test binary per crate", one_test_binary_per_crate),
    ("no protocol logic in the CLI", no_protocol_logic_in_the_cli),
    ("Python pins in one place", python_pins_in_one_place),
    ("tokenhop-cert's rust-version", cert_rust_version),
];

pub fn check() -> Result<(), String> {
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        match check() {
            Ok(what) => println!("{name}: {what}"),
            Err(why) => {
                println!("{name}: FAILED: {why}");
                failed.push(*name);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("invariants broken: {}", failed.join(", ")))
    }
}

fn dependency_trees() -> Result<String, String> {
    for (package, forbidden) in FORBIDDEN {
        let output = cargo()
            .args([
                "tree",
                "--package",
                package,
                "--edges",
                "normal",
                "--prefix",
                "none",
                "--format",
                "{p}",
            ])
            .output()
            .map_err(|e| format!("could not run cargo tree: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo tree -p {package} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let tree = String::from_utf8_lossy(&output.stdout);
        let found: BTreeSet<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| forbidden.contains(name))
            .collect();
        if !found.is_empty() {
            return Err(format!(
                "{package} must not depend on {}",
                found.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let packages: Vec<&str> = FORBIDDEN.iter().map(|(p, _)| *p).collect();
    Ok(format!("{} keep their trees clean", packages.join(", ")))
}

fn flows_without_default_features() -> Result<String, String> {
    run(cargo().args([
        "check",
        "--quiet",
        "-p",
        "tokenhop-flows",
        "--no-default-features",
    ]))?;
    Ok("tokenhop-flows builds with --no-default-features".into())
}

/// The `src/` modules of every crate form no cycle: a helper lives in the module of the
/// concept it serves, so `a` uses `b` and `b` uses `a` means one is in the wrong place.
fn no_module_cycles() -> Result<String, String> {
    let mut checked = 0;
    for krate in crate_dirs()? {
        let graph = module_graph(&krate.join("src"))?;
        if let Some(cycle) = find_cycle(&graph) {
            return Err(format!(
                "{}: the modules {} use each other in a circle",
                krate.display(),
                cycle.join(" -> ")
            ));
        }
        checked += 1;
    }
    Ok(format!("{checked} crates' modules are acyclic"))
}

/// Which top-level modules each top-level module of `src` names through `crate::`
/// (outside `#[cfg(test)]` modules).
fn module_graph(src: &Path) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src)? {
        let relative = file.strip_prefix(src).map_err(|e| e.to_string())?;
        let first = relative
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_owned()
            })
            .unwrap_or_default();
        if first == "lib" || first == "main" || first == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        let uses = graph.entry(first.clone()).or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != first {
                uses.insert(name);
            }
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|m| modules.contains(m));
    }
    Ok(graph)
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// `crates/*/tests/` holds at most one test binary: a `*.rs` file, or a directory with
/// a `main.rs`.
fn one_test_binary_per_crate() -> Result<String, String> {
    let mut with_tests = 0;
    for krate in crate_dirs()? {
        let tests = krate.join("tests");
        let Ok(entries) = std::fs::read_dir(&tests) else {
            continue;
        };
        let mut binaries = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            let is_binary = if path.is_dir() {
                path.join("main.rs").exists()
            } else {
                path.extension().is_some_and(|e| e == "rs")
            };
            if is_binary {
                binaries.push(path.display().to_string());
            }
        }
        if binaries.len() > 1 {
            return Err(format!(
                "{} has {} test binaries: {}",
                krate.display(),
                binaries.len(),
                binaries.join(", ")
            ));
        }
        with_tests += usize::from(!binaries.is_empty());
    }
    Ok(format!("{with_tests} crates, one test binary each"))
}

fn no_protocol_logic_in_the_cli() -> Result<String, String> {
    for file in rust_files(&workspace_root().join("crates/cli/src"))? {
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        if let Some(word) = PROTOCOL_WORDS.iter().find(|w| text.contains(**w)) {
            return Err(format!(
                "{} mentions {word}: protocol logic belongs in tokenhop-flows",
                file.display()
            ));
        }
    }
    Ok(format!(
        "crates/cli/src mentions none of {}",
        PROTOCOL_WORDS.join(", ")
    ))
}

/// Each Python peer's version is pinned in `tests/interop/requirements.txt` and nowhere
/// else the steps or CI read.
fn python_pins_in_one_place() -> Result<String, String> {
    let pins =
        std::fs::read_to_string(crate::python::requirements_file()).map_err(|e| e.to_string())?;
    let packages: Vec<&str> = pins
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split("==").next())
        .collect();
    let root = workspace_root();
    let mut places = rust_files(&root.join("xtask/src"))?;
    places.push(root.join(".ci/run"));
    for script in std::fs::read_dir(root.join("tests/interop")).map_err(|e| e.to_string())? {
        places.push(script.map_err(|e| e.to_string())?.path());
    }
    for place in places.iter().filter(|p| !p.ends_with("requirements.txt")) {
        let Ok(text) = std::fs::read_to_string(place) else {
            continue;
        };
        if let Some(package) = packages.iter().find(|p| text.contains(&format!("{p}=="))) {
            return Err(format!(
                "{} pins {package} again; pin it only in tests/interop/requirements.txt",
                place.display()
            ));
        }
    }
    Ok(format!(
        "{} pinned once, in tests/interop/requirements.txt",
        packages.join(", ")
    ))
}

/// tokenhop-cert builds on the toolchain its `rust-version` declares, when that
/// toolchain is installed (this check never installs one).
fn cert_rust_version() -> Result<String, String> {
    let manifest = std::fs::read_to_string(workspace_root().join("crates/cert/Cargo.toml"))
        .map_err(|e| e.to_string())?;
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .ok_or("crates/cert/Cargo.toml declares no rust-version")?;
    let toolchains = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !toolchains
        .lines()
        .any(|l| l.starts_with(&format!("{version}-")))
    {
        return Ok(format!(
            "not checked: Rust {version} (its rust-version) is not installed here (`rustup toolchain install {version}` would let this check build it)"
        ));
    }
    run(Command::new("cargo")
        .arg(format!("+{version}"))
        .args(["check", "--quiet", "-p", "tokenhop-cert"])
        .current_dir(workspace_root()))?;
    Ok(format!("builds on Rust {version}"))
}

fn crate_dirs() -> Result<Vec<PathBuf>, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("crates"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
