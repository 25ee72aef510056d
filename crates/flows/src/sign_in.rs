//! [`SignInCredential`]: a signed-in user as a [`TokenCredential`] — silent from the
//! cache when it can, a sign-in (device code or browser) when it must.

use std::fmt;
use std::sync::Arc;

use tokenhop_cache::Account;
use tokenhop_core::{
    AccessToken, BoxFuture, Cached, Error, Result, Scopes, TokenCredential, TokenFlights,
    TokenRequestOptions,
};

use crate::device_code::DeviceCodeInfo;
use crate::public_client::PublicClient;

/// How the user signs in when the cache cannot help.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SignIn {
    /// Never: without a usable cached account the answer is
    /// [`Error::Authentication`] (sign in elsewhere first).
    Never,
    /// The device code flow.
    DeviceCode,
    /// The browser, falling back to the device code flow.
    #[cfg(feature = "interactive")]
    Interactive(crate::interactive::InteractiveOptions),
}

/// Shows the device code message to the user.
pub(crate) type ShowCode = Arc<dyn Fn(&DeviceCodeInfo) + Send + Sync>;

/// A user's tokens: silently for the cached account (the one named, or the first), else
/// a sign-in — one for all concurrent callers (one device code, one browser window), whose
/// outcome they share. [`TokenRequestOptions`] reach the public client (claims, tenant).
/// Constructing it does no I/O.
pub struct SignInCredential {
    client: PublicClient,
    sign_in: SignIn,
    show_code: ShowCode,
    username: Option<String>,
    sign_ins: TokenFlights<String>,
}

impl fmt::Debug for SignInCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInCredential")
            .field("client", &self.client)
            .field("sign_in", &self.sign_in)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Builds a [`SignInCredential`]. Building does no I/O.
pub struct SignInCredentialBuilder {
    credential: SignInCredential,
}

impl fmt::Debug for SignInCredentialBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInCredentialBuilder")
            .field("credential", &self.credential)
            .finish()
    }
}

impl SignInCredentialBuilder {
    /// Shows device code messages through `show` instead of stderr.
    pub fn show_code(mut self, show: impl Fn(&DeviceCodeInfo) + Send + Sync + 'static) -> Self {
        self.credential.show_code = Arc::new(show);
        self
    }

    /// Uses the cached account with this username rather than the first.
    pub fn account(mut self, username: impl Into<String>) -> Self {
        self.credential.username = Some(username.into());
        self
    }

    /// The credential.
    pub fn build(self) -> SignInCredential {
        self.credential
    }
}

impl SignInCredential {
    /// A builder that signs in through `client` (which carries the HTTP client, the
    /// cache and the clock) by `sign_in`; device code messages go to stderr.
    pub fn builder(client: PublicClient, sign_in: SignIn) -> SignInCredentialBuilder {
        SignInCredentialBuilder {
            credential: Self {
                client,
                sign_in,
                show_code: Arc::new(|info: &DeviceCodeInfo| eprintln!("{}", info.message)),
                username: None,
                sign_ins: TokenFlights::new(),
            },
        }
    }

    /// The public client.
    pub fn client(&self) -> &PublicClient {
        &self.client
    }

    async fn token(&self, scopes: &Scopes, options: &TokenRequestOptions) -> Result<AccessToken> {
        let accounts = self.accounts().await?;
        if let Some(token) = self.silent(&accounts, scopes, options).await? {
            return Ok(token);
        }
        if matches!(self.sign_in, SignIn::Never) {
            return Err(Error::Authentication {
                reason: "no cached account: sign in first".into(),
            });
        }
        // Everyone who got here at once shares one sign-in. Its leader looks once more:
        // an account that appeared meanwhile (a sign-in that just landed) is used
        // silently instead.
        let seen: Vec<String> = accounts.into_iter().map(|a| a.home_account_id).collect();
        let key = format!(
            "sign-in|{scopes}|{}|{}",
            options
                .tenant_id
                .as_ref()
                .map(|t| t.as_str())
                .unwrap_or_default(),
            options.claims.as_deref().unwrap_or_default()
        );
        self.sign_ins
            .acquire(
                key,
                false,
                || async {
                    let accounts = self.accounts().await?;
                    let new: Vec<Account> = accounts
                        .into_iter()
                        .filter(|a| !seen.contains(&a.home_account_id))
                        .collect();
                    Ok(match self.silent(&new, scopes, options).await? {
                        Some(token) => Cached::Fresh(token),
                        None => Cached::Missing,
                    })
                },
                || self.sign_in(scopes, options),
            )
            .await
    }

    /// The cached accounts this credential may use: the one named, or all.
    async fn accounts(&self) -> Result<Vec<Account>> {
        let accounts = self.client.accounts().await?;
        Ok(accounts
            .into_iter()
            .filter(|a| match &self.username {
                Some(name) => a.username.eq_ignore_ascii_case(name),
                None => true,
            })
            .collect())
    }

    /// The first of `accounts`' token, silently; `None` when there is none or (where
    /// signing in is allowed) the user must sign in again.
    async fn silent(
        &self,
        accounts: &[Account],
        scopes: &Scopes,
        options: &TokenRequestOptions,
    ) -> Result<Option<AccessToken>> {
        let Some(account) = accounts.first() else {
            return Ok(None);
        };
        match self
            .client
            .acquire_token_silent(scopes, account, options)
            .await
        {
            Err(Error::Authentication { reason }) if !matches!(self.sign_in, SignIn::Never) => {
                // The reason names the account: personal data.
                if self.client.logs_pii() {
                    tracing::info!(%reason, "silent acquisition failed; signing in");
                } else {
                    tracing::info!("silent acquisition failed; signing in");
                }
                Ok(None)
            }
            outcome => outcome.map(Some),
        }
    }

    async fn sign_in(&self, scopes: &Scopes, options: &TokenRequestOptions) -> Result<AccessToken> {
        let show = Arc::clone(&self.show_code);
        let show = move |info: &DeviceCodeInfo| show(info);
        let token = match &self.sign_in {
            SignIn::Never => {
                return Err(Error::Authentication {
                    reason: "no cached account: sign in first".into(),
                });
            }
            SignIn::DeviceCode => {
                self.client
                    .acquire_token_by_device_code(scopes, options, show)
                    .await?
            }
            #[cfg(feature = "interactive")]
            SignIn::Interactive(interactive) => {
                self.client
                    .acquire_token_interactive(scopes, options, interactive, show)
                    .await?
            }
        };
        Ok(token.token)
    }
}

impl TokenCredential for SignInCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.token(scopes, options))
    }
}
