//! The credential `token` and `get` use: one of tokenhop-flows' credentials, chosen by
//! `--flow` (or inferred from the options given), sharing the command's token cache.

use std::path::Path;
use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{ClientId, Error, Scopes, TokenCredential};
use tokenhop_flows::agent_id::{AgentIdBuilder, AgentIdSettings, AgentResource};
use tokenhop_flows::authority::Authority;
use tokenhop_flows::certificate::CertificateAssertions;
use tokenhop_flows::client_auth::ClientCredential;
use tokenhop_flows::confidential::ConfidentialClient;
use tokenhop_flows::http::HttpClient;
use tokenhop_flows::managed_identity::{ManagedIdentityCredential, ManagedIdentityId};
use tokenhop_flows::workload_identity::{WorkloadIdentityCredential, WorkloadIdentityEnv};

use crate::cli::{Flow, FlowArgs, GlobalArgs};
use crate::context::password;
use crate::failure::Outcome;

/// A credential of any flow.
pub type AnyCredential = Arc<dyn TokenCredential>;

/// A credential ready to ask.
pub struct Resolved {
    /// The credential.
    pub credential: AnyCredential,
    /// The scopes to ask it for.
    pub scopes: Scopes,
    /// The HTTP client it sends through.
    pub http: HttpClient,
}

impl FlowArgs {
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
        } else if self.mi_client_id.is_some() {
            Flow::ManagedIdentity
        } else if global.client_secret_file.is_some()
            || std::env::var_os(crate::context::CLIENT_SECRET_ENV).is_some()
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
        let built = tokenhop_flows::config::AuthConfig::load(path)?;
        return Ok(Resolved {
            credential: built.credential,
            scopes: given.unwrap_or(built.scopes),
            http: built.http,
        });
    }
    let scopes = match (given, &args.resource) {
        (Some(scopes), _) => scopes,
        (None, Some(resource)) => AgentResource::parse(resource)?.scopes()?,
        (None, None) => {
            return Err(crate::failure::config(
                "no scopes: give --scope (or --resource, or a --config file with scopes)",
            ));
        }
    };
    let credential = build(global, args, &scopes, cache)?;
    Ok(Resolved {
        credential,
        scopes,
        http: global.http()?,
    })
}

/// Builds the credential for `scopes`, keeping its tokens in `cache`. No I/O besides
/// reading certificate and secret files.
pub fn build(
    global: &GlobalArgs,
    args: &FlowArgs,
    scopes: &Scopes,
    cache: SharedTokenCache,
) -> Outcome<AnyCredential> {
    let flow = args.chosen(global);
    tracing::debug!(?flow, "building the credential");
    Ok(match flow {
        Flow::ClientSecret => {
            let app = App::of(global)?;
            let credential = ClientCredential::secret(global.client_secret()?);
            app.client(global, credential, cache)?
        }
        Flow::ClientCertificate => {
            let Some(path) = &args.certificate else {
                return Err(crate::failure::config(
                    "the client-certificate flow needs --certificate PEM|PFX",
                ));
            };
            let app = App::of(global)?;
            let certificate = load_certificate(path, args.password_env.as_deref())?;
            let credential = CertificateAssertions::new(certificate).into_credential();
            app.client(global, credential, cache)?
        }
        Flow::ManagedIdentity => {
            let id = match &args.mi_client_id {
                Some(client_id) => ManagedIdentityId::ClientId(client_id.clone()),
                None => ManagedIdentityId::SystemAssigned,
            };
            Arc::new(
                ManagedIdentityCredential::from_env(id)?
                    .with_http(global.http()?)
                    .with_cache(cache),
            )
        }
        Flow::AgentIdentity | Flow::AgentUser => agent(global, args, scopes, cache)?,
        Flow::Silent | Flow::DeviceCode | Flow::Interactive => {
            crate::user::credential(global, flow, args.account.clone(), cache)?
        }
        Flow::OnBehalfOf => {
            let Some(path) = &args.assertion_file else {
                return Err(crate::failure::config(
                    "the on-behalf-of flow needs --assertion-file FILE",
                ));
            };
            let assertion =
                crate::context::read_secret_file(path, "the incoming token (--assertion-file)")?;
            let credential = match &args.certificate {
                Some(certificate) => CertificateAssertions::new(load_certificate(
                    certificate,
                    args.password_env.as_deref(),
                )?)
                .into_credential(),
                None => ClientCredential::secret(global.client_secret()?),
            };
            let app = App::of(global)?;
            let client = ConfidentialClient::builder(app.client_id, app.authority, credential)
                .cache(cache)
                .http(global.http()?)
                .build()?;
            Arc::new(crate::user::OnBehalfOf::new(client, assertion))
        }
        Flow::WorkloadIdentity => Arc::new(WorkloadIdentityCredential::new(
            WorkloadIdentityEnv::from_env()?,
            global.http()?,
            cache,
        )?),
    })
}

/// A confidential app: who it is and where it signs in (checked before any secret or
/// certificate is read).
struct App {
    client_id: ClientId,
    authority: Authority,
}

impl App {
    fn of(global: &GlobalArgs) -> Outcome<Self> {
        Ok(Self {
            client_id: global.client_id()?,
            authority: global.authority()?,
        })
    }

    fn client(
        self,
        global: &GlobalArgs,
        credential: ClientCredential,
        cache: SharedTokenCache,
    ) -> Outcome<AnyCredential> {
        let client = ConfidentialClient::builder(self.client_id, self.authority, credential)
            .cache(cache)
            .http(global.http()?)
            .build()?;
        Ok(Arc::new(client))
    }
}

/// The Agent ID chain, two hops (or three with an agent user); every missing option is
/// named at once.
fn agent(
    global: &GlobalArgs,
    args: &FlowArgs,
    scopes: &Scopes,
    cache: SharedTokenCache,
) -> Outcome<AnyCredential> {
    let missing: Vec<String> = [
        ("--authority", global.authority.is_none()),
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
        return Err(Error::AgentIdNotAvailable { missing }.into());
    };
    let authority = global.authority()?;
    let certificate = load_certificate(certificate, args.password_env.as_deref())?;
    let mut settings = AgentIdSettings::default();
    settings.tenant_id = Some(authority.realm().to_owned());
    settings.blueprint_id = args.blueprint_id.clone();
    settings.agent_id = args.agent_id.clone();
    settings.agent_user_id = args.agent_user_id.clone();
    settings.agent_user_upn = args.agent_user_upn.clone();
    let builder = AgentIdBuilder::new(settings)
        .authority_host(authority.url().origin().ascii_serialization())
        .blueprint_credential(CertificateAssertions::new(certificate).into_credential())
        .resource(AgentResource::Scopes(scopes.clone()))
        .cache(cache)
        .http(global.http()?);
    Ok(if args.chosen(global) == Flow::AgentUser {
        Arc::new(builder.build_user()?)
    } else {
        Arc::new(builder.build_identity()?)
    })
}

/// A certificate with its key (PEM or PFX), decrypted with the password in the
/// environment variable `password_env`.
pub fn load_certificate(path: &Path, password_env: Option<&str>) -> Outcome<ClientCertificate> {
    let password = password(password_env)?;
    Ok(ClientCertificate::from_file(
        path,
        password.as_ref().map(|p| p.expose_secret()),
    )?)
}
