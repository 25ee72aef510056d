//! The tokenhop half of `cargo xtask bench`'s network cases, against a running
//! emulator (`tokenhop-emulator serve --tls`):
//!
//! - `bench_clients concurrent READY_JSON CONFIG_JSON CALLERS`: that many concurrent
//!   callers on a cold cache ask one client for the same token; prints the emulator's
//!   token request count.
//! - `bench_clients throughput READY_JSON CONFIG_JSON SECONDS CONCURRENCY`: client
//!   credentials with the cache bypassed, for that long; prints requests per second and
//!   this process's CPU milliseconds per request.
//! - `bench_clients token-requests READY_JSON CONFIG_JSON`: prints the emulator's token
//!   request count (the fleet case counts what other processes asked for).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Scopes, TokenRequestOptions};
use tokenhop_flows::Authority;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::ConfidentialClient;
use tokenhop_flows::{HttpClient, HttpConfig};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn text<'v>(value: &'v Value, name: &str) -> Result<&'v str, Failure> {
    value[name]
        .as_str()
        .ok_or_else(|| format!("no {name}").into())
}

struct Emulator {
    url: String,
    admin: reqwest::Client,
}

impl Emulator {
    async fn token_requests(&self) -> Result<u64, Failure> {
        let url = format!("{}/admin/counters", self.url);
        let body: Value =
            serde_json::from_slice(&self.admin.get(url).send().await?.bytes().await?)?;
        Ok(body["endpoints"]["token"].as_u64().unwrap_or(0))
    }
}

fn client(ready: &Value, config: &Value, http: &HttpClient) -> Result<ConfidentialClient, Failure> {
    let app = config["apps"]
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["name"] == "confidential-secret"))
        .ok_or("no confidential-secret app")?;
    Ok(ConfidentialClient::builder(
        ClientId::new(text(app, "client_id")?)?,
        Authority::parse(&format!(
            "{}/{}",
            text(ready, "url")?,
            text(ready, "tenant_id")?
        ))?,
        ClientCredential::secret(text(app, "secret")?.to_owned()),
    )
    .http(http.clone())
    .cache(SharedTokenCache::in_memory())
    .build()?)
}

/// This process's user + system CPU time, from `/proc/self/stat` (Linux; ticks of
/// 1/100 s, the kernel's `USER_HZ`).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, ready, config, rest) = match args.as_slice() {
        [mode, ready, config, rest @ ..] => (mode, ready, config, rest),
        _ => return Err("usage: bench_clients concurrent|throughput READY CONFIG ...".into()),
    };
    let ready: Value = serde_json::from_str(ready)?;
    let config: Value = serde_json::from_str(&std::fs::read_to_string(config)?)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = std::fs::read(text(&ready, "ca_cert")?)?;
    let admin = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca)?)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // tokenhop sends through the same client: the one reqwest escape hatch.
    let http = HttpClient::new(HttpConfig::default().with_reqwest_client(admin.clone()))?;
    let emulator = Emulator {
        url: text(&ready, "url")?.to_owned(),
        admin,
    };
    let client = Arc::new(client(&ready, &config, &http)?);
    let scopes = Scopes::new(["https://graph.microsoft.com/.default"])?;
    match (mode.as_str(), rest) {
        ("concurrent", [callers]) => {
            let before = emulator.token_requests().await?;
            let tasks: Vec<_> = (0..callers.parse::<usize>()?)
                .map(|_| {
                    let (client, scopes) = (Arc::clone(&client), scopes.clone());
                    tokio::spawn(async move { client.acquire_token_for_client(&scopes, &TokenRequestOptions::default()).await })
                })
                .collect();
            for task in tasks {
                task.await??;
            }
            println!("{}", emulator.token_requests().await? - before);
        }
        ("token-requests", []) => println!("{}", emulator.token_requests().await?),
        ("throughput", [seconds, concurrency]) => {
            let deadline = Instant::now() + Duration::from_secs_f64(seconds.parse()?);
            let started = Instant::now();
            let workers: Vec<_> = (0..concurrency.parse::<usize>()?)
                .map(|_| {
                    let (client, scopes) = (Arc::clone(&client), scopes.clone());
                    tokio::spawn(async move {
                        let mut done = 0u64;
                        let mut options = TokenRequestOptions::default();
                        options.force_refresh = true;
                        while Instant::now() < deadline {
                            client.acquire_token_for_client(&scopes, &options).await?;
                            done += 1;
                        }
                        Ok::<u64, tokenhop_core::Error>(done)
                    })
                })
                .collect();
            let mut total = 0;
            for worker in workers {
                total += worker.await??;
            }
            let cpu_ms = process_cpu_seconds().map(|s| s * 1000.0 / total.max(1) as f64);
            println!(
                "{:.1} {:.4}",
                total as f64 / started.elapsed().as_secs_f64(),
                cpu_ms.unwrap_or(f64::NAN)
            );
        }
        _ => return Err("usage: bench_clients concurrent READY CONFIG CALLERS | throughput READY CONFIG SECONDS CONCURRENCY | token-requests READY CONFIG".into()),
    }
    Ok(())
}
