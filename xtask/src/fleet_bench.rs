//! The fleet case of `cargo xtask bench` (issue 23): [`PROCESSES`] processes ×
//! [`CALLERS`] concurrent callers, cold, asking the emulator for one app token. The
//! token requests the fleet makes with the Redis cache, with one cache file, and as
//! MSAL Python processes (each with its own cache, as MSAL's replicas have); then the
//! latency of a hit served from memory (L1) and from Redis (L2, no partition kept in
//! memory).
//!
//! The instances are `tokenhop-fleet-peer` (tests/processes), the same program the
//! fleet tests start, on a `redis-server` started here on an ephemeral port.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use tokenhop_test_redis::RedisServer;

use crate::bench::{Case, number};
use crate::emulator_process::{EmulatorProcess, SecretApp, target_dir};
use crate::util::{cargo, run};

/// How many instances the fleet has.
pub const PROCESSES: usize = 8;
/// How many concurrent callers each instance has.
pub const CALLERS: usize = 25;

/// One side of a network case: its arguments, its stdout (see `bench::network_cases`).
pub type Side<'a> = &'a dyn Fn(&[&str]) -> Result<String, String>;

/// Adds the fleet's cases: `ours` and `theirs` run the tokenhop and MSAL Python halves
/// of the network cases against `emulator`.
pub fn cases(
    emulator: &EmulatorProcess,
    ours: Side<'_>,
    theirs: Side<'_>,
    quick: bool,
    cases: &mut Vec<Case>,
) -> Result<(), String> {
    run(cargo().args([
        "build",
        "--quiet",
        "--profile",
        "bench",
        "-p",
        "tokenhop-process-tests",
        "--bin",
        "tokenhop-fleet-peer",
    ]))?;
    let fleet = Fleet {
        binary: target_dir().join("release/tokenhop-fleet-peer"),
        app: emulator.secret_app()?,
    };
    let token_requests = || -> Result<u64, String> {
        let text = ours(&["token-requests"])?;
        text.trim()
            .parse()
            .map_err(|_| format!("expected a request count, got {text:?}"))
    };
    let redis = RedisServer::start()
        .ok_or("the fleet case needs redis-server (Debian: apt-get install redis-server)")?;
    let msal = number(&theirs(&[
        "fleet",
        &PROCESSES.to_string(),
        &CALLERS.to_string(),
    ])?)?;
    let label = format!("fleet of {PROCESSES} processes × {CALLERS} callers, cold: token requests");

    let before = token_requests()?;
    let mut peers = fleet.start(PROCESSES, &redis.url(), &[])?;
    burst(&mut peers)?;
    let on_redis = token_requests()? - before;
    cases.push(Case {
        name: format!("{label} (tokenhop on one Redis; MSAL: a cache each)"),
        tokenhop: on_redis as f64,
        msal,
        unit: "requests",
        higher_is_better: false,
    });

    let calls = if quick { "500" } else { "5000" };
    let (their_p50, their_p99) = pair(&theirs(&["hit-latency", calls])?)?;
    let (l1_p50, l1_p99) = pair(&peers[0].ask(&format!("latency {calls}"), "latency ")?)?;
    let mut through_redis =
        fleet.start(1, &redis.url(), &[("TOKENHOP_TEST_MEMORY_PARTITIONS", "0")])?;
    let (l2_p50, l2_p99) = pair(&through_redis[0].ask(&format!("latency {calls}"), "latency ")?)?;
    for (what, ours, theirs) in [("p50", l1_p50, their_p50), ("p99", l1_p99, their_p99)] {
        cases.push(Case {
            name: format!("fleet cache hit through L1 (memory), {what} (MSAL: its memory)"),
            tokenhop: ours,
            msal: theirs,
            unit: "µs",
            higher_is_better: false,
        });
    }
    for (what, ours) in [("p50", l2_p50), ("p99", l2_p99)] {
        cases.push(Case {
            name: format!("fleet cache hit through L2 (Redis on loopback), {what}"),
            tokenhop: ours,
            msal: f64::NAN,
            unit: "µs",
            higher_is_better: false,
        });
    }
    drop((peers, through_redis));

    let dir = tempfile_dir()?;
    let before = token_requests()?;
    let file = dir.join("fleet-cache.json");
    let mut peers = fleet.start(PROCESSES, &file.to_string_lossy(), &[])?;
    burst(&mut peers)?;
    let on_a_file = token_requests()? - before;
    drop(peers);
    let _ = std::fs::remove_dir_all(&dir);
    cases.push(Case {
        name: format!("{label} (tokenhop on one cache file; MSAL: a cache each)"),
        tokenhop: on_a_file as f64,
        msal,
        unit: "requests",
        higher_is_better: false,
    });
    Ok(())
}

struct Fleet {
    binary: PathBuf,
    app: SecretApp,
}

impl Fleet {
    /// `size` instances on `cache` (a URL or a path), each ready.
    fn start(&self, size: usize, cache: &str, env: &[(&str, &str)]) -> Result<Vec<Peer>, String> {
        let mut peers = Vec::with_capacity(size);
        for _ in 0..size {
            let mut command = Command::new(&self.binary);
            command
                .arg(cache)
                .arg(&self.app.authority)
                .arg(&self.app.client_id)
                .env("TOKENHOP_TEST_CLIENT_SECRET", &self.app.secret)
                .env("TOKENHOP_TEST_CA_CERT", &self.app.ca_cert)
                .envs(env.iter().copied());
            peers.push(Peer::spawn(&mut command)?);
        }
        for peer in &mut peers {
            peer.answer("ready")?;
        }
        Ok(peers)
    }
}

/// Every peer's [`CALLERS`] at once; an error unless every call got a token.
fn burst(peers: &mut [Peer]) -> Result<(), String> {
    for peer in peers.iter_mut() {
        peer.tell(&format!("burst {CALLERS}"))?;
    }
    for peer in peers.iter_mut() {
        let line = peer.answer("burst ")?;
        if !line.contains(&format!("ok={CALLERS} ")) {
            return Err(format!("a fleet instance's calls failed: {line}"));
        }
    }
    Ok(())
}

/// A running `tokenhop-fleet-peer`, killed when dropped.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(command: &mut Command) -> Result<Self, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("could not start tokenhop-fleet-peer: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("tokenhop-fleet-peer has no pipes".into());
        };
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    fn tell(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("tokenhop-fleet-peer went away: {e}"))
    }

    /// The first line that starts with `wanted`; an `error …` line before it fails.
    fn answer(&mut self, wanted: &str) -> Result<String, String> {
        let mut line = String::new();
        loop {
            line.clear();
            match self.stdout.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    return Err(format!("tokenhop-fleet-peer ended before {wanted:?}"));
                }
                Ok(_) if line.starts_with(wanted) => return Ok(line.trim().to_owned()),
                Ok(_) if line.starts_with("error ") => return Err(line.trim().to_owned()),
                Ok(_) => {}
            }
        }
    }

    fn ask(&mut self, command: &str, wanted: &str) -> Result<String, String> {
        self.tell(command)?;
        let line = self.answer(wanted)?;
        Ok(line.trim_start_matches(wanted).to_owned())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `P50 P99`, as the latency commands print them.
fn pair(text: &str) -> Result<(f64, f64), String> {
    let mut parts = text.split_whitespace().map(str::parse::<f64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(p50)), Some(Ok(p99))) => Ok((p50, p99)),
        _ => Err(format!("expected 'p50 p99', got {text:?}")),
    }
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("tokenhop-fleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
