//! The Rust side of the MSAL cache round trip (`cargo xtask ci`, step `interop-cache`):
//!
//! - `interop write FILE`: writes a cache (a user signed in by auth code, app tokens,
//!   an `fmi_path` token) that MSAL Python must read;
//! - `interop synthetic ENTRIES FILE`: a synthetic cache of that size;
//! - `interop check FILE ANSWERS`: reads a cache MSAL wrote and checks that every
//!   query in ANSWERS (JSON written by the Python side) gives the same answer here;
//! - `interop lock-writer FILE NAME START_MS` (step `interop-lock`): at START_MS (epoch
//!   milliseconds) writes 50 app tokens, `at-NAME-0`…, one locked write each, beside
//!   other writers on the same file.

use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokenhop_cache::entry::Field;
use tokenhop_cache::{
    AccessTokenLookup, AccessTokenQuery, CacheOptions, SharedTokenCache, TokenCache, TokenEvent,
    keys,
};

const ENVIRONMENT: &str = "login.microsoftonline.com";
const TENANT: &str = "7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["write", file] => write(file),
        ["check", file, answers] => check(file, answers),
        ["synthetic", entries, file] => synthetic(entries, file),
        ["lock-writer", file, name, start_ms] => lock_writer(file, name, start_ms),
        _ => Err("usage: interop write FILE | interop check FILE ANSWERS | interop synthetic ENTRIES FILE | interop lock-writer FILE NAME START_MS".into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("interop: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Writes a synthetic cache of about ENTRIES entries (for timing other implementations on
/// the same data).
fn synthetic(entries: &str, file: &str) -> Result<(), String> {
    let entries: usize = entries.parse().map_err(|e| format!("ENTRIES: {e}"))?;
    let text = tokenhop_cache::synthetic::build(entries).cache.to_json();
    std::fs::write(file, text).map_err(|e| format!("cannot write {file}: {e}"))
}

/// How many tokens each writer of the `interop-lock` step writes.
const LOCK_WRITES: usize = 50;

fn lock_writer(file: &str, name: &str, start_ms: &str) -> Result<(), String> {
    let start_ms: u128 = start_ms.parse().map_err(|e| format!("START_MS: {e}"))?;
    let epoch_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    };
    let wait = start_ms.saturating_sub(epoch_ms());
    std::thread::sleep(std::time::Duration::from_millis(
        u64::try_from(wait).unwrap_or(0),
    ));
    let cache = SharedTokenCache::file(file);
    let now = u64::try_from(epoch_ms() / 1000).unwrap_or(0);
    for i in 0..LOCK_WRITES {
        let response = json!({"token_type": "Bearer", "expires_in": 3600, "access_token": format!("at-{name}-{i}")});
        let client_id = format!("client-{name}-{i}");
        cache
            .write(|c| {
                add(
                    c,
                    &client_id,
                    "client_credentials",
                    &response,
                    &["https://graph.microsoft.com/.default"],
                    &[],
                    now,
                )
            })
            .map_err(|e| format!("write {i} of {name}: {e}"))?;
    }
    println!("tokenhop writer {name} wrote {LOCK_WRITES} tokens");
    Ok(())
}

fn b64(value: Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn write(file: &str) -> Result<(), String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let mut cache = TokenCache::new();
    let oid = "33333333-aaaa-4bbb-8ccc-000000000003";
    let public_client = "51f81489-12ee-4a9e-aaae-a2591f45987d";
    let id_token = format!(
        "{}.{}.sig",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(
            json!({"oid": oid, "sub": "sub-carol", "tid": TENANT, "preferred_username": "carol@contoso.example", "aud": public_client})
        )
    );
    let user = json!({
        "token_type": "Bearer", "scope": "User.Read Mail.Read openid profile", "expires_in": 36000, "ext_expires_in": 36000,
        "access_token": "at-carol-tokenhop", "refresh_token": "rt-carol-tokenhop", "id_token": id_token,
        "client_info": b64(json!({"uid": oid, "utid": TENANT})),
    });
    add(
        &mut cache,
        public_client,
        "authorization_code",
        &user,
        &["User.Read", "Mail.Read", "openid", "profile"],
        &[],
        now,
    );
    let confidential = "a0e4b1c2-3d4e-4f50-8a6b-7c8d9e0f1a2b";
    let app =
        json!({"token_type": "Bearer", "expires_in": 36000, "access_token": "at-app-tokenhop"});
    add(
        &mut cache,
        confidential,
        "client_credentials",
        &app,
        &["https://graph.microsoft.com/.default"],
        &[],
        now,
    );
    let fmi =
        json!({"token_type": "Bearer", "expires_in": 36000, "access_token": "at-fmi-tokenhop"});
    add(
        &mut cache,
        confidential,
        "client_credentials",
        &fmi,
        &["api://AzureADTokenExchange/.default"],
        &[("fmi_path", "agent-7")],
        now,
    );
    std::fs::write(file, cache.serialize()).map_err(|e| format!("cannot write {file}: {e}"))?;
    println!("tokenhop wrote {file}");
    Ok(())
}

fn add(
    cache: &mut TokenCache,
    client_id: &str,
    grant: &str,
    response: &Value,
    scopes: &[&str],
    extra: &[(&str, &str)],
    now: u64,
) {
    let granted: Vec<&str> = match response["scope"].as_str() {
        Some(scope) => scope.split(' ').collect(),
        None => scopes.to_vec(),
    };
    if let Some(object) = response.as_object() {
        cache.add(&TokenEvent {
            client_id,
            environment: ENVIRONMENT,
            realm: TENANT,
            scopes: &granted,
            grant_type: grant,
            response: object,
            extra_fields: extra,
            now,
        });
    }
}

/// ANSWERS: `[{"client_id", "account" (home id or null), "scopes": [...], "fmi_path", "result"}]`.
fn check(file: &str, answers: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let cache = TokenCache::deserialize(&text, CacheOptions::default())
        .map_err(|e| format!("{file}: {e}"))?;
    let answers: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(answers).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    for answer in &answers {
        let scopes: Vec<&str> = answer["scopes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let ext = answer["fmi_path"]
            .as_str()
            .and_then(|p| keys::ext_cache_key([("fmi_path", p)]));
        let lookup = cache.find_access_token(
            &AccessTokenQuery {
                home_account_id: answer["account"].as_str(),
                environment: ENVIRONMENT,
                client_id: answer["client_id"].as_str().unwrap_or_default(),
                realm: TENANT,
                scopes: &scopes,
                ext_cache_key: ext.as_deref(),
            },
            now,
        );
        let ours = match lookup {
            AccessTokenLookup::Hit(entry) => {
                format!("cache:{}", entry.get(Field::Secret).unwrap_or_default())
            }
            _ => "network".to_owned(),
        };
        let theirs = answer["result"].as_str().unwrap_or_default();
        if ours != theirs {
            return Err(format!(
                "{scopes:?} for {}: MSAL answered {theirs}, tokenhop {ours}",
                answer["client_id"]
            ));
        }
        println!("ok  {:<45} {}", scopes.join(" "), ours);
    }
    println!(
        "tokenhop gave MSAL's answer for all {} queries on the MSAL-written cache",
        answers.len()
    );
    Ok(())
}
