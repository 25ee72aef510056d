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
    /// Redis, shared by a fleet of processes: partitions as MSAL.NET keys them, one
    /// token request per token lifetime for the fleet (feature `redis`).
    #[cfg(feature = "redis")]
    Redis(tokenhop_redis::RedisSettings),
}

impl CacheLocation {
    /// The cache (the file is read, Redis reached, on first use, not here).
    pub fn open(&self) -> Result<SharedTokenCache> {
        Ok(match self {
            Self::PlatformDefault => SharedTokenCache::file(tokenhop_cache::default_path()?),
            Self::Path(path) => SharedTokenCache::file(path),
            Self::Disabled => SharedTokenCache::in_memory(),
            #[cfg(feature = "redis")]
            Self::Redis(settings) => {
                tokenhop_redis::RedisCache::builder(settings.clone()).build()?
            }
        })
    }

    /// A location from text: a `redis://` or `rediss://` URL picks Redis (with its
    /// defaults), anything else is a file's path.
    pub fn from_path_or_url(text: &str) -> Result<Self> {
        if !is_redis_url(text) {
            return Ok(Self::Path(PathBuf::from(text)));
        }
        #[cfg(feature = "redis")]
        return Ok(Self::Redis(tokenhop_redis::RedisSettings::new(text)));
        #[cfg(not(feature = "redis"))]
        Err(redis_not_built())
    }
}

/// True for `redis://…` and `rediss://…`.
pub(crate) fn is_redis_url(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    lower.starts_with("redis://") || lower.starts_with("rediss://")
}

/// The error for a Redis cache in a build without it.
#[cfg(not(feature = "redis"))]
pub(crate) fn redis_not_built() -> tokenhop_core::Error {
    tokenhop_core::Error::configuration(
        "a Redis token cache needs tokenhop-flows built with its `redis` feature",
    )
}
