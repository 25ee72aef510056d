//! [`FilePersistence`]: the cache in a file, written atomically with mode 0600, with a
//! cross-process lock around load-merge-save and corrupt files moved aside.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tokenhop_core::Result;

use crate::persist::{Persistence, cache_error};

/// The cache in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePersistence {
    path: PathBuf,
}

impl FilePersistence {
    /// The cache at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The cache at the platform's default place: the user config directory
    /// (`~/.config/tokenhop/token_cache.json` on Linux).
    pub fn at_default_path() -> Result<Self> {
        default_path().map(Self::new)
    }

    /// Where the cache lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn read(&self) -> Result<Option<String>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(cache_error(format!(
                    "cannot read the token cache {}: {e}",
                    self.path.display()
                )));
            }
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| {
            cache_error(format!(
                "cannot read the token cache {}: {e}",
                self.path.display()
            ))
        })?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Some(text)),
            Err(_) => {
                self.move_aside("it is not UTF-8 text");
                Ok(None)
            }
        }
    }

    /// Renames a file that cannot be read as a cache to `<name>.corrupt-<timestamp>`, so
    /// nothing is silently overwritten.
    fn move_aside(&self, why: &str) {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(format!(".corrupt-{stamp}"));
        let aside = self.path.with_file_name(name);
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
        restrict_permissions(temp.as_file()).map_err(|e| failed("protect", e))?;
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
}

impl Persistence for FilePersistence {
    fn load(&self) -> Result<Option<String>> {
        self.read()
    }

    fn quarantine(&self, reason: &str) {
        self.move_aside(reason);
    }

    fn update(&self, merge: &mut dyn FnMut(Option<String>) -> Result<String>) -> Result<()> {
        self.ensure_parent()?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_path())
            .map_err(|e| {
                cache_error(format!(
                    "cannot open the cache lock {}: {e}",
                    self.lock_path().display()
                ))
            })?;
        lock.lock()
            .map_err(|e| cache_error(format!("cannot lock the token cache: {e}")))?;
        let outcome = match self.read() {
            Ok(current) => merge(current).and_then(|next| self.write_atomically(&next)),
            Err(error) => Err(error),
        };
        let _ = lock.unlock();
        outcome
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

#[cfg(unix)]
fn restrict_permissions(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_permissions(_file: &File) -> std::io::Result<()> {
    Ok(())
}
