//! Azure Arc's challenge secrets: the key files the emulated agent writes into its token
//! directory (`{state_dir}/azcmagent/tokens`), the secrets it accepts back, and the realm
//! a test may make it name instead (a hostile agent pointing at some other file).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How many issued secrets stay valid (the oldest are forgotten first).
const REMEMBERED: usize = 64;

/// The key files and secrets of the emulated Arc agent.
#[derive(Default)]
pub(crate) struct ArcKeys {
    /// Where key files go; `None` when the emulator has no state directory.
    dir: Option<PathBuf>,
    issued: Mutex<VecDeque<String>>,
    realm_override: Mutex<Option<String>>,
}

impl ArcKeys {
    /// Key files go to `{state_dir}/azcmagent/tokens`.
    pub(crate) fn new(state_dir: Option<&Path>) -> Self {
        Self {
            dir: state_dir.map(Self::token_dir),
            ..Self::default()
        }
    }

    /// The token directory under a state directory.
    pub(crate) fn token_dir(state_dir: &Path) -> PathBuf {
        state_dir.join("azcmagent").join("tokens")
    }

    /// The realm for a new challenge: a fresh key file's path (the file is written, mode
    /// 0600), or the override a test set. Errors say why no key file could be written.
    pub(crate) fn challenge(&self) -> Result<String, String> {
        if let Some(realm) = lock(&self.realm_override).clone() {
            return Ok(realm);
        }
        let Some(dir) = &self.dir else {
            return Err(
                "the emulator has no state directory for Azure Arc key files; start it with a state dir"
                    .into(),
            );
        };
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let path = dir.join(format!("{}.key", uuid::Uuid::new_v4()));
        write_private(dir, &path, &secret)
            .map_err(|e| format!("cannot write the key file {}: {e}", path.display()))?;
        let mut issued = lock(&self.issued);
        if issued.len() == REMEMBERED {
            issued.pop_front();
        }
        issued.push_back(secret);
        Ok(path.display().to_string())
    }

    /// True for a secret a key file held.
    pub(crate) fn accepts(&self, secret: &str) -> bool {
        lock(&self.issued).iter().any(|s| s == secret)
    }

    /// Makes later challenges name `realm` (`None`: fresh key files again).
    pub(crate) fn set_realm(&self, realm: Option<String>) {
        *lock(&self.realm_override) = realm;
    }
}

fn write_private(dir: &Path, path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(path)?, contents.as_bytes())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
