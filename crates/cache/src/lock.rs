//! [`CacheLock`]: the cross-process lock of a cache file, taken as msal-extensions takes
//! it, so that tokenhop, MSAL Python apps and the Azure CLI exclude one another.
//!
//! msal-extensions (1.3, `filelock.py`) holds the lock by *having created*
//! `<cache>.lockfile` (an exclusive create, `O_EXCL`), writes `"{pid} {argv[0]}"` into
//! it, and deletes it to release; it retries every 0.25 s for 5 s. With its
//! `portalocker` extra (and before 1.3, always) it also holds an OS lock (`flock`,
//! `LockFileEx`) on that file. This lock does both: the exclusive create excludes the
//! first kind, the OS lock the second, and the OS lock also tells a live tokenhop holder
//! from a dead one, whatever pid namespace it runs in.
//!
//! A lock file whose holder died is taken over: its OS lock went with the process, and
//! the pid inside names no live process (or names this process, which does not hold
//! it: a container's pid 1 restarted). The takeover rewrites the file in place while
//! holding its OS lock, so two waiters cannot both take it over.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tokenhop_core::Result;

use crate::persist::{cache_error, lock};

/// How long an empty lock file may stand before it counts as left by a process that
/// died between creating it and writing its pid (both msal-extensions flavours write
/// at once).
const EMPTY_LOCK_GRACE: Duration = Duration::from_secs(2);

/// The longest pause between two tries (msal-extensions: 0.25 s; shorter here, so a
/// lock freed is taken soon, starting at 1 ms and doubling).
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// The lock files this process holds: a lock file naming this process's pid that is
/// not among them was left by an earlier process with the same pid.
fn held() -> &'static Mutex<HashSet<PathBuf>> {
    static HELD: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    HELD.get_or_init(Mutex::default)
}

/// A held lock; dropping it releases it (deletes the lock file, then the OS lock).
#[derive(Debug)]
pub(crate) struct CacheLock {
    path: PathBuf,
    file: Option<File>,
}

/// Who a lock file says holds it: `"{pid} {program}"`, as msal-extensions writes it.
#[derive(Debug)]
struct Holder {
    pid: Option<u32>,
    program: String,
}

impl Holder {
    fn parse(text: &str) -> Self {
        let (pid, program) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
        Self {
            pid: pid.parse().ok(),
            program: program.to_owned(),
        }
    }

    fn describe(&self) -> String {
        match (self.pid, self.program.as_str()) {
            (Some(pid), "") => format!("process {pid}"),
            (Some(pid), program) => format!("process {pid} ({program})"),
            (None, _) => "a process that wrote no pid".to_owned(),
        }
    }
}

impl CacheLock {
    /// Takes the lock at `path`, waiting up to `timeout`. No in-memory lock may be held
    /// while this waits.
    pub(crate) fn acquire(path: &Path, timeout: Duration) -> Result<CacheLock> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(taken) = Self::try_acquire(path)? {
                return Ok(taken);
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(Self::timed_out(path, timeout));
            }
            std::thread::sleep(pause.min(timeout - waited));
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// One try: create the lock file, or take over a stale one.
    fn try_acquire(path: &Path) -> Result<Option<CacheLock>> {
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => match file.try_lock() {
                Ok(()) => Self::hold(path, file).map(Some),
                // A portalocker-style holder that gave up waiting for the exclusive
                // create opened our new file and took its OS lock: it holds the lock.
                Err(_) => Ok(None),
            },
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Self::take_over_if_stale(path),
            Err(e) => Err(cache_error(format!(
                "cannot create the token cache lock {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes the holder line into a lock file whose OS lock this process has.
    fn hold(path: &Path, mut file: File) -> Result<CacheLock> {
        let program = std::env::args().next().unwrap_or_default();
        let line = format!("{} {program}", std::process::id());
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(line.as_bytes()))
            .and_then(|()| file.flush());
        let taken = CacheLock {
            path: path.to_owned(),
            file: Some(file),
        };
        written.map_err(|e| {
            cache_error(format!(
                "cannot write the token cache lock {}: {e}",
                path.display()
            ))
        })?;
        lock(held()).insert(path.to_owned());
        Ok(taken)
    }

    /// Takes the lock file at `path` over when its holder is gone; `None` when it is
    /// held (or was released meanwhile: the caller tries again).
    fn take_over_if_stale(path: &Path) -> Result<Option<CacheLock>> {
        let Ok(mut file) = OpenOptions::new().read(true).write(true).open(path) else {
            return Ok(None);
        };
        // A live holder keeps its OS lock (tokenhop, portalocker-style MSAL).
        if file.try_lock().is_err() || !is_still_at(&file, path) {
            return Ok(None);
        }
        let mut text = String::new();
        if file.read_to_string(&mut text).is_err() {
            return Ok(None);
        }
        let holder = Holder::parse(&text);
        let stale = match holder.pid {
            Some(pid) if pid == std::process::id() => !lock(held()).contains(path),
            Some(pid) => process_alive::state(pid.into()) == process_alive::State::Dead,
            None => age(&file).is_some_and(|age| age > EMPTY_LOCK_GRACE),
        };
        if !stale {
            return Ok(None);
        }
        tracing::warn!(
            lock = %path.display(),
            holder = %holder.describe(),
            "the token cache lock was left by a process that is gone; taking it over"
        );
        Self::hold(path, file).map(Some)
    }

    fn timed_out(path: &Path, timeout: Duration) -> tokenhop_core::Error {
        let holder = std::fs::read_to_string(path)
            .map(|text| Holder::parse(&text).describe())
            .unwrap_or_else(|_| "another process".to_owned());
        cache_error(format!(
            "the token cache lock {} is held by {holder} and was not released within {:.1} s; \
             if that process is stuck, stop it (or delete the lock file if no process holds it), \
             or give the cache a longer lock timeout",
            path.display(),
            timeout.as_secs_f64()
        ))
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        // The file goes first, then the OS lock (when the file closes): a waiter that
        // gets the OS lock of the deleted file sees it is no longer at the path.
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(lock = %self.path.display(), error = %e, "cannot delete the token cache lock file");
        }
        lock(held()).remove(&self.path);
        drop(self.file.take());
    }
}

/// True when `file` is still the file at `path` (not deleted or replaced since opened).
fn is_still_at(file: &File, path: &Path) -> bool {
    let (Ok(open), Ok(named)) = (
        file.try_clone().and_then(same_file::Handle::from_file),
        same_file::Handle::from_path(path),
    ) else {
        return false;
    };
    open == named
}

fn age(file: &File) -> Option<Duration> {
    let modified = file.metadata().and_then(|m| m.modified()).ok()?;
    SystemTime::now().duration_since(modified).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_then_times_out_naming_the_lock_and_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json.lockfile");
        let first = CacheLock::acquire(&path, Duration::from_secs(1)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(&format!("{} ", std::process::id())),
            "{text}"
        );
        let started = Instant::now();
        let error = CacheLock::acquire(&path, Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(
            error.contains(&format!("process {}", std::process::id())),
            "{error}"
        );
        drop(first);
        assert!(!path.exists());
        CacheLock::acquire(&path, Duration::from_millis(300)).unwrap();
    }

    #[test]
    fn a_lock_file_naming_a_dead_process_is_taken_over_and_a_live_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json.lockfile");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(&path, format!("{dead} /usr/bin/python3")).unwrap();
        let taken = CacheLock::acquire(&path, Duration::from_millis(500)).unwrap();
        drop(taken);

        let mut alive = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(&path, format!("{} az", alive.id())).unwrap();
        let error = CacheLock::acquire(&path, Duration::from_millis(200)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("process {} (az)", alive.id())),
            "{error}"
        );
        alive.kill().unwrap();
        alive.wait().unwrap();
        CacheLock::acquire(&path, Duration::from_millis(500)).unwrap();
    }

    #[test]
    fn a_lock_file_naming_this_process_that_it_does_not_hold_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json.lockfile");
        std::fs::write(&path, format!("{} tokenhop", std::process::id())).unwrap();
        CacheLock::acquire(&path, Duration::from_millis(500)).unwrap();
    }
}
