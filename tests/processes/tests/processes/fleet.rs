//! A fleet of real processes on one Redis (issue 23): eight of them with twenty-five
//! callers each make one token request cold and one refresh after expiry; a lease
//! holder killed mid-request delays the others by the lease and the fleet makes two
//! requests in all; Redis stopped mid-run fails no call and logs one warning a process,
//! and once restarted the fleet shares again; a process with the wrong key gets a
//! clear error and keeps running.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use tokenhop_emulator::{EmulatorHandle, Fault, FaultKind};
use tokenhop_test_redis::RedisServer;

use crate::common::{APP, PROMPTLY, Peer, emulator};

/// Instances of `tokenhop-fleet-peer`, all on the same cache and app.
struct Fleet {
    peers: Vec<Peer>,
}

/// What a peer answered to `burst`.
#[derive(Debug)]
struct Burst {
    ok: usize,
    errors: Vec<String>,
    tokens: Vec<String>,
}

impl Fleet {
    fn start(size: usize, cache: &str, emulator: &EmulatorHandle, env: &[(&str, &str)]) -> Self {
        let app = emulator.config().app(APP).unwrap();
        let peers: Vec<Peer> = (0..size)
            .map(|_| {
                let mut command = Command::new(env!("CARGO_BIN_EXE_tokenhop-fleet-peer"));
                command
                    .arg(cache)
                    .arg(emulator.authority())
                    .arg(&app.client_id)
                    .env(
                        "TOKENHOP_TEST_CLIENT_SECRET",
                        app.secret.as_deref().unwrap(),
                    );
                for (name, value) in env {
                    command.env(name, value);
                }
                Peer::spawn(command)
            })
            .collect();
        for peer in &peers {
            peer.wait_for(PROMPTLY, |line| line == "ready")
                .expect("the peer is ready");
        }
        Self { peers }
    }

    /// Tells every peer `command` at once; each one's answer (its first line that
    /// starts with `answer`) and the lines before it.
    fn all(&mut self, command: &str, answer: &str) -> Vec<(String, Vec<String>)> {
        for peer in &mut self.peers {
            peer.tell(command);
        }
        self.peers
            .iter()
            .map(|peer| {
                let mut before = Vec::new();
                let line = peer
                    .wait_for(Duration::from_secs(60), |line| {
                        before.push(line.to_owned());
                        line.starts_with(answer)
                    })
                    .unwrap_or_else(|| {
                        panic!("peer {} did not answer {command:?}: {before:?}", peer.pid())
                    });
                before.pop();
                (line, before)
            })
            .collect()
    }

    fn burst(&mut self, callers: usize, scope: &str) -> Vec<Burst> {
        self.all(&format!("burst {callers} {scope}"), "burst ")
            .into_iter()
            .map(|(line, before)| parse_burst(&line, before))
            .collect()
    }
}

fn parse_burst(line: &str, errors: Vec<String>) -> Burst {
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_default()
            .to_owned()
    };
    Burst {
        ok: field("ok=").parse().unwrap(),
        errors,
        tokens: field("tokens=")
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

/// The distinct tokens of a fleet's bursts, after checking every call got one.
fn tokens_of(bursts: &[Burst], callers: usize) -> BTreeSet<String> {
    for burst in bursts {
        assert_eq!(burst.ok, callers, "every call returns a token: {burst:?}");
        assert!(burst.errors.is_empty(), "{burst:?}");
    }
    bursts
        .iter()
        .flat_map(|b| b.tokens.iter().cloned())
        .collect()
}

/// No peer logged any of `secrets` (the client secret, an encryption key).
fn assert_never_logged(fleet: &Fleet, secrets: &[&str]) {
    for peer in &fleet.peers {
        for secret in secrets {
            assert!(
                peer.logged(&[secret]).is_empty(),
                "peer {} logged a secret",
                peer.pid()
            );
        }
    }
}

fn client_secret(emulator: &EmulatorHandle) -> String {
    emulator.config().app(APP).unwrap().secret.clone().unwrap()
}

fn token_requests(emulator: &EmulatorHandle) -> u64 {
    emulator.counters().endpoint("token")
}

const SCOPE: &str = "https://graph.microsoft.com/.default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_cold_processes_make_one_request_and_one_refresh_after_expiry() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let emulator = emulator().await;
    let mut fleet = Fleet::start(
        8,
        &redis.url(),
        &emulator,
        &[("TOKENHOP_TEST_REDIS_PREFIX", "cold:")],
    );
    let first = tokens_of(&fleet.burst(25, SCOPE), 25);
    assert_eq!(first.len(), 1, "one token for the fleet: {first:?}");
    assert_eq!(
        token_requests(&emulator),
        1,
        "8 processes × 25 callers, one request"
    );

    emulator.advance_clock(3600);
    fleet.all("advance 3600", "advanced");
    let renewed = tokens_of(&fleet.burst(25, SCOPE), 25);
    assert_eq!(renewed.len(), 1, "{renewed:?}");
    assert_ne!(renewed, first, "the expired token was replaced");
    assert_eq!(
        token_requests(&emulator),
        2,
        "one refresh for the whole fleet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_holder_killed_mid_request_delays_the_others_by_the_lease_two_requests_in_all() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let emulator = emulator().await;
    let mut hang = Fault::new("token", FaultKind::Status);
    hang.delay_ms = 120_000;
    hang.times = Some(1);
    emulator.inject(hang);
    let env = [
        ("TOKENHOP_TEST_REDIS_PREFIX", "killed:"),
        ("TOKENHOP_TEST_LEASE_MS", "1500"),
    ];
    let mut fleet = Fleet::start(8, &redis.url(), &emulator, &env);
    for peer in &mut fleet.peers {
        peer.tell(&format!("burst 5 {SCOPE}"));
    }
    // The holder's request hangs at the emulator: find it by its lease, and kill it.
    let deadline = Instant::now() + PROMPTLY;
    let holder = loop {
        assert!(Instant::now() < deadline, "nobody took the lease");
        let leases = redis.cli(&["--scan", "--pattern", "killed:lease:*"]);
        let owner = leases
            .lines()
            .next()
            .map(|lease| redis.cli(&["GET", lease.trim()]))
            .unwrap_or_default();
        if let Some(pid) = owner
            .split('-')
            .next()
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            break pid;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let killed_at = Instant::now();
    let at = fleet
        .peers
        .iter()
        .position(|p| p.pid() == holder)
        .expect("a peer holds it");
    fleet.peers.remove(at).kill();
    for peer in &fleet.peers {
        let mut errors = Vec::new();
        let line = peer
            .wait_for(Duration::from_secs(30), |line| {
                errors.push(line.to_owned());
                line.starts_with("burst ")
            })
            .expect("every other process gets its token");
        errors.pop();
        let burst = parse_burst(&line, errors);
        assert_eq!(burst.ok, 5, "{burst:?}");
    }
    let waited = killed_at.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "the others waited {waited:?}"
    );
    assert_eq!(
        token_requests(&emulator),
        2,
        "the killed holder's request and one more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_fails_no_call_with_one_warning_each_and_restarted_shares_again() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let emulator = emulator().await;
    let mut fleet = Fleet::start(
        8,
        &redis.url(),
        &emulator,
        &[("TOKENHOP_TEST_REDIS_PREFIX", "outage:")],
    );
    tokens_of(&fleet.burst(5, SCOPE), 5);
    assert_eq!(token_requests(&emulator), 1);

    redis.stop();
    // The cached token, and a new one each process asks for directly (then has).
    let storage = "https://storage.azure.com/.default";
    tokens_of(&fleet.burst(5, SCOPE), 5);
    tokens_of(&fleet.burst(5, storage), 5);
    tokens_of(&fleet.burst(5, storage), 5);
    for peer in &fleet.peers {
        let warnings = peer.logged(&["WARN", "unreachable"]);
        assert_eq!(
            warnings.len(),
            1,
            "one warning for the outage: {warnings:#?}"
        );
    }
    let during = token_requests(&emulator);
    assert_eq!(during, 1 + 8, "each process asked for the new token once");

    // Back, empty: once the tokens expire, the fleet refreshes once.
    redis.restart();
    std::thread::sleep(Duration::from_millis(1200));
    emulator.advance_clock(3600);
    fleet.all("advance 3600", "advanced");
    let shared = tokens_of(&fleet.burst(5, SCOPE), 5);
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert_eq!(
        token_requests(&emulator),
        during + 1,
        "the fleet shares again"
    );
    for peer in &fleet.peers {
        assert_eq!(peer.logged(&["WARN", "unreachable"]).len(), 1);
        assert_eq!(peer.logged(&["reachable again"]).len(), 1);
    }
    assert_never_logged(&fleet, &[&client_secret(&emulator)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_with_the_wrong_key_gets_a_clear_error_and_keeps_running() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let emulator = emulator().await;
    let (right, wrong) = ("01".repeat(32), "02".repeat(32));
    let prefix = ("TOKENHOP_TEST_REDIS_PREFIX", "keys:");
    let mut writer = Fleet::start(
        1,
        &redis.url(),
        &emulator,
        &[prefix, ("TOKENHOP_TEST_ENCRYPTION_KEY", &right)],
    );
    tokens_of(&writer.burst(1, SCOPE), 1);
    let mut reader = Fleet::start(
        1,
        &redis.url(),
        &emulator,
        &[prefix, ("TOKENHOP_TEST_ENCRYPTION_KEY", &wrong)],
    );
    for _ in 0..2 {
        let burst = &reader.burst(1, SCOPE)[0];
        assert_eq!(burst.ok, 0);
        let error = &burst.errors[0];
        assert!(
            error.contains("encrypted with the key whose id is"),
            "{error}"
        );
        assert!(
            error.contains("encryption_key"),
            "it says what to do: {error}"
        );
        assert!(
            !error.contains(&right) && !error.contains(&wrong),
            "{error}"
        );
    }
    assert_eq!(token_requests(&emulator), 1);
    let secret = client_secret(&emulator);
    for fleet in [&writer, &reader] {
        assert_never_logged(fleet, &[&secret, &right, &wrong]);
    }
}
