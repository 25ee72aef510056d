//! Workload identity (Kubernetes and other federated platforms): the platform writes a
//! signed token to a file, which becomes the client assertion. The file rotates, so it
//! is read again for every token request.

use std::path::PathBuf;
use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, ClientId, Clock, Error, Result, Scopes, Secret, SystemClock, TenantId,
    TokenCredential, TokenRequestOptions,
};

use crate::authority::Authority;
use crate::client_auth::{AssertionContext, AssertionSource, ClientCredential};
use crate::confidential::ConfidentialClient;
use crate::http::HttpClient;

/// The federated token file as an [`AssertionSource`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederatedTokenFile {
    path: PathBuf,
}

impl FederatedTokenFile {
    /// The token in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where it reads from.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl AssertionSource for FederatedTokenFile {
    fn assertion<'a>(&'a self, _context: &'a AssertionContext) -> BoxFuture<'a, Result<Secret>> {
        Box::pin(async move {
            let text = tokio::fs::read_to_string(&self.path).await.map_err(|e| {
                Error::configuration(format!(
                    "cannot read the federated token file {}: {e}",
                    self.path.display()
                ))
            })?;
            let token = text.trim();
            if token.is_empty() {
                return Err(Error::configuration(format!(
                    "the federated token file {} is empty",
                    self.path.display()
                )));
            }
            Ok(Secret::new(token))
        })
    }
}

/// What the platform sets: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
/// `AZURE_FEDERATED_TOKEN_FILE` and optionally `AZURE_AUTHORITY_HOST`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkloadIdentityEnv {
    /// `AZURE_CLIENT_ID`.
    pub client_id: ClientId,
    /// `AZURE_TENANT_ID`.
    pub tenant_id: TenantId,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub token_file: FederatedTokenFile,
    /// `AZURE_AUTHORITY_HOST`, default `https://login.microsoftonline.com`.
    pub authority_host: String,
}

impl WorkloadIdentityEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables from `lookup`; names every missing one in the error.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let (client_id, tenant_id, file) = (
            get("AZURE_CLIENT_ID"),
            get("AZURE_TENANT_ID"),
            get("AZURE_FEDERATED_TOKEN_FILE"),
        );
        let missing: Vec<&str> = [
            ("AZURE_CLIENT_ID", client_id.is_none()),
            ("AZURE_TENANT_ID", tenant_id.is_none()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        match (client_id, tenant_id, file) {
            (Some(client_id), Some(tenant_id), Some(file)) => Ok(Self {
                client_id: ClientId::new(client_id)?,
                tenant_id: TenantId::new(tenant_id)?,
                token_file: FederatedTokenFile::new(file),
                authority_host: get("AZURE_AUTHORITY_HOST")
                    .unwrap_or_else(|| "https://login.microsoftonline.com".into())
                    .trim_end_matches('/')
                    .to_owned(),
            }),
            _ => Err(Error::configuration(format!(
                "workload identity needs {} in the environment",
                missing.join(", ")
            ))),
        }
    }

    /// `{authority_host}/{tenant}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.authority_host, self.tenant_id)
    }
}

/// Builds a [`WorkloadIdentityCredential`]. Building does no I/O.
#[derive(Debug)]
pub struct WorkloadIdentityCredentialBuilder {
    env: WorkloadIdentityEnv,
    http: Option<HttpClient>,
    cache: Option<SharedTokenCache>,
    clock: Arc<dyn Clock>,
    client_capabilities: Vec<String>,
    allowed_tenants: Vec<String>,
}

impl WorkloadIdentityCredentialBuilder {
    /// Sends requests through `http`.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Keeps tokens in `cache` (default: a cache in memory).
    pub fn cache(mut self, cache: SharedTokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Uses `clock` for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Client capabilities (see [`crate::ConfidentialClientBuilder::client_capabilities`]).
    pub fn client_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Tenants besides `AZURE_TENANT_ID` a request may name (see
    /// [`crate::ConfidentialClientBuilder::additionally_allowed_tenants`]).
    pub fn additionally_allowed_tenants(
        mut self,
        tenants: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// The credential.
    pub fn build(self) -> Result<WorkloadIdentityCredential> {
        let authority = Authority::parse(&self.env.authority())?;
        let mut client = ConfidentialClient::builder(
            self.env.client_id,
            authority,
            ClientCredential::assertion_source(self.env.token_file),
        )
        .clock(self.clock)
        .client_capabilities(self.client_capabilities)
        .additionally_allowed_tenants(self.allowed_tenants);
        if let Some(http) = self.http {
            client = client.http(http);
        }
        if let Some(cache) = self.cache {
            client = client.cache(cache);
        }
        Ok(WorkloadIdentityCredential {
            client: client.build()?,
        })
    }
}

/// App tokens for a workload identity: client credentials whose assertion is the
/// platform's federated token, read from its file for every request (it rotates).
/// Tokens are cached like any confidential client's; constructing does no I/O.
#[derive(Debug)]
pub struct WorkloadIdentityCredential {
    client: ConfidentialClient,
}

impl WorkloadIdentityCredential {
    /// A builder from settings already read (see [`WorkloadIdentityEnv::from_env`]).
    pub fn builder(env: WorkloadIdentityEnv) -> WorkloadIdentityCredentialBuilder {
        WorkloadIdentityCredentialBuilder {
            env,
            http: None,
            cache: None,
            clock: Arc::new(SystemClock),
            client_capabilities: Vec::new(),
            allowed_tenants: Vec::new(),
        }
    }

    /// The token cache.
    pub fn cache(&self) -> &SharedTokenCache {
        self.client.cache()
    }
}

impl TokenCredential for WorkloadIdentityCredential {
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

    #[tokio::test]
    async fn rereads_the_file_for_every_assertion() {
        let dir = std::env::temp_dir().join(format!("tokenhop-wi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        let source = FederatedTokenFile::new(&path);
        let context = AssertionContext {
            client_id: "c".into(),
            token_endpoint: "t".into(),
        };
        std::fs::write(&path, "first\n").unwrap();
        assert_eq!(
            source.assertion(&context).await.unwrap().expose_secret(),
            "first"
        );
        std::fs::write(&path, "rotated").unwrap();
        assert_eq!(
            source.assertion(&context).await.unwrap().expose_secret(),
            "rotated"
        );
        std::fs::write(&path, "  ").unwrap();
        assert!(source.assertion(&context).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            source
                .assertion(&context)
                .await
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
    }

    #[test]
    fn names_every_missing_variable() {
        let err = WorkloadIdentityEnv::from_lookup(|name| {
            (name == "AZURE_TENANT_ID").then(|| "t".to_owned())
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("AZURE_CLIENT_ID")
                && text.contains("AZURE_FEDERATED_TOKEN_FILE")
                && !text.contains("AZURE_TENANT_ID,"),
            "{text}"
        );
    }

    #[test]
    fn authority_host_defaults_to_the_public_cloud() {
        let env = WorkloadIdentityEnv::from_lookup(|name| match name {
            "AZURE_CLIENT_ID" => Some("c".into()),
            "AZURE_TENANT_ID" => Some("t".into()),
            "AZURE_FEDERATED_TOKEN_FILE" => Some("/var/run/token".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(env.authority(), "https://login.microsoftonline.com/t");
    }
}
