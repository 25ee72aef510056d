//! Managed identity: Azure VM (IMDS) and App Service / Functions, detected from the
//! environment as MSAL detects them.

use std::fmt;

use serde_json::Value;
use tokenhop_core::{Error, Result, Scopes, Secret};
use url::Url;

use crate::http::{HttpClient, loggable};
use crate::response::{json_object, number_field, oauth_error, string_field};

const IMDS_DEFAULT_HOST: &str = "http://169.254.169.254";

/// Which managed identity to use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentityId {
    /// The host's system-assigned identity.
    #[default]
    SystemAssigned,
    /// A user-assigned identity by client id.
    ClientId(String),
    /// A user-assigned identity by object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by ARM resource id.
    ResourceId(String),
}

impl ManagedIdentityId {
    /// The id MSAL files the identity's tokens under in the cache.
    pub fn cache_client_id(&self) -> &str {
        match self {
            Self::SystemAssigned => "SYSTEM_ASSIGNED_MANAGED_IDENTITY",
            Self::ClientId(id) | Self::ObjectId(id) | Self::ResourceId(id) => id,
        }
    }
}

/// Where managed identity tokens come from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// The VM's Instance Metadata Service.
    Imds {
        /// `…/metadata/identity/oauth2/token`.
        endpoint: Url,
    },
    /// App Service and Functions (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
    AppService {
        /// `IDENTITY_ENDPOINT`.
        endpoint: Url,
        /// `IDENTITY_HEADER`, sent as `X-IDENTITY-HEADER`.
        header: Secret,
    },
}

impl fmt::Debug for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Imds { endpoint } => f
                .debug_struct("Imds")
                .field("endpoint", &endpoint.as_str())
                .finish(),
            Self::AppService { endpoint, header } => f
                .debug_struct("AppService")
                .field("endpoint", &endpoint.as_str())
                .field("header", header)
                .finish(),
        }
    }
}

impl ManagedIdentitySource {
    /// Detects the source from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Detects the source from variables `lookup` returns: App Service when
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set, otherwise IMDS at
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` (default `http://169.254.169.254`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        if let (Some(endpoint), Some(header)) =
            (lookup("IDENTITY_ENDPOINT"), lookup("IDENTITY_HEADER"))
        {
            let endpoint = Url::parse(&endpoint).map_err(|e| {
                Error::configuration(format!("IDENTITY_ENDPOINT {endpoint:?} is not a URL: {e}"))
            })?;
            return Ok(Self::AppService {
                endpoint,
                header: Secret::new(header),
            });
        }
        let host = lookup("AZURE_POD_IDENTITY_AUTHORITY_HOST")
            .unwrap_or_else(|| IMDS_DEFAULT_HOST.to_owned());
        let endpoint = format!(
            "{}/metadata/identity/oauth2/token",
            host.trim().trim_end_matches('/')
        );
        let endpoint = Url::parse(&endpoint).map_err(|e| {
            Error::configuration(format!(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST {host:?} does not make a URL: {e}"
            ))
        })?;
        Ok(Self::Imds { endpoint })
    }
}

/// A managed identity token, normalised from either source's answer.
#[derive(Clone)]
pub struct ManagedIdentityToken {
    /// The access token.
    pub access_token: Secret,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Usually `Bearer`.
    pub token_type: String,
}

impl fmt::Debug for ManagedIdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityToken")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// The resource a managed identity token is asked for: one scope, `/.default` dropped.
pub fn resource_for(scopes: &Scopes) -> Result<String> {
    let mut iter = scopes.iter();
    match (iter.next(), iter.next()) {
        (Some(scope), None) => Ok(scope.as_str().trim_end_matches("/.default").to_owned()),
        _ => Err(Error::configuration(format!(
            "managed identity takes exactly one scope (a resource's /.default), not {:?}",
            scopes.to_space_separated()
        ))),
    }
}

/// Asks the source for a token for `resource`. `now` (epoch seconds) turns App Service's
/// `expires_on` into seconds left.
pub async fn request_token(
    http: &HttpClient,
    source: &ManagedIdentitySource,
    id: &ManagedIdentityId,
    resource: &str,
    now: u64,
) -> Result<ManagedIdentityToken> {
    let (mut url, api_version, resource_id_param) = match source {
        ManagedIdentitySource::Imds { endpoint } => (endpoint.clone(), "2018-02-01", "msi_res_id"),
        ManagedIdentitySource::AppService { endpoint, .. } => {
            (endpoint.clone(), "2019-08-01", "mi_res_id")
        }
    };
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("api-version", api_version)
            .append_pair("resource", resource);
        match id {
            ManagedIdentityId::SystemAssigned => {}
            ManagedIdentityId::ClientId(v) => {
                query.append_pair("client_id", v);
            }
            ManagedIdentityId::ObjectId(v) => {
                query.append_pair("object_id", v);
            }
            ManagedIdentityId::ResourceId(v) => {
                query.append_pair(resource_id_param, v);
            }
        }
    }
    let response = match source {
        ManagedIdentitySource::Imds { .. } => http.get(&url, &[("Metadata", "true")]).await?,
        ManagedIdentitySource::AppService { header, .. } => {
            http.get(
                &url,
                &[
                    ("X-IDENTITY-HEADER", header.expose_secret()),
                    ("Metadata", "true"),
                ],
            )
            .await?
        }
    };
    let endpoint = loggable(&url);
    let object = json_object(&response, &endpoint)?;
    if let Some(error) = oauth_error(&object, None) {
        return Err(error);
    }
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => Secret::new(token.as_str()),
        _ => {
            let message = string_field(&object, "message").unwrap_or_default();
            return Err(Error::InvalidResponse {
                endpoint,
                reason: format!("HTTP {} without an access_token {message}", response.status),
            });
        }
    };
    let expires_in = number_field(&object, "expires_in")
        .or_else(|| number_field(&object, "expires_on").map(|on| on.saturating_sub(now)))
        .ok_or_else(|| Error::InvalidResponse {
            endpoint: endpoint.clone(),
            reason: "neither expires_in nor expires_on in the response".into(),
        })?;
    Ok(ManagedIdentityToken {
        access_token,
        expires_in,
        token_type: string_field(&object, "token_type").unwrap_or_else(|| "Bearer".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn detects_app_service_first_then_imds() {
        let app = ManagedIdentitySource::from_lookup(lookup(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"),
            ("IDENTITY_HEADER", "header-secret-77"),
        ]))
        .unwrap();
        assert!(matches!(app, ManagedIdentitySource::AppService { .. }));
        assert!(!format!("{app:?}").contains("header-secret-77"));

        let imds = ManagedIdentitySource::from_lookup(lookup(&[])).unwrap();
        assert_eq!(
            imds,
            ManagedIdentitySource::Imds {
                endpoint: Url::parse("http://169.254.169.254/metadata/identity/oauth2/token")
                    .unwrap()
            }
        );
        let pod = ManagedIdentitySource::from_lookup(lookup(&[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "http://127.0.0.1:9/",
        )]))
        .unwrap();
        assert_eq!(
            pod,
            ManagedIdentitySource::Imds {
                endpoint: Url::parse("http://127.0.0.1:9/metadata/identity/oauth2/token").unwrap()
            }
        );
    }

    #[test]
    fn resource_is_the_one_scope_without_default() {
        let scopes = Scopes::new(["https://graph.microsoft.com/.default"]).unwrap();
        assert_eq!(
            resource_for(&scopes).unwrap(),
            "https://graph.microsoft.com"
        );
        assert!(resource_for(&Scopes::new(["a", "b"]).unwrap()).is_err());
    }
}
