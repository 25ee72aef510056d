//! [`FromAzureCredential`]: an `azure_core` credential (one of `azure_identity`'s, or
//! any other) where tokenhop wants a [`TokenCredential`].

use std::sync::Arc;
use std::time::SystemTime;

use azure_core::credentials::TokenCredential as AzureTokenCredential;
use azure_core::error::ErrorKind;
use tokenhop_core::{
    AccessToken, BoxFuture, Error, Result, Scope, Scopes, TokenCredential, TokenRequestOptions,
};

/// An [`azure_core::credentials::TokenCredential`] as a tokenhop [`TokenCredential`], so
/// that tokenhop's consumers can use it: the bearer client (`BearerClient`, with its
/// retry after a `401`), providers (`into_provider`), and, wrapped in
/// [`tokenhop_core::CachingCredential`], tokenhop's single-flight cache with refresh
/// ahead.
///
/// ```
/// # use std::sync::Arc;
/// use tokenhop_azure::FromAzureCredential;
/// use tokenhop_core::{CachingCredential, Scopes, TokenCredentialExt};
///
/// # fn run(azure: Arc<dyn azure_core::credentials::TokenCredential>) -> tokenhop_core::Result<()> {
/// // `azure` is e.g. `azure_identity::ManagedIdentityCredential::new(None)?`.
/// let credential = CachingCredential::new(FromAzureCredential::new(azure));
/// let provider = credential.into_provider(Scopes::new(["https://storage.azure.com/.default"])?);
/// # Ok(()) }
/// ```
///
/// What azure_core 1.x can carry decides what passes through:
///
/// - `force_refresh` asks the Azure credential again (tokenhop's own caches above are
///   skipped); azure_core has no way to tell a credential to skip a cache of its own,
///   and `azure_identity`'s answer from theirs until five minutes before expiry.
/// - A claims challenge or another tenant cannot be expressed: such a request is
///   refused with [`Error::Configuration`] rather than answered with a token that
///   ignores it.
/// - Errors: an HTTP answer from the token endpoint becomes [`Error::TokenExchange`]
///   (with the AADSTS codes the Azure SDK kept), no answer [`Error::Transport`], an
///   unreadable one [`Error::InvalidResponse`], anything else [`Error::Configuration`];
///   a tokenhop error that went through [`crate::AzureCredential`] comes back as it was.
///   (`azure_identity` 1.0 cannot read Entra's error bodies, whose descriptions hold an
///   escaped line break before "Trace ID": it reports them as unreadable, so they arrive
///   as [`Error::InvalidResponse`] whose text still holds Entra's AADSTS description.)
#[derive(Debug, Clone)]
pub struct FromAzureCredential {
    credential: Arc<dyn AzureTokenCredential>,
}

impl FromAzureCredential {
    /// Wraps `credential`. No I/O.
    pub fn new(credential: Arc<dyn AzureTokenCredential>) -> Self {
        Self { credential }
    }

    async fn token(&self, scopes: &Scopes, options: &TokenRequestOptions) -> Result<AccessToken> {
        if options.claims.is_some() {
            return Err(Error::configuration(
                "an azure_core credential cannot take a claims challenge (azure_core 1.x TokenRequestOptions have no claims); use a tokenhop flow for CAE",
            ));
        }
        if let Some(tenant) = &options.tenant_id {
            return Err(Error::configuration(format!(
                "an azure_core credential cannot be asked for tenant {tenant}: configure the tenant on the azure_identity credential itself"
            )));
        }
        let scopes_asked: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
        let token = self
            .credential
            .get_token(&scopes_asked, None)
            .await
            .map_err(|error| tokenhop_error(&error))?;
        Ok(AccessToken::new(
            token.token.secret().to_owned(),
            SystemTime::from(token.expires_on),
        )
        .with_scopes(scopes.clone()))
    }
}

impl TokenCredential for FromAzureCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.token(scopes, options))
    }
}

/// What an Azure SDK credential error means in tokenhop's terms (see
/// [`FromAzureCredential`]).
fn tokenhop_error(error: &azure_core::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(ours) = current.downcast_ref::<Error>() {
            return ours.clone();
        }
        source = current.source();
    }
    let message = error.to_string();
    let kinds: Vec<&ErrorKind> = azure_errors(error).map(azure_core::Error::kind).collect();
    let answered = kinds.iter().find_map(|kind| match kind {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => Some((status, error_code.as_deref().unwrap_or_default())),
        _ => None,
    });
    if let Some((status, error_code)) = answered {
        // azure_identity keeps Entra's AADSTS numbers (comma-separated) as the code.
        let codes: Vec<u64> = error_code
            .split(',')
            .filter_map(|code| code.trim().parse().ok())
            .collect();
        let named = Some(error_code).filter(|code| !code.is_empty() && codes.is_empty());
        return Error::TokenExchange {
            hop: None,
            error: named.map_or_else(|| format!("HTTP {status}"), str::to_owned),
            description: message,
            error_codes: codes,
            correlation_id: None,
            suberror: None,
            claims: None,
            trace_id: None,
        };
    }
    if kinds
        .iter()
        .any(|kind| matches!(kind, ErrorKind::Connection | ErrorKind::Io))
    {
        return Error::transport(format!("the Azure SDK credential got no answer: {message}"));
    }
    if kinds.contains(&&ErrorKind::DataConversion) {
        return Error::InvalidResponse {
            endpoint: "the Azure SDK credential's token endpoint".into(),
            reason: message,
        };
    }
    Error::configuration(format!("the Azure SDK credential failed: {message}"))
}

/// `error` and the Azure SDK errors it wraps, outermost first.
fn azure_errors(error: &azure_core::Error) -> impl Iterator<Item = &azure_core::Error> {
    std::iter::successors(Some(error), |current| {
        current.get_ref()?.downcast_ref::<azure_core::Error>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::StatusCode;

    #[test]
    fn an_entra_refusal_keeps_its_aadsts_codes() {
        let inner = azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status: StatusCode::Unauthorized,
                error_code: Some("7000215,50012".into()),
                raw_response: None,
            },
            "AADSTS7000215: Invalid client secret provided.",
        );
        let outer = azure_core::Error::with_error(
            ErrorKind::Credential,
            inner,
            "ClientSecretCredential authentication failed. AADSTS7000215: Invalid client secret provided.",
        );
        match tokenhop_error(&outer) {
            Error::TokenExchange {
                error,
                error_codes,
                description,
                hop: None,
                ..
            } => {
                assert_eq!(error, "HTTP 401");
                assert_eq!(error_codes, [7000215, 50012]);
                assert!(
                    description.contains("ClientSecretCredential"),
                    "{description}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_answer_is_a_transport_error_and_the_rest_configuration() {
        let io = azure_core::Error::with_error(
            ErrorKind::Credential,
            azure_core::Error::with_message(ErrorKind::Io, "connection refused"),
            "ManagedIdentityCredential authentication failed. connection refused",
        );
        assert!(matches!(tokenhop_error(&io), Error::Transport { .. }));
        let garbled = azure_core::Error::with_message(ErrorKind::DataConversion, "not JSON");
        assert!(matches!(
            tokenhop_error(&garbled),
            Error::InvalidResponse { .. }
        ));
        let other = azure_core::Error::with_message(ErrorKind::Credential, "invalid tenant ID");
        let mapped = tokenhop_error(&other);
        assert!(matches!(mapped, Error::Configuration { .. }), "{mapped:?}");
        assert!(mapped.to_string().contains("invalid tenant ID"));
    }

    #[test]
    fn a_tokenhop_error_comes_back_as_it_went() {
        let ours = Error::TokenExchange {
            hop: Some(2),
            error: "invalid_client".into(),
            description: "AADSTS7002137: no matching federated identity record".into(),
            error_codes: vec![7002137],
            correlation_id: Some("c0ffee".into()),
            suberror: None,
            claims: Some(r#"{"access_token":{"nbf":{"essential":true}}}"#.into()),
            trace_id: None,
        };
        let wrapped = azure_core::Error::new(ErrorKind::Credential, ours.clone());
        let twice = azure_core::Error::with_error(ErrorKind::Credential, wrapped, "context");
        assert_eq!(tokenhop_error(&twice).to_string(), ours.to_string());
    }
}
