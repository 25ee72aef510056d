//! The tools `cargo xtask ci` needs that can be installed without asking: cargo-nextest
//! (`cargo install`), rustfmt and clippy (`rustup component add`), and the Python
//! peers (see [`crate::python`]) and the Node peers (see [`crate::node`]). What needs
//! the system package manager (Chromium, and the servers the tests start) is
//! `.ci/run`'s job.

use std::process::{Command, Stdio};

use crate::util::{cargo, run};

/// Installs what is missing; an error names what could not be installed.
pub fn ensure() -> Result<(), String> {
    let have = |args: &[&str]| {
        cargo()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !have(&["nextest", "--version"]) {
        println!("installing cargo-nextest");
        run(cargo().args(["install", "cargo-nextest", "--locked"]))?;
    }
    for (component, probe) in [("rustfmt", "fmt"), ("clippy", "clippy")] {
        if !have(&[probe, "--version"]) {
            println!("adding the {component} component");
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    crate::python::msal_python()?;
    crate::node::ensure()
}
