//! `cargo xtask faults` (and the CI step `faults`): the fault matrix — every flow against
//! the emulator with each fault (429 with a short and a long `Retry-After`, 500, 503, a
//! dropped connection, a malformed body, a body slower than the timeout) — printed as a
//! table of outcome, requests made and time. It fails when a cell panics, hangs past its
//! budget, or leaves a token cache file that does not load; the matrix itself is
//! `crates/flows/examples/fault_matrix.rs`.

use crate::util::{cargo, run};

pub fn run_faults(args: &[String]) -> Result<(), String> {
    if let Some(unknown) = args.first() {
        return Err(format!("faults takes no arguments, not {unknown:?}"));
    }
    check()
}

pub fn check() -> Result<(), String> {
    run(cargo().args([
        "run",
        "--quiet",
        "-p",
        "tokenhop-flows",
        "--example",
        "fault_matrix",
    ]))
}
