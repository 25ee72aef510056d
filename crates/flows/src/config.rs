//! [`AuthConfig`]: the flow, its settings and the cache, from a JSON, YAML or TOML file.
//!
//! ```yaml
//! scopes: [https://graph.microsoft.com/.default]
//! cache: { path: /var/lib/app/token_cache.json }   # or { disabled: true }; default: platform path
//! # or, for a fleet (feature `redis`): one token request per token lifetime for all
//! # cache: { redis: { url: "redis://cache:6379/0", prefix: "app:", encryption_key: ${CACHE_KEY}, lease_ms: 5000 } }
//! ca_cert: /etc/app/extra-ca.pem                  # optional extra trusted CA
//! client_capabilities: [cp1]                      # optional: CAE-aware (xms_cc)
//! additionally_allowed_tenants: [fabrikam.com]   # optional: per-request tenants ("*": any)
//! proxy: http://proxy.corp.example:3128           # or none; default: HTTPS_PROXY & co.
//! no_proxy: .corp.example,10.0.0.0/8              # hosts that bypass the proxy
//! cloud: usgov                                    # public (default), usgov, usgov-dod, china
//! validate_authority: true                        # false: trust the authority unchecked
//! flow:
//!   type: client-secret
//!   authority: https://login.microsoftonline.com/contoso.onmicrosoft.com
//!   client_id: 1c0e6f6a-2b3c-4d5e-8f90-a1b2c3d4e5f6
//!   client_secret: ${APP_SECRET}                  # or { file: /run/secrets/app }
//! ```
//!
//! Flow types: every [`crate::FlowKind`] — `client-secret`, `client-certificate`,
//! `on-behalf-of`, `silent`, `device-code`, `interactive`, `managed-identity`,
//! `workload-identity`, `agent-identity`, `agent-user`, `azure-cli`, `environment`,
//! `default`; their settings are those of
//! [`FlowConfig`]'s variants. A generic OpenID Connect provider is declared with
//! `issuer: URL` in the flow instead of `authority:`. `cloud` picks the default scopes
//! (that cloud's Graph) and the Agent ID flows' authority host. A `certificate` (or
//! `blueprint_certificate`) is a file's path, or a key that stays in a PKCS#11 token:
//! `{ pkcs11: { module: PATH, uri: "pkcs11:token=…;object=…", pin: { env: VAR } } }`
//! (or `pin: { file: PATH }`; [`crate::Pkcs11Key`]). Unknown fields are refused by
//! name, and every error names the file and the field (never a secret's value).
//! Callables (assertion callbacks, custom signers, persistence callbacks) cannot be
//! written in a file: use the builders for those.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tokenhop_core::{Error, Result, ScopedProvider, Scopes, TokenCredential, TokenCredentialExt};

use crate::authority::Authority;
use crate::cache_location::CacheLocation;
use crate::cloud::Cloud;
use crate::flow::{FlowConfig, FlowKind, SecretSource};
use crate::http::AuthorityValidation;
use crate::http::{HttpClient, HttpConfig, ProxyConfig};

/// Cache settings: a path, disabled, or Redis; the platform default path otherwise.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// The cache file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Keep tokens in memory only.
    #[serde(default)]
    pub disabled: bool,
    /// A Redis cache that a fleet of processes shares (needs the `redis` feature).
    #[serde(default)]
    pub redis: Option<RedisCacheConfig>,
}

/// `cache.redis`: a token cache in Redis shared by a fleet.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisCacheConfig {
    /// `redis://host:port/db` or `rediss://…` (TLS); `${VAR}` when it holds a password.
    pub url: SecretSource,
    /// Put before every key (default `tokenhop:`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Seal values at rest with this AES-256 key (32 bytes, base64 or hex), e.g.
    /// `${CACHE_KEY}`; without it values are MSAL's JSON.
    #[serde(default)]
    pub encryption_key: Option<SecretSource>,
    /// Keys rotated out, still used to open what they sealed.
    #[serde(default)]
    pub decryption_keys: Vec<SecretSource>,
    /// How long a token request's lease lives without renewal: the longest a crashed
    /// holder delays the others (default 5000).
    #[serde(default)]
    pub lease_ms: Option<u64>,
    /// The bound on every Redis call (default 500).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// `url` is a node of a Redis Cluster.
    #[serde(default)]
    pub cluster: bool,
    /// A CA certificate (PEM) to trust for `rediss://`.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

impl CacheConfig {
    /// Where the tokens go; an error when more than one place is named.
    pub fn location(&self) -> Result<CacheLocation> {
        match (&self.path, self.disabled, &self.redis) {
            (None, false, None) => Ok(CacheLocation::PlatformDefault),
            (Some(path), false, None) => Ok(CacheLocation::Path(path.clone())),
            (None, true, None) => Ok(CacheLocation::Disabled),
            (None, false, Some(redis)) => redis.location(),
            _ => Err(Error::configuration(
                "cache: give one of path, disabled or redis",
            )),
        }
    }
}

impl RedisCacheConfig {
    #[cfg(feature = "redis")]
    fn location(&self) -> Result<CacheLocation> {
        use tokenhop_redis::{EncryptionKey, RedisSettings};
        let key = |source: &SecretSource, field: &str| {
            EncryptionKey::parse(source.resolve(field)?.expose_secret())
                .map_err(|e| Error::configuration(format!("{field}: {e}")))
        };
        let url = self.url.resolve("cache.redis.url")?;
        let mut settings = RedisSettings::new(url.expose_secret()).with_cluster(self.cluster);
        if let Some(prefix) = &self.prefix {
            settings = settings.with_prefix(prefix);
        }
        if let Some(source) = &self.encryption_key {
            settings = settings.with_encryption_key(key(source, "cache.redis.encryption_key")?);
        }
        for (n, source) in self.decryption_keys.iter().enumerate() {
            let field = format!("cache.redis.decryption_keys[{n}]");
            settings = settings.with_decryption_key(key(source, &field)?);
        }
        if let Some(ms) = self.lease_ms {
            settings = settings.with_lease(std::time::Duration::from_millis(ms));
        }
        if let Some(ms) = self.timeout_ms {
            settings = settings.with_timeout(std::time::Duration::from_millis(ms));
        }
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).map_err(|e| {
                Error::configuration(format!(
                    "cache.redis.ca_cert: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            settings = settings.with_ca_cert(pem);
        }
        Ok(CacheLocation::Redis(settings))
    }

    #[cfg(not(feature = "redis"))]
    fn location(&self) -> Result<CacheLocation> {
        Err(Error::configuration(format!(
            "cache.redis: {}",
            crate::cache_location::redis_not_built()
        )))
    }
}

/// A whole configuration: the flow and what every flow shares.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthConfig {
    /// The flow and its settings.
    pub flow: FlowConfig,
    /// Scopes to ask for (default: Graph's `/.default`).
    pub scopes: Vec<String>,
    /// Where tokens are kept.
    pub cache: CacheConfig,
    /// An extra trusted CA (PEM), e.g. the emulator's.
    pub ca_cert: Option<PathBuf>,
    /// Client capabilities sent with every token request (`cp1`).
    pub client_capabilities: Vec<String>,
    /// Tenants besides the flow's own a request may name (`*` for any).
    pub additionally_allowed_tenants: Vec<String>,
    /// Which proxy requests go through (the file's `proxy` and `no_proxy`; default: the
    /// environment's).
    pub proxy: ProxyConfig,
    /// The cloud: default scopes, and the Agent ID flows' authority host.
    pub cloud: Cloud,
    /// Whether the authority is validated (`validate_authority`, default true).
    pub validate_authority: bool,
}

/// The file's top level, with the flow still a table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    flow: serde_json::Map<String, serde_json::Value>,
    /// Scopes to ask for (default: Graph's `/.default`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Where tokens are kept.
    #[serde(default)]
    pub cache: CacheConfig,
    /// An extra trusted CA (PEM), e.g. the emulator's.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    client_capabilities: Vec<String>,
    #[serde(default)]
    additionally_allowed_tenants: Vec<String>,
    /// A proxy URL, or `none`.
    #[serde(default)]
    proxy: Option<String>,
    /// Hosts that bypass the proxy.
    #[serde(default)]
    no_proxy: Option<String>,
    /// The cloud.
    #[serde(default)]
    cloud: Cloud,
    /// Whether the authority is validated.
    #[serde(default = "validate_by_default")]
    validate_authority: bool,
}

fn validate_by_default() -> bool {
    true
}

/// The proxy a file names: `none`, a URL, or the environment's; `no_proxy` either way.
fn proxy_from(proxy: Option<&str>, no_proxy: Option<&str>) -> Result<ProxyConfig> {
    let proxy = match proxy.map(str::trim) {
        Some(none) if none.eq_ignore_ascii_case("none") => ProxyConfig::none(),
        Some(url) => ProxyConfig::url(url).map_err(crate::flow::field_error("proxy"))?,
        None => ProxyConfig::from_env(),
    };
    Ok(match no_proxy {
        Some(hosts) => proxy.with_no_proxy(hosts),
        None => proxy,
    })
}

/// The flows whose settings name an authority (and so may name an issuer instead).
fn takes_authority(kind: FlowKind) -> bool {
    matches!(
        kind,
        FlowKind::ClientSecret
            | FlowKind::ClientCertificate
            | FlowKind::OnBehalfOf
            | FlowKind::Silent
            | FlowKind::DeviceCode
            | FlowKind::Interactive
    )
}

/// The flow from a file's `flow` table: `type` picks the variant, the rest are its
/// fields. Errors name the field (`flow.port`).
fn flow_from_table(mut table: serde_json::Map<String, serde_json::Value>) -> Result<FlowConfig> {
    let kind = match table.remove("type") {
        Some(serde_json::Value::String(kind)) => kind,
        Some(_) => return Err(Error::configuration("flow.type: must be a string")),
        None => {
            return Err(Error::configuration(format!(
                "flow.type: missing; one of {}",
                FlowKind::names()
            )));
        }
    };
    fn fields<T: serde::de::DeserializeOwned>(
        table: serde_json::Map<String, serde_json::Value>,
    ) -> Result<T> {
        serde_path_to_error::deserialize(serde_json::Value::Object(table)).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "flow".to_owned()
            } else {
                format!("flow.{path}")
            };
            Error::configuration(format!("{field}: {}", e.into_inner()))
        })
    }
    let Some(kind) = FlowKind::from_name(&kind) else {
        return Err(Error::configuration(format!(
            "flow.type: unknown flow '{kind}'; one of {}",
            FlowKind::names()
        )));
    };
    if let Some(issuer) = table.remove("issuer") {
        if !takes_authority(kind) {
            return Err(Error::configuration(format!(
                "flow.issuer: the {kind} flow takes no issuer"
            )));
        }
        if table.contains_key("authority") {
            return Err(Error::configuration(
                "flow.issuer: give an authority or an issuer, not both",
            ));
        }
        let serde_json::Value::String(issuer) = issuer else {
            return Err(Error::configuration("flow.issuer: must be a URL"));
        };
        // A declared issuer is validated by its discovery document alone.
        Authority::oidc(&issuer).map_err(crate::flow::field_error("flow.issuer"))?;
        table.insert("authority".into(), serde_json::json!({ "issuer": issuer }));
    }
    Ok(match kind {
        FlowKind::ClientSecret => FlowConfig::ClientSecret(fields(table)?),
        FlowKind::ClientCertificate => FlowConfig::ClientCertificate(fields(table)?),
        FlowKind::OnBehalfOf => FlowConfig::OnBehalfOf(fields(table)?),
        FlowKind::Silent => FlowConfig::Silent(fields(table)?),
        FlowKind::DeviceCode => FlowConfig::DeviceCode(fields(table)?),
        FlowKind::Interactive => FlowConfig::Interactive(fields(table)?),
        FlowKind::ManagedIdentity => FlowConfig::ManagedIdentity(fields(table)?),
        FlowKind::WorkloadIdentity => FlowConfig::WorkloadIdentity(fields(table)?),
        FlowKind::AgentIdentity => FlowConfig::AgentIdentity(fields(table)?),
        FlowKind::AgentUser => FlowConfig::AgentUser(fields(table)?),
        FlowKind::AzureCli => FlowConfig::AzureCli(fields(table)?),
        FlowKind::Environment => FlowConfig::Environment(fields(table)?),
        FlowKind::Default => FlowConfig::Default(fields(table)?),
    })
}

/// A built configuration: the credential and the scopes to ask it for.
pub struct BuiltAuth {
    /// The credential.
    pub credential: Arc<dyn TokenCredential>,
    /// The scopes.
    pub scopes: Scopes,
    /// The HTTP client the credential sends through (trusting the file's `ca_cert`):
    /// for other requests to the same places, and for its
    /// [`HttpClient::requests_sent`], which tells a cache hit from a fetch.
    pub http: HttpClient,
}

impl std::fmt::Debug for BuiltAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltAuth")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl BuiltAuth {
    /// A provider asking the credential for the scopes.
    pub fn provider(&self) -> ScopedProvider<Arc<dyn TokenCredential>> {
        Arc::clone(&self.credential).into_provider(self.scopes.clone())
    }
}

impl AuthConfig {
    /// Reads `path`: YAML for `.yaml`/`.yml`, TOML for `.toml`, JSON otherwise.
    pub fn from_file(path: &Path) -> Result<Self> {
        let in_file = |message: String| {
            Error::configuration(format!("{}: {}", path.display(), message.trim()))
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| in_file(format!("cannot read it: {e}")))?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        // Every format becomes one JSON value, so that errors name fields the same way.
        let value: serde_json::Value = match extension.as_deref() {
            Some("yaml" | "yml") => serde_yaml_ng::from_str(&text).map_err(|e| e.to_string()),
            Some("toml") => toml::from_str(&text).map_err(|e| e.to_string()),
            _ => serde_json::from_str(&text).map_err(|e| e.to_string()),
        }
        .map_err(in_file)?;
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            in_file(format!("{field}{}", e.into_inner()))
        })?;
        let flow = flow_from_table(raw.flow).map_err(|e| match e {
            Error::Configuration { message } => in_file(message),
            other => other,
        })?;
        let proxy =
            proxy_from(raw.proxy.as_deref(), raw.no_proxy.as_deref()).map_err(|e| match e {
                Error::Configuration { message } => in_file(message),
                other => other,
            })?;
        Ok(Self {
            flow,
            scopes: raw.scopes,
            cache: raw.cache,
            ca_cert: raw.ca_cert,
            client_capabilities: raw.client_capabilities,
            additionally_allowed_tenants: raw.additionally_allowed_tenants,
            proxy,
            cloud: raw.cloud,
            validate_authority: raw.validate_authority,
        })
    }

    /// Reads `path` and builds it; errors name the file.
    pub fn load(path: &Path) -> Result<BuiltAuth> {
        Self::from_file(path)?.build().map_err(|e| match e {
            Error::Configuration { message } => {
                Error::configuration(format!("{}: {message}", path.display()))
            }
            other => other,
        })
    }

    /// The credential (no I/O beyond reading files the configuration names).
    pub fn build(&self) -> Result<BuiltAuth> {
        let scopes = if self.scopes.is_empty() {
            Scopes::new([self.cloud.graph_default_scope()])?
        } else {
            Scopes::new(self.scopes.iter().map(String::as_str))
                .map_err(|e| Error::configuration(format!("scopes: {e}")))?
        };
        let cache = self.cache.location()?.open()?;
        let mut http = HttpConfig::default().with_proxy(self.proxy.clone());
        if !self.validate_authority {
            http = http.with_authority_validation(AuthorityValidation::off());
        }
        if let Some(ca) = &self.ca_cert {
            let pem = std::fs::read(ca).map_err(|e| {
                Error::configuration(format!("ca_cert: cannot read {}: {e}", ca.display()))
            })?;
            http = http.with_extra_ca_pem(pem);
        }
        let http = HttpClient::new(http)?;
        let credential = self
            .flow
            .clone()
            .in_cloud(self.cloud)
            .credential()
            .http(http.clone())
            .cache(cache)
            .client_capabilities(self.client_capabilities.clone())
            .additionally_allowed_tenants(self.additionally_allowed_tenants.clone())
            .build()?;
        Ok(BuiltAuth {
            credential,
            scopes,
            http,
        })
    }
}
