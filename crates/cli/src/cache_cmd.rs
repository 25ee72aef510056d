//! `tokenhop cache path|list|clear|import|export`: the token cache file. `list` shows
//! what each entry is for and when it expires, never a token.

use std::io::Read;
use std::path::Path;

use tokenhop_cache::entry::{Entry, Field};
use tokenhop_cache::{CacheOptions, Section, TokenCache};

use crate::cli::{CacheCommand, GlobalArgs};
use crate::context::read_file;
use crate::failure::{Failure, Outcome, config};
use crate::files::{Access, write};
use crate::output;

/// Runs a `cache` command.
pub fn run(global: &GlobalArgs, command: &CacheCommand) -> Outcome {
    let (path, cache) = global.cache_file()?;
    match command {
        CacheCommand::Path => output::line(&path.display().to_string()),
        CacheCommand::List => {
            let rows = cache.read(|c| {
                Section::ALL
                    .into_iter()
                    .flat_map(|section| c.entries(section).map(move |(_, e)| describe(section, e)))
                    .collect::<Vec<_>>()
            })?;
            list(global, &rows)
        }
        CacheCommand::Clear => {
            let removed = cache.write(|c| {
                let keys: Vec<(Section, String)> = Section::ALL
                    .into_iter()
                    .flat_map(|s| c.entries(s).map(move |(k, _)| (s, k.to_owned())))
                    .collect();
                for (section, key) in &keys {
                    c.remove(*section, key);
                }
                keys.len()
            })?;
            output::line(&format!(
                "removed {removed} entries from {}",
                path.display()
            ))
        }
        CacheCommand::Import { file } => {
            let imported = read_cache(file)?;
            let added = cache.write(|c| {
                let mut added = 0;
                for section in Section::ALL {
                    for (key, entry) in imported.entries(section) {
                        c.insert(section, key.to_owned(), entry.clone());
                        added += 1;
                    }
                }
                added
            })?;
            output::line(&format!("imported {added} entries into {}", path.display()))
        }
        CacheCommand::Export { file } => {
            let text = cache.read(TokenCache::to_json)?;
            write(file, text.as_bytes(), Access::Private, true)?;
            output::line(&format!("exported the cache to {}", file.display()))
        }
    }
}

/// What `list` shows of an entry: never its `secret`, nor fields it does not know.
struct Described {
    kind: &'static str,
    client_id: String,
    environment: String,
    realm: String,
    target: String,
    account: String,
    expires_on: Option<u64>,
}

fn describe(section: Section, entry: &Entry) -> Described {
    let text = |f: Field| entry.get(f).unwrap_or_default().to_owned();
    let account = match section {
        Section::Account => text(Field::Username),
        _ => text(Field::HomeAccountId),
    };
    Described {
        kind: section.name(),
        client_id: text(Field::ClientId),
        environment: text(Field::Environment),
        realm: text(Field::Realm),
        target: text(Field::Target),
        account,
        expires_on: entry.get_u64(Field::ExpiresOn),
    }
}

fn list(global: &GlobalArgs, rows: &[Described]) -> Outcome {
    if global.json {
        let items = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "kind": r.kind,
                    "client_id": r.client_id,
                    "environment": r.environment,
                    "realm": r.realm,
                    "target": r.target,
                    "account": r.account,
                    "expires_on": r.expires_on,
                })
            })
            .collect();
        return output::json(&serde_json::Value::Array(items));
    }
    if rows.is_empty() {
        eprintln!("the cache is empty");
        return Ok(());
    }
    let mut table = vec![
        [
            "KIND",
            "CLIENT ID",
            "ENVIRONMENT",
            "REALM",
            "ACCOUNT",
            "EXPIRES",
            "SCOPES",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    table.extend(rows.iter().map(|r| {
        vec![
            r.kind.to_owned(),
            dash(&r.client_id),
            dash(&r.environment),
            dash(&r.realm),
            dash(&r.account),
            r.expires_on.map(output::when).unwrap_or_else(|| "-".into()),
            dash(&r.target),
        ]
    }));
    output::table(&table)
}

fn dash(value: &str) -> String {
    if value.is_empty() {
        "-".to_owned()
    } else {
        value.to_owned()
    }
}

/// An MSAL-format cache from a file, or stdin for `-`.
fn read_cache(file: &Path) -> Outcome<TokenCache> {
    let bytes = if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::Other(format!("cannot read stdin: {e}")))?;
        bytes
    } else {
        read_file(file, "the cache to import")?
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| config(format!("{} is not UTF-8 text", file.display())))?;
    // Only where it failed: serde's message may quote a value, which may be a token.
    TokenCache::deserialize(&text, CacheOptions::default()).map_err(|e| {
        config(format!(
            "{} is not a token cache in MSAL's format (invalid at line {}, column {})",
            file.display(),
            e.line(),
            e.column()
        ))
    })
}
