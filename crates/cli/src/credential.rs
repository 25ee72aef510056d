//! The credential `token` and `get` use: the command line turned into a
//! [`FlowConfig`] — `--flow`, or the flow the other options point to — and built by
//! tokenhop-flows' one factory, sharing the command's token cache and HTTP client. No
//! protocol logic here: only which options make which settings.

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::Scopes;
use tokenhop_flows::{
    AgentConfig, AgentIdSettings, AgentResource, AzureCliConfig, CertificateSource,
    ClientCertificateConfig, ClientSecretConfig, DefaultChainConfig, DynCredential,
    EnvironmentConfig, FlowConfig, FlowKind, HttpClient, ManagedIdentityConfig, ManagedIdentityId,
    OnBehalfOfConfig, SecretSource, UserConfig, WorkloadIdentityConfig,
};

use crate::cli::{CertificateArg, Flow, FlowArgs, GlobalArgs, Pkcs11Args};
use crate::context::CLIENT_SECRET_ENV;
use crate::failure::{Outcome, config};

/// A credential ready to ask.
pub struct Resolved {
    /// The credential.
    pub credential: DynCredential,
    /// The scopes to ask it for.
    pub scopes: Scopes,
    /// The HTTP client it sends through.
    pub http: HttpClient,
}

impl Flow {
    /// The library's flow of the same name.
    pub fn kind(self) -> FlowKind {
        match self {
            Self::Silent => FlowKind::Silent,
            Self::DeviceCode => FlowKind::DeviceCode,
            Self::Interactive => FlowKind::Interactive,
            Self::OnBehalfOf => FlowKind::OnBehalfOf,
            Self::WorkloadIdentity => FlowKind::WorkloadIdentity,
            Self::AgentUser => FlowKind::AgentUser,
            Self::ClientSecret => FlowKind::ClientSecret,
            Self::ClientCertificate => FlowKind::ClientCertificate,
            Self::ManagedIdentity => FlowKind::ManagedIdentity,
            Self::AgentIdentity => FlowKind::AgentIdentity,
            Self::AzureCli => FlowKind::AzureCli,
            Self::Environment => FlowKind::Environment,
            Self::Default => FlowKind::Default,
        }
    }
}

impl FlowArgs {
    /// The user-assigned identity `--mi-client-id`, `--mi-object-id` or
    /// `--mi-resource-id` names (clap lets at most one through).
    fn managed_identity(&self) -> Option<ManagedIdentityId> {
        let (client, object, resource) =
            (&self.mi_client_id, &self.mi_object_id, &self.mi_resource_id);
        client
            .clone()
            .map(ManagedIdentityId::ClientId)
            .or_else(|| object.clone().map(ManagedIdentityId::ObjectId))
            .or_else(|| resource.clone().map(ManagedIdentityId::ResourceId))
    }

    /// `--flow`, or the flow the other options point to.
    pub fn chosen(&self, global: &GlobalArgs) -> Flow {
        if let Some(flow) = self.flow {
            return flow;
        }
        let agent_user = self.agent_user_id.is_some() || self.agent_user_upn.is_some();
        if agent_user {
            Flow::AgentUser
        } else if self.agent_id.is_some() || self.blueprint_id.is_some() {
            Flow::AgentIdentity
        } else if self.assertion_file.is_some() {
            Flow::OnBehalfOf
        } else if self.certificate.is_some() {
            Flow::ClientCertificate
        } else if self.managed_identity().is_some() {
            Flow::ManagedIdentity
        } else if global.client_secret_file.is_some()
            || std::env::var_os(CLIENT_SECRET_ENV).is_some()
        {
            Flow::ClientSecret
        } else {
            // No credential given: the cached account.
            Flow::Silent
        }
    }
}

/// The credential and the scopes to ask it for: from `--config` when it is given and
/// `--flow` is not, else from the options. `--scope` wins over the file's scopes and
/// `--resource`.
pub fn resolve(
    global: &GlobalArgs,
    args: &FlowArgs,
    scope_values: &[String],
    cache: SharedTokenCache,
) -> Outcome<Resolved> {
    let given = if scope_values.is_empty() {
        None
    } else {
        Some(crate::context::scopes(scope_values)?)
    };
    if let (Some(path), None) = (&global.config, args.flow) {
        let built = with_global_options(tokenhop_flows::AuthConfig::from_file(path)?, global)?
            .build()
            .map_err(|e| match e {
                tokenhop_core::Error::Configuration { message } => {
                    config(format!("{}: {message}", path.display()))
                }
                other => other.into(),
            })?;
        return Ok(Resolved {
            credential: built.credential,
            scopes: given.unwrap_or(built.scopes),
            http: built.http,
        });
    }
    let scopes = match (given, &args.resource) {
        (Some(scopes), _) => scopes,
        (None, Some(resource)) => AgentResource::parse(resource)?.scopes_in(global.cloud())?,
        (None, None) => {
            return Err(config(
                "no scopes: give --scope (or --resource, or a --config file with scopes)",
            ));
        }
    };
    let flow = flow_config(global, args, &scopes)?.in_cloud(global.cloud());
    tracing::debug!(flow = %flow.kind(), "building the credential");
    let http = global.http()?;
    let credential = flow
        .credential()
        .http(http.clone())
        .cache(cache)
        .show_code(crate::user::show_code)
        .client_capabilities(global.client_capabilities.iter().cloned())
        .build()?;
    Ok(Resolved {
        credential,
        scopes,
        http,
    })
}

/// The settings the options describe, for the chosen flow. Each required option is
/// checked here, so that errors name the option to give. No I/O.
pub fn flow_config(global: &GlobalArgs, args: &FlowArgs, scopes: &Scopes) -> Outcome<FlowConfig> {
    let flow = options_flow(global, args, scopes)?;
    args.pkcs11.refuse_unused(uses_a_token(&flow))?;
    Ok(flow)
}

fn options_flow(global: &GlobalArgs, args: &FlowArgs, scopes: &Scopes) -> Outcome<FlowConfig> {
    let kind = args.chosen(global).kind();
    if kind != FlowKind::AzureCli && args.subscription.is_some() {
        return Err(config("--subscription is for --flow azure-cli"));
    }
    refuse_an_authority(global, kind)?;
    Ok(match kind {
        FlowKind::ClientSecret => {
            let (authority, client_id) = (global.authority()?, global.client_id()?);
            FlowConfig::ClientSecret(ClientSecretConfig::new(
                authority,
                client_id,
                client_secret(global)?,
            ))
        }
        FlowKind::ClientCertificate => {
            let Some(certificate) = &args.certificate else {
                return Err(config(
                    "the client-certificate flow needs --certificate PEM|PFX|pkcs11:URI",
                ));
            };
            let mut settings = ClientCertificateConfig::new(
                global.authority()?,
                global.client_id()?,
                certificate_source(certificate, &args.pkcs11)?,
            );
            settings.password = password(args);
            FlowConfig::ClientCertificate(settings)
        }
        FlowKind::ManagedIdentity => FlowConfig::ManagedIdentity(ManagedIdentityConfig::new(
            args.managed_identity().unwrap_or_default(),
        )),
        kind @ (FlowKind::AgentIdentity | FlowKind::AgentUser) => {
            agent(global, args, scopes, kind)?
        }
        FlowKind::Silent => FlowConfig::Silent(user(global, args)?),
        FlowKind::DeviceCode => FlowConfig::DeviceCode(user(global, args)?),
        FlowKind::Interactive => FlowConfig::Interactive(user(global, args)?),
        FlowKind::OnBehalfOf => {
            let Some(path) = &args.assertion_file else {
                return Err(config("the on-behalf-of flow needs --assertion-file FILE"));
            };
            let (authority, client_id) = (global.authority()?, global.client_id()?);
            let mut settings =
                OnBehalfOfConfig::new(authority, client_id, None, SecretSource::file(path.clone()));
            match &args.certificate {
                Some(certificate) => {
                    settings.certificate = Some(certificate_source(certificate, &args.pkcs11)?);
                    settings.password = password(args);
                }
                None => settings.client_secret = Some(client_secret(global)?),
            }
            FlowConfig::OnBehalfOf(settings)
        }
        FlowKind::WorkloadIdentity => {
            FlowConfig::WorkloadIdentity(WorkloadIdentityConfig::default())
        }
        FlowKind::AzureCli => {
            let mut settings = AzureCliConfig::default();
            settings.tenant = global.tenant.clone();
            settings.subscription = args.subscription.clone();
            FlowConfig::AzureCli(settings)
        }
        FlowKind::Environment => FlowConfig::Environment(EnvironmentConfig::default()),
        FlowKind::Default => FlowConfig::Default(DefaultChainConfig::default()),
        other => {
            return Err(config(format!(
                "--flow {other} is not supported by this tokenhop"
            )));
        }
    })
}

/// The flows whose app and authority come from elsewhere (the Azure CLI's profile, the
/// `AZURE_*` variables) refuse `--authority`, `--issuer`, `--cloud`, `--client-id`,
/// `--client-secret-file` and (but for the Azure CLI, which takes it) `--tenant` rather
/// than ignore them.
fn refuse_an_authority(global: &GlobalArgs, kind: FlowKind) -> Outcome<()> {
    let from = match kind {
        FlowKind::AzureCli => "the Azure CLI's profile (choose with --tenant or --subscription)",
        FlowKind::Environment => "AZURE_TENANT_ID and AZURE_AUTHORITY_HOST",
        FlowKind::Default => "each credential of the chain's own settings",
        _ => return Ok(()),
    };
    let given = [
        ("--authority", global.authority.is_some()),
        ("--issuer", global.issuer.is_some()),
        ("--cloud", global.cloud.is_some()),
        (
            "--tenant",
            kind != FlowKind::AzureCli && global.tenant.is_some(),
        ),
    ];
    let app_given = [
        ("--client-id", global.client_id.is_some()),
        ("--client-secret-file", global.client_secret_file.is_some()),
    ];
    if let Some((option, _)) = app_given.iter().find(|(_, set)| *set) {
        return Err(config(format!(
            "{option} is not used by --flow {kind}: its app comes from {from}"
        )));
    }
    match given.iter().find(|(_, set)| *set) {
        Some((option, _)) => Err(config(format!(
            "{option} is not used by --flow {kind}: its authority comes from {from}"
        ))),
        None => Ok(()),
    }
}

/// A configuration file with what the command line says on top: about the network
/// (`--ca-cert`, `--proxy`/`--no-proxy`, `--no-authority-validation`, `--cloud`), and
/// the `--client-capability` values added to the file's.
fn with_global_options(
    mut file: tokenhop_flows::AuthConfig,
    global: &GlobalArgs,
) -> Outcome<tokenhop_flows::AuthConfig> {
    if let Some(ca) = &global.ca_cert {
        file.ca_cert = Some(ca.clone());
    }
    if let Some(proxy) = global.proxy()? {
        file.proxy = proxy;
    }
    if global.no_authority_validation {
        file.validate_authority = false;
    }
    if let Some(cloud) = global.cloud {
        file.cloud = cloud;
    }
    file.client_capabilities
        .extend(global.client_capabilities.iter().cloned());
    Ok(file)
}

/// `--client-secret-file`, else TOKENHOP_CLIENT_SECRET (read when the credential is
/// built, never from the command line).
fn client_secret(global: &GlobalArgs) -> Outcome<SecretSource> {
    match &global.client_secret_file {
        Some(path) => Ok(SecretSource::file(path.clone())),
        None if std::env::var_os(CLIENT_SECRET_ENV).is_some() => {
            Ok(SecretSource::env(CLIENT_SECRET_ENV))
        }
        None => Err(config(format!(
            "no client secret: set {CLIENT_SECRET_ENV} or give --client-secret-file"
        ))),
    }
}

/// A certificate option as the flows' setting: a file, or a key in a PKCS#11 token.
fn certificate_source(arg: &CertificateArg, pkcs11: &Pkcs11Args) -> Outcome<CertificateSource> {
    Ok(match arg {
        CertificateArg::File(path) => CertificateSource::File(path.clone()),
        CertificateArg::Pkcs11(uri) => CertificateSource::Pkcs11(pkcs11.key(uri)?),
    })
}

/// Whether the flow signs with a key in a PKCS#11 token.
fn uses_a_token(flow: &FlowConfig) -> bool {
    let in_token = |source: &CertificateSource| matches!(source, CertificateSource::Pkcs11(_));
    match flow {
        FlowConfig::ClientCertificate(c) => in_token(&c.certificate),
        FlowConfig::OnBehalfOf(c) => c.certificate.as_ref().is_some_and(in_token),
        FlowConfig::AgentIdentity(c) | FlowConfig::AgentUser(c) => {
            in_token(&c.blueprint_certificate)
        }
        _ => false,
    }
}

/// The certificate password's variable (`--password-env`).
fn password(args: &FlowArgs) -> Option<SecretSource> {
    args.password_env.clone().map(SecretSource::env)
}

fn user(global: &GlobalArgs, args: &FlowArgs) -> Outcome<UserConfig> {
    let mut settings = UserConfig::new(global.authority()?, global.client_id()?);
    settings.account = args.account.clone();
    Ok(settings)
}

/// The Agent ID chain, two hops (or three with an agent user); every missing option is
/// named at once.
fn agent(
    global: &GlobalArgs,
    args: &FlowArgs,
    scopes: &Scopes,
    kind: FlowKind,
) -> Outcome<FlowConfig> {
    let missing: Vec<String> = [
        ("--authority (or --tenant)", !global.has_authority()),
        ("--blueprint-id", args.blueprint_id.is_none()),
        (
            "--blueprint-certificate",
            args.blueprint_certificate.is_none(),
        ),
        ("--agent-id", args.agent_id.is_none()),
    ]
    .into_iter()
    .filter(|(_, absent)| *absent)
    .map(|(name, _)| name.to_owned())
    .collect();
    let (Some(certificate), true) = (&args.blueprint_certificate, missing.is_empty()) else {
        return Err(tokenhop_core::Error::AgentIdNotAvailable { missing }.into());
    };
    let authority = global.authority()?;
    let mut settings = AgentIdSettings::default();
    settings.tenant_id = Some(authority.realm().to_owned());
    settings.blueprint_id = args.blueprint_id.clone();
    settings.agent_id = args.agent_id.clone();
    settings.agent_user_id = args.agent_user_id.clone();
    settings.agent_user_upn = args.agent_user_upn.clone();
    let mut chain = AgentConfig::new(settings, certificate_source(certificate, &args.pkcs11)?);
    chain.authority_host = Some(authority.url().origin().ascii_serialization());
    chain.password = password(args);
    chain.resource = Some(scopes.to_space_separated());
    Ok(if kind == FlowKind::AgentUser {
        FlowConfig::AgentUser(chain)
    } else {
        FlowConfig::AgentIdentity(chain)
    })
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    /// Every flow the library has can be chosen with `--flow`, by its library name,
    /// and every `--flow` is one of the library's flows.
    #[test]
    fn every_flow_has_its_cli_name() {
        for kind in FlowKind::ALL {
            let flow = Flow::from_str(kind.name(), false)
                .unwrap_or_else(|_| panic!("--flow {} is missing", kind.name()));
            assert_eq!(flow.kind(), kind);
        }
        assert_eq!(Flow::value_variants().len(), FlowKind::ALL.len());
    }
}
