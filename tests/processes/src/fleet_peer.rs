//! `tokenhop-fleet-peer CACHE AUTHORITY CLIENT_ID`: one instance of a fleet, for the
//! tests in `tests/processes` and `cargo xtask bench`. `CACHE` is a `redis://` URL (the
//! Redis cache) or a file's path (the file cache). The client secret comes from
//! `TOKENHOP_TEST_CLIENT_SECRET`, never an argument; optional settings from
//! `TOKENHOP_TEST_REDIS_PREFIX`, `TOKENHOP_TEST_LEASE_MS`, `TOKENHOP_TEST_ENCRYPTION_KEY`,
//! `TOKENHOP_TEST_MEMORY_PARTITIONS` and `TOKENHOP_TEST_CA_CERT` (a CA to trust for the
//! authority). Warnings go to stderr. It prints `ready`, then answers one command a
//! line on stdin:
//!
//! - `burst N [SCOPE]`: N concurrent app-token requests; prints `error …` for each
//!   failure, then `burst ok=N errors=E tokens=D1,D2` (the distinct tokens' digests);
//! - `advance SECS`: moves this instance's clock; prints `advanced`;
//! - `latency N [SCOPE]`: N requests one after another; prints `latency P50 P99` (µs);
//! - `quit`.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokenhop_cache::{FilePersistence, SharedTokenCache};
use tokenhop_core::{ClientId, Clock, Error, Result, Scopes, TokenRequestOptions};
use tokenhop_flows::{Authority, ClientCredential, ConfidentialClient, HttpClient, HttpConfig};
use tokenhop_process_tests::digest;
use tokenhop_redis::{EncryptionKey, RedisCache, RedisSettings};

const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        [cache, authority, client_id] => {
            runtime().and_then(|rt| rt.block_on(serve(cache, authority, client_id)))
        }
        _ => Err(Error::configuration(
            "usage: tokenhop-fleet-peer CACHE(redis://… or a path) AUTHORITY CLIENT_ID",
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tokenhop-fleet-peer: {error}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::configuration(format!("no tokio runtime: {e}")))
}

/// The system clock, moved by `advance`.
#[derive(Debug, Default)]
struct MovableClock {
    offset_secs: AtomicI64,
}

impl Clock for MovableClock {
    fn now(&self) -> SystemTime {
        let offset = self.offset_secs.load(Ordering::Relaxed);
        let now = SystemTime::now();
        match u64::try_from(offset) {
            Ok(ahead) => now + Duration::from_secs(ahead),
            Err(_) => now - Duration::from_secs(offset.unsigned_abs()),
        }
    }
}

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A numeric setting; one that does not parse is an error, not the default (a test
/// that mistyped its lease would otherwise run with another one and still pass).
fn number_setting<T: std::str::FromStr>(name: &str) -> Result<Option<T>> {
    setting(name)
        .map(|value| {
            value
                .parse()
                .map_err(|_| Error::configuration(format!("{name}={value:?} is not a number")))
        })
        .transpose()
}

fn cache(location: &str, clock: Arc<MovableClock>) -> Result<SharedTokenCache> {
    if !location.starts_with("redis://") && !location.starts_with("rediss://") {
        return Ok(SharedTokenCache::builder(FilePersistence::new(location))
            .clock(clock)
            .build());
    }
    let mut settings = RedisSettings::new(location);
    if let Some(prefix) = setting("TOKENHOP_TEST_REDIS_PREFIX") {
        settings = settings.with_prefix(prefix);
    }
    if let Some(ms) = number_setting("TOKENHOP_TEST_LEASE_MS")? {
        settings = settings.with_lease(Duration::from_millis(ms));
    }
    if let Some(key) = setting("TOKENHOP_TEST_ENCRYPTION_KEY") {
        settings = settings.with_encryption_key(EncryptionKey::parse(&key)?);
    }
    let mut builder = RedisCache::builder(settings).clock(clock);
    if let Some(n) = number_setting("TOKENHOP_TEST_MEMORY_PARTITIONS")? {
        builder = builder.memory_partitions(n);
    }
    builder.build()
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn serve(location: &str, authority: &str, client_id: &str) -> Result<()> {
    let secret = setting("TOKENHOP_TEST_CLIENT_SECRET")
        .ok_or_else(|| Error::configuration("set TOKENHOP_TEST_CLIENT_SECRET"))?;
    let clock = Arc::new(MovableClock::default());
    let mut http = HttpConfig::default();
    if let Some(ca) = setting("TOKENHOP_TEST_CA_CERT") {
        let pem = std::fs::read(&ca).map_err(|e| Error::configuration(format!("{ca}: {e}")))?;
        http = http.with_extra_ca_pem(pem);
    }
    let client = Arc::new(
        ConfidentialClient::builder(
            ClientId::new(client_id)?,
            Authority::parse(authority)?,
            ClientCredential::secret(secret),
        )
        .cache(cache(location, Arc::clone(&clock))?)
        .http(HttpClient::new(http)?)
        .clock(clock.clone())
        .build()?,
    );
    say("ready");
    let (lines, mut commands) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin()
            .lock()
            .lines()
            .map_while(std::result::Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = commands.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["burst", n, rest @ ..] => {
                let scope = rest.first().copied().unwrap_or(DEFAULT_SCOPE);
                burst(&client, n.parse().unwrap_or(1), scope).await?;
            }
            ["advance", secs] => {
                clock
                    .offset_secs
                    .fetch_add(secs.parse().unwrap_or(0), Ordering::Relaxed);
                say("advanced");
            }
            ["latency", n, rest @ ..] => {
                let scope = rest.first().copied().unwrap_or(DEFAULT_SCOPE);
                latency(&client, n.parse().unwrap_or(1), scope).await?;
            }
            ["quit"] => break,
            _ => say(&format!("unknown command {line:?}")),
        }
    }
    Ok(())
}

async fn burst(client: &Arc<ConfidentialClient>, callers: usize, scope: &str) -> Result<()> {
    let scopes = Scopes::new([scope])?;
    let calls: Vec<_> = (0..callers)
        .map(|_| {
            let (client, scopes) = (Arc::clone(client), scopes.clone());
            tokio::spawn(async move {
                client
                    .acquire_token_for_client(&scopes, &TokenRequestOptions::default())
                    .await
            })
        })
        .collect();
    let (mut ok, mut errors, mut tokens) = (0, 0, BTreeSet::new());
    for call in calls {
        match call.await {
            Ok(Ok(token)) => {
                ok += 1;
                tokens.insert(digest(token.secret.expose_secret()));
            }
            Ok(Err(error)) => {
                errors += 1;
                say(&format!("error {error}"));
            }
            Err(error) => {
                errors += 1;
                say(&format!("error the task died: {error}"));
            }
        }
    }
    let tokens: Vec<String> = tokens.into_iter().collect();
    say(&format!(
        "burst ok={ok} errors={errors} tokens={}",
        tokens.join(",")
    ));
    Ok(())
}

async fn latency(client: &ConfidentialClient, calls: usize, scope: &str) -> Result<()> {
    let scopes = Scopes::new([scope])?;
    let mut micros = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        client
            .acquire_token_for_client(&scopes, &TokenRequestOptions::default())
            .await?;
        micros.push(started.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() as f64 * q) as usize).min(micros.len() - 1)];
    say(&format!("latency {:.2} {:.2}", at(0.50), at(0.99)));
    Ok(())
}
