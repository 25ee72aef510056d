//! `cargo xtask ci`: the whole test suite, as CI runs it.

use std::time::Instant;

use crate::util::{self, cargo};

/// A CI step: its name (for `--only` and the log) and what it runs.
type Step = (&'static str, fn() -> Result<(), String>);

const STEPS: &[Step] = &[
    ("fmt", fmt),
    ("invariants", crate::invariants::check),
    ("clippy", clippy),
    ("test", nextest),
    ("keyring", keyring),
    ("doctest", doctest),
    ("doc", doc),
    ("cert-standalone", crate::cert_standalone::check),
    ("interop-cache", crate::interop_cache::check),
    ("interop-emulator", crate::interop_emulator::check),
    ("interop-flows", crate::interop_flows::check),
    ("interop-azure-cli", crate::interop_azure_cli::check),
    ("interop-az", crate::interop_az::check),
    ("interop-node", crate::interop_node::check),
    ("interop-lock", crate::interop_lock::check),
    ("faults", crate::faults::check),
    ("demo", demo),
];

/// `cargo xtask demo`, as a step: the main job must work at every commit.
fn demo() -> Result<(), String> {
    crate::demo::run_demo(&[])
}

pub fn run(args: &[String]) -> Result<(), String> {
    let only = parse_only(args)?;
    crate::tools::ensure()?;
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut passed = 0;
    for &(name, run_step) in STEPS
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| o == s.0))
    {
        println!("==> {}", name);
        let step_started = Instant::now();
        let outcome = run_step();
        let seconds = step_started.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("==> {} ok ({seconds:.1}s)", name);
            }
            Err(message) => {
                println!("==> {} FAILED ({seconds:.1}s): {message}", name);
                failed.push(name);
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    if failed.is_empty() {
        println!("xtask ci: {passed} steps passed in {total:.0}s");
        Ok(())
    } else {
        println!(
            "xtask ci: {} failed ({}), {passed} passed in {total:.0}s",
            failed.len(),
            failed.join(", ")
        );
        Err("some steps failed".into())
    }
}

fn parse_only(args: &[String]) -> Result<Vec<String>, String> {
    let mut only = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => only.push(args.next().ok_or("--only needs a step name")?.clone()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(unknown) = only
        .iter()
        .find(|o| !STEPS.iter().any(|s| s.0 == o.as_str()))
    {
        let names: Vec<_> = STEPS.iter().map(|s| s.0).collect();
        return Err(format!(
            "no step {unknown:?}; steps are {}",
            names.join(", ")
        ));
    }
    Ok(only)
}

fn fmt() -> Result<(), String> {
    util::run(cargo().args(["fmt", "--all", "--check"]))
}

fn clippy() -> Result<(), String> {
    util::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

fn nextest() -> Result<(), String> {
    util::run(cargo().args(["nextest", "run", "--workspace", "--no-fail-fast"]))
}

/// The cache's OS keystore backend sits behind a feature the workspace build leaves off.
fn keyring() -> Result<(), String> {
    let cache = ["-p", "tokenhop-cache", "--features", "keyring"];
    util::run(
        cargo()
            .arg("clippy")
            .args(cache)
            .args(["--all-targets", "--", "-D", "warnings"]),
    )?;
    util::run(cargo().args(["nextest", "run"]).args(cache))
}

fn doctest() -> Result<(), String> {
    util::run(cargo().args(["test", "--doc", "--workspace"]))
}

fn doc() -> Result<(), String> {
    util::run(
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}
