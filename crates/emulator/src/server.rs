//! Starting and stopping the emulator, and its routes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::oneshot;

use crate::app_certificate::{self, AppCertificate};
use crate::arc_keys::ArcKeys;
use crate::arm::{self, ARM_PATH};
use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::faults::{APP_SERVICE_PATH, Fault, IMDS_PATH};
use crate::sessions::Revocation;
use crate::signing::SigningKey;
use crate::state::{AppState, Counters};
use crate::tls::TlsMaterial;
use crate::{
    admin, authorize, device, discovery, fault_injection, federation, graph, managed_identity,
    token,
};

/// Request bodies larger than this are refused (413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Configures an emulator before it starts.
#[derive(Debug, Default)]
pub struct EmulatorBuilder {
    config: EmulatorConfig,
    addr: Option<SocketAddr>,
    tls: bool,
    state_dir: Option<PathBuf>,
    /// `(app name, certificate PEM)`, added to the configuration at start.
    registered_certificates: Vec<(String, String)>,
}

impl EmulatorBuilder {
    /// Uses `config` instead of the built-in directory.
    pub fn config(mut self, config: EmulatorConfig) -> Self {
        self.config = config;
        self
    }

    /// Listens on `addr` (default `127.0.0.1:0`, an ephemeral port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Serves https with a CA generated at start ([`EmulatorHandle::ca_cert_pem`]).
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Registers `certificate_pem` for the app named `app` (as its configuration's
    /// `registered_certificates` does): assertions signed by a key the emulator never
    /// sees — one in an HSM — are accepted. [`EmulatorBuilder::start`] fails if there
    /// is no such app or the PEM is not an RSA certificate.
    pub fn register_certificate(mut self, app: &str, certificate_pem: impl Into<String>) -> Self {
        self.registered_certificates
            .push((app.to_owned(), certificate_pem.into()));
        self
    }

    /// Writes `ca.pem` (with TLS) and each certificate app's `{name}.cert.pem` and
    /// `{name}.key.pem` (mode 0600) to `dir`, creating it.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Binds, generates keys and certificates, and serves in the background until the
    /// handle is dropped.
    pub async fn start(mut self) -> Result<EmulatorHandle, EmulatorError> {
        let registered = std::mem::take(&mut self.registered_certificates);
        attach_registered_certificates(&mut self.config, registered)?;
        let (listener, local) = bind(
            self.addr
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        )
        .await?;
        let scheme = if self.tls { "https" } else { "http" };
        let base_url = format!("{scheme}://{local}");
        // Service Fabric speaks https with its own self-signed certificate, whatever the
        // main listener does: it gets a listener of its own.
        let (fabric_listener, fabric_local) = bind(SocketAddr::new(local.ip(), 0)).await?;
        let keys = GeneratedKeys::generate(&self.config, self.tls).await?;
        let certificates = app_certificate::by_client_id(&self.config, &keys.app_certificates)?;
        let state = Arc::new(AppState::new(
            self.config,
            keys.signing,
            keys.app_certificates,
            certificates,
            base_url.clone(),
            ArcKeys::new(self.state_dir.as_deref()),
        ));
        if let Some(dir) = &self.state_dir {
            write_state_dir(dir, &state, keys.tls.as_ref())?;
        }
        let stop = serve(listener, router(Arc::clone(&state)), keys.tls.as_ref());
        let stop_fabric = serve(
            fabric_listener,
            service_fabric_router(Arc::clone(&state)),
            Some(&keys.service_fabric_tls),
        );
        Ok(EmulatorHandle {
            url: base_url,
            state,
            ca_cert_pem: keys.tls.map(|t| t.ca_pem),
            state_dir: self.state_dir,
            service_fabric: ServiceFabricListener {
                endpoint: format!(
                    "https://{fabric_local}{}",
                    managed_identity::SERVICE_FABRIC_PATH
                ),
                thumbprint: sha1_hex(&keys.service_fabric_tls.server_der),
                certificate_pem: keys.service_fabric_tls.ca_pem.clone(),
            },
            stop: vec![stop, stop_fabric],
        })
    }
}

/// Adds each `(app name, certificate PEM)` to its app's `registered_certificates`.
fn attach_registered_certificates(
    config: &mut EmulatorConfig,
    registered: Vec<(String, String)>,
) -> Result<(), EmulatorError> {
    for (name, pem) in registered {
        let app = config
            .apps
            .iter_mut()
            .find(|a| a.name == name)
            .ok_or_else(|| {
                EmulatorError::Config(format!(
                    "a certificate is registered for the app {name}, which the configuration does not have"
                ))
            })?;
        app.registered_certificates.push(pem);
    }
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), EmulatorError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| EmulatorError::Startup(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| EmulatorError::Startup(e.to_string()))?;
    Ok((listener, local))
}

/// The keys and certificates an emulator makes at start (RSA generation is slow, so
/// it runs off the async workers).
struct GeneratedKeys {
    /// The token signing keys (the JWKS publishes both).
    signing: [SigningKey; 2],
    /// Each certificate app's certificate and key, by client id.
    app_certificates: std::collections::HashMap<String, AppCertificate>,
    /// The main listener's CA and server certificate, with TLS.
    tls: Option<TlsMaterial>,
    /// The Service Fabric listener's self-signed certificate.
    service_fabric_tls: TlsMaterial,
}

impl GeneratedKeys {
    async fn generate(config: &EmulatorConfig, tls: bool) -> Result<Self, EmulatorError> {
        let apps: Vec<(String, String)> = config
            .apps
            .iter()
            .filter(|a| a.certificate)
            .map(|a| (a.name.clone(), a.client_id.clone()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut app_certificates = std::collections::HashMap::new();
            for (name, client_id) in apps {
                app_certificates.insert(client_id, AppCertificate::generate(&name)?);
            }
            Ok(Self {
                signing: [SigningKey::generate()?, SigningKey::generate()?],
                app_certificates,
                tls: tls.then(TlsMaterial::generate).transpose()?,
                service_fabric_tls: TlsMaterial::self_signed()?,
            })
        })
        .await
        .map_err(|e| EmulatorError::Startup(e.to_string()))?
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) in the background, until the
/// returned sender is sent to or dropped.
fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<&TlsMaterial>,
) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    match tls {
        Some(tls) => {
            let listener = tls.listen(listener);
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::warn!(%error, "the emulator stopped with an error");
                }
            });
        }
        None => {
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::warn!(%error, "the emulator stopped with an error");
                }
            });
        }
    }
    stop
}

fn write_state_dir(
    dir: &Path,
    state: &AppState,
    tls: Option<&TlsMaterial>,
) -> Result<(), EmulatorError> {
    let write = |name: String, contents: &str, private: bool| {
        let path = dir.join(name);
        let failed = |e: std::io::Error| {
            EmulatorError::Startup(format!("cannot write {}: {e}", path.display()))
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        std::io::Write::write_all(
            &mut options.open(&path).map_err(failed)?,
            contents.as_bytes(),
        )
        .map_err(failed)
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| EmulatorError::Startup(format!("cannot create {}: {e}", dir.display())))?;
    if let Some(tls) = tls {
        write("ca.pem".into(), &tls.ca_pem, false)?;
    }
    for app in state.config.apps.iter().filter(|a| a.certificate) {
        if let Some(certificate) = state.generated.get(&app.client_id) {
            write(
                format!("{}.cert.pem", app.name),
                &certificate.certificate_pem,
                false,
            )?;
            write(
                format!("{}.key.pem", app.name),
                &certificate.private_key_pem,
                true,
            )?;
        }
    }
    Ok(())
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    url: String,
    state: Arc<AppState>,
    ca_cert_pem: Option<String>,
    state_dir: Option<PathBuf>,
    service_fabric: ServiceFabricListener,
    stop: Vec<oneshot::Sender<()>>,
}

/// Where Service Fabric's endpoint listens and the certificate it shows.
struct ServiceFabricListener {
    endpoint: String,
    thumbprint: String,
    certificate_pem: String,
}

/// Upper-case hex SHA-1 of `der`: a certificate thumbprint as Azure shows it.
fn sha1_hex(der: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        for stop in self.stop.drain(..) {
            let _ = stop.send(());
        }
    }
}

impl EmulatorHandle {
    /// The base URL, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The authority for the emulated tenant: `{url}/{tenant_id}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.url, self.state.config.tenant_id)
    }

    /// The B2C authority `{url}/{b2c domain}/{policy}` for the first policy, if the
    /// configuration has a B2C tenant.
    pub fn b2c_authority(&self) -> Option<String> {
        let b2c = self.state.config.b2c.as_ref()?;
        let policy = b2c.policies.first()?;
        Some(format!("{}/{}/{policy}", self.url, b2c.domain))
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        &self.state.config.tenant_id
    }

    /// The CA certificate (PEM) to trust, when serving TLS.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca_cert_pem.as_deref()
    }

    /// The state directory, when one was given.
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// Service Fabric's managed identity endpoint (`IDENTITY_ENDPOINT`):
    /// `https://127.0.0.1:PORT/servicefabric/token`, on a listener of its own.
    pub fn service_fabric_endpoint(&self) -> &str {
        &self.service_fabric.endpoint
    }

    /// The SHA-1 thumbprint (upper-case hex) of the self-signed certificate Service
    /// Fabric's endpoint shows (`IDENTITY_SERVER_THUMBPRINT`).
    pub fn service_fabric_thumbprint(&self) -> &str {
        &self.service_fabric.thumbprint
    }

    /// That certificate, PEM.
    pub fn service_fabric_certificate_pem(&self) -> &str {
        &self.service_fabric.certificate_pem
    }

    /// Where the Azure Arc endpoint writes its key files: `{state_dir}/azcmagent/tokens`
    /// (`None` without a state directory; Arc's challenge then fails).
    pub fn arc_token_dir(&self) -> Option<PathBuf> {
        self.state_dir.as_deref().map(ArcKeys::token_dir)
    }

    /// Makes Azure Arc's later challenges name `realm` instead of a fresh key file (a
    /// hostile agent, as `POST /admin/arc/realm` does); `None` goes back to key files.
    pub fn set_arc_realm(&self, realm: Option<&str>) {
        self.state.arc_keys.set_realm(realm.map(str::to_owned));
    }

    /// The directory it serves.
    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// The certificate and key generated for the app named `name`, if it has one.
    pub fn app_certificate(&self, name: &str) -> Option<&AppCertificate> {
        let app = self.state.config.app(name)?;
        self.state.generated.get(&app.client_id)
    }

    /// What it has answered so far.
    pub fn counters(&self) -> Counters {
        self.state.counters()
    }

    /// Forgets the counters.
    pub fn reset_counters(&self) {
        self.state.reset_counters();
    }

    /// Forgets counters, faults, revocations and an Arc realm (as `POST /admin/reset`
    /// does).
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Injects a fault (as `POST /admin/faults` does).
    pub fn inject(&self, fault: Fault) {
        self.state.faults.add(fault);
    }

    /// Moves the emulator's clock, so tokens expire without anyone sleeping.
    pub fn advance_clock(&self, secs: i64) {
        self.state.advance_clock(secs);
    }

    /// Approves a device code as the user named `user` (as `POST /admin/device/approve`
    /// does); `user_code` `None` picks the latest pending code. The next `after_polls`
    /// polls still see it pending. False when there is no such code or user.
    pub fn approve_device_code(
        &self,
        user_code: Option<&str>,
        user: &str,
        after_polls: u32,
    ) -> bool {
        device::approve_as(&self.state, user_code, user, after_polls)
    }

    /// Denies a device code (as `POST /admin/device/deny` does).
    pub fn deny_device_code(&self, user_code: Option<&str>) -> bool {
        self.state.device_codes.deny(user_code)
    }

    /// Revokes tokens (as `POST /admin/revoke` does); how many were revoked.
    pub fn revoke(&self, revocation: &Revocation) -> Result<usize, EmulatorError> {
        admin::revoke_tokens(&self.state, revocation).map_err(EmulatorError::Admin)
    }

    /// A token from the emulator's federation issuer for `subject`, as a Kubernetes
    /// service account token file would hold (workload identity).
    pub fn federated_token(&self, subject: &str) -> Result<String, EmulatorError> {
        federation::federated_token(&self.state, subject)
            .map_err(|e| EmulatorError::Signing(e.message))
    }
}

/// The routes under an authority: `/{tenant}`, B2C `/{tenant}/{policy}` and
/// `/tfp/{tenant}/{policy}`.
const AUTHORITY_PREFIXES: [&str; 3] = ["/{tenant}", "/{tenant}/{policy}", "/tfp/{tenant}/{policy}"];

fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for prefix in AUTHORITY_PREFIXES {
        router = router
            .route(
                &format!("{prefix}/v2.0/.well-known/openid-configuration"),
                get(discovery::discovery),
            )
            .route(
                &format!("{prefix}/discovery/v2.0/keys"),
                get(discovery::jwks),
            )
            .route(&format!("{prefix}/oauth2/v2.0/token"), post(token::token))
            .route(
                &format!("{prefix}/oauth2/v2.0/devicecode"),
                post(device::start),
            )
            .route(
                &format!("{prefix}/oauth2/v2.0/authorize"),
                get(authorize::authorize).post(authorize::sign_in),
            );
    }
    // Every managed identity endpoint also answers with a trailing slash: msal-node
    // appends one to the IMDS URL it builds from AZURE_POD_IDENTITY_AUTHORITY_HOST.
    for slash in ["", "/"] {
        router = router
            .route(&format!("{IMDS_PATH}{slash}"), get(managed_identity::imds))
            .route(
                &format!("{APP_SERVICE_PATH}{slash}"),
                get(managed_identity::app_service),
            )
            .route(
                &format!("/msi/auth{slash}"),
                get(managed_identity::machine_learning),
            )
            .route(
                &format!("/arc/metadata/identity/oauth2/token{slash}"),
                get(managed_identity::arc),
            )
            .route(
                &format!("/cloudshell/oauth2/token{slash}"),
                post(managed_identity::cloud_shell),
            );
    }
    let router = router
        .route(
            "/common/discovery/instance",
            get(discovery::instance_discovery),
        )
        .route("/v1.0/me", get(graph::me))
        .route(
            &format!("{ARM_PATH}/subscriptions"),
            get(arm::subscriptions),
        )
        .route(&format!("{ARM_PATH}/tenants"), get(arm::tenants))
        .route("/devicelogin", get(device::login_page).post(device::login))
        .route("/admin/counters", get(admin::counters))
        .route("/admin/reset", post(admin::reset))
        .route("/admin/faults", post(fault_injection::post_fault))
        .route("/admin/clock", post(admin::clock))
        .route("/admin/arc/realm", post(managed_identity::set_arc_realm))
        .route("/admin/revoke", post(admin::revoke))
        .route("/admin/device/approve", post(device::approve))
        .route("/admin/device/deny", post(device::deny))
        .route(
            "/admin/federated-token",
            post(federation::post_federated_token),
        );
    served(router, state)
}

/// Service Fabric's listener: its endpoint alone, counted and faulted like the others.
fn service_fabric_router(state: Arc<AppState>) -> Router {
    let routes = Router::new().route(
        managed_identity::SERVICE_FABRIC_PATH,
        get(managed_identity::service_fabric),
    );
    served(routes, state)
}

/// What every listener puts around its routes: the not-found answer, the middleware that
/// counts requests and applies faults, the body size cap.
fn served(routes: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    routes
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            fault_injection::middleware,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(
            json!({"error": "not_found", "error_description": "no such endpoint in the emulator"}),
        ),
    )
        .into_response()
}
