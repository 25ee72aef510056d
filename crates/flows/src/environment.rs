//! [`EnvironmentCredential`]: an app's client credentials from the variables every
//! Azure SDK reads (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, and a secret or a
//! certificate), on the confidential client.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{
    AccessToken, BoxFuture, ClientId, Clock, Error, Result, Scopes, Secret, SystemClock, TenantId,
    TokenCredential, TokenRequestOptions,
};

use crate::authority::Authority;
use crate::authority::PUBLIC_CLOUD;
use crate::certificate::CertificateAssertions;
use crate::client_auth::ClientCredential;
use crate::confidential::ConfidentialClient;
use crate::http::HttpClient;

/// How the app authenticates, from the environment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EnvironmentKey {
    /// `AZURE_CLIENT_SECRET`.
    Secret(Secret),
    /// `AZURE_CLIENT_CERTIFICATE_PATH` (PEM with its key, or PFX).
    Certificate {
        /// The file.
        path: PathBuf,
        /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`.
        password: Option<Secret>,
        /// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` (`true` or `1`): send `x5c`, for
        /// subject name and issuer authentication.
        send_chain: bool,
    },
}

/// The variables [`EnvironmentCredential`] reads. `Debug` shows no secret.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EnvironmentSettings {
    /// `AZURE_TENANT_ID`.
    pub tenant_id: TenantId,
    /// `AZURE_CLIENT_ID`.
    pub client_id: ClientId,
    /// `AZURE_CLIENT_SECRET`, else `AZURE_CLIENT_CERTIFICATE_PATH`.
    pub key: EnvironmentKey,
    /// `AZURE_AUTHORITY_HOST`, default the public cloud.
    pub authority_host: String,
}

impl EnvironmentSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables `lookup` returns; the error names every missing one (and
    /// never a value).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let (tenant, client) = (get("AZURE_TENANT_ID"), get("AZURE_CLIENT_ID"));
        let key = match (
            get("AZURE_CLIENT_SECRET"),
            get("AZURE_CLIENT_CERTIFICATE_PATH"),
        ) {
            (Some(secret), _) => Some(EnvironmentKey::Secret(Secret::new(secret.trim()))),
            (None, Some(path)) => Some(EnvironmentKey::Certificate {
                path: PathBuf::from(path),
                password: get("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new),
                send_chain: get("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN").is_some_and(|v| {
                    matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1")
                }),
            }),
            (None, None) => None,
        };
        let missing: Vec<&str> = [
            ("AZURE_TENANT_ID", tenant.is_none()),
            ("AZURE_CLIENT_ID", client.is_none()),
            (
                "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH",
                key.is_none(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        match (tenant, client, key) {
            (Some(tenant), Some(client), Some(key)) => Ok(Self {
                tenant_id: TenantId::new(tenant)?,
                client_id: ClientId::new(client)?,
                key,
                authority_host: get("AZURE_AUTHORITY_HOST")
                    .unwrap_or_else(|| PUBLIC_CLOUD.into())
                    .trim_end_matches('/')
                    .to_owned(),
            }),
            _ => Err(Error::configuration(format!(
                "the environment credential needs {} in the environment",
                missing.join(", ")
            ))),
        }
    }
}

/// Builds an [`EnvironmentCredential`]. Building reads the certificate file, if any,
/// and does no network I/O.
pub struct EnvironmentCredentialBuilder {
    settings: EnvironmentSettings,
    http: Option<HttpClient>,
    cache: Option<SharedTokenCache>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for EnvironmentCredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvironmentCredentialBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl EnvironmentCredentialBuilder {
    /// Sends requests through `http`.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Keeps tokens in `cache` (default: in memory).
    pub fn cache(mut self, cache: SharedTokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Uses `clock` for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The credential.
    pub fn build(self) -> Result<EnvironmentCredential> {
        let s = self.settings;
        let credential = match s.key {
            EnvironmentKey::Secret(secret) => ClientCredential::secret(secret),
            EnvironmentKey::Certificate {
                path,
                password,
                send_chain,
            } => {
                let certificate = ClientCertificate::from_file(
                    &path,
                    password.as_ref().map(Secret::expose_secret),
                )
                .map_err(|e| {
                    Error::configuration(format!(
                        "AZURE_CLIENT_CERTIFICATE_PATH: {}: {e}",
                        path.display()
                    ))
                })?;
                CertificateAssertions::new(certificate)
                    .include_x5c(send_chain)
                    .clock(Arc::clone(&self.clock))
                    .into_credential()
            }
        };
        let authority = Authority::parse(&format!("{}/{}", s.authority_host, s.tenant_id))?;
        let mut client =
            ConfidentialClient::builder(s.client_id, authority, credential).clock(self.clock);
        if let Some(http) = self.http {
            client = client.http(http);
        }
        if let Some(cache) = self.cache {
            client = client.cache(cache);
        }
        Ok(EnvironmentCredential {
            client: client.build()?,
        })
    }
}

/// App tokens by client credentials for the app the environment names, as every Azure
/// SDK's `EnvironmentCredential`: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, and
/// `AZURE_CLIENT_SECRET` or `AZURE_CLIENT_CERTIFICATE_PATH` (with
/// `AZURE_CLIENT_CERTIFICATE_PASSWORD` and `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`), at
/// `AZURE_AUTHORITY_HOST`. Cached like any confidential client's tokens.
#[derive(Debug)]
pub struct EnvironmentCredential {
    client: ConfidentialClient,
}

impl EnvironmentCredential {
    /// A builder from settings already read (see [`EnvironmentSettings::from_env`]).
    pub fn builder(settings: EnvironmentSettings) -> EnvironmentCredentialBuilder {
        EnvironmentCredentialBuilder {
            settings,
            http: None,
            cache: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl TokenCredential for EnvironmentCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        self.client.get_token(scopes, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_missing_variable_is_named_and_no_value_is_shown() {
        let err = EnvironmentSettings::from_lookup(|n| {
            (n == "AZURE_CLIENT_ID").then(|| "app".to_owned())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("AZURE_TENANT_ID, AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH"),
            "{err}"
        );
        let settings = EnvironmentSettings::from_lookup(|n| match n {
            "AZURE_TENANT_ID" => Some("t".into()),
            "AZURE_CLIENT_ID" => Some("c".into()),
            "AZURE_CLIENT_SECRET" => Some("s3cr3t-value".into()),
            _ => None,
        })
        .unwrap();
        assert!(!format!("{settings:?}").contains("s3cr3t-value"));
        assert_eq!(settings.authority_host, PUBLIC_CLOUD);
    }

    #[test]
    fn a_certificate_path_with_its_password_and_chain_flag() {
        let settings = EnvironmentSettings::from_lookup(|n| match n {
            "AZURE_TENANT_ID" => Some("t".into()),
            "AZURE_CLIENT_ID" => Some("c".into()),
            "AZURE_CLIENT_CERTIFICATE_PATH" => Some("/c.pfx".into()),
            "AZURE_CLIENT_CERTIFICATE_PASSWORD" => Some("pw".into()),
            "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN" => Some("True".into()),
            "AZURE_AUTHORITY_HOST" => Some("https://login.microsoftonline.us/".into()),
            _ => None,
        })
        .unwrap();
        assert!(matches!(
            settings.key,
            EnvironmentKey::Certificate {
                send_chain: true,
                password: Some(_),
                ..
            }
        ));
        assert_eq!(settings.authority_host, "https://login.microsoftonline.us");
    }
}
