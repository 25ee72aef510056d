//! `tokenhop accounts` and `tokenhop logout`: the signed-in accounts of the cache.

use std::collections::BTreeSet;

use tokenhop_cache::entry::Field;
use tokenhop_cache::{Account, Section, SharedTokenCache};

use tokenhop_flows::{AzureCliCredential, AzureCliProfile};

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

/// Runs `accounts --azure-cli`: the Azure CLI's subscriptions with who is signed in to
/// each (`*` marks the default), and whether its token cache holds that user (a
/// service principal's tokens are not an account: `-`).
pub fn azure_cli(global: &GlobalArgs) -> Outcome {
    let cli = AzureCliCredential::builder().build()?;
    let profile = AzureCliProfile::load(cli.config_dir())?;
    let in_cache: BTreeSet<String> = all_accounts(cli.cache())?
        .into_iter()
        .map(|a| a.username.to_ascii_lowercase())
        .collect();
    let cached = |user: &str| in_cache.contains(&user.to_ascii_lowercase());
    if global.json {
        let items: Vec<serde_json::Value> = profile
            .subscriptions
            .iter()
            .map(|s| {
                serde_json::json!({
                    "subscription": s.id,
                    "name": s.name,
                    "tenant": s.tenant_id,
                    "default": s.is_default,
                    "cloud": s.environment_name,
                    "user": s.user.name,
                    "user_type": s.user.kind,
                    "in_token_cache": cached(&s.user.name),
                })
            })
            .collect();
        return output::json(&serde_json::Value::Array(items));
    }
    if profile.subscriptions.is_empty() {
        eprintln!(
            "nobody is signed in to the Azure CLI in {} (run `az login`)",
            cli.config_dir().display()
        );
        return Ok(());
    }
    let mut rows = vec![
        [
            "",
            "SUBSCRIPTION",
            "NAME",
            "TENANT",
            "USER",
            "TYPE",
            "CACHED",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    rows.extend(profile.subscriptions.iter().map(|s| {
        vec![
            if s.is_default { "*" } else { "" }.to_owned(),
            s.id.clone(),
            s.name.clone(),
            s.tenant_id.clone(),
            s.user.name.clone(),
            s.user.kind.clone(),
            match (s.user.is_service_principal(), cached(&s.user.name)) {
                (true, _) => "-",
                (false, true) => "yes",
                (false, false) => "no",
            }
            .to_owned(),
        ]
    }));
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
