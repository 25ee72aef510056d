//! The Azure CLI's own files in its configuration directory: `azureProfile.json` (the
//! subscriptions and who is signed in to each), `service_principal_entries.json` (the
//! credentials of `az login --service-principal`) and `clouds.config` (custom clouds).
//! Formats: the Azure CLI's source (`azure/cli/core/_profile.py`, `_identity.py`,
//! `cloud.py`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokenhop_core::{Error, Result, Secret};

use crate::authority::PUBLIC_CLOUD;

/// `azureProfile.json`.
pub(crate) const PROFILE_FILE: &str = "azureProfile.json";
/// The MSAL token cache, as the CLI writes it on Linux and macOS.
pub(crate) const TOKEN_CACHE_FILE: &str = "msal_token_cache.json";
/// `service_principal_entries.json`.
const SERVICE_PRINCIPALS_FILE: &str = "service_principal_entries.json";

/// The Azure CLI's configuration directory: `$AZURE_CONFIG_DIR`, else `~/.azure`,
/// from the variables `lookup` returns.
pub(crate) fn config_dir_from(lookup: impl Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    if let Some(dir) = var("AZURE_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    var("HOME")
        .or_else(|| var("USERPROFILE"))
        .map(|home| PathBuf::from(home).join(".azure"))
        .ok_or_else(|| {
            Error::configuration(
                "the Azure CLI's directory: neither AZURE_CONFIG_DIR nor HOME is set; set AZURE_CONFIG_DIR",
            )
        })
}

/// One subscription of `azureProfile.json`, and who is signed in to it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AzureSubscription {
    /// The subscription id.
    pub id: String,
    /// Its display name.
    #[serde(default)]
    pub name: String,
    /// Its tenant: where tokens for it are asked.
    pub tenant_id: String,
    /// Whether `az account set` chose it.
    #[serde(default)]
    pub is_default: bool,
    /// The cloud (`AzureCloud`, or a name in `clouds.config`).
    #[serde(default)]
    pub environment_name: String,
    /// Who is signed in to it.
    pub user: AzureUser,
}

/// The account of a subscription.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct AzureUser {
    /// The username, or a service principal's client id.
    pub name: String,
    /// `user` or `servicePrincipal` (or a managed identity's kinds).
    #[serde(rename = "type")]
    pub kind: String,
}

impl AzureUser {
    /// Whether this is `az login --service-principal`.
    pub fn is_service_principal(&self) -> bool {
        self.kind == "servicePrincipal"
    }
}

/// `azureProfile.json`: the subscriptions the Azure CLI knows and who is signed in to
/// each. The file is UTF-8 with a byte order mark, which is skipped.
#[derive(Clone, Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct AzureCliProfile {
    /// Every subscription, as `az account list` shows them.
    #[serde(default)]
    pub subscriptions: Vec<AzureSubscription>,
}

impl AzureCliProfile {
    /// The profile in `config_dir`; a missing file is an empty profile (nobody signed in).
    pub fn load(config_dir: &Path) -> Result<Self> {
        let path = config_dir.join(PROFILE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => parse_json(&path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::configuration(format!(
                "cannot read the Azure CLI's profile {}: {e}",
                path.display()
            ))),
        }
    }

    /// The profile of the Azure CLI's directory (`$AZURE_CONFIG_DIR`, else `~/.azure`).
    pub fn load_default() -> Result<Self> {
        Self::load(&config_dir_from(|name| std::env::var(name).ok())?)
    }

    /// The subscription `wanted` names (id or name, case-insensitive), else the default.
    pub fn subscription(&self, wanted: Option<&str>) -> Result<&AzureSubscription> {
        if self.subscriptions.is_empty() {
            return Err(not_signed_in(
                "the Azure CLI's profile has no subscription",
                "az login",
            ));
        }
        let Some(wanted) = wanted else {
            let default = self.subscriptions.iter().find(|s| s.is_default);
            return Ok(default.unwrap_or(&self.subscriptions[0]));
        };
        self.subscriptions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(wanted) || s.name.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                Error::configuration(format!(
                    "the Azure CLI knows no subscription {wanted:?}; it knows {} (az account list)",
                    self.subscriptions
                        .iter()
                        .map(|s| format!("{:?} ({})", s.name, s.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
}

/// "Nobody is signed in" with what to run.
pub(crate) fn not_signed_in(why: &str, run: &str) -> Error {
    Error::Authentication {
        reason: format!("{why}: run `{run}`"),
    }
}

/// One entry of `service_principal_entries.json`.
#[derive(Deserialize)]
pub(crate) struct ServicePrincipalEntry {
    pub client_id: String,
    pub tenant: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    #[serde(default)]
    pub use_cert_sn_issuer: Option<bool>,
}

/// How a service principal signed in with `az login --service-principal`.
pub(crate) enum ServicePrincipalKey {
    Secret(Secret),
    Certificate { path: PathBuf, send_x5c: bool },
}

/// The credential `az login --service-principal` stored for `client_id` in `tenant`.
pub(crate) fn service_principal(
    config_dir: &Path,
    client_id: &str,
    tenant: &str,
) -> Result<ServicePrincipalKey> {
    let path = config_dir.join(SERVICE_PRINCIPALS_FILE);
    let run = format!("az login --service-principal --username {client_id} --tenant {tenant}");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_signed_in(
                &format!("{} does not exist", path.display()),
                &run,
            ));
        }
        Err(e) => {
            return Err(Error::configuration(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let entries: Vec<ServicePrincipalEntry> = parse_json(&path, &bytes)?;
    let entry = entries
        .into_iter()
        .filter(|e| e.client_id.eq_ignore_ascii_case(client_id))
        .find(|e| e.tenant.eq_ignore_ascii_case(tenant))
        .ok_or_else(|| {
            not_signed_in(
                &format!(
                    "{} holds no credential for {client_id} in {tenant}",
                    path.display()
                ),
                &run,
            )
        })?;
    match (entry.client_secret, entry.certificate) {
        (Some(secret), _) => Ok(ServicePrincipalKey::Secret(Secret::new(secret))),
        (None, Some(path)) => Ok(ServicePrincipalKey::Certificate {
            path,
            send_x5c: entry.use_cert_sn_issuer.unwrap_or(false),
        }),
        (None, None) => Err(Error::configuration(format!(
            "{}: the entry for {client_id} has neither client_secret nor certificate",
            path.display()
        ))),
    }
}

/// The authority host of the cloud `name`: the Azure CLI's built-in clouds, else the
/// `endpoint_active_directory` of its section in `clouds.config`.
pub(crate) fn authority_host(config_dir: &Path, name: &str) -> Result<String> {
    let builtin = match name {
        "" | "AzureCloud" => Some(PUBLIC_CLOUD),
        "AzureChinaCloud" => Some("https://login.chinacloudapi.cn"),
        "AzureUSGovernment" => Some("https://login.microsoftonline.us"),
        _ => None,
    };
    if let Some(host) = builtin {
        return Ok(host.to_owned());
    }
    let path = config_dir.join("clouds.config");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::configuration(format!(
            "the subscription's cloud {name:?} is not built in and {} cannot be read: {e}",
            path.display()
        ))
    })?;
    ini_value(&text, name, "endpoint_active_directory")
        .map(|host| host.trim_end_matches('/').to_owned())
        .ok_or_else(|| {
            Error::configuration(format!(
                "{}: no endpoint_active_directory in section [{name}] (az cloud show --name {name})",
                path.display()
            ))
        })
}

/// `key`'s value in `[section]` of an INI file as Python's `configparser` writes it.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == section;
        } else if in_section
            && let Some((k, v)) = line.split_once(['=', ':'])
            && k.trim().eq_ignore_ascii_case(key)
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

/// A JSON file of the CLI's, with or without a byte order mark.
fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| {
        Error::configuration(format!(
            "{} is not the Azure CLI's JSON: {e}; run `az login` again",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_read_through_its_byte_order_mark_and_by_name_or_id() {
        let dir = tempfile::tempdir().unwrap();
        let json = r#"{"installationId": "x", "subscriptions": [
            {"id": "sub-1", "name": "Dev", "state": "Enabled", "isDefault": false, "tenantId": "t1",
             "environmentName": "AzureCloud", "user": {"name": "a@x", "type": "user"}},
            {"id": "sub-2", "name": "Prod", "state": "Enabled", "isDefault": true, "tenantId": "t2",
             "environmentName": "AzureCloud", "user": {"name": "a@x", "type": "user"}}]}"#;
        std::fs::write(
            dir.path().join(PROFILE_FILE),
            [b"\xEF\xBB\xBF".as_slice(), json.as_bytes()].concat(),
        )
        .unwrap();
        let profile = AzureCliProfile::load(dir.path()).unwrap();
        assert_eq!(profile.subscription(None).unwrap().tenant_id, "t2");
        assert_eq!(profile.subscription(Some("dev")).unwrap().tenant_id, "t1");
        assert_eq!(profile.subscription(Some("SUB-1")).unwrap().id, "sub-1");
        let err = profile.subscription(Some("nope")).unwrap_err().to_string();
        assert!(err.contains("\"Dev\" (sub-1)"), "{err}");
    }

    #[test]
    fn nobody_signed_in_says_to_run_az_login() {
        let dir = tempfile::tempdir().unwrap();
        let err = AzureCliProfile::load(dir.path())
            .unwrap()
            .subscription(None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("run `az login`"), "{err}");
    }

    #[test]
    fn custom_clouds_come_from_clouds_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("clouds.config"),
            "[Other]\nendpoint_active_directory = https://a\n\n[Emu]\nendpoint_resource_manager = https://arm\nendpoint_active_directory = https://127.0.0.1:8443/\n",
        )
        .unwrap();
        assert_eq!(
            authority_host(dir.path(), "Emu").unwrap(),
            "https://127.0.0.1:8443"
        );
        assert_eq!(
            authority_host(dir.path(), "AzureCloud").unwrap(),
            PUBLIC_CLOUD
        );
        assert!(authority_host(dir.path(), "Missing").is_err());
    }

    #[test]
    fn config_dir_is_azure_config_dir_else_home_azure() {
        let dir = config_dir_from(|n| (n == "AZURE_CONFIG_DIR").then(|| "/cfg".into()));
        assert_eq!(dir.unwrap(), PathBuf::from("/cfg"));
        let dir = config_dir_from(|n| (n == "HOME").then(|| "/home/u".into()));
        assert_eq!(dir.unwrap(), PathBuf::from("/home/u/.azure"));
        assert!(config_dir_from(|_| None).is_err());
    }
}
