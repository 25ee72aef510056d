//! Handles on one file stay true to it: a lookup sees another handle's write and
//! removal, a write applies to what is stored (so a removal stays removed), memory is
//! answered from without I/O while current, and a file caught half-written by a writer
//! that writes in place (as msal-extensions does) is read again under the lock instead
//! of being taken for corrupt. A write that waits for another process's lock holds up
//! no lookup, and gives up in time.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use tokenhop_cache::{FilePersistence, Persistence, Section, SharedTokenCache};

use crate::common::{app_secret, app_token, clock_at_now, file_cache, secret_in};

#[test]
fn a_lookup_sees_another_handles_write_and_removal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let (reader, writer) = (file_cache(&path), file_cache(&path));
    writer.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    assert_eq!(secret_in(&reader, "client-1").as_deref(), Some("at-1"));
    writer.write(|c| app_token(c, "client-1", "at-2")).unwrap();
    assert_eq!(secret_in(&reader, "client-1").as_deref(), Some("at-2"));
    writer
        .write(|c| {
            let key = c.entries(Section::AccessToken).next().unwrap().0.to_owned();
            c.remove(Section::AccessToken, &key);
        })
        .unwrap();
    assert_eq!(secret_in(&reader, "client-1"), None);
}

#[test]
fn a_removal_by_one_handle_survives_a_write_by_another_that_loaded_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let (remover, stale) = (file_cache(&path), file_cache(&path));
    remover.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    assert!(secret_in(&stale, "client-1").is_some());
    remover
        .write(|c| {
            let key = c.entries(Section::AccessToken).next().unwrap().0.to_owned();
            c.remove(Section::AccessToken, &key);
        })
        .unwrap();
    // `stale` still holds the token in memory; its write must not bring it back.
    stale.write(|c| app_token(c, "client-2", "at-2")).unwrap();
    let after = file_cache(&path);
    assert_eq!(secret_in(&after, "client-1"), None);
    assert_eq!(secret_in(&after, "client-2").as_deref(), Some("at-2"));
}

#[test]
fn memory_answers_without_io_only_while_it_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let (cache, other) = (file_cache(&path), file_cache(&path));
    assert_eq!(cache.read_if_current(|_| ()), None, "not loaded yet");
    cache.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    assert_eq!(
        cache.read_if_current(|c| app_secret(c, "client-1")),
        Some(Some("at-1".to_owned()))
    );
    other.write(|c| app_token(c, "client-2", "at-2")).unwrap();
    assert_eq!(
        cache.read_if_current(|_| ()),
        None,
        "another handle saved: the file must be read again"
    );
    cache.read(|_| ()).unwrap();
    assert_eq!(
        cache.read_if_current(|c| app_secret(c, "client-2")),
        Some(Some("at-2".to_owned()))
    );
}

#[test]
fn a_file_caught_half_written_is_read_again_under_the_lock_not_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = file_cache(&path);
    cache.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    let whole = std::fs::read_to_string(&path).unwrap();
    let reader = file_cache(&path);
    let (started, halfway) = channel();
    let writer = {
        let (path, whole) = (path.clone(), whole.clone());
        std::thread::spawn(move || {
            // As msal-extensions saves: under the lock, truncate and write in place.
            FilePersistence::new(&path)
                .update(&mut |_| {
                    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
                    started.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(300));
                    std::fs::write(&path, &whole).unwrap();
                    Ok(None)
                })
                .unwrap();
        })
    };
    halfway.recv().unwrap();
    assert_eq!(secret_in(&reader, "client-1").as_deref(), Some("at-1"));
    writer.join().unwrap();
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(aside.is_empty(), "{aside:?}");
}

#[test]
fn the_lock_is_msal_extensions_lock_file_and_is_gone_after_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let file = FilePersistence::new(&path);
    assert_eq!(file.lock_path(), dir.path().join("cache.json.lockfile"));
    let lock = file.lock_path();
    file.update(&mut |_| {
        let holder = std::fs::read_to_string(&lock).unwrap();
        assert!(
            holder.starts_with(&format!("{} ", std::process::id())),
            "{holder}"
        );
        Ok(None)
    })
    .unwrap();
    assert!(!lock.exists());
}

#[test]
fn a_write_waiting_for_the_lock_blocks_no_lookup_and_gives_up_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = SharedTokenCache::builder(
        FilePersistence::new(&path).with_lock_timeout(Duration::from_millis(500)),
    )
    .clock(clock_at_now())
    .build();
    cache.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    let (held, holding) = channel();
    let (release, released) = channel::<()>();
    let holder = {
        let path = path.clone();
        std::thread::spawn(move || {
            FilePersistence::new(&path)
                .update(&mut |_| {
                    held.send(()).unwrap();
                    let _ = released.recv();
                    Ok(None)
                })
                .unwrap();
        })
    };
    holding.recv().unwrap();
    let writer = {
        let cache = cache.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let outcome = cache.write(|c| app_token(c, "client-2", "at-2"));
            (started.elapsed(), outcome)
        })
    };
    let started = Instant::now();
    let mut lookups = 0;
    while started.elapsed() < Duration::from_millis(300) {
        assert_eq!(
            secret_in(&cache, "client-1").as_deref(),
            Some("at-1"),
            "a lookup while the write waits"
        );
        lookups += 1;
    }
    assert!(lookups > 10, "{lookups} lookups in 300 ms");
    let (waited, outcome) = writer.join().unwrap();
    let error = outcome.unwrap_err().to_string();
    assert!(
        (Duration::from_millis(500)..Duration::from_secs(3)).contains(&waited),
        "{waited:?}"
    );
    let lock = FilePersistence::new(&path).lock_path();
    assert!(error.contains(&lock.display().to_string()), "{error}");
    release.send(()).unwrap();
    holder.join().unwrap();
    assert!(
        cache
            .read_if_current(|c| app_secret(c, "client-1"))
            .is_some()
    );
}
