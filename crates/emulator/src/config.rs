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
    /// Resources tokens can be issued for, with their delegated scopes.
    pub resources: Vec<ResourceConfig>,
    /// Users who can sign in.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Access token lifetime in seconds. From two hours on, responses carry
    /// `refresh_in` (half the lifetime), as Entra does for long-lived tokens.
    pub token_lifetime_secs: u64,
    /// The lifetime of a CAE token: one for a CAE-capable resource, asked for by a
    /// client that declared the `cp1` capability (Entra gives 20–28 hours).
    #[serde(default = "default_cae_lifetime")]
    pub cae_token_lifetime_secs: u64,
    /// More tenants, by GUID or domain in the authority URL, in which every app and user
    /// of the main tenant is known too (a multi-tenant app, guest users): their tokens
    /// carry that tenant's `tid` and issuer, while accounts stay homed in the main tenant.
    #[serde(default)]
    pub other_tenants: Vec<TenantConfig>,
    /// Azure subscriptions, each in a tenant, that the ARM-like resource lists (what
    /// `az login` asks for after signing in).
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionConfig>,
    /// Device code flow settings.
    #[serde(default)]
    pub device_code: DeviceCodeConfig,
    /// The user the authorize endpoint signs in without showing its form (headless
    /// tests); `None` shows the sign-in form.
    #[serde(default)]
    pub auto_sign_in: Option<String>,
    /// Workload identity: subjects of the emulator's own federation issuer
    /// (`{url}/federation`) that apps trust.
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredentialConfig>,
    /// An Azure AD B2C tenant served beside the main one.
    #[serde(default)]
    pub b2c: Option<B2cConfig>,
    /// Managed identities of the emulated host (every managed identity endpoint).
    #[serde(default)]
    pub managed_identities: Vec<ManagedIdentityConfig>,
    /// The secret App Service and Service Fabric put in `IDENTITY_HEADER` (sent back as
    /// `X-IDENTITY-HEADER` and `Secret`). Empty refuses every request.
    #[serde(default)]
    pub identity_header: String,
    /// The secret Machine Learning puts in `MSI_SECRET` (sent back as `secret`). Empty
    /// refuses every request.
    #[serde(default)]
    pub msi_secret: String,
    /// IMDS answers `410 Gone` (an upgrade) for this many seconds after start, by the
    /// emulator's clock (`POST /admin/clock` ends it early).
    #[serde(default)]
    pub imds_upgrade_secs: u64,
    /// The `name` of the user signed in to Cloud Shell, whose tokens it gives.
    #[serde(default)]
    pub cloud_shell_user: Option<String>,
    /// Entra Agent ID agent identities.
    #[serde(default)]
    pub agent_identities: Vec<AgentIdentityConfig>,
}

/// An Azure subscription the ARM-like resource lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SubscriptionConfig {
    /// Its GUID.
    pub subscription_id: String,
    /// Its name (`az account set --subscription NAME`).
    pub display_name: String,
    /// The GUID of the tenant it belongs to (the main one or one of `other_tenants`).
    pub tenant_id: String,
}

/// One more tenant the emulator serves beside the main one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TenantConfig {
    /// Its GUID.
    pub tenant_id: String,
    /// Its domain (`northwind.onmicrosoft.com`).
    pub domain: String,
}

/// 24 hours: inside the 20–28 hours Entra gives CAE tokens.
fn default_cae_lifetime() -> u64 {
    24 * 3600
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
    /// The `name` of its agent user, for the three-hop `user_fic` chain.
    #[serde(default)]
    pub agent_user: Option<String>,
}

/// A user of the tenant. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UserConfig {
    /// A stable name.
    pub name: String,
    /// The user's object id (`oid`).
    pub object_id: String,
    /// The user principal name (`alice@contoso.onmicrosoft.com`).
    pub upn: String,
    /// The display name.
    pub display_name: String,
    /// The password the sign-in form accepts.
    pub password: String,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("object_id", &self.object_id)
            .field("upn", &self.upn)
            .finish_non_exhaustive()
    }
}

/// A resource (API) and the delegated scopes it defines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ResourceConfig {
    /// Its app id URI (`https://graph.microsoft.com`), the `aud` of its tokens.
    pub app_id_uri: String,
    /// Delegated scopes (`User.Read`); `/.default` grants all of them.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether it evaluates access continuously (CAE, as Graph does): clients that
    /// declare `cp1` get long-lived tokens for it, which it challenges after a critical
    /// event (`POST /admin/revoke` with `"cae": true`).
    #[serde(default)]
    pub cae: bool,
    /// The access token format the resource accepts (Entra's
    /// `accessTokenAcceptedVersion`): it decides the format of every access token for
    /// it, whichever endpoint issued the token. Unset: see [`ResourceConfig::token_version`].
    #[serde(default)]
    pub access_token_version: Option<TokenVersion>,
}

impl ResourceConfig {
    /// The format of its access tokens: as configured, else v2 for an `api://` app id
    /// URI (an app of the tenant) and v1 for the others (Microsoft's own APIs, such as
    /// Graph and Storage, accept v1).
    pub fn token_version(&self) -> TokenVersion {
        self.access_token_version.unwrap_or_else(|| {
            if self.app_id_uri.starts_with("api://") {
                TokenVersion::V2
            } else {
                TokenVersion::V1
            }
        })
    }
}

/// An access token format: `1` (`ver` `1.0`, issuer `https://sts.windows.net/{tid}/`,
/// `appid`, `unique_name`) or `2` (`ver` `2.0`, the v2.0 issuer, `azp`,
/// `preferred_username`); written as the number in configuration files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum TokenVersion {
    /// Entra's v1 access tokens.
    V1,
    /// Entra's v2 access tokens.
    V2,
}

impl TryFrom<u8> for TokenVersion {
    type Error = String;
    fn try_from(version: u8) -> Result<Self, String> {
        match version {
            1 => Ok(Self::V1),
            2 => Ok(Self::V2),
            other => Err(format!(
                "access_token_version {other} does not exist: use 1 or 2"
            )),
        }
    }
}

impl From<TokenVersion> for u8 {
    fn from(version: TokenVersion) -> u8 {
        match version {
            TokenVersion::V1 => 1,
            TokenVersion::V2 => 2,
        }
    }
}

/// Device code flow settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeviceCodeConfig {
    /// The polling interval it asks for, in seconds.
    pub interval_secs: u64,
    /// How long a device code lives, in seconds.
    pub lifetime_secs: u64,
}

impl Default for DeviceCodeConfig {
    fn default() -> Self {
        Self {
            interval_secs: 5,
            lifetime_secs: 900,
        }
    }
}

/// An app's trust in a subject of the emulator's federation issuer (workload identity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FederatedCredentialConfig {
    /// The `name` of the app that trusts it.
    pub app: String,
    /// The federated token's `sub` (`system:serviceaccount:default:worker`).
    pub subject: String,
}

/// An Azure AD B2C tenant: authorities `{url}/{domain}/{policy}` and
/// `{url}/tfp/{domain}/{policy}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct B2cConfig {
    /// Its GUID.
    pub tenant_id: String,
    /// Its domain (`fabrikamb2c.onmicrosoft.com`).
    pub domain: String,
    /// User flow policies (`B2C_1_signupsignin`).
    pub policies: Vec<String>,
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
    /// Certificates (PEM) it authenticates with that the emulator did not generate:
    /// their keys stay wherever they were made (an HSM, a smart card), and the emulator
    /// only checks signatures with the certificates' public keys. Like an Entra app
    /// registration's key credentials, there may be several, beside the generated one.
    #[serde(default)]
    pub registered_certificates: Vec<String>,
    /// Its family of client ids (FOCI, `"1"`): members redeem each other's refresh
    /// tokens.
    #[serde(default)]
    pub family: Option<String>,
}

/// The names of the built-in configuration's apps.
pub mod names {
    /// A confidential app that authenticates with a client secret.
    pub const CONFIDENTIAL_SECRET: &str = "confidential-secret";
    /// A confidential app that authenticates with a certificate (client assertion).
    pub const CONFIDENTIAL_CERT: &str = "confidential-cert";
    /// A public client (no credential), in FOCI family `1`.
    pub const PUBLIC_CLIENT: &str = "public-client";
    /// A second public client in FOCI family `1`.
    pub const FAMILY_CLIENT: &str = "family-client";
    /// A public client in no family.
    pub const LONE_CLIENT: &str = "lone-client";
    /// An app that authenticates with a federated token (workload identity).
    pub const WORKLOAD_APP: &str = "workload-app";
    /// The built-in users.
    pub const ALICE: &str = "alice";
    /// A second user.
    pub const BOB: &str = "bob";
    /// The agent identity's agent user.
    pub const AGENT_USER: &str = "agent-user";
    /// The workload identity subject the built-in configuration trusts.
    pub const WORKLOAD_SUBJECT: &str = "system:serviceaccount:default:worker";
    /// The built-in second tenant's domain (a multi-tenant app's other tenant).
    pub const OTHER_TENANT_DOMAIN: &str = "northwind.onmicrosoft.com";
    /// The built-in B2C tenant's policy.
    pub const B2C_POLICY: &str = "B2C_1_signupsignin";
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
            .field(
                "registered_certificates",
                &self.registered_certificates.len(),
            )
            .field("family", &self.family)
            .finish()
    }
}

impl AppConfig {
    /// Whether it authenticates with a certificate: a generated or a registered one.
    pub(crate) fn has_certificates(&self) -> bool {
        self.certificate || !self.registered_certificates.is_empty()
    }
}

impl EmulatorConfig {
    /// Reads a configuration file: YAML for `.yaml`/`.yml`, JSON otherwise. Unknown
    /// fields are refused, naming the field.
    pub fn from_file(path: &std::path::Path) -> Result<Self, crate::error::EmulatorError> {
        let failed = |e: &dyn std::fmt::Display| {
            crate::error::EmulatorError::Config(format!("{}: {e}", path.display()))
        };
        let text = std::fs::read_to_string(path).map_err(|e| failed(&e))?;
        let yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if yaml {
            serde_yaml_ng::from_str(&text).map_err(|e| failed(&e))
        } else {
            serde_json::from_str(&text).map_err(|e| failed(&e))
        }
    }

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

    /// A user by its stable name.
    pub fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.name == name)
    }

    pub(crate) fn user_by_object_id(&self, object_id: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.object_id == object_id)
    }

    pub(crate) fn user_by_upn(&self, upn: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }

    /// The resource an app id URI names, whatever the case and trailing `/` (managed
    /// identity hosts take `https://management.core.windows.net/` with or without it).
    pub(crate) fn resource(&self, app_id_uri: &str) -> Option<&ResourceConfig> {
        let wanted = app_id_uri.trim_end_matches('/');
        self.resources.iter().find(|r| {
            r.app_id_uri
                .trim_end_matches('/')
                .eq_ignore_ascii_case(wanted)
        })
    }

    /// The GUID of the tenant an authority's path segment names: the main tenant (by
    /// GUID, domain, `common` or `organizations`) or one of the other tenants.
    pub(crate) fn tenant_of(&self, segment: &str) -> Option<&str> {
        if segment == self.tenant_id
            || segment.eq_ignore_ascii_case(&self.tenant_domain)
            || matches!(segment, "common" | "organizations")
        {
            return Some(&self.tenant_id);
        }
        self.other_tenants
            .iter()
            .find(|t| {
                t.tenant_id.eq_ignore_ascii_case(segment) || t.domain.eq_ignore_ascii_case(segment)
            })
            .map(|t| t.tenant_id.as_str())
    }

    /// Whether the resource `app_id_uri` is CAE-capable.
    pub(crate) fn is_cae_capable(&self, app_id_uri: &str) -> bool {
        self.resource(app_id_uri).is_some_and(|r| r.cae)
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
