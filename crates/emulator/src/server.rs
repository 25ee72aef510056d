//! Starting and stopping the emulator, and its routes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::app_certificate::AppCertificate;
use crate::config::EmulatorConfig;
use crate::signing::SigningKey;
use crate::state::{Counters, State};
use crate::{EmulatorError, faults, managed_identity, token};

/// Request bodies larger than this are refused (413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Configures an emulator before it starts.
#[derive(Debug, Default)]
pub struct EmulatorBuilder {
    config: EmulatorConfig,
    addr: Option<SocketAddr>,
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

    /// Binds, generates the signing key, and serves in the background until the
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
        let base_url = format!("http://{local}");
        let apps: Vec<(String, String)> = self
            .config
            .apps
            .iter()
            .filter(|a| a.certificate)
            .map(|a| (a.name.clone(), a.client_id.clone()))
            .collect();
        let (key, certificates) =
            tokio::task::spawn_blocking(move || -> Result<_, EmulatorError> {
                let key = SigningKey::generate()?;
                let mut certificates = std::collections::HashMap::new();
                for (name, client_id) in apps {
                    certificates.insert(client_id, AppCertificate::generate(&name)?);
                }
                Ok((key, certificates))
            })
            .await
            .map_err(|e| EmulatorError::Startup(e.to_string()))??;
        let state = Arc::new(State::new(self.config, key, certificates, base_url.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(Arc::clone(&state));
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "the emulator stopped with an error");
            }
        });
        Ok(EmulatorHandle {
            url: base_url,
            state,
            stop: Some(stop),
        })
    }
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    url: String,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The authority for the emulated tenant: `{url}/{tenant_id}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.url, self.state.config.tenant_id)
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        &self.state.config.tenant_id
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

    /// Injects a fault (as `POST /admin/faults` does).
    pub fn inject(&self, fault: crate::Fault) {
        self.state.faults.add(fault);
    }

    /// Moves the emulator's clock, so tokens expire without anyone sleeping.
    pub fn advance_clock(&self, secs: i64) {
        self.state.advance_clock(secs);
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn router(state: Arc<State>) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route(
            "/metadata/identity/oauth2/token",
            get(managed_identity::imds),
        )
        .route("/msi/token", get(managed_identity::app_service))
        .route("/admin/counters", get(counters))
        .route("/admin/reset", post(reset))
        .route("/admin/faults", post(faults::post_fault))
        .route("/admin/clock", post(clock))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            faults::middleware,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn discovery(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant): Path<String>,
) -> Response {
    if !state.config.is_tenant(&tenant) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_tenant", "error_description": format!("AADSTS90002: Tenant '{tenant}' not found.")}))).into_response();
    }
    let authority = format!("{}/{tenant}", state.base_url);
    Json(json!({
        "issuer": state.issuer(),
        "token_endpoint": format!("{authority}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{authority}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{authority}/oauth2/v2.0/devicecode"),
        "jwks_uri": format!("{authority}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "tenant_region_scope": "EU",
    }))
    .into_response()
}

async fn jwks(AxumState(state): AxumState<Arc<State>>) -> Json<Value> {
    Json(state.key.jwks())
}

async fn counters(AxumState(state): AxumState<Arc<State>>) -> Json<Counters> {
    Json(state.counters())
}

async fn reset(AxumState(state): AxumState<Arc<State>>) -> StatusCode {
    state.reset_counters();
    state.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance_secs: i64,
}

async fn clock(AxumState(state): AxumState<Arc<State>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<ClockRequest>(&body) {
        Ok(request) => {
            state.advance_clock(request.advance_secs);
            Json(json!({"now": state.now()})).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_request", "error_description": format!("expected {{\"advance_secs\": N}}: {e}")}))).into_response(),
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"error": "not_found", "error_description": "no such endpoint in the emulator"}),
        ),
    )
        .into_response()
}
