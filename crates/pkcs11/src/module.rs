//! The loaded PKCS#11 modules of this process. A module is initialized once per
//! process (`C_Initialize` twice is an error), so signers on the same module share
//! one context, and the last one to go finalizes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};

use crate::Pkcs11Error;

struct Loaded {
    context: Pkcs11,
    users: usize,
    /// False when something else in the process had initialized the module: then it
    /// is theirs to finalize.
    finalize: bool,
}

/// Loaded modules by canonical path. Loading, counting and finalizing all happen under
/// this lock, so a module is never finalized while another signer initializes it.
static LOADED: Mutex<BTreeMap<PathBuf, Loaded>> = Mutex::new(BTreeMap::new());

/// One user's share of a loaded, initialized module.
pub(crate) struct Module {
    path: PathBuf,
    context: Pkcs11,
}

impl Module {
    /// Loads and initializes the module at `path`, or shares the one already loaded.
    pub(crate) fn open(path: &Path) -> Result<Self, Pkcs11Error> {
        let failed = |reason: String| Pkcs11Error::ModuleLoad {
            module: path.to_owned(),
            reason,
        };
        let canonical = std::fs::canonicalize(path).map_err(|e| failed(e.to_string()))?;
        let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = loaded.get_mut(&canonical) {
            entry.users += 1;
            return Ok(Self {
                path: canonical,
                context: entry.context.clone(),
            });
        }
        let context = Pkcs11::new(&canonical).map_err(|e| failed(e.to_string()))?;
        let finalize =
            match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
                Ok(()) => true,
                Err(CryptokiError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => false,
                Err(e) => return Err(failed(format!("C_Initialize failed: {e}"))),
            };
        loaded.insert(
            canonical.clone(),
            Loaded {
                context: context.clone(),
                users: 1,
                finalize,
            },
        );
        Ok(Self {
            path: canonical,
            context,
        })
    }

    pub(crate) fn context(&self) -> &Pkcs11 {
        &self.context
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = loaded.get_mut(&self.path) else {
            return;
        };
        entry.users -= 1;
        if entry.users == 0
            && let Some(entry) = loaded.remove(&self.path)
            && entry.finalize
            && let Err(error) = entry.context.finalize()
        {
            tracing::warn!(module = %self.path.display(), %error, "C_Finalize failed");
        }
    }
}
