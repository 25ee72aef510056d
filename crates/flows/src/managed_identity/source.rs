//! Which Azure host gives this process its managed identity: found from the environment
//! in MSAL's order, or named explicitly.

use std::fmt;
use std::path::{Path, PathBuf};

use tokenhop_core::{Error, Result, Secret};
use url::Url;

use super::ManagedIdentityId;

const IMDS_DEFAULT_HOST: &str = "http://169.254.169.254";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// Where the Arc agent listens when only its files say it is installed.
const ARC_DEFAULT_ENDPOINT: &str = "http://localhost:40342/metadata/identity/oauth2/token";
const ARC_LINUX_AGENT: &str = "/opt/azcmagent/bin/himds";
const ARC_LINUX_TOKENS: &str = "/var/opt/azcmagent/tokens";

/// The Azure hosts that give managed identity tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentityHost {
    /// A VM's (or AKS pod identity's) Instance Metadata Service.
    Imds,
    /// App Service, Functions, Container Apps, Automation.
    AppService,
    /// A Service Fabric cluster.
    ServiceFabric,
    /// Azure Machine Learning (and legacy App Service).
    MachineLearning,
    /// An Azure Arc-enabled server.
    AzureArc,
    /// Azure Cloud Shell (the signed-in user's identity).
    CloudShell,
}

impl ManagedIdentityHost {
    /// Its name, as errors and logs say it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Imds => "IMDS",
            Self::AppService => "App Service",
            Self::ServiceFabric => "Service Fabric",
            Self::MachineLearning => "Machine Learning",
            Self::AzureArc => "Azure Arc",
            Self::CloudShell => "Cloud Shell",
        }
    }

    /// Refuses an identity the host cannot give, naming the host: Service Fabric (the
    /// cluster chooses), Azure Arc and Cloud Shell have their system identity only,
    /// Machine Learning takes user-assigned identities by client id only.
    pub(crate) fn check_supports(self, id: &ManagedIdentityId) -> Result<()> {
        let supported = match self {
            Self::Imds | Self::AppService => true,
            Self::MachineLearning => matches!(
                id,
                ManagedIdentityId::SystemAssigned | ManagedIdentityId::ClientId(_)
            ),
            Self::ServiceFabric | Self::AzureArc | Self::CloudShell => {
                *id == ManagedIdentityId::SystemAssigned
            }
        };
        if supported {
            return Ok(());
        }
        let why = match self {
            Self::ServiceFabric => {
                "the cluster's configuration chooses the identity, not the request"
            }
            Self::MachineLearning => "it names user-assigned identities by client id only",
            _ => "it has its system-assigned identity only",
        };
        Err(Error::configuration(format!(
            "managed identity on {self} cannot use {id:?}: {why}; use {}",
            if self == Self::MachineLearning {
                "a client id or the system-assigned identity"
            } else {
                "the system-assigned identity"
            }
        )))
    }
}

impl fmt::Display for ManagedIdentityHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where managed identity tokens come from: a host and what it needs. Build one with
/// [`ManagedIdentitySource::from_env`], or name the host yourself.
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
    /// Service Fabric (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`,
    /// `IDENTITY_SERVER_THUMBPRINT`): https to a server whose certificate is trusted by
    /// its thumbprint alone.
    ServiceFabric {
        /// `IDENTITY_ENDPOINT` (https).
        endpoint: Url,
        /// `IDENTITY_HEADER`, sent as `Secret`.
        header: Secret,
        /// `IDENTITY_SERVER_THUMBPRINT`: the server certificate's SHA-1 (40 hex digits)
        /// or SHA-256 (64) thumbprint; colons and spaces are ignored.
        thumbprint: String,
    },
    /// Azure Machine Learning (`MSI_ENDPOINT` + `MSI_SECRET`).
    MachineLearning {
        /// `MSI_ENDPOINT`.
        endpoint: Url,
        /// `MSI_SECRET`, sent as `secret`.
        secret: Secret,
        /// `DEFAULT_IDENTITY_CLIENT_ID`: the system-assigned identity's client id, sent
        /// for it when known (as MSAL.NET does).
        default_client_id: Option<String>,
    },
    /// An Azure Arc-enabled server (`IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`, or the agent's
    /// files).
    AzureArc {
        /// `IDENTITY_ENDPOINT`, else `http://localhost:40342/metadata/identity/oauth2/token`.
        endpoint: Url,
        /// The agent's token directory: the only place a challenge's key file may be
        /// read from (`/var/opt/azcmagent/tokens` on Linux,
        /// `%ProgramData%\AzureConnectedMachineAgent\Tokens` on Windows).
        token_dir: PathBuf,
    },
    /// Azure Cloud Shell (`MSI_ENDPOINT` without `MSI_SECRET`).
    CloudShell {
        /// `MSI_ENDPOINT`.
        endpoint: Url,
    },
}

impl fmt::Debug for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct(match self {
            Self::Imds { .. } => "Imds",
            Self::AppService { .. } => "AppService",
            Self::ServiceFabric { .. } => "ServiceFabric",
            Self::MachineLearning { .. } => "MachineLearning",
            Self::AzureArc { .. } => "AzureArc",
            Self::CloudShell { .. } => "CloudShell",
        });
        debug.field("endpoint", &self.endpoint().as_str());
        match self {
            Self::AppService { header, .. } => debug.field("header", header),
            Self::ServiceFabric {
                header, thumbprint, ..
            } => debug
                .field("header", header)
                .field("thumbprint", thumbprint),
            Self::MachineLearning {
                secret,
                default_client_id,
                ..
            } => debug
                .field("secret", secret)
                .field("default_client_id", default_client_id),
            Self::AzureArc { token_dir, .. } => debug.field("token_dir", token_dir),
            Self::Imds { .. } | Self::CloudShell { .. } => &mut debug,
        };
        debug.finish()
    }
}

impl ManagedIdentitySource {
    /// Finds the host from the process environment and, for Azure Arc, the agent's
    /// files, in MSAL's order (see [`ManagedIdentitySource::from_lookup_and_files`]).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup_and_files(|name| std::env::var(name).ok(), Path::exists)
    }

    /// Finds the host from the variables `lookup` returns alone (Arc's agent files are not
    /// looked for): for tests and hosts that pass their environment around.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Self::from_lookup_and_files(lookup, |_| false)
    }

    /// Finds the host in MSAL's order, from the variables `lookup` returns and the files
    /// `file_exists` says are there:
    ///
    /// 1. Service Fabric: `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` and
    ///    `IDENTITY_SERVER_THUMBPRINT`;
    /// 2. App Service: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`;
    /// 3. Machine Learning: `MSI_ENDPOINT` and `MSI_SECRET`;
    /// 4. Cloud Shell: `MSI_ENDPOINT` alone;
    /// 5. Azure Arc: `IDENTITY_ENDPOINT` and `IMDS_ENDPOINT`, or the agent
    ///    (`/opt/azcmagent/bin/himds`, `%ProgramFiles%\AzureConnectedMachineAgent\himds.exe`);
    /// 6. otherwise IMDS, at `AZURE_POD_IDENTITY_AUTHORITY_HOST` (default
    ///    `http://169.254.169.254`).
    ///
    /// Which host was found and why is logged at debug level (`tokenhop -v`).
    pub fn from_lookup_and_files(
        lookup: impl Fn(&str) -> Option<String>,
        file_exists: impl Fn(&Path) -> bool,
    ) -> Result<Self> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let (source, why) = detect(&var, &file_exists)?;
        tracing::debug!(
            host = %source.host(),
            why,
            endpoint = %crate::http::loggable(source.endpoint()),
            "managed identity host found"
        );
        Ok(source)
    }

    /// The host.
    pub fn host(&self) -> ManagedIdentityHost {
        match self {
            Self::Imds { .. } => ManagedIdentityHost::Imds,
            Self::AppService { .. } => ManagedIdentityHost::AppService,
            Self::ServiceFabric { .. } => ManagedIdentityHost::ServiceFabric,
            Self::MachineLearning { .. } => ManagedIdentityHost::MachineLearning,
            Self::AzureArc { .. } => ManagedIdentityHost::AzureArc,
            Self::CloudShell { .. } => ManagedIdentityHost::CloudShell,
        }
    }

    /// The endpoint tokens are asked from.
    pub fn endpoint(&self) -> &Url {
        match self {
            Self::Imds { endpoint }
            | Self::AppService { endpoint, .. }
            | Self::ServiceFabric { endpoint, .. }
            | Self::MachineLearning { endpoint, .. }
            | Self::AzureArc { endpoint, .. }
            | Self::CloudShell { endpoint } => endpoint,
        }
    }
}

/// The source the variables and files describe, and why.
fn detect(
    var: &dyn Fn(&str) -> Option<String>,
    file_exists: &dyn Fn(&Path) -> bool,
) -> Result<(ManagedIdentitySource, &'static str)> {
    if let (Some(endpoint), Some(header)) = (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
        let endpoint = url_from("IDENTITY_ENDPOINT", &endpoint)?;
        let header = Secret::new(header);
        if let Some(thumbprint) = var("IDENTITY_SERVER_THUMBPRINT") {
            return Ok((
                ManagedIdentitySource::ServiceFabric {
                    endpoint,
                    header,
                    thumbprint,
                },
                "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set",
            ));
        }
        return Ok((
            ManagedIdentitySource::AppService { endpoint, header },
            "IDENTITY_ENDPOINT and IDENTITY_HEADER are set, IDENTITY_SERVER_THUMBPRINT is not",
        ));
    }
    if let Some(endpoint) = var("MSI_ENDPOINT") {
        let endpoint = url_from("MSI_ENDPOINT", &endpoint)?;
        return Ok(match var("MSI_SECRET") {
            Some(secret) => (
                ManagedIdentitySource::MachineLearning {
                    endpoint,
                    secret: Secret::new(secret),
                    default_client_id: var("DEFAULT_IDENTITY_CLIENT_ID"),
                },
                "MSI_ENDPOINT and MSI_SECRET are set",
            ),
            None => (
                ManagedIdentitySource::CloudShell { endpoint },
                "MSI_ENDPOINT is set without MSI_SECRET",
            ),
        });
    }
    if let Some((endpoint, why)) = arc_endpoint(var, file_exists) {
        return Ok((
            ManagedIdentitySource::AzureArc {
                endpoint: url_from("IDENTITY_ENDPOINT", &endpoint)?,
                token_dir: arc_token_dir(var)?,
            },
            why,
        ));
    }
    let host = var("AZURE_POD_IDENTITY_AUTHORITY_HOST");
    let why = if host.is_some() {
        "no other host's variables are set; AZURE_POD_IDENTITY_AUTHORITY_HOST names IMDS"
    } else {
        "no other host's variables are set"
    };
    let host = host.unwrap_or_else(|| IMDS_DEFAULT_HOST.to_owned());
    let endpoint = format!("{}{IMDS_PATH}", host.trim().trim_end_matches('/'));
    let endpoint = Url::parse(&endpoint).map_err(|e| {
        Error::configuration(format!(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST {host:?} does not make a URL: {e}"
        ))
    })?;
    Ok((ManagedIdentitySource::Imds { endpoint }, why))
}

fn url_from(variable: &str, value: &str) -> Result<Url> {
    Url::parse(value.trim())
        .map_err(|e| Error::configuration(format!("{variable} {value:?} is not a URL: {e}")))
}

/// Arc's endpoint when its variables are set or its agent is installed.
fn arc_endpoint(
    var: &dyn Fn(&str) -> Option<String>,
    file_exists: &dyn Fn(&Path) -> bool,
) -> Option<(String, &'static str)> {
    if let (Some(endpoint), Some(_)) = (var("IDENTITY_ENDPOINT"), var("IMDS_ENDPOINT")) {
        return Some((endpoint, "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set"));
    }
    let agent = if cfg!(windows) {
        let program_files = var("ProgramFiles").unwrap_or_else(|| r"C:\Program Files".to_owned());
        PathBuf::from(program_files)
            .join("AzureConnectedMachineAgent")
            .join("himds.exe")
    } else {
        PathBuf::from(ARC_LINUX_AGENT)
    };
    (file_exists(&agent)).then(|| {
        (
            ARC_DEFAULT_ENDPOINT.to_owned(),
            "the Azure Arc agent is installed (its himds file exists)",
        )
    })
}

/// The Arc agent's token directory on this platform.
fn arc_token_dir(var: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    if cfg!(windows) {
        let program_data = var("ProgramData").unwrap_or_else(|| r"C:\ProgramData".to_owned());
        Ok(PathBuf::from(program_data)
            .join("AzureConnectedMachineAgent")
            .join("Tokens"))
    } else if cfg!(target_os = "linux") {
        Ok(PathBuf::from(ARC_LINUX_TOKENS))
    } else {
        Err(Error::configuration(
            "managed identity on Azure Arc is supported on Linux and Windows only",
        ))
    }
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

    fn host(vars: &[(&str, &str)]) -> ManagedIdentityHost {
        ManagedIdentitySource::from_lookup(lookup(vars))
            .unwrap()
            .host()
    }

    #[test]
    fn hosts_in_msals_order() {
        let endpoint = ("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token");
        let header = ("IDENTITY_HEADER", "header-secret-77");
        let thumbprint = (
            "IDENTITY_SERVER_THUMBPRINT",
            "0123456789ABCDEF0123456789ABCDEF01234567",
        );
        let msi = ("MSI_ENDPOINT", "http://127.0.0.1:46808/msi/auth");
        let imds = ("IMDS_ENDPOINT", "http://localhost:40342");
        use ManagedIdentityHost::*;
        assert_eq!(host(&[endpoint, header, thumbprint, msi]), ServiceFabric);
        assert_eq!(host(&[endpoint, header, msi, imds]), AppService);
        assert_eq!(
            host(&[msi, ("MSI_SECRET", "s"), endpoint, imds]),
            MachineLearning
        );
        assert_eq!(host(&[msi, endpoint, imds]), CloudShell);
        assert_eq!(host(&[endpoint, imds]), AzureArc);
        // IDENTITY_ENDPOINT alone names no host; neither do empty values.
        assert_eq!(host(&[endpoint]), Imds);
        assert_eq!(
            host(&[("MSI_ENDPOINT", " "), ("IDENTITY_HEADER", "")]),
            Imds
        );
    }

    #[test]
    fn the_arc_agent_is_found_by_its_file_on_linux() {
        let found = ManagedIdentitySource::from_lookup_and_files(lookup(&[]), |path| {
            path == Path::new(ARC_LINUX_AGENT)
        })
        .unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(
                found,
                ManagedIdentitySource::AzureArc {
                    endpoint: Url::parse(ARC_DEFAULT_ENDPOINT).unwrap(),
                    token_dir: PathBuf::from(ARC_LINUX_TOKENS),
                }
            );
        }
    }

    #[test]
    fn imds_at_the_default_or_the_pod_identity_host() {
        let imds = ManagedIdentitySource::from_lookup(lookup(&[])).unwrap();
        assert_eq!(
            imds.endpoint().as_str(),
            "http://169.254.169.254/metadata/identity/oauth2/token"
        );
        let pod = ManagedIdentitySource::from_lookup(lookup(&[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "http://127.0.0.1:9/",
        )]))
        .unwrap();
        assert_eq!(
            pod.endpoint().as_str(),
            "http://127.0.0.1:9/metadata/identity/oauth2/token"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let sources = [
            ManagedIdentitySource::from_lookup(lookup(&[
                ("IDENTITY_ENDPOINT", "https://127.0.0.1:2377/t"),
                ("IDENTITY_HEADER", "header-secret-77"),
                ("IDENTITY_SERVER_THUMBPRINT", "AB"),
            ])),
            ManagedIdentitySource::from_lookup(lookup(&[
                ("MSI_ENDPOINT", "http://127.0.0.1:1/a"),
                ("MSI_SECRET", "header-secret-77"),
            ])),
        ];
        for source in sources {
            let text = format!("{:?}", source.unwrap());
            assert!(!text.contains("header-secret-77"), "{text}");
        }
    }

    #[test]
    fn unsupported_identities_are_refused_naming_the_host() {
        let by_object = ManagedIdentityId::ObjectId("o".into());
        for host in [
            ManagedIdentityHost::AzureArc,
            ManagedIdentityHost::CloudShell,
            ManagedIdentityHost::ServiceFabric,
            ManagedIdentityHost::MachineLearning,
        ] {
            let err = host.check_supports(&by_object).unwrap_err().to_string();
            assert!(err.contains(host.name()), "{err}");
        }
        assert!(
            ManagedIdentityHost::MachineLearning
                .check_supports(&ManagedIdentityId::ClientId("c".into()))
                .is_ok()
        );
        assert!(ManagedIdentityHost::Imds.check_supports(&by_object).is_ok());
    }
}
