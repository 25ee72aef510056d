//! [`SignInCredential`]: a signed-in user as a [`TokenCredential`] — silent from the
//! cache when it can, a sign-in (device code or browser) when it must.

use std::fmt;
use std::sync::Arc;

use tokenhop_core::{
    AccessToken, BoxFuture, Error, Result, Scopes, TokenCredential, TokenRequestOptions,
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
/// a sign-in. Constructing it does no I/O.
pub struct SignInCredential {
    client: PublicClient,
    sign_in: SignIn,
    show_code: ShowCode,
    username: Option<String>,
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
            },
        }
    }

    /// The public client.
    pub fn client(&self) -> &PublicClient {
        &self.client
    }

    async fn token(&self, scopes: &Scopes, options: &TokenRequestOptions) -> Result<AccessToken> {
        let accounts = self.client.accounts().await?;
        let account = accounts.iter().find(|a| match &self.username {
            Some(name) => a.username.eq_ignore_ascii_case(name),
            None => true,
        });
        if let Some(account) = account {
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
                }
                outcome => return outcome,
            }
        }
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
                    .acquire_token_by_device_code(scopes, show)
                    .await?
            }
            #[cfg(feature = "interactive")]
            SignIn::Interactive(options) => {
                self.client
                    .acquire_token_interactive(scopes, options, show)
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
