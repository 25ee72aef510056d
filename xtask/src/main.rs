//! Project automation, run as `cargo xtask <command>`.
//!
//! - `ci`: everything CI checks, in order; each step prints its name and time, the run
//!   ends with a one-line summary and exits non-zero if any step failed.

mod cert_standalone;
mod ci;
mod emulator_process;
mod interop_cache;
mod interop_emulator;
mod interop_flows;
mod invariants;
mod python;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
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
         ci [--only STEP]...   fmt, clippy, tests, doctests, docs, interop: what CI runs\n"
    );
}
