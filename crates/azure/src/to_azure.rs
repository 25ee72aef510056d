//! [`AzureCredential`]: a tokenhop credential where the Azure SDK for Rust wants an
//! `azure_core` one.

use std::any::type_name;
use std::fmt;
use std::sync::Arc;

use azure_core::credentials::{self as azure, TokenRequestOptions as AzureOptions};
use azure_core::error::ErrorKind;
use azure_core::time::OffsetDateTime;
use tokenhop_core::{Scopes, TokenCredential, TokenRequestOptions};

/// Any tokenhop [`TokenCredential`] as an [`azure_core::credentials::TokenCredential`],
/// for every Azure SDK client (`BlobServiceClient::new(url, Some(credential), None)`,
/// Key Vault's `SecretClient::new`, …).
///
/// - **Scopes** pass through as the client asks for them (normalised, as tokenhop
///   caches key on them).
/// - **Lifetime**: `expires_on` is the token's own. The token itself is copied into
///   azure_core's `Secret`, which keeps it out of `Debug` but, unlike tokenhop's, does
///   not zeroize it when dropped.
/// - **Caching** is the credential's: each tokenhop flow answers from its MSAL-shaped
///   cache with single-flight and refresh ahead; the Azure SDK's bearer policy keeps
///   the token it got until it nears expiry. After a `401` the SDK forgets its copy,
///   but asks with default options, so tokenhop answers from its cache until the token
///   nears expiry; a resource that rejects a valid token needs a caller-side retry
///   with `force_refresh` on tokenhop's credential.
/// - **Errors** become [`ErrorKind::Credential`] errors whose message is tokenhop's
///   (the OAuth `error`, the AADSTS codes, the hop of an Agent ID chain, the correlation
///   id; never a secret) and whose inner error is the [`tokenhop_core::Error`] itself:
///   `azure_error.downcast_ref::<tokenhop_core::Error>()` gives its fields back.
///
/// azure_core 1.x `TokenRequestOptions` carry only the caller's pipeline context, which
/// a tokenhop credential has no use for: it sends through its own HTTP client.
pub struct AzureCredential<C> {
    credential: C,
}

impl<C: TokenCredential + 'static> AzureCredential<C> {
    /// Wraps `credential`; the `Arc` is what Azure SDK clients take (it coerces to
    /// `Arc<dyn azure_core::credentials::TokenCredential>`). No I/O.
    pub fn new(credential: C) -> Arc<Self> {
        Arc::new(Self { credential })
    }

    /// The wrapped tokenhop credential.
    pub fn inner(&self) -> &C {
        &self.credential
    }
}

impl<C> fmt::Debug for AzureCredential<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The credential's own Debug may not exist; its type says what it is.
        f.debug_struct("AzureCredential")
            .field("credential", &type_name::<C>())
            .finish()
    }
}

#[async_trait::async_trait]
impl<C: TokenCredential + 'static> azure::TokenCredential for AzureCredential<C> {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<AzureOptions<'_>>,
    ) -> azure_core::Result<azure::AccessToken> {
        let scopes = Scopes::new(scopes).map_err(credential_error)?;
        let token = self
            .credential
            .get_token(&scopes, &TokenRequestOptions::default())
            .await
            .map_err(credential_error)?;
        Ok(azure::AccessToken::new(
            token.secret.expose_secret().to_owned(),
            OffsetDateTime::from(token.expires_on),
        ))
    }
}

/// A tokenhop error as an Azure SDK credential error that keeps it inside.
fn credential_error(error: tokenhop_core::Error) -> azure_core::Error {
    azure_core::Error::new(ErrorKind::Credential, error)
}
