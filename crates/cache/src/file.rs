//! [`FilePersistence`]: the cache in a file, written atomically with an owner-only mode
//! (0600; an owner-only ACL on Windows), with msal-extensions' cross-process lock
//! (`<file>.lockfile`) around each update, and corrupt files moved aside.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokenhop_core::Result;
use zeroize::Zeroizing;

use crate::lock::CacheLock;
use crate::persist::{Blob, Persistence, Stored, cache_error};
use crate::stamp::Stamp;

/// How long an update waits for another process's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The cache in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePersistence {
    path: PathBuf,
    lock_timeout: Duration,
}

/// What a file held: text, or bytes that are not (kept aside by a locked read).
enum Content {
    Text(Blob),
    NotUtf8,
}

impl FilePersistence {
    /// The cache at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// The cache at the platform's default place: the user config directory
    /// (`~/.config/tokenhop/token_cache.json` on Linux).
    pub fn at_default_path() -> Result<Self> {
        default_path().map(Self::new)
    }

    /// How long an update waits for another process to release the lock before it
    /// fails with an error naming the lock file ([`DEFAULT_LOCK_TIMEOUT`] unless set).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Where the cache lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file: `<file>.lockfile`, as msal-extensions names it.
    pub fn lock_path(&self) -> PathBuf {
        self.sibling(".lockfile")
    }

    /// `<file><suffix>`, beside the file.
    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    fn read_error(&self, e: std::io::Error) -> tokenhop_core::Error {
        cache_error(format!(
            "cannot read the token cache {}: {e}",
            self.path.display()
        ))
    }

    /// The file's content, read into a buffer of its size (no copies left behind).
    fn read(&self) -> Result<Option<Content>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.read_error(e)),
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut bytes = Zeroizing::new(Vec::with_capacity(
            usize::try_from(len).unwrap_or(0).saturating_add(1),
        ));
        file.read_to_end(&mut bytes)
            .map_err(|e| self.read_error(e))?;
        match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(Some(Content::Text(Zeroizing::new(text.to_owned())))),
            Err(_) => Ok(Some(Content::NotUtf8)),
        }
    }

    /// Renames a file that cannot be read as a cache to `<name>.corrupt-<timestamp>`, so
    /// nothing is silently overwritten.
    fn move_aside(&self, why: &str) {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let aside = self.sibling(&format!(".corrupt-{stamp}"));
        match std::fs::rename(&self.path, &aside) {
            Ok(()) => {
                tracing::warn!(path = %self.path.display(), kept_at = %aside.display(), reason = why, "the token cache file was unreadable; it was moved aside and the cache starts empty")
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, reason = why, "the token cache file is unreadable and could not be moved aside")
            }
        }
    }

    fn write_atomically(&self, text: &str) -> Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let failed = |what: &str, e: std::io::Error| {
            cache_error(format!(
                "cannot {what} the token cache {}: {e}",
                self.path.display()
            ))
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".tokenhop-cache-")
            .tempfile_in(dir)
            .map_err(|e| failed("write", e))?;
        crate::owner_only::restrict(temp.as_file_mut()).map_err(|e| failed("protect", e))?;
        temp.write_all(text.as_bytes())
            .map_err(|e| failed("write", e))?;
        temp.as_file().sync_all().map_err(|e| failed("flush", e))?;
        temp.persist(&self.path)
            .map_err(|e| failed("replace", e.error))?;
        // The rename is durable only once the directory entry is.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    pub(crate) fn ensure_parent(&self) -> Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| cache_error(format!("cannot create {}: {e}", parent.display())))?;
        }
        Ok(())
    }

    fn current_stamp(&self) -> Result<Stamp> {
        Stamp::of_file(&self.path).map_err(|e| self.read_error(e))
    }
}

impl Persistence for FilePersistence {
    /// Reads without the lock, as msal-extensions' lookups do: a file that is not UTF-8
    /// (perhaps caught half-written) is an error, which the cache reads again under
    /// the lock.
    fn load(&self) -> Result<Option<Blob>> {
        match self.read()? {
            None => Ok(None),
            Some(Content::Text(text)) => Ok(Some(text)),
            Some(Content::NotUtf8) => Err(cache_error(format!(
                "the token cache {} is not UTF-8 text",
                self.path.display()
            ))),
        }
    }

    fn stamp(&self) -> Result<Option<Stamp>> {
        self.current_stamp().map(Some)
    }

    fn quarantine(&self, reason: &str) {
        self.move_aside(reason);
    }

    fn update(
        &self,
        change: &mut dyn FnMut(&Stored<'_>) -> Result<Option<Blob>>,
    ) -> Result<Option<Stamp>> {
        self.ensure_parent()?;
        let _lock = CacheLock::acquire(&self.lock_path(), self.lock_timeout)?;
        // Under the lock no writer is busy: a file that is not text is corrupt.
        let load = || match self.read()? {
            None => Ok(None),
            Some(Content::Text(text)) => Ok(Some(text)),
            Some(Content::NotUtf8) => {
                self.move_aside("it is not UTF-8 text");
                Ok(None)
            }
        };
        let stored = Stored::new(Some(self.current_stamp()?), &load);
        if let Some(next) = change(&stored)? {
            self.write_atomically(&next)?;
        }
        self.current_stamp().map(Some)
    }
}

/// The platform's default cache path.
pub fn default_path() -> Result<PathBuf> {
    directories::ProjectDirs::from("", "", "tokenhop")
        .map(|dirs| dirs.config_dir().join("token_cache.json"))
        .ok_or_else(|| {
            cache_error(
                "no home directory to keep the token cache in; give a path or disable persistence",
            )
        })
}
