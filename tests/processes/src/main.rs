//! `tokenhop-cache-peer ROLE CACHE_FILE [AUTHORITY CLIENT_ID]`: another process on the
//! same token cache file, for the tests in `tests/processes`. It reports on stdout, one
//! line an event; a client secret comes from `TOKENHOP_TEST_CLIENT_SECRET`, never an
//! argument, and the cache's lock wait from `TOKENHOP_TEST_LOCK_TIMEOUT_MS`. Roles:
//!
//! - `hold-lock`: takes the cache file's cross-process lock, prints `holding`, and keeps
//!   it until killed;
//! - `silent-daemon`: a public client that refreshes the first signed-in account's token
//!   every 50 ms (forced, so the refresh token is used each time) and prints `ok` or
//!   `interaction` (or `error …`);
//! - `app-daemon`: a confidential client that asks for an app token every 50 ms and
//!   prints `token <digest>` (a SHA-256 prefix, not the token);
//! - `token-while-locked`: gets one app token (prints `ready`), waits for a line on
//!   stdin, then asks for a token of another scope (a miss, so a cache write) while a
//!   ticker task and a lookup task run, and prints `outcome …`, `ticks N`, `lookups N`.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokenhop_cache::{CacheOptions, FilePersistence, Persistence, SharedTokenCache};
use tokenhop_core::{ClientId, Error, Result, Scopes, TokenRequestOptions};
use tokenhop_flows::{Authority, ClientCredential, ConfidentialClient, PublicClient};
use tokenhop_process_tests::{LOCK_TIMEOUT_MS, digest};

/// How often the daemons and the background tasks act.
const TICK: Duration = Duration::from_millis(50);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["hold-lock", path] => hold_lock(path),
        ["silent-daemon", path, authority, client_id] => {
            runtime().and_then(|rt| rt.block_on(silent_daemon(path, authority, client_id)))
        }
        ["app-daemon", path, authority, client_id] => {
            runtime().and_then(|rt| rt.block_on(app_daemon(path, authority, client_id)))
        }
        ["token-while-locked", path, authority, client_id] => {
            runtime().and_then(|rt| rt.block_on(token_while_locked(path, authority, client_id)))
        }
        _ => Err(Error::configuration(
            "usage: tokenhop-cache-peer hold-lock|silent-daemon|app-daemon|token-while-locked CACHE_FILE [AUTHORITY CLIENT_ID]",
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tokenhop-cache-peer: {error}");
            ExitCode::FAILURE
        }
    }
}

/// One thread: what the peer does must not depend on spare executor threads.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::configuration(format!("no tokio runtime: {e}")))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The cache file, with the lock wait of [`LOCK_TIMEOUT_MS`] when set.
fn cache(path: &str) -> SharedTokenCache {
    let mut file = FilePersistence::new(path);
    if let Some(ms) = std::env::var(LOCK_TIMEOUT_MS)
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        file = file.with_lock_timeout(Duration::from_millis(ms));
    }
    SharedTokenCache::new(file, CacheOptions::default())
}

fn hold_lock(path: &str) -> Result<()> {
    FilePersistence::new(path)
        .update(&mut |_stored| {
            say("holding");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        })
        .map(|_| ())
}

fn authority(authority: &str) -> Result<Authority> {
    Authority::parse(authority)
}

fn client_id(client_id: &str) -> Result<ClientId> {
    ClientId::new(client_id)
}

async fn silent_daemon(path: &str, authority_url: &str, id: &str) -> Result<()> {
    let client = PublicClient::builder(client_id(id)?, authority(authority_url)?)
        .cache(cache(path))
        .build()?;
    let Some(account) = client.accounts().await?.into_iter().next() else {
        say("no account");
        return Ok(());
    };
    let scopes = Scopes::new(["User.Read"])?;
    let mut forced = TokenRequestOptions::default();
    forced.force_refresh = true;
    loop {
        match client
            .acquire_token_silent(&scopes, &account, &forced)
            .await
        {
            Ok(_) => say("ok"),
            Err(Error::Authentication { .. }) => say("interaction"),
            Err(other) => say(&format!("error {other}")),
        }
        tokio::time::sleep(TICK).await;
    }
}

fn confidential(path: &str, authority_url: &str, id: &str) -> Result<ConfidentialClient> {
    let secret = std::env::var("TOKENHOP_TEST_CLIENT_SECRET")
        .map_err(|_| Error::configuration("set TOKENHOP_TEST_CLIENT_SECRET"))?;
    ConfidentialClient::builder(
        client_id(id)?,
        authority(authority_url)?,
        ClientCredential::secret(secret),
    )
    .cache(cache(path))
    .build()
}

async fn app_daemon(path: &str, authority_url: &str, id: &str) -> Result<()> {
    let client = confidential(path, authority_url, id)?;
    let scopes = Scopes::new(["https://graph.microsoft.com/.default"])?;
    loop {
        match client
            .acquire_token_for_client(&scopes, &TokenRequestOptions::default())
            .await
        {
            Ok(token) => say(&format!("token {}", digest(token.secret.expose_secret()))),
            Err(other) => say(&format!("error {other}")),
        }
        tokio::time::sleep(TICK).await;
    }
}

async fn token_while_locked(path: &str, authority_url: &str, id: &str) -> Result<()> {
    let client = Arc::new(confidential(path, authority_url, id)?);
    let cached = Scopes::new(["https://graph.microsoft.com/.default"])?;
    let other = Scopes::new(["https://storage.azure.com/.default"])?;
    let options = TokenRequestOptions::default();
    client.acquire_token_for_client(&cached, &options).await?;
    say("ready");
    let mut go = String::new();
    let _ = std::io::stdin().lock().read_line(&mut go);

    let ticks = Arc::new(AtomicU64::new(0));
    let lookups = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = Arc::clone(&ticks);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let looker = {
        let (client, lookups, cached) = (Arc::clone(&client), Arc::clone(&lookups), cached.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                if client
                    .acquire_token_for_client(&cached, &TokenRequestOptions::default())
                    .await
                    .is_ok()
                {
                    lookups.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let started = Instant::now();
    let outcome = client.acquire_token_for_client(&other, &options).await;
    let elapsed = started.elapsed().as_millis();
    match outcome {
        Ok(_) => say(&format!("outcome ok after {elapsed} ms")),
        Err(error) => say(&format!("outcome error after {elapsed} ms: {error}")),
    }
    say(&format!("ticks {}", ticks.load(Ordering::Relaxed)));
    say(&format!("lookups {}", lookups.load(Ordering::Relaxed)));
    ticker.abort();
    looker.abort();
    Ok(())
}
