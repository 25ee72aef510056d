//! [`CacheLocation`]: where a credential built from settings keeps its tokens.

use std::path::PathBuf;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::Result;

/// Where tokens are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheLocation {
    /// `token_cache.json` in the platform's user config directory.
    #[default]
    PlatformDefault,
    /// A file of the caller's choosing.
    Path(PathBuf),
    /// Memory only: nothing is written.
    Disabled,
}

impl CacheLocation {
    /// The cache (the file is read on first use, not here).
    pub fn open(&self) -> Result<SharedTokenCache> {
        Ok(match self {
            Self::PlatformDefault => SharedTokenCache::file(tokenhop_cache::default_path()?),
            Self::Path(path) => SharedTokenCache::file(path),
            Self::Disabled => SharedTokenCache::in_memory(),
        })
    }
}
