//! The token request each host takes: its api-version, its header, its name for each
//! kind of identity, GET with a query or (Cloud Shell) POST with a form.

use tokenhop_core::{Result, Secret};
use url::Url;

use super::{ManagedIdentityId, ManagedIdentitySource};
use crate::http::{Form, HttpClient, HttpResponse};

/// One request to a host. Header values are kept as secrets (only names are logged).
#[derive(Clone, Debug)]
pub(super) struct HostRequest {
    pub(super) url: Url,
    /// Cloud Shell's form; `None`: a GET.
    pub(super) form: Option<Form>,
    pub(super) headers: Vec<(&'static str, Secret)>,
}

impl HostRequest {
    /// The same request with one more header (Azure Arc's answer to its challenge).
    pub(super) fn with_header(mut self, name: &'static str, value: Secret) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sends it once.
    pub(super) async fn send(&self, http: &HttpClient) -> Result<HttpResponse> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| (*name, value.expose_secret()))
            .collect();
        match &self.form {
            Some(form) => http.post_form(&self.url, form, &headers).await,
            None => http.get(&self.url, &headers).await,
        }
    }
}

/// The request for a token for `resource` as `id` (checked against the host before).
pub(super) fn token_request(
    source: &ManagedIdentitySource,
    id: &ManagedIdentityId,
    resource: &str,
) -> HostRequest {
    let metadata = ("Metadata", Secret::new("true"));
    match source {
        ManagedIdentitySource::Imds { endpoint } => HostRequest {
            url: query(
                endpoint,
                "2018-02-01",
                resource,
                id_parameter(id, "msi_res_id"),
            ),
            form: None,
            headers: vec![metadata],
        },
        ManagedIdentitySource::AppService { endpoint, header } => HostRequest {
            url: query(
                endpoint,
                "2019-08-01",
                resource,
                id_parameter(id, "mi_res_id"),
            ),
            form: None,
            // Metadata is for Azure Automation, which shares App Service's protocol.
            headers: vec![("X-IDENTITY-HEADER", header.clone()), metadata],
        },
        ManagedIdentitySource::ServiceFabric {
            endpoint, header, ..
        } => HostRequest {
            url: query(endpoint, "2019-07-01-preview", resource, None),
            form: None,
            headers: vec![("Secret", header.clone())],
        },
        ManagedIdentitySource::MachineLearning {
            endpoint,
            secret,
            default_client_id,
        } => {
            // Machine Learning's 2017 API spells it `clientid`.
            let client_id = match id {
                ManagedIdentityId::ClientId(client_id) => Some(client_id.as_str()),
                _ => default_client_id.as_deref(),
            };
            HostRequest {
                url: query(
                    endpoint,
                    "2017-09-01",
                    resource,
                    client_id.map(|c| ("clientid", c)),
                ),
                form: None,
                headers: vec![("secret", secret.clone()), metadata],
            }
        }
        ManagedIdentitySource::AzureArc { endpoint, .. } => HostRequest {
            url: query(endpoint, "2020-06-01", resource, None),
            form: None,
            headers: vec![metadata],
        },
        ManagedIdentitySource::CloudShell { endpoint } => HostRequest {
            url: endpoint.clone(),
            form: Some(Form::new().field("resource", resource)),
            headers: vec![metadata],
        },
    }
}

/// The query parameter naming a user-assigned identity; hosts differ only in the name of
/// the resource id's.
fn id_parameter<'a>(
    id: &'a ManagedIdentityId,
    resource_id_name: &'static str,
) -> Option<(&'static str, &'a str)> {
    match id {
        ManagedIdentityId::SystemAssigned => None,
        ManagedIdentityId::ClientId(v) => Some(("client_id", v)),
        ManagedIdentityId::ObjectId(v) => Some(("object_id", v)),
        ManagedIdentityId::ResourceId(v) => Some((resource_id_name, v)),
    }
}

fn query(endpoint: &Url, api_version: &str, resource: &str, id: Option<(&str, &str)>) -> Url {
    let mut url = endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("api-version", api_version)
            .append_pair("resource", resource);
        if let Some((name, value)) = id {
            query.append_pair(name, value);
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn each_host_names_the_resource_id_its_own_way() {
        let id = ManagedIdentityId::ResourceId("/sub/rg/id".into());
        let imds = ManagedIdentitySource::Imds {
            endpoint: url("http://169.254.169.254/metadata/identity/oauth2/token"),
        };
        let request = token_request(&imds, &id, "https://storage.azure.com");
        assert_eq!(
            request.url.query(),
            Some(
                "api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com&msi_res_id=%2Fsub%2Frg%2Fid"
            )
        );
        let app = ManagedIdentitySource::AppService {
            endpoint: url("http://127.0.0.1:41000/msi/token"),
            header: Secret::new("h"),
        };
        let request = token_request(&app, &id, "r");
        assert!(
            request
                .url
                .query()
                .unwrap()
                .ends_with("&mi_res_id=%2Fsub%2Frg%2Fid")
        );
        assert_eq!(request.headers[0].0, "X-IDENTITY-HEADER");
    }

    #[test]
    fn machine_learning_says_clientid_and_sends_the_default_for_system_assigned() {
        let source = ManagedIdentitySource::MachineLearning {
            endpoint: url("http://127.0.0.1:46808/msi/auth"),
            secret: Secret::new("s"),
            default_client_id: Some("default-id".into()),
        };
        let system = token_request(&source, &ManagedIdentityId::SystemAssigned, "r");
        assert!(
            system
                .url
                .query()
                .unwrap()
                .ends_with("&clientid=default-id")
        );
        let user = token_request(&source, &ManagedIdentityId::ClientId("u".into()), "r");
        assert!(user.url.query().unwrap().ends_with("&clientid=u"));
    }

    #[test]
    fn cloud_shell_posts_a_form() {
        let source = ManagedIdentitySource::CloudShell {
            endpoint: url("http://localhost:50342/oauth2/token"),
        };
        let request = token_request(&source, &ManagedIdentityId::SystemAssigned, "r");
        assert_eq!(request.url.query(), None);
        assert_eq!(request.form.unwrap().get("resource"), Some("r"));
    }
}
