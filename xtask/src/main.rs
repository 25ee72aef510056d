//! Project automation, run as `cargo xtask <command>`.
//!
//! - `ci`: everything CI checks, in order; each step prints its name and time, the run
//!   ends with a one-line summary and exits non-zero if any step failed.
//! - `demo`: the main job with the real CLI against the emulator.
//! - `bench [--quick]`: tokenhop and MSAL Python on the same work, in one run.
//! - `faults`: every flow against every fault of the emulator, as a table.

mod bench;
mod cert_standalone;
mod ci;
mod demo;
mod emulator_process;
mod faults;
mod fleet_bench;
mod interop_az;
mod interop_azure_cli;
mod interop_cache;
mod interop_emulator;
mod interop_flows;
mod interop_lock;
mod interop_node;
mod invariants;
mod node;
mod python;
mod softhsm;
mod tools;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run_bench(&args[1..]),
        Some("demo") => demo::run_demo(&args[1..]),
        Some("faults") => faults::run_faults(&args[1..]),
        Some("help") | Some("--help") | Some("-h") | None => {
            print_help();
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other:?}; run `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <command>\n\n\
         commands:\n  \
         ci [--only STEP]...   fmt, clippy, tests, doctests, docs, interop: what CI runs\n  \
         demo                  the main job with the CLI against the emulator, as a table\n  \
         bench [--quick]       tokenhop against MSAL Python, side by side: target/bench/report.md\n  \
         faults                every flow against every fault of the emulator: outcome, requests, time\n"
    );
}
