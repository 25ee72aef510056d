//! The fault matrix that `cargo xtask faults` runs (and CI with it): every flow against
//! the emulator with each fault on the first request of its token endpoint, printed as
//! a table — outcome (recovered, or the typed error), requests made, time.
//!
//! A cell passes when the flow recovers or fails with a typed error within its time
//! budget, without a panic, and leaves a token cache file that loads. The process exits
//! with 1 when a cell does not pass.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokenhop_cache::{CacheOptions, SharedTokenCache, TokenCache};
use tokenhop_cert::ClientCertificate;
use tokenhop_core::{ClientId, Error, ManualClock, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorConfig, EmulatorHandle, Fault, FaultKind, names};
use tokenhop_flows::{
    AgentConfig, AgentIdSettings, Authority, CertificateSource, ClientCertificateConfig,
    ClientSecretConfig, DynCredential, FlowConfig, HttpClient, HttpConfig, ManagedIdentityConfig,
    ManagedIdentityId, OnBehalfOfConfig, PublicClient, SecretSource, UserConfig,
    WorkloadIdentityConfig,
};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// How long one cell may take: the longest fault (a body 5 s slow, against a 2 s
/// timeout) and a device code poll interval fit well inside.
const BUDGET: Duration = Duration::from_secs(15);
/// The request timeout of every cell's HTTP client.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum Flow {
    ClientSecret,
    Certificate,
    ManagedIdentity,
    WorkloadIdentity,
    DeviceCode,
    SilentRefresh,
    OnBehalfOf,
    AgentUser,
}

impl Flow {
    const ALL: [Flow; 8] = [
        Self::ClientSecret,
        Self::Certificate,
        Self::ManagedIdentity,
        Self::WorkloadIdentity,
        Self::DeviceCode,
        Self::SilentRefresh,
        Self::OnBehalfOf,
        Self::AgentUser,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::ClientSecret => "client secret",
            Self::Certificate => "certificate",
            Self::ManagedIdentity => "managed identity (IMDS)",
            Self::WorkloadIdentity => "workload identity",
            Self::DeviceCode => "device code",
            Self::SilentRefresh => "silent refresh",
            Self::OnBehalfOf => "on-behalf-of",
            Self::AgentUser => "Agent ID, three hops",
        }
    }

    /// The emulator endpoint whose first request gets the fault.
    fn endpoint(self) -> &'static str {
        match self {
            Self::ManagedIdentity => "imds",
            _ => "token",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum FaultCase {
    ShortThrottle,
    LongThrottle,
    Status500,
    Status503,
    Dropped,
    Malformed,
    SlowBody,
}

impl FaultCase {
    const ALL: [FaultCase; 7] = [
        Self::ShortThrottle,
        Self::LongThrottle,
        Self::Status500,
        Self::Status503,
        Self::Dropped,
        Self::Malformed,
        Self::SlowBody,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::ShortThrottle => "429, Retry-After 1 s",
            Self::LongThrottle => "429, Retry-After 120 s",
            Self::Status500 => "500",
            Self::Status503 => "503",
            Self::Dropped => "dropped connection",
            Self::Malformed => "malformed body",
            Self::SlowBody => "body slower than the timeout",
        }
    }

    fn fault(self, endpoint: &str) -> Fault {
        let status = |code| Fault::new(endpoint, FaultKind::Status).status(code);
        match self {
            Self::ShortThrottle => status(429).retry_after("1"),
            Self::LongThrottle => status(429).retry_after("120"),
            Self::Status500 => status(500),
            Self::Status503 => status(503),
            Self::Dropped => Fault::new(endpoint, FaultKind::Drop),
            Self::Malformed => Fault::new(endpoint, FaultKind::Malformed),
            Self::SlowBody => Fault::new(endpoint, FaultKind::SlowBody).delay_ms(5_000),
        }
        .times(1)
    }
}

/// How a cell ended.
enum Outcome {
    Recovered,
    TypedError(String),
    Panicked(String),
    Hung,
}

struct Cell {
    flow: Flow,
    fault: FaultCase,
    outcome: Outcome,
    requests: u64,
    elapsed: Duration,
    cache: Result<&'static str, String>,
}

impl Cell {
    fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Recovered | Outcome::TypedError(_)) && self.cache.is_ok()
    }
}

/// The typed error, named by its variant, with what tells one cell from another.
fn describe(error: &Error) -> String {
    let variant = format!("{error:?}");
    let variant = variant
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned();
    match error {
        Error::Throttled { retry_after, .. } => {
            format!("{variant} ({} s)", retry_after.as_secs().max(1))
        }
        Error::TokenExchange { hop, error, .. } => match hop {
            Some(hop) => format!("{variant} ({error}, hop {hop})"),
            None => format!("{variant} ({error})"),
        },
        Error::Transport { message, .. } if message.contains("no answer") => {
            format!("{variant} (timeout)")
        }
        Error::Transport { message, .. } if message.contains("not sent again") => {
            format!("{variant} (not replayed)")
        }
        _ => variant,
    }
}

struct Matrix {
    emulator: Arc<EmulatorHandle>,
    scratch: tempfile::TempDir,
}

/// What a cell runs: the credential and the scopes to ask it for.
struct Prepared {
    credential: DynCredential,
    scopes: Scopes,
}

impl Matrix {
    fn authority(&self) -> Result<Authority, Failure> {
        Ok(Authority::parse(&self.emulator.authority())?)
    }

    fn client_id(&self, app: &str) -> Result<ClientId, Failure> {
        let app = self.emulator.config().app(app).ok_or("no such app")?;
        Ok(ClientId::new(app.client_id.clone())?)
    }

    fn certificate(&self, app: &str) -> Result<ClientCertificate, Failure> {
        let generated = self.emulator.app_certificate(app).ok_or("no certificate")?;
        let pem = format!("{}{}", generated.certificate_pem, generated.private_key_pem);
        Ok(ClientCertificate::from_pem(pem.as_bytes(), None)?)
    }

    fn secret(&self) -> Result<SecretSource, Failure> {
        let app = self.emulator.config().app(names::CONFIDENTIAL_SECRET);
        let secret = app.and_then(|a| a.secret.clone()).ok_or("no secret")?;
        Ok(SecretSource::Value(secret.into()))
    }

    /// A user signed in (no fault yet) into `cache`, by device code; the token.
    async fn signed_in(&self, cache: SharedTokenCache, scopes: &Scopes) -> Result<String, Failure> {
        let client =
            PublicClient::builder(self.client_id(names::PUBLIC_CLIENT)?, self.authority()?)
                .cache(cache)
                .device_code_wait(Arc::new(|_| Box::pin(async {})))
                .build()?;
        let emulator = Arc::clone(&self.emulator);
        let token = client
            .acquire_token_by_device_code(scopes, &TokenRequestOptions::default(), move |info| {
                emulator.approve_device_code(Some(&info.user_code), names::ALICE, 0);
            })
            .await?;
        Ok(token.token.secret.expose_secret().to_owned())
    }

    async fn prepare(
        &self,
        flow: Flow,
        dir: &Path,
        cache: SharedTokenCache,
    ) -> Result<Prepared, Failure> {
        let graph_app = Scopes::new(["https://graph.microsoft.com/.default"])?;
        let user_read = Scopes::new(["User.Read"])?;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let (config, scopes) = match flow {
            Flow::ClientSecret => (
                FlowConfig::ClientSecret(ClientSecretConfig::new(
                    self.authority()?,
                    self.client_id(names::CONFIDENTIAL_SECRET)?,
                    self.secret()?,
                )),
                graph_app,
            ),
            Flow::Certificate => (
                FlowConfig::ClientCertificate(ClientCertificateConfig::new(
                    self.authority()?,
                    self.client_id(names::CONFIDENTIAL_CERT)?,
                    CertificateSource::Loaded(self.certificate(names::CONFIDENTIAL_CERT)?),
                )),
                graph_app,
            ),
            Flow::ManagedIdentity => {
                let mut config = ManagedIdentityConfig::new(ManagedIdentityId::SystemAssigned);
                config.endpoint = Some(format!(
                    "{}/metadata/identity/oauth2/token",
                    self.emulator.url()
                ));
                (
                    FlowConfig::ManagedIdentity(config),
                    Scopes::new(["https://storage.azure.com/.default"])?,
                )
            }
            Flow::WorkloadIdentity => {
                let token_file = dir.join("federated-token");
                std::fs::write(
                    &token_file,
                    self.emulator.federated_token(names::WORKLOAD_SUBJECT)?,
                )?;
                let mut config = WorkloadIdentityConfig::default();
                config.client_id = Some(self.client_id(names::WORKLOAD_APP)?.to_string());
                config.tenant_id = Some(self.emulator.tenant_id().to_owned());
                config.token_file = Some(token_file);
                config.authority_host = Some(self.emulator.url().to_owned());
                (FlowConfig::WorkloadIdentity(config), graph_app)
            }
            Flow::DeviceCode => (
                FlowConfig::DeviceCode(UserConfig::new(
                    self.authority()?,
                    self.client_id(names::PUBLIC_CLIENT)?,
                )),
                user_read,
            ),
            Flow::SilentRefresh => {
                self.signed_in(cache.clone(), &user_read).await?;
                // Past the access token's expiry: only the refresh token helps.
                clock.advance(Duration::from_secs(2 * 3600));
                (
                    FlowConfig::Silent(UserConfig::new(
                        self.authority()?,
                        self.client_id(names::PUBLIC_CLIENT)?,
                    )),
                    user_read,
                )
            }
            Flow::OnBehalfOf => {
                let api = format!(
                    "api://{}/access_as_user",
                    self.client_id(names::CONFIDENTIAL_SECRET)?
                );
                let incoming = self
                    .signed_in(SharedTokenCache::in_memory(), &Scopes::new([api])?)
                    .await?;
                (
                    FlowConfig::OnBehalfOf(OnBehalfOfConfig::new(
                        self.authority()?,
                        self.client_id(names::CONFIDENTIAL_SECRET)?,
                        Some(self.secret()?),
                        SecretSource::Value(incoming.into()),
                    )),
                    Scopes::new(["https://graph.microsoft.com/User.Read"])?,
                )
            }
            Flow::AgentUser => {
                let config = self.emulator.config();
                let mut settings = AgentIdSettings::default();
                settings.tenant_id = Some(self.emulator.tenant_id().to_owned());
                settings.blueprint_id = Some(self.client_id(names::AGENT_BLUEPRINT)?.to_string());
                settings.agent_id = config
                    .agent_identity(names::AGENT_IDENTITY)
                    .map(|a| a.client_id.clone());
                settings.agent_user_upn = config.user(names::AGENT_USER).map(|u| u.upn.clone());
                let mut chain = AgentConfig::new(
                    settings,
                    CertificateSource::Loaded(self.certificate(names::AGENT_BLUEPRINT)?),
                );
                chain.authority_host = Some(self.emulator.url().to_owned());
                (FlowConfig::AgentUser(chain), graph_app)
            }
        };
        let http = HttpClient::new(HttpConfig::default().with_request_timeout(REQUEST_TIMEOUT))?;
        let emulator = Arc::clone(&self.emulator);
        let credential = config
            .credential()
            .http(http)
            .cache(cache)
            .clock(clock)
            .show_code(move |info| {
                emulator.approve_device_code(Some(&info.user_code), names::ALICE, 0);
            })
            .build()?;
        Ok(Prepared { credential, scopes })
    }

    async fn cell(&self, flow: Flow, fault: FaultCase) -> Result<Cell, Failure> {
        self.emulator.reset();
        let dir = tempfile::tempdir_in(self.scratch.path())?;
        let path = dir.path().join("token_cache.json");
        let prepared = self
            .prepare(flow, dir.path(), SharedTokenCache::file(&path))
            .await?;
        self.emulator.reset_counters();
        self.emulator.inject(fault.fault(flow.endpoint()));
        let started = Instant::now();
        let task = tokio::spawn(async move {
            prepared
                .credential
                .get_token(&prepared.scopes, &TokenRequestOptions::default())
                .await
        });
        let outcome = match tokio::time::timeout(BUDGET, task).await {
            Ok(Ok(Ok(token))) if token.secret.expose_secret().split('.').count() == 3 => {
                Outcome::Recovered
            }
            Ok(Ok(Ok(_))) => Outcome::TypedError("a token that is not a JWT".into()),
            Ok(Ok(Err(error))) => Outcome::TypedError(describe(&error)),
            Ok(Err(join)) => Outcome::Panicked(join.to_string()),
            Err(_) => Outcome::Hung,
        };
        let elapsed = started.elapsed();
        let requests = self
            .emulator
            .counters()
            .endpoints
            .iter()
            .filter(|(name, _)| name.as_str() != "admin")
            .map(|(_, n)| n)
            .sum();
        Ok(Cell {
            flow,
            fault,
            outcome,
            requests,
            elapsed,
            cache: cache_loads(&path),
        })
    }
}

/// Whether the cache file (if the cell wrote one) loads, and nothing was moved aside.
fn cache_loads(path: &Path) -> Result<&'static str, String> {
    let dir = path.parent().ok_or("no directory")?;
    let aside = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    if aside {
        return Err("a cache file was moved aside as corrupt".into());
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok("none written"),
        Err(e) => return Err(e.to_string()),
    };
    TokenCache::deserialize(&text, CacheOptions::default())
        .map(|_| "loads")
        .map_err(|e| format!("does not load: {e}"))
}

fn print(cells: &[Cell]) {
    println!("| flow | fault | outcome | requests | time | cache file |");
    println!("|---|---|---|---:|---:|---|");
    for cell in cells {
        let outcome = match &cell.outcome {
            Outcome::Recovered => "recovered".to_owned(),
            Outcome::TypedError(error) => error.clone(),
            Outcome::Panicked(why) => format!("PANIC: {why}"),
            Outcome::Hung => format!("HANG (over {} s)", BUDGET.as_secs()),
        };
        let cache = match &cell.cache {
            Ok(state) => (*state).to_owned(),
            Err(why) => format!("BROKEN: {why}"),
        };
        println!(
            "| {} | {} | {outcome} | {} | {:.2} s | {cache} |",
            cell.flow.name(),
            cell.fault.name(),
            cell.requests,
            cell.elapsed.as_secs_f64()
        );
    }
}

async fn run() -> Result<bool, Failure> {
    let mut config = EmulatorConfig::default();
    // The device code flow waits one interval before its first poll.
    config.device_code.interval_secs = 1;
    let emulator = Arc::new(Emulator::builder().config(config).start().await?);
    let matrix = Matrix {
        emulator,
        scratch: tempfile::tempdir()?,
    };
    let started = Instant::now();
    let mut cells = Vec::new();
    for flow in Flow::ALL {
        for fault in FaultCase::ALL {
            cells.push(
                matrix
                    .cell(flow, fault)
                    .await
                    .map_err(|e| format!("setting up {} for {}: {e}", flow.name(), fault.name()))?,
            );
        }
    }
    print(&cells);
    let recovered = cells
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Recovered))
        .count();
    let failed: Vec<&Cell> = cells.iter().filter(|c| !c.passed()).collect();
    let slowest = cells.iter().map(|c| c.elapsed).max().unwrap_or_default();
    println!(
        "\n{} cells: {recovered} recovered, {} typed errors, {} failed; slowest {:.2} s; {:.0} s in all",
        cells.len(),
        cells.len() - recovered - failed.len(),
        failed.len(),
        slowest.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    for cell in &failed {
        println!("FAILED: {} with {}", cell.flow.name(), cell.fault.name());
    }
    Ok(failed.is_empty())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            eprintln!("fault matrix: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
