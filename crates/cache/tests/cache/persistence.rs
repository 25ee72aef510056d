//! Persistence: atomic file writes with mode 0600, a cross-process lock that loses no
//! write, corrupt files kept aside, callbacks called only on change.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokenhop_cache::{
    CacheOptions, CallbackPersistence, FilePersistence, Section, SharedTokenCache, TokenCache,
};

use crate::common::{app_secret, app_token, clock_at_now, file_cache};

#[test]
fn a_write_reaches_the_file_and_another_instance_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/cache.json");
    let writer = file_cache(&path);
    writer.write(|c| app_token(c, "client-a", "at-a")).unwrap();
    let reader = file_cache(&path);
    assert_eq!(
        reader
            .read(|c| app_secret(c, "client-a"))
            .unwrap()
            .as_deref(),
        Some("at-a")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(serde_json::from_str::<Value>(&text).unwrap()["AccessToken"].is_object());
}

#[cfg(unix)]
#[test]
fn the_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    file_cache(&path)
        .write(|c| app_token(c, "c", "at"))
        .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn writes_from_two_handles_merge_instead_of_overwriting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let first = file_cache(&path);
    let second = file_cache(&path);
    first.read(|_| ()).unwrap();
    second.read(|_| ()).unwrap();
    first.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    second.write(|c| app_token(c, "client-2", "at-2")).unwrap();
    let after = file_cache(&path);
    assert_eq!(
        after
            .read(|c| app_secret(c, "client-1"))
            .unwrap()
            .as_deref(),
        Some("at-1")
    );
    assert_eq!(
        after
            .read(|c| app_secret(c, "client-2"))
            .unwrap()
            .as_deref(),
        Some("at-2")
    );
}

#[test]
fn a_removal_is_not_undone_by_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = file_cache(&path);
    cache.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    cache
        .write(|c| {
            let key = c.entries(Section::AccessToken).next().unwrap().0.to_owned();
            c.remove(Section::AccessToken, &key);
        })
        .unwrap();
    assert_eq!(
        file_cache(&path)
            .read(|c| c.len(Section::AccessToken))
            .unwrap(),
        0
    );
}

#[test]
fn a_corrupt_file_is_moved_aside_and_the_cache_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    std::fs::write(&path, "{\"AccessToken\": {\"truncated").unwrap();
    let cache = file_cache(&path);
    assert!(cache.read(|c| c.is_empty()).unwrap());
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("cache.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&aside[0])).unwrap(),
        "{\"AccessToken\": {\"truncated"
    );
    cache.write(|c| app_token(c, "c", "at")).unwrap();
    assert_eq!(
        file_cache(&path)
            .read(|c| app_secret(c, "c"))
            .unwrap()
            .as_deref(),
        Some("at")
    );
}

#[test]
fn the_callback_backend_persists_only_changes() {
    let saved = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&saved);
    let mut initial = TokenCache::new();
    app_token(&mut initial, "client-0", "at-0");
    let cache = SharedTokenCache::builder(CallbackPersistence::new(
        Some(initial.serialize()),
        move |blob| sink.lock().unwrap().push(blob),
    ))
    .clock(clock_at_now())
    .build();
    assert_eq!(
        cache
            .read(|c| app_secret(c, "client-0"))
            .unwrap()
            .as_deref(),
        Some("at-0")
    );
    cache.write(|_| ()).unwrap();
    assert!(saved.lock().unwrap().is_empty(), "no change, no persist");
    cache.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    let saved = saved.lock().unwrap();
    assert_eq!(saved.len(), 1);
    let reread = TokenCache::deserialize(&saved[0], CacheOptions::default()).unwrap();
    assert_eq!(app_secret(&reread, "client-0").as_deref(), Some("at-0"));
    assert_eq!(app_secret(&reread, "client-1").as_deref(), Some("at-1"));
}

#[test]
fn has_state_changed_is_set_by_writes_and_cleared_by_serialize_and_deserialize() {
    let mut cache = TokenCache::new();
    assert!(!cache.has_state_changed());
    app_token(&mut cache, "c", "at");
    assert!(cache.has_state_changed());
    let text = cache.serialize();
    assert!(!cache.has_state_changed());
    assert!(
        !TokenCache::deserialize(&text, CacheOptions::default())
            .unwrap()
            .has_state_changed()
    );
}

#[test]
fn default_path_is_in_the_user_config_directory_and_overridable() {
    let default = FilePersistence::at_default_path().unwrap();
    assert!(
        default.path().ends_with("tokenhop/token_cache.json"),
        "{}",
        default.path().display()
    );
    assert_eq!(
        FilePersistence::new("/tmp/x.json").path(),
        Path::new("/tmp/x.json")
    );
}

// ---- real processes -------------------------------------------------------------

const CHILD_PATH: &str = "TOKENHOP_TEST_CACHE_PATH";
const CHILD_ROLE: &str = "TOKENHOP_TEST_CHILD_ROLE";

fn spawn_self(test: &str, role: &str, path: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_PATH, path)
        .env(CHILD_ROLE, role)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Runs only when spawned by a test below: writes 50 distinct tokens, one write each.
#[test]
fn child_writer() {
    let (Ok(path), Ok(role)) = (std::env::var(CHILD_PATH), std::env::var(CHILD_ROLE)) else {
        return;
    };
    if let Some(writer) = role.strip_prefix("writer-") {
        for i in 0..50 {
            let cache = file_cache(&path);
            cache
                .write(|c| {
                    app_token(
                        c,
                        &format!("client-{writer}-{i}"),
                        &format!("at-{writer}-{i}"),
                    )
                })
                .unwrap();
        }
    } else if role == "rewriter" {
        let mut big = TokenCache::new();
        for i in 0..3000 {
            app_token(&mut big, &format!("filler-{i}"), &"x".repeat(200));
        }
        let cache = file_cache(&path);
        for i in 0.. {
            cache
                .write(|c| app_token(c, &format!("client-{i}"), &"y".repeat(100)))
                .unwrap();
            cache.write(|c| big.apply_changes_to(c)).unwrap();
        }
    }
}

#[test]
fn four_processes_writing_fifty_tokens_each_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let children: Vec<_> = (0..4)
        .map(|w| spawn_self("persistence::child_writer", &format!("writer-{w}"), &path))
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let cache = file_cache(&path);
    for w in 0..4 {
        for i in 0..50 {
            let secret = cache
                .read(|c| app_secret(c, &format!("client-{w}-{i}")))
                .unwrap();
            assert_eq!(
                secret,
                Some(format!("at-{w}-{i}")),
                "writer {w} token {i} was lost"
            );
        }
    }
    assert_eq!(cache.read(|c| c.len(Section::AccessToken)).unwrap(), 200);
}

#[test]
fn a_writer_killed_mid_write_leaves_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    for round in 0..8u64 {
        let mut child = spawn_self("persistence::child_writer", "rewriter", &path);
        std::thread::sleep(Duration::from_millis(150 + round * 37));
        child.kill().unwrap();
        child.wait().unwrap();
        if let Ok(text) = std::fs::read_to_string(&path) {
            TokenCache::deserialize(&text, CacheOptions::default())
                .unwrap_or_else(|e| panic!("round {round}: the file is broken after a kill: {e}"));
        }
    }
    assert!(path.exists(), "the writer never got to write");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
