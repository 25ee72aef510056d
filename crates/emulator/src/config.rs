//! What the emulated directory holds: a tenant, its apps, its resources.

use serde::{Deserialize, Serialize};

/// The emulated directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// The tenant's GUID.
    pub tenant_id: String,
    /// The tenant's domain (`contoso.onmicrosoft.com`); accepted in URLs like the GUID.
    pub tenant_domain: String,
    /// Registered applications.
    pub apps: Vec<AppConfig>,
    /// Resources tokens can be issued for (app id URIs, e.g. `https://graph.microsoft.com`).
    pub resources: Vec<String>,
    /// Access token lifetime in seconds.
    pub token_lifetime_secs: u64,
    /// Managed identities of the emulated host (IMDS and App Service endpoints).
    #[serde(default)]
    pub managed_identities: Vec<ManagedIdentityConfig>,
    /// The secret App Service puts in `IDENTITY_HEADER`.
    #[serde(default)]
    pub identity_header: String,
    /// Entra Agent ID agent identities.
    #[serde(default)]
    pub agent_identities: Vec<AgentIdentityConfig>,
}

/// An Entra Agent ID agent identity: a client id with no credential of its own, trusting
/// tokens its blueprint gets for it (`fmi_path`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AgentIdentityConfig {
    /// A stable name.
    pub name: String,
    /// Its client id.
    pub client_id: String,
    /// The `name` of its blueprint app.
    pub blueprint: String,
}

/// A managed identity of the emulated host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ManagedIdentityConfig {
    /// A stable name.
    pub name: String,
    /// True for the host's system-assigned identity (at most one).
    #[serde(default)]
    pub system_assigned: bool,
    /// The identity's client id.
    pub client_id: String,
    /// Its object (principal) id.
    pub object_id: String,
    /// Its ARM resource id.
    pub resource_id: String,
}

/// A registered application. `Debug` does not show its secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AppConfig {
    /// A stable name for tests to find it by.
    pub name: String,
    /// The application (client) id.
    pub client_id: String,
    /// Its client secret, for a confidential app that authenticates with one.
    #[serde(default)]
    pub secret: Option<String>,
    /// Whether it authenticates with a certificate; the emulator generates the
    /// certificate and its key at start ([`crate::EmulatorHandle::app_certificate`]).
    #[serde(default)]
    pub certificate: bool,
}

/// The names of the built-in configuration's apps.
pub mod names {
    /// A confidential app that authenticates with a client secret.
    pub const CONFIDENTIAL_SECRET: &str = "confidential-secret";
    /// A confidential app that authenticates with a certificate (client assertion).
    pub const CONFIDENTIAL_CERT: &str = "confidential-cert";
    /// A public client (no credential).
    pub const PUBLIC_CLIENT: &str = "public-client";
    /// The Agent ID blueprint app (authenticates with a certificate).
    pub const AGENT_BLUEPRINT: &str = "agent-blueprint";
    /// An agent identity of the blueprint.
    pub const AGENT_IDENTITY: &str = "agent-identity";
    /// An agent identity whose blueprint is another app: chains through
    /// `agent-blueprint` fail at hop 2.
    pub const FOREIGN_AGENT_IDENTITY: &str = "foreign-agent-identity";
    /// The host's system-assigned managed identity.
    pub const SYSTEM_ASSIGNED_IDENTITY: &str = "system-assigned";
    /// A user-assigned managed identity.
    pub const USER_ASSIGNED_IDENTITY: &str = "user-assigned";
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("certificate", &self.certificate)
            .finish()
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            tenant_id: "9d1b2c3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d".into(),
            tenant_domain: "contoso.onmicrosoft.com".into(),
            apps: vec![
                AppConfig {
                    name: names::CONFIDENTIAL_SECRET.into(),
                    client_id: "1c0e6f6a-2b3c-4d5e-8f90-a1b2c3d4e5f6".into(),
                    secret: Some("emulator-secret-Q2hhbmdlIG1l".into()),
                    certificate: false,
                },
                AppConfig {
                    name: names::CONFIDENTIAL_CERT.into(),
                    client_id: "2d1f7a7b-3c4d-4e5f-9a01-b2c3d4e5f607".into(),
                    secret: None,
                    certificate: true,
                },
                AppConfig {
                    name: names::AGENT_BLUEPRINT.into(),
                    client_id: "3e2a8b8c-4d5e-4f60-8b12-c3d4e5f60718".into(),
                    secret: None,
                    certificate: true,
                },
                AppConfig {
                    name: names::PUBLIC_CLIENT.into(),
                    client_id: "51f81489-12ee-4a9e-aaae-a2591f45987d".into(),
                    secret: None,
                    certificate: false,
                },
            ],
            resources: vec![
                "https://graph.microsoft.com".into(),
                "https://storage.azure.com".into(),
                "api://AzureADTokenExchange".into(),
            ],
            token_lifetime_secs: 3600,
            managed_identities: vec![
                ManagedIdentityConfig {
                    name: names::SYSTEM_ASSIGNED_IDENTITY.into(),
                    system_assigned: true,
                    client_id: "6a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9".into(),
                    object_id: "7b2c3d4e-5f60-4172-8384-a5b6c7d8e9fa".into(),
                    resource_id: "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm".into(),
                },
                ManagedIdentityConfig {
                    name: names::USER_ASSIGNED_IDENTITY.into(),
                    system_assigned: false,
                    client_id: "8c3d4e5f-6071-4283-9495-b6c7d8e9fa0b".into(),
                    object_id: "9d4e5f60-7182-4394-a5a6-c7d8e9fa0b1c".into(),
                    resource_id: "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/worker".into(),
                },
            ],
            identity_header: "emulator-identity-header-5d2e".into(),
            agent_identities: vec![
                AgentIdentityConfig {
                    name: names::AGENT_IDENTITY.into(),
                    client_id: "c3d4e5f6-0000-4000-8000-00000000a9e1".into(),
                    blueprint: names::AGENT_BLUEPRINT.into(),
                },
                AgentIdentityConfig {
                    name: names::FOREIGN_AGENT_IDENTITY.into(),
                    client_id: "d4e5f607-0000-4000-8000-00000000b0f2".into(),
                    blueprint: names::CONFIDENTIAL_CERT.into(),
                },
            ],
        }
    }
}

impl EmulatorConfig {
    /// An app by its stable name.
    pub fn app(&self, name: &str) -> Option<&AppConfig> {
        self.apps.iter().find(|a| a.name == name)
    }

    /// An agent identity by its stable name.
    pub fn agent_identity(&self, name: &str) -> Option<&AgentIdentityConfig> {
        self.agent_identities.iter().find(|a| a.name == name)
    }

    pub(crate) fn agent_by_client_id(&self, client_id: &str) -> Option<&AgentIdentityConfig> {
        self.agent_identities
            .iter()
            .find(|a| a.client_id == client_id)
    }

    pub(crate) fn app_by_client_id(&self, client_id: &str) -> Option<&AppConfig> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }

    pub(crate) fn is_tenant(&self, segment: &str) -> bool {
        segment == self.tenant_id
            || segment.eq_ignore_ascii_case(&self.tenant_domain)
            || matches!(segment, "common" | "organizations")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_app_secrets() {
        let config = EmulatorConfig::default();
        let secret = config
            .app(names::CONFIDENTIAL_SECRET)
            .and_then(|a| a.secret.clone())
            .unwrap();
        assert!(!format!("{config:?}").contains(&secret));
    }
}
