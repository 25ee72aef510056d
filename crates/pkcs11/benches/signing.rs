//! Signing latency in SoftHSM2 next to the in-memory signer: RS256 and PS256 over a
//! client assertion's signing input, with a key generated in the token, the in-memory
//! key imported into the token, and that key in memory.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` at start, so the bench runs itself again as a child
//! with a fresh token directory (`cargo bench -p tokenhop-pkcs11`).

#[path = "../tests/pkcs11/softhsm.rs"]
mod softhsm;

use criterion::{BenchmarkId, Criterion};
use tokenhop_cert::{RsaKeySigner, Signer, SigningAlgorithm};
use tokenhop_pkcs11::Pkcs11Signer;

/// About the size of a client assertion's `header.claims`.
const SIGNING_INPUT: &[u8] = &[b'e'; 620];

fn main() {
    let Some(token) = softhsm::child_token() else {
        let Some((_dir, mut child)) = softhsm::child_command() else {
            return;
        };
        let status = child.args(std::env::args_os().skip(1)).status().unwrap();
        std::process::exit(status.code().unwrap_or(1));
    };
    eprintln!("SoftHSM2 token in {}", token.dir.display());
    token.generate_key("generated", &[1]);
    let key = softhsm::in_memory_key();
    token.import_key(&key, "imported", &[2]);
    let open =
        |label: &str| Pkcs11Signer::open(&token.module, &token.uri(label), &token.pin()).unwrap();
    let signers: [(&str, Box<dyn Signer>); 3] = [
        ("softhsm2 generated key", Box::new(open("generated"))),
        ("softhsm2 imported key", Box::new(open("imported"))),
        ("in memory", Box::new(RsaKeySigner::new(key))),
    ];

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("sign");
    for algorithm in [SigningAlgorithm::Rs256, SigningAlgorithm::Ps256] {
        for (name, signer) in &signers {
            group.bench_function(BenchmarkId::new(algorithm.jws_name(), name), |b| {
                b.iter(|| signer.sign(algorithm, SIGNING_INPUT).unwrap())
            });
        }
    }
    group.finish();
    criterion.final_summary();
}
