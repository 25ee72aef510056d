//! `tokenhop accounts` and `tokenhop logout`: the signed-in accounts of the cache.

use std::collections::BTreeSet;

use tokenhop_cache::entry::Field;
use tokenhop_cache::{Account, Section, SharedTokenCache};

use crate::cli::{GlobalArgs, LogoutArgs};
use crate::failure::{Outcome, config};
use crate::output;

/// Every cached account, across environments (login.microsoftonline.com, …).
fn all_accounts(cache: &SharedTokenCache) -> Outcome<Vec<Account>> {
    Ok(cache.read(|c| {
        let environments: BTreeSet<String> = c
            .entries(Section::Account)
            .filter_map(|(_, entry)| entry.get(Field::Environment))
            .map(str::to_ascii_lowercase)
            .collect();
        environments
            .iter()
            .flat_map(|environment| c.accounts(environment))
            .collect()
    })?)
}

/// Runs `accounts`.
pub fn list(global: &GlobalArgs) -> Outcome {
    let accounts = all_accounts(&global.token_cache()?)?;
    if global.json {
        let items: Vec<serde_json::Value> = accounts
            .iter()
            .map(|a| {
                serde_json::json!({
                    "username": a.username,
                    "home_account_id": a.home_account_id,
                    "environment": a.environment,
                    "realm": a.realm,
                    "local_account_id": a.local_account_id,
                })
            })
            .collect();
        return output::json(&serde_json::Value::Array(items));
    }
    if accounts.is_empty() {
        eprintln!("no cached accounts");
        return Ok(());
    }
    let mut rows = vec![vec![
        "USERNAME".to_owned(),
        "HOME ACCOUNT ID".to_owned(),
        "ENVIRONMENT".to_owned(),
        "REALM".to_owned(),
    ]];
    rows.extend(
        accounts
            .into_iter()
            .map(|a| vec![a.username, a.home_account_id, a.environment, a.realm]),
    );
    output::table(&rows)
}

/// Runs `logout`: removes the account's entries and every token of it.
pub fn logout(global: &GlobalArgs, args: &LogoutArgs) -> Outcome {
    let cache = global.lasting_cache()?;
    let accounts = all_accounts(&cache)?;
    let chosen: Vec<&Account> = match &args.account {
        Some(wanted) => accounts
            .iter()
            .filter(|a| a.home_account_id == *wanted || a.username.eq_ignore_ascii_case(wanted))
            .collect(),
        None if accounts.len() <= 1 => accounts.iter().collect(),
        None => {
            let names: Vec<&str> = accounts.iter().map(|a| a.username.as_str()).collect();
            return Err(config(format!(
                "several accounts are cached ({}); choose one with --account",
                names.join(", ")
            )));
        }
    };
    if chosen.is_empty() {
        return match &args.account {
            Some(wanted) => Err(config(format!(
                "no cached account matches {wanted}; see `tokenhop accounts`"
            ))),
            None => {
                eprintln!("no cached accounts: nothing to do");
                Ok(())
            }
        };
    }
    let mut removed = 0;
    for account in &chosen {
        removed += cache.remove_account(&account.home_account_id, &account.environment)?;
    }
    for account in &chosen {
        output::line(&format!(
            "signed out {} ({})",
            account.username, account.home_account_id
        ))?;
    }
    tracing::debug!(removed, "cache entries removed");
    Ok(())
}
