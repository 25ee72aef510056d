//! Signing users in: `login`, and how a device code is shown to the person at the
//! terminal.

use tokenhop_cache::SharedTokenCache;
use tokenhop_flows::{DeviceCodeInfo, PublicClient};

use crate::cli::{GlobalArgs, LoginArgs};
use crate::context::runtime;
use crate::failure::Outcome;
use crate::output;

fn public_client(global: &GlobalArgs, cache: SharedTokenCache) -> Outcome<PublicClient> {
    Ok(
        PublicClient::builder(global.client_id()?, global.authority()?)
            .cache(cache)
            .http(global.http()?)
            .build()?,
    )
}

/// Shows the device code message on stderr (stdout stays the token's): plain lines,
/// or on a terminal the message above a spinner that runs until the command ends.
pub fn show_code(info: &DeviceCodeInfo) {
    use std::io::IsTerminal;
    eprintln!("{}", info.message);
    if std::io::stderr().is_terminal() {
        let spinner = SPINNER.get_or_init(|| {
            indicatif::ProgressBar::new_spinner().with_message("waiting for the sign-in to finish…")
        });
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    }
}

/// The device code spinner, while one runs.
static SPINNER: std::sync::OnceLock<indicatif::ProgressBar> = std::sync::OnceLock::new();

/// Clears the device code spinner, if one ran (before the command prints its result).
pub fn stop_spinner() {
    if let Some(spinner) = SPINNER.get() {
        spinner.finish_and_clear();
    }
}

/// Runs `login`.
pub fn login(global: &GlobalArgs, args: &LoginArgs) -> Outcome {
    let scopes = crate::context::scopes(&args.scopes)?;
    let client = public_client(global, global.token_cache()?)?;
    let signed_in = runtime()?.block_on(async {
        if args.device_code {
            client
                .acquire_token_by_device_code(&scopes, &Default::default(), show_code)
                .await
        } else {
            client
                .acquire_token_interactive(
                    &scopes,
                    &Default::default(),
                    &Default::default(),
                    show_code,
                )
                .await
        }
    })?;
    let account = signed_in.home_account_id.unwrap_or_default();
    if global.json {
        output::json(&serde_json::json!({ "home_account_id": account }))
    } else {
        output::line(&format!("signed in: {account}"))
    }
}
