//! Handles on one file stay true to it: a lookup sees another handle's write and
//! removal, a write applies to what is stored (so a removal stays removed), memory is
//! answered from without I/O while current, and a file caught half-written by a writer
//! that writes in place (as msal-extensions does) is read again under the lock instead
//! of being taken for corrupt.

use std::sync::mpsc::channel;
use std::time::Duration;

use tokenhop_cache::{FilePersistence, Persistence, Section};

use crate::common::{app_secret, app_token, file_cache};

#[test]
fn a_lookup_sees_another_handles_write_and_removal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let (reader, writer) = (file_cache(&path), file_cache(&path));
    writer.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    assert_eq!(
        reader
            .read(|c| app_secret(c, "client-1"))
            .unwrap()
            .as_deref(),
        Some("at-1")
    );
    writer.write(|c| app_token(c, "client-1", "at-2")).unwrap();
    assert_eq!(
        reader
            .read(|c| app_secret(c, "client-1"))
            .unwrap()
            .as_deref(),
        Some("at-2")
    );
    writer
        .write(|c| {
            let key = c.entries(Section::AccessToken).next().unwrap().0.to_owned();
            c.remove(Section::AccessToken, &key);
        })
        .unwrap();
    assert_eq!(reader.read(|c| app_secret(c, "client-1")).unwrap(), None);
}

#[test]
fn a_removal_by_one_handle_survives_a_write_by_another_that_loaded_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let (remover, stale) = (file_cache(&path), file_cache(&path));
    remover.write(|c| app_token(c, "client-1", "at-1")).unwrap();
    assert!(stale.read(|c| app_secret(c, "client-1")).unwrap().is_some());
    remover
        .write(|c| {
            let key = c.entries(Section::AccessToken).next().unwrap().0.to_owned();
            c.remove(Section::AccessToken, &key);
        })
        .unwrap();
    // `stale` still holds the token in memory; its write must not bring it back.
    stale.write(|c| app_token(c, "client-2", "at-2")).unwrap();
    let after = file_cache(&path);
    assert_eq!(after.read(|c| app_secret(c, "client-1")).unwrap(), None);
    assert_eq!(
        after
            .read(|c| app_secret(c, "client-2"))
            .unwrap()
            .as_deref(),
        Some("at-2")
    );
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
    assert_eq!(
        reader
            .read(|c| app_secret(c, "client-1"))
            .unwrap()
            .as_deref(),
        Some("at-1")
    );
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
