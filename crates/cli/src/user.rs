//! Signed-in users: the silent flow (the cached account), sign-in by device code or
//! browser, `login`, and on-behalf-of for a middle tier.

use std::sync::Arc;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{
    AccessToken, BoxFuture, Result, Scopes, Secret, TokenCredential, TokenRequestOptions,
};
use tokenhop_flows::confidential::ConfidentialClient;
use tokenhop_flows::device_code::DeviceCodeInfo;
use tokenhop_flows::public_client::PublicClient;
use tokenhop_flows::sign_in::{SignIn, SignInCredential};

use crate::cli::{Flow, GlobalArgs, LoginArgs};
use crate::credential::AnyCredential;
use crate::failure::Outcome;
use crate::{output, token};

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
fn show_code(info: &DeviceCodeInfo) {
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

/// The credential of a user flow: silent (the cached account only), device code or
/// browser.
pub fn credential(
    global: &GlobalArgs,
    flow: Flow,
    account: Option<String>,
    cache: SharedTokenCache,
) -> Outcome<AnyCredential> {
    let client = public_client(global, cache)?;
    let sign_in = match flow {
        Flow::DeviceCode => SignIn::DeviceCode,
        Flow::Interactive => SignIn::Interactive(Default::default()),
        _ => SignIn::Never,
    };
    let credential = SignInCredential::new(client, sign_in).show_code(show_code);
    Ok(Arc::new(match account {
        Some(account) => credential.account(account),
        None => credential,
    }))
}

/// A middle tier's token on behalf of the user of one incoming token.
pub struct OnBehalfOf {
    client: ConfidentialClient,
    assertion: Secret,
}

impl OnBehalfOf {
    /// `client` exchanging `assertion`.
    pub fn new(client: ConfidentialClient, assertion: Secret) -> Self {
        Self { client, assertion }
    }
}

impl TokenCredential for OnBehalfOf {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(
            self.client
                .acquire_token_on_behalf_of(&self.assertion, scopes, options),
        )
    }
}

/// Runs `login`.
pub fn login(global: &GlobalArgs, args: &LoginArgs) -> Outcome {
    let scopes = crate::context::scopes(&args.scopes)?;
    let client = public_client(global, global.token_cache()?)?;
    let signed_in = token::runtime()?.block_on(async {
        if args.device_code {
            client
                .acquire_token_by_device_code(&scopes, show_code)
                .await
        } else {
            client
                .acquire_token_interactive(&scopes, &Default::default(), show_code)
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
