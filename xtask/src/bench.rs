//! `cargo xtask bench [--quick]`: tokenhop and MSAL Python 1.39 on the same work, in
//! one run, on this machine. Writes `target/bench/report.md` and `report.json`
//! (`{"cases": [{"name", "tokenhop", "msal", "unit", "ratio"}]}`; `ratio` is how many
//! times better tokenhop did).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::emulator_process::{Build, EmulatorProcess};
use crate::python::msal_python;
use crate::util::{cargo, run, workspace_root};

/// One row of the report: tokenhop's figure and MSAL Python's for the same work.
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) tokenhop: f64,
    /// NaN when MSAL has nothing that does this work (the row shows "n/a").
    pub(crate) msal: f64,
    pub(crate) unit: &'static str,
    /// True when a larger figure is better (throughput).
    pub(crate) higher_is_better: bool,
}

impl Case {
    fn ratio(&self) -> f64 {
        let (better, worse) = if self.higher_is_better {
            (self.tokenhop, self.msal)
        } else {
            (self.msal, self.tokenhop)
        };
        if worse == 0.0 {
            f64::INFINITY
        } else {
            better / worse
        }
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn output(command: &mut Command) -> Result<String, String> {
    let shown = crate::util::shown(command);
    let out = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{shown} failed with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(crate) fn number(text: &str) -> Result<f64, String> {
    text.lines()
        .last()
        .unwrap_or_default()
        .trim()
        .parse()
        .map_err(|_| format!("expected a number, got {text:?}"))
}

/// Criterion's mean estimate for a benchmark, in nanoseconds.
fn criterion_ns(id: &str) -> Result<f64, String> {
    let path = target_dir()
        .join("criterion")
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let estimates: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    estimates["mean"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{}: no mean", path.display()))
}

fn cache_cases(python: &Path, quick: bool, cases: &mut Vec<Case>) -> Result<(), String> {
    let mut bench = cargo();
    bench.args(["bench", "-p", "tokenhop-cache", "--bench", "cache", "--"]);
    if quick {
        bench.args(["--warm-up-time", "0.5", "--measurement-time", "1"]);
    }
    run(&mut bench)?;
    let dir = std::env::temp_dir().join(format!("tokenhop-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let script = workspace_root().join("tests/interop/msal_cache_timing.py");
    for entries in [1_000u32, 10_000, 100_000] {
        let file = dir.join(format!("cache-{entries}.json"));
        run(cargo()
            .args([
                "run",
                "--quiet",
                "--profile",
                "bench",
                "-p",
                "tokenhop-cache",
                "--example",
                "interop",
                "--",
                "synthetic",
            ])
            .arg(entries.to_string())
            .arg(&file))?;
        let msal: Value =
            serde_json::from_str(&output(Command::new(python).arg(&script).arg(&file))?)
                .map_err(|e| e.to_string())?;
        for path in ["exact", "superset"] {
            cases.push(Case {
                name: format!("cache hit, {path} path, {entries} entries"),
                tokenhop: criterion_ns(&format!("hit/{path}/{entries}"))? / 1000.0,
                msal: msal[format!("hit_{path}_s")].as_f64().unwrap_or(f64::NAN) * 1e6,
                unit: "µs",
                higher_is_better: false,
            });
        }
        if entries == 100_000 {
            // MSAL has one serialize; tokenhop's can also write into the buffer of the
            // save before (`TokenCache::serialize_into`).
            for (what, bench, msal_figure) in [
                ("deserialize", "deserialize", "deserialize"),
                ("serialize", "serialize", "serialize"),
                (
                    "serialize into a reused buffer",
                    "serialize_reused",
                    "serialize",
                ),
            ] {
                cases.push(Case {
                    name: format!("cache {what}, 100000 entries"),
                    tokenhop: criterion_ns(&format!("serde_100k/{bench}"))? / 1e6,
                    msal: msal[format!("{msal_figure}_s")]
                        .as_f64()
                        .unwrap_or(f64::NAN)
                        * 1e3,
                    unit: "ms",
                    higher_is_better: false,
                });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn network_cases(python: &Path, quick: bool, cases: &mut Vec<Case>) -> Result<(), String> {
    // An optimized emulator: the server must not be the bottleneck being measured.
    let emulator = EmulatorProcess::start_built(Build::Optimized, "bench", true, |_| {})?;
    // Each side prints its figures on stdout; the two commands differ only in the program.
    let ours = |args: &[&str]| -> Result<String, String> {
        let mut command = cargo();
        command.args([
            "run",
            "--quiet",
            "--profile",
            "bench",
            "-p",
            "tokenhop-flows",
        ]);
        command.args(["--example", "bench_clients", "--"]);
        with_emulator(&mut command, &emulator, args);
        output(&mut command)
    };
    let theirs = |args: &[&str]| -> Result<String, String> {
        let mut command = Command::new(python);
        command.arg(workspace_root().join("tests/interop/msal_bench.py"));
        with_emulator(&mut command, &emulator, args);
        output(&mut command)
    };
    cases.push(Case {
        name: "100 concurrent cold callers: token requests made".into(),
        tokenhop: number(&ours(&["concurrent", "100"])?)?,
        msal: number(&theirs(&["concurrent", "100"])?)?,
        unit: "requests",
        higher_is_better: false,
    });
    cases.push(warm_cli(python, &emulator, quick)?);
    cases.push(warm_azure_cli(python, &emulator, quick)?);
    let seconds = if quick { "2" } else { "5" };
    let throughput = |program: &dyn Fn(&[&str]) -> Result<String, String>| {
        let text = program(&["throughput", seconds, "8"])?;
        let mut parts = text.split_whitespace().map(|p| p.parse::<f64>());
        match (parts.next(), parts.next()) {
            (Some(Ok(rate)), Some(Ok(cpu))) => Ok::<_, String>((rate, cpu)),
            _ => Err(format!("expected 'requests/s cpu-ms', got {text:?}")),
        }
    };
    let (our_rate, our_cpu) = throughput(&ours)?;
    let (their_rate, their_cpu) = throughput(&theirs)?;
    cases.push(Case {
        name: "client credentials, cache bypassed, 8 concurrent (one shared emulator)".into(),
        tokenhop: our_rate,
        msal: their_rate,
        unit: "requests/s",
        higher_is_better: true,
    });
    cases.push(Case {
        name: "client credentials: client CPU per request".into(),
        tokenhop: our_cpu,
        msal: their_cpu,
        unit: "ms",
        higher_is_better: false,
    });
    crate::fleet_bench::cases(&emulator, &ours, &theirs, quick, cases)
}

/// `MODE READY_JSON CONFIG_JSON ARGS…`: how both halves of a network case are called.
fn with_emulator(command: &mut Command, emulator: &EmulatorProcess, args: &[&str]) {
    command
        .arg(args[0])
        .arg(&emulator.ready_line)
        .arg(&emulator.config_path)
        .args(&args[1..]);
}

/// The median wall time of `runs` runs of `command`, in milliseconds.
fn median_ms(runs: usize, mut command: impl FnMut() -> Command) -> Result<f64, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = std::time::Instant::now();
        output(&mut command())?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// A whole `tokenhop token` process on a warm cache against a Python one-liner doing the
/// same with MSAL.
fn warm_cli(python: &Path, emulator: &EmulatorProcess, quick: bool) -> Result<Case, String> {
    let tokenhop = optimized_tokenhop()?;
    let app = emulator.secret_app()?;
    let cache = emulator.state_dir.join("cli-cache.json");
    let ours = || {
        let mut command = Command::new(&tokenhop);
        command
            .args(["--authority", &app.authority, "--client-id", &app.client_id])
            .arg("--ca-cert")
            .arg(&app.ca_cert)
            .arg("--cache")
            .arg(&cache)
            .args([
                "token",
                "--flow",
                "client-secret",
                "--scope",
                "https://graph.microsoft.com/.default",
            ])
            .env("TOKENHOP_CLIENT_SECRET", &app.secret);
        command
    };
    output(&mut ours())?;
    let msal_cache = emulator.state_dir.join("msal-cli-cache.json");
    let theirs = |mode: &str| msal_bench(python, emulator, mode, &msal_cache);
    output(&mut theirs("warm-up"))?;
    let runs = if quick { 5 } else { 21 };
    Ok(Case {
        name: "`tokenhop token` on a warm cache, whole process".into(),
        tokenhop: median_ms(runs, ours)?,
        msal: median_ms(runs, || theirs("warm-cli"))?,
        unit: "ms",
        higher_is_better: false,
    })
}

/// The `tokenhop` binary, optimized as a user would install it.
fn optimized_tokenhop() -> Result<PathBuf, String> {
    run(cargo().args([
        "build",
        "--quiet",
        "--profile",
        "bench",
        "-p",
        "tokenhop-cli",
        "--bin",
        "tokenhop",
    ]))?;
    Ok(target_dir().join("release/tokenhop"))
}

/// `msal_bench.py MODE READY_JSON CONFIG_JSON PATH`.
fn msal_bench(python: &Path, emulator: &EmulatorProcess, mode: &str, path: &Path) -> Command {
    let mut command = Command::new(python);
    command.arg(workspace_root().join("tests/interop/msal_bench.py"));
    with_emulator(&mut command, emulator, &[mode]);
    command.arg(path);
    command
}

/// `tokenhop token --flow azure-cli` on the warm cache MSAL Python wrote as the Azure
/// CLI, against a Python process that loads MSAL and answers from the same cache (the
/// floor of any `az account get-access-token`; the real `az` lives only in interop-az's
/// venv, which the bench does not install).
fn warm_azure_cli(python: &Path, emulator: &EmulatorProcess, quick: bool) -> Result<Case, String> {
    let tokenhop = optimized_tokenhop()?;
    let ready: Value = serde_json::from_str(&emulator.ready_line).map_err(|e| e.to_string())?;
    let dir = emulator.state_dir.join("azure-cli");
    output(&mut msal_bench(python, emulator, "azure-cli-login", &dir))?;
    let ours = || {
        let mut command = Command::new(&tokenhop);
        command
            .arg("--ca-cert")
            .arg(ready["ca_cert"].as_str().unwrap_or_default())
            .args(["token", "--flow", "azure-cli", "--scope"])
            .arg("https://management.core.windows.net//.default")
            .env("AZURE_CONFIG_DIR", &dir);
        command
    };
    let runs = if quick { 5 } else { 21 };
    Ok(Case {
        name: "`tokenhop token --flow azure-cli` vs Python+MSAL on the CLI's warm cache".into(),
        tokenhop: median_ms(runs, ours)?,
        msal: median_ms(runs, || {
            msal_bench(python, emulator, "azure-cli-warm", &dir)
        })?,
        unit: "ms",
        higher_is_better: false,
    })
}

fn write_report(cases: &[Case], quick: bool) -> Result<PathBuf, String> {
    let dir = workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let json_cases: Vec<Value> = cases
        .iter()
        .map(|c| json!({"name": c.name, "tokenhop": c.tokenhop, "msal": c.msal, "unit": c.unit, "ratio": c.ratio()}))
        .collect();
    let report = json!({"quick": quick, "cases": json_cases});
    std::fs::write(dir.join("report.json"), report.to_string()).map_err(|e| e.to_string())?;
    let mut md = String::from(
        "| case | tokenhop | MSAL Python 1.39 | unit | tokenhop is |\n|---|---:|---:|---|---:|\n",
    );
    for c in cases {
        let (msal, ratio) = if c.msal.is_nan() {
            ("n/a".to_owned(), "—".to_owned())
        } else {
            (
                format!("{:.3}", c.msal),
                format!("{:.1}× better", c.ratio()),
            )
        };
        md.push_str(&format!(
            "| {} | {:.3} | {msal} | {} | {ratio} |\n",
            c.name, c.tokenhop, c.unit
        ));
    }
    std::fs::write(dir.join("report.md"), &md).map_err(|e| e.to_string())?;
    println!("{md}");
    Ok(dir)
}

pub fn run_bench(args: &[String]) -> Result<(), String> {
    let quick = match args {
        [] => false,
        [flag] if flag == "--quick" => true,
        _ => return Err("usage: cargo xtask bench [--quick]".into()),
    };
    let python = msal_python()?.ok_or(
        "the benchmarks compare with MSAL Python: run `bash .ci/run` once to create its venv",
    )?;
    let mut cases = Vec::new();
    cache_cases(&python, quick, &mut cases)?;
    network_cases(&python, quick, &mut cases)?;
    let dir = write_report(&cases, quick)?;
    println!("report: {}", dir.join("report.md").display());
    Ok(())
}
