//! The cross-process lock: a holder that is stopped makes another process's cache write
//! fail within the timeout, naming the lock file, while that process's other tasks run
//! on; a lock file left by a process that died is taken over.

use std::time::{Duration, Instant};

use serde_json::json;
use tokenhop_cache::{SharedTokenCache, TokenEvent};

use tokenhop_process_tests::LOCK_TIMEOUT_MS;

use crate::common::{APP, PROMPTLY, Peer, emulator, signal};

fn lock_file(cache: &std::path::Path) -> std::path::PathBuf {
    let mut name = cache.file_name().unwrap().to_os_string();
    name.push(".lockfile");
    cache.with_file_name(name)
}

/// The number after `prefix` in `line`.
fn count(line: &str, prefix: &str) -> u64 {
    line.strip_prefix(prefix)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_lock_holder_makes_a_write_fail_in_time_while_other_tasks_run() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let mut command = Peer::app_command("token-while-locked", &path, &emulator, APP);
    command.env(LOCK_TIMEOUT_MS, "2000");
    let mut other = Peer::spawn(command);
    assert_eq!(
        other.wait_for(PROMPTLY, |l| l == "ready").as_deref(),
        Some("ready")
    );

    let holder = Peer::start("hold-lock", &path);
    assert_eq!(
        holder.wait_for(PROMPTLY, |l| l == "holding").as_deref(),
        Some("holding")
    );
    signal(holder.pid(), "STOP");

    let started = Instant::now();
    other.tell("go");
    let outcome = other
        .wait_for(Duration::from_secs(15), |l| l.starts_with("outcome "))
        .unwrap_or_else(|| {
            panic!(
                "no outcome after {:?}: the write waits for the lock without end",
                started.elapsed()
            )
        });
    let waited = count(&outcome, "outcome error after ");
    assert!(
        (2_000..=4_000).contains(&waited),
        "the write gave up after the lock timeout (2 s): {outcome}"
    );
    let lock = lock_file(&path);
    assert!(
        outcome.contains(&lock.display().to_string()),
        "the error names the lock file {}: {outcome}",
        lock.display()
    );
    let ticks = count(&other.next_line(PROMPTLY).unwrap(), "ticks ");
    let lookups = count(&other.next_line(PROMPTLY).unwrap(), "lookups ");
    // One tick each 50 ms on the peer's single executor thread: most of them happened.
    assert!(
        ticks * 50 * 2 >= waited,
        "{ticks} ticks in {waited} ms: the runtime was blocked"
    );
    assert!(
        lookups * 50 * 4 >= waited,
        "{lookups} cached lookups in {waited} ms: lookups were blocked"
    );
}

#[test]
fn a_lock_file_left_by_a_dead_process_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let mut holder = Peer::start("hold-lock", &path);
    assert_eq!(
        holder.wait_for(PROMPTLY, |l| l == "holding").as_deref(),
        Some("holding")
    );
    let pid = holder.pid();
    holder.kill();
    let lock = lock_file(&path);
    let left = std::fs::read_to_string(&lock).unwrap_or_else(|e| {
        panic!(
            "the killed holder left no lock file {} with its pid: {e}",
            lock.display()
        )
    });
    assert!(left.starts_with(&format!("{pid} ")), "{left:?}");

    let started = Instant::now();
    let response = json!({"access_token": "at-after-takeover", "expires_in": 3600});
    SharedTokenCache::file(&path)
        .write(|c| {
            c.add(&TokenEvent {
                client_id: "client",
                environment: "login.microsoftonline.com",
                realm: "tenant",
                scopes: &["s"],
                grant_type: "client_credentials",
                response: response.as_object().unwrap(),
                extra_fields: &[],
                now: 1_800_000_000,
            });
        })
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the stale lock was taken over at once, not waited out: {:?}",
        started.elapsed()
    );
    assert!(!lock.exists(), "the lock file is gone after the write");
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("at-after-takeover")
    );
}
