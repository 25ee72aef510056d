//! Architecture invariants that `cargo tree` can check (see ARCHITECTURE.md).

use crate::util::cargo;

/// Crates that must never appear in a package's normal dependency tree.
const FORBIDDEN: &[(&str, &[&str])] = &[
    // core does no I/O and no crypto: consumers that only accept a provider stay light.
    (
        "tokenhop-core",
        &["reqwest", "hyper", "rsa", "openssl", "ring", "rustls"],
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
    // A signer is a leaf under the flows: the flows (and the CLI) choose it, never it them.
    (
        "tokenhop-pkcs11",
        &["tokenhop-flows", "tokenhop-cache", "tokenhop-emulator"],
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

pub fn check() -> Result<(), String> {
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
        let found: Vec<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| forbidden.contains(name))
            .collect();
        if !found.is_empty() {
            return Err(format!("{package} must not depend on {}", found.join(", ")));
        }
        println!(
            "{package}: none of {} in its dependency tree",
            forbidden.join(", ")
        );
    }
    Ok(())
}
