//! The global options turned into what the library needs — the token cache, the HTTP
//! client, the authority, the client id — and what every command shares: scopes,
//! passwords, files, the async runtime.

use std::path::{Path, PathBuf};

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Scopes, Secret};
use tokenhop_flows::{
    Authority, AuthorityValidation, CacheLocation, Cloud, EncryptionKey, HttpClient, HttpConfig,
    ProxyConfig,
};

use crate::cli::GlobalArgs;
use crate::failure::{Failure, Outcome, config};

/// The environment variable that holds the client secret.
pub const CLIENT_SECRET_ENV: &str = "TOKENHOP_CLIENT_SECRET";

/// The environment variable that holds the key of a Redis cache sealed at rest.
pub const REDIS_KEY_ENV: &str = "TOKENHOP_REDIS_ENCRYPTION_KEY";

impl GlobalArgs {
    /// Where the cache is: `--cache` (a file's path, or a `redis://` / `rediss://`
    /// URL), else the platform default file; memory with `--no-cache`.
    pub fn cache_location(&self) -> Outcome<CacheLocation> {
        let location = match (&self.cache, self.no_cache) {
            (_, true) => CacheLocation::Disabled,
            (Some(given), false) => match given.to_str() {
                Some(text) => CacheLocation::from_path_or_url(text)?,
                None => CacheLocation::Path(given.clone()),
            },
            (None, false) => CacheLocation::PlatformDefault,
        };
        let key = std::env::var(REDIS_KEY_ENV).ok().filter(|k| !k.is_empty());
        match (location, key) {
            (CacheLocation::Redis(settings), Some(key)) => Ok(CacheLocation::Redis(
                settings.with_encryption_key(EncryptionKey::parse(&key)?),
            )),
            (_, Some(_)) => Err(config(format!(
                "{REDIS_KEY_ENV} is set, but --cache names no Redis cache: unset it, or give --cache redis://…"
            ))),
            (location, None) => Ok(location),
        }
    }

    /// The cache every credential of this command shares (so that a cached token is
    /// found without any request); in memory with `--no-cache`.
    pub fn token_cache(&self) -> Outcome<SharedTokenCache> {
        Ok(self.cache_location()?.open()?)
    }

    /// The cache file, for the commands that only make sense with one.
    pub fn cache_file(&self) -> Outcome<(PathBuf, SharedTokenCache)> {
        let path = match self.cache_location()? {
            CacheLocation::Path(path) => path,
            CacheLocation::PlatformDefault => tokenhop_cache::default_path()?,
            CacheLocation::Disabled => {
                return Err(config(
                    "this command works on the cache file; drop --no-cache",
                ));
            }
            _ => {
                return Err(config(
                    "this command works on a cache file, and --cache names a Redis cache: look at that one with redis-cli",
                ));
            }
        };
        Ok((path.clone(), SharedTokenCache::file(path)))
    }

    /// A cache that outlives the command (a file or Redis), for the commands that
    /// change what is signed in.
    pub fn lasting_cache(&self) -> Outcome<SharedTokenCache> {
        match self.cache_location()? {
            CacheLocation::Disabled => {
                Err(config("this command changes the cache; drop --no-cache"))
            }
            location => Ok(location.open()?),
        }
    }

    /// One HTTP client for every request of the command (so that its count of requests
    /// sent covers them all), trusting `--ca-cert` too.
    pub fn http(&self) -> Outcome<HttpClient> {
        if let Some(http) = self.http_client.get() {
            return Ok(http.clone());
        }
        let mut config = HttpConfig::default();
        if let Some(path) = &self.ca_cert {
            let pem = read_file(path, "the CA certificate (--ca-cert)")?;
            config = config.with_extra_ca_pem(pem);
        }
        if let Some(proxy) = self.proxy()? {
            config = config.with_proxy(proxy);
        }
        if self.no_authority_validation {
            config = config.with_authority_validation(AuthorityValidation::off());
        }
        let http = HttpClient::new(config)?;
        Ok(self.http_client.get_or_init(|| http).clone())
    }

    /// The proxy `--proxy` or `--no-proxy` asks for; `None`: the environment's.
    pub fn proxy(&self) -> Outcome<Option<ProxyConfig>> {
        Ok(match (&self.proxy, self.no_proxy) {
            (Some(url), _) => Some(ProxyConfig::url(url)?),
            (None, true) => Some(ProxyConfig::none()),
            (None, false) => None,
        })
    }

    /// The cloud (`--cloud`; the public cloud by default).
    pub fn cloud(&self) -> Cloud {
        self.cloud.unwrap_or_default()
    }

    /// Whether an authority was given, in any of its forms.
    pub fn has_authority(&self) -> bool {
        self.authority.is_some() || self.issuer.is_some() || self.tenant.is_some()
    }

    /// The authority: `--authority`, `--issuer` (a generic OpenID Connect provider), or
    /// `--tenant` at the cloud's authority host.
    pub fn authority(&self) -> Outcome<Authority> {
        if let Some(issuer) = &self.issuer {
            return Ok(Authority::oidc(issuer)?);
        }
        if let Some(tenant) = &self.tenant {
            return Ok(Authority::parse(&format!(
                "{}/{}",
                self.cloud().authority_host(),
                tenant.trim()
            ))?);
        }
        let text = self.authority.as_deref().ok_or_else(|| {
            config(
                "no authority: give --authority https://login.microsoftonline.com/{tenant}, --tenant (with --cloud), \
                 or --issuer URL for another OpenID Connect provider (or set TOKENHOP_AUTHORITY)",
            )
        })?;
        Ok(Authority::parse(text)?)
    }

    /// The client id (`--client-id` or TOKENHOP_CLIENT_ID).
    pub fn client_id(&self) -> Outcome<ClientId> {
        let text = self
            .client_id
            .as_deref()
            .ok_or_else(|| config("no client id: give --client-id or set TOKENHOP_CLIENT_ID"))?;
        Ok(ClientId::new(text)?)
    }
}

/// The scopes given with `--scope` (each value may hold several, space-separated).
pub fn scopes(values: &[String]) -> Outcome<Scopes> {
    let scopes = Scopes::new(values)?;
    if scopes.is_empty() {
        return Err(config("give at least one --scope"));
    }
    Ok(scopes)
}

/// The password in the environment variable `var`, if one was named.
pub fn password(var: Option<&str>) -> Outcome<Option<Secret>> {
    let Some(var) = var else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(value) => Ok(Some(Secret::new(value))),
        Err(_) => Err(config(format!(
            "the password variable {var} (--password-env) is not set or not UTF-8"
        ))),
    }
}

/// Reads a file the user named, with an error that says which one.
pub fn read_file(path: &Path, what: &str) -> Outcome<Vec<u8>> {
    std::fs::read(path).map_err(|e| config(format!("cannot read {what} {}: {e}", path.display())))
}

/// A small runtime for one command's requests.
pub fn runtime() -> Outcome<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the async runtime: {e}")))
}
