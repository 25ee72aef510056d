//! The built-in directory: the tenant every test and the demo use unless told otherwise.

use crate::config::{
    AgentIdentityConfig, AppConfig, B2cConfig, DeviceCodeConfig, EmulatorConfig,
    FederatedCredentialConfig, ManagedIdentityConfig, ResourceConfig, SubscriptionConfig,
    TenantConfig, TokenVersion, UserConfig, names,
};

const CONFIDENTIAL_SECRET_ID: &str = "1c0e6f6a-2b3c-4d5e-8f90-a1b2c3d4e5f6";

fn app(name: &str, client_id: &str) -> AppConfig {
    AppConfig {
        name: name.into(),
        client_id: client_id.into(),
        secret: None,
        certificate: false,
        registered_certificates: Vec::new(),
        family: None,
    }
}

fn user(name: &str, object_id: &str, display_name: &str) -> UserConfig {
    UserConfig {
        name: name.into(),
        object_id: object_id.into(),
        upn: format!("{name}@contoso.onmicrosoft.com"),
        display_name: display_name.into(),
        password: format!("{name}-password"),
    }
}

fn resource(app_id_uri: &str, scopes: &[&str], version: TokenVersion) -> ResourceConfig {
    ResourceConfig {
        app_id_uri: app_id_uri.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        cae: false,
        access_token_version: Some(version),
    }
}

fn managed_identity(
    name: &str,
    system_assigned: bool,
    ids: [&str; 2],
    resource_id: &str,
) -> ManagedIdentityConfig {
    ManagedIdentityConfig {
        name: name.into(),
        system_assigned,
        client_id: ids[0].into(),
        object_id: ids[1].into(),
        resource_id: resource_id.into(),
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            tenant_id: "9d1b2c3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d".into(),
            tenant_domain: "contoso.onmicrosoft.com".into(),
            apps: apps(),
            resources: resources(),
            users: users(),
            token_lifetime_secs: 3600,
            cae_token_lifetime_secs: 24 * 3600,
            other_tenants: vec![TenantConfig {
                tenant_id: "2b3c4d5e-0000-4000-8000-00000000e0e1".into(),
                domain: names::OTHER_TENANT_DOMAIN.into(),
            }],
            subscriptions: vec![
                SubscriptionConfig {
                    subscription_id: "5ab1e000-0000-4000-8000-0000000005b1".into(),
                    display_name: "Contoso Development".into(),
                    tenant_id: "9d1b2c3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d".into(),
                },
                SubscriptionConfig {
                    subscription_id: "5ab1e000-0000-4000-8000-0000000005b2".into(),
                    display_name: "Northwind Production".into(),
                    tenant_id: "2b3c4d5e-0000-4000-8000-00000000e0e1".into(),
                },
            ],
            device_code: DeviceCodeConfig::default(),
            auto_sign_in: None,
            managed_identities: managed_identities(),
            identity_header: "emulator-identity-header-5d2e".into(),
            msi_secret: "emulator-msi-secret-8a3f".into(),
            imds_upgrade_secs: 0,
            cloud_shell_user: Some(names::ALICE.into()),
            agent_identities: agent_identities(),
            federated_credentials: vec![FederatedCredentialConfig {
                app: names::WORKLOAD_APP.into(),
                subject: names::WORKLOAD_SUBJECT.into(),
            }],
            b2c: Some(B2cConfig {
                tenant_id: "f1b2c3d4-0000-4000-8000-0000000000b2".into(),
                domain: "fabrikamb2c.onmicrosoft.com".into(),
                policies: vec![names::B2C_POLICY.into()],
            }),
        }
    }
}

fn apps() -> Vec<AppConfig> {
    vec![
        AppConfig {
            secret: Some("emulator-secret-Q2hhbmdlIG1l".into()),
            ..app(names::CONFIDENTIAL_SECRET, CONFIDENTIAL_SECRET_ID)
        },
        AppConfig {
            certificate: true,
            ..app(
                names::CONFIDENTIAL_CERT,
                "2d1f7a7b-3c4d-4e5f-9a01-b2c3d4e5f607",
            )
        },
        AppConfig {
            certificate: true,
            ..app(
                names::AGENT_BLUEPRINT,
                "3e2a8b8c-4d5e-4f60-8b12-c3d4e5f60718",
            )
        },
        AppConfig {
            family: Some("1".into()),
            ..app(names::PUBLIC_CLIENT, "51f81489-12ee-4a9e-aaae-a2591f45987d")
        },
        AppConfig {
            family: Some("1".into()),
            ..app(names::FAMILY_CLIENT, "04b07795-8ddb-461a-bbee-02f9e1bf7b46")
        },
        app(names::LONE_CLIENT, "62a0b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"),
        app(names::WORKLOAD_APP, "73b1c4d5-e6f7-4081-92a3-b4c5d6e7f809"),
    ]
}

fn resources() -> Vec<ResourceConfig> {
    vec![
        // Graph evaluates access continuously, as the real one does; Microsoft's APIs
        // accept v1 tokens, so Entra issues theirs in v1.
        ResourceConfig {
            cae: true,
            ..resource(
                "https://graph.microsoft.com",
                &["User.Read", "Mail.Read", "Files.Read"],
                TokenVersion::V1,
            )
        },
        resource(
            "https://storage.azure.com",
            &["user_impersonation"],
            TokenVersion::V1,
        ),
        // Azure Resource Manager: what `az login` and `az account get-access-token` ask
        // for (`https://management.core.windows.net//.default`); it takes v1 tokens.
        resource(
            crate::arm::ARM_RESOURCE,
            &["user_impersonation"],
            TokenVersion::V1,
        ),
        resource("api://AzureADTokenExchange", &[], TokenVersion::V2),
        // The confidential app's own API, for on-behalf-of.
        resource(
            &format!("api://{CONFIDENTIAL_SECRET_ID}"),
            &["access_as_user"],
            TokenVersion::V2,
        ),
    ]
}

fn users() -> Vec<UserConfig> {
    vec![
        user(
            names::ALICE,
            "a1a1a1a1-0000-4000-8000-00000000a11c",
            "Alice",
        ),
        user(names::BOB, "b0b0b0b0-0000-4000-8000-00000000b0b0", "Bob"),
        user(
            names::AGENT_USER,
            "e5f60718-0000-4000-8000-0000000a9e05",
            "Agent User",
        ),
    ]
}

fn managed_identities() -> Vec<ManagedIdentityConfig> {
    vec![
        managed_identity(
            names::SYSTEM_ASSIGNED_IDENTITY,
            true,
            [
                "6a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9",
                "7b2c3d4e-5f60-4172-8384-a5b6c7d8e9fa",
            ],
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
        ),
        managed_identity(
            names::USER_ASSIGNED_IDENTITY,
            false,
            [
                "8c3d4e5f-6071-4283-9495-b6c7d8e9fa0b",
                "9d4e5f60-7182-4394-a5a6-c7d8e9fa0b1c",
            ],
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/worker",
        ),
    ]
}

fn agent_identities() -> Vec<AgentIdentityConfig> {
    vec![
        AgentIdentityConfig {
            name: names::AGENT_IDENTITY.into(),
            client_id: "c3d4e5f6-0000-4000-8000-00000000a9e1".into(),
            blueprint: names::AGENT_BLUEPRINT.into(),
            agent_user: Some(names::AGENT_USER.into()),
        },
        AgentIdentityConfig {
            name: names::FOREIGN_AGENT_IDENTITY.into(),
            client_id: "d4e5f607-0000-4000-8000-00000000b0f2".into(),
            blueprint: names::CONFIDENTIAL_CERT.into(),
            agent_user: None,
        },
    ]
}
