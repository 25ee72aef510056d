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

use crate::app_certificate::AppCertificate;
use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::faults::Fault;
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

    /// Writes `ca.pem` (with TLS) and each certificate app's `{name}.cert.pem` and
    /// `{name}.key.pem` (mode 0600) to `dir`, creating it.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Binds, generates keys and certificates, and serves in the background until the
    /// handle is dropped.
    pub async fn start(self) -> Result<EmulatorHandle, EmulatorError> {
        let addr = self
            .addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| EmulatorError::Startup(format!("cannot listen on {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| EmulatorError::Startup(e.to_string()))?;
        let scheme = if self.tls { "https" } else { "http" };
        let base_url = format!("{scheme}://{local}");
        let apps: Vec<(String, String)> = self
            .config
            .apps
            .iter()
            .filter(|a| a.certificate)
            .map(|a| (a.name.clone(), a.client_id.clone()))
            .collect();
        let tls = self.tls;
        let (keys, certificates, tls) = tokio::task::spawn_blocking(move || {
            let keys = [SigningKey::generate()?, SigningKey::generate()?];
            let mut certificates = std::collections::HashMap::new();
            for (name, client_id) in apps {
                certificates.insert(client_id, AppCertificate::generate(&name)?);
            }
            let tls = tls.then(TlsMaterial::generate).transpose()?;
            Ok::<_, EmulatorError>((keys, certificates, tls))
        })
        .await
        .map_err(|e| EmulatorError::Startup(e.to_string()))??;
        let state = Arc::new(AppState::new(
            self.config,
            keys,
            certificates,
            base_url.clone(),
        ));
        if let Some(dir) = &self.state_dir {
            write_state_dir(dir, &state, tls.as_ref())?;
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(Arc::clone(&state));
        let shutdown = async {
            let _ = stopped.await;
        };
        let ca_cert_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        match tls {
            Some(tls) => {
                let listener = tls.listen(listener);
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(shutdown)
                        .await;
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
        Ok(EmulatorHandle {
            url: base_url,
            state,
            ca_cert_pem,
            state_dir: self.state_dir,
            stop: Some(stop),
        })
    }
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
        if let Some(certificate) = state.certificates.get(&app.client_id) {
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
    stop: Option<oneshot::Sender<()>>,
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
        if let Some(stop) = self.stop.take() {
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

    /// The directory it serves.
    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// The certificate and key generated for the app named `name`, if it has one.
    pub fn app_certificate(&self, name: &str) -> Option<&AppCertificate> {
        let app = self.state.config.app(name)?;
        self.state.certificates.get(&app.client_id)
    }

    /// What it has answered so far.
    pub fn counters(&self) -> Counters {
        self.state.counters()
    }

    /// Forgets the counters.
    pub fn reset_counters(&self) {
        self.state.reset_counters();
    }

    /// Forgets counters, faults and revocations (as `POST /admin/reset` does).
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
    router
        .route(
            "/metadata/identity/oauth2/token",
            get(managed_identity::imds),
        )
        .route("/msi/token", get(managed_identity::app_service))
        .route("/v1.0/me", get(graph::me))
        .route("/devicelogin", get(device::login_page).post(device::login))
        .route("/admin/counters", get(admin::counters))
        .route("/admin/reset", post(admin::reset))
        .route("/admin/faults", post(fault_injection::post_fault))
        .route("/admin/clock", post(admin::clock))
        .route("/admin/revoke", post(admin::revoke))
        .route("/admin/device/approve", post(device::approve))
        .route("/admin/device/deny", post(device::deny))
        .route(
            "/admin/federated-token",
            post(federation::post_federated_token),
        )
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
