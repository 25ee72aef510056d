//! How a confidential client proves who it is: a secret, or a JWT assertion from a
//! certificate, a hardware signer, a file, or a callback.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokenhop_core::{BoxFuture, Result, Secret};

use crate::http::Form;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What an assertion is for: the `iss`/`sub` and `aud` it must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssertionContext {
    /// The client id (`iss` and `sub`).
    pub client_id: String,
    /// The token endpoint (`aud`).
    pub token_endpoint: String,
}

/// Produces client assertions. Implemented by certificate credentials, the workload
/// identity token file, previous hops of an Agent ID chain, and user callbacks.
pub trait AssertionSource: Send + Sync {
    /// An assertion for `context`.
    fn assertion<'a>(&'a self, context: &'a AssertionContext) -> BoxFuture<'a, Result<Secret>>;
}

struct SyncCallback<F>(F);

impl<F> AssertionSource for SyncCallback<F>
where
    F: Fn(&AssertionContext) -> Result<String> + Send + Sync,
{
    fn assertion<'a>(&'a self, context: &'a AssertionContext) -> BoxFuture<'a, Result<Secret>> {
        let result = (self.0)(context).map(Secret::new);
        Box::pin(async move { result })
    }
}

struct AsyncCallback<F>(F);

impl<F, Fut> AssertionSource for AsyncCallback<F>
where
    F: Fn(AssertionContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<String>> + Send + 'static,
{
    fn assertion<'a>(&'a self, context: &'a AssertionContext) -> BoxFuture<'a, Result<Secret>> {
        let future = (self.0)(context.clone());
        Box::pin(async move { future.await.map(Secret::new) })
    }
}

/// A confidential client's credential.
#[derive(Clone)]
pub enum ClientCredential {
    /// `client_secret`.
    Secret(Secret),
    /// `client_assertion` (JWT bearer) from a source.
    Assertion(Arc<dyn AssertionSource>),
}

impl ClientCredential {
    /// A client secret.
    pub fn secret(secret: impl Into<Secret>) -> Self {
        Self::Secret(secret.into())
    }

    /// An assertion from a blocking callback, called for every token request (so it can
    /// return a fresh one each time).
    pub fn assertion_fn<F>(callback: F) -> Self
    where
        F: Fn(&AssertionContext) -> Result<String> + Send + Sync + 'static,
    {
        Self::Assertion(Arc::new(SyncCallback(callback)))
    }

    /// An assertion from an async callback.
    pub fn assertion_async<F, Fut>(callback: F) -> Self
    where
        F: Fn(AssertionContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String>> + Send + 'static,
    {
        Self::Assertion(Arc::new(AsyncCallback(callback)))
    }

    /// An assertion from any [`AssertionSource`].
    pub fn assertion_source(source: impl AssertionSource + 'static) -> Self {
        Self::Assertion(Arc::new(source))
    }

    /// Adds the authentication to a token request: the fields, and for a secret the
    /// token endpoint takes only by HTTP Basic (`methods`, its discovery document's
    /// `token_endpoint_auth_methods_supported`, names `client_secret_basic` and not
    /// `client_secret_post`), the `Authorization` header value instead.
    pub(crate) async fn authenticate(
        &self,
        form: Form,
        context: &AssertionContext,
        methods: &[String],
    ) -> Result<(Form, Option<Secret>)> {
        let offers = |method: &str| methods.iter().any(|m| m == method);
        Ok(match self {
            Self::Secret(secret)
                if offers("client_secret_basic") && !offers("client_secret_post") =>
            {
                (form, Some(basic_authorization(&context.client_id, secret)))
            }
            Self::Secret(secret) => (form.secret("client_secret", secret), None),
            Self::Assertion(source) => {
                let assertion = source.assertion(context).await?;
                let form = form
                    .field("client_assertion_type", JWT_BEARER)
                    .secret("client_assertion", &assertion);
                (form, None)
            }
        })
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749, section 2.3.1).
fn basic_authorization(client_id: &str, secret: &Secret) -> Secret {
    use base64::Engine;
    let encode =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret.expose_secret()));
    Secret::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("ClientCredential::Secret([redacted])"),
            Self::Assertion(_) => f.write_str("ClientCredential::Assertion(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> AssertionContext {
        AssertionContext {
            client_id: "app".into(),
            token_endpoint: "https://login/token".into(),
        }
    }

    #[tokio::test]
    async fn secret_goes_into_client_secret() {
        let (form, header) = ClientCredential::secret("cs-1")
            .authenticate(Form::new(), &context(), &[])
            .await
            .unwrap();
        assert_eq!(form.get("client_secret"), Some("cs-1"));
        assert_eq!(form.get("client_assertion"), None);
        assert!(header.is_none());
    }

    #[tokio::test]
    async fn a_secret_goes_by_basic_only_where_discovery_says_post_is_not_taken() {
        let methods = |list: &[&str]| list.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>();
        let secret = ClientCredential::secret("s3cr&t");
        let both = methods(&["client_secret_basic", "client_secret_post"]);
        let (form, header) = secret
            .authenticate(Form::new(), &context(), &both)
            .await
            .unwrap();
        assert!(form.get("client_secret").is_some() && header.is_none());
        let basic = methods(&["client_secret_basic", "private_key_jwt"]);
        let (form, header) = secret
            .authenticate(Form::new(), &context(), &basic)
            .await
            .unwrap();
        assert_eq!(form.get("client_secret"), None);
        // base64("app:s3cr%26t")
        assert_eq!(header.unwrap().expose_secret(), "Basic YXBwOnMzY3IlMjZ0");
    }

    #[tokio::test]
    async fn callbacks_see_the_context_and_fill_the_assertion_fields() {
        let sync = ClientCredential::assertion_fn(|c| Ok(format!("jwt-for-{}", c.client_id)));
        let (form, _) = sync
            .authenticate(Form::new(), &context(), &[])
            .await
            .unwrap();
        assert_eq!(form.get("client_assertion"), Some("jwt-for-app"));
        assert_eq!(form.get("client_assertion_type"), Some(JWT_BEARER));

        let asynchronous = ClientCredential::assertion_async(|c| async move {
            Ok(format!("async-{}", c.token_endpoint))
        });
        let (form, _) = asynchronous
            .authenticate(Form::new(), &context(), &[])
            .await
            .unwrap();
        assert_eq!(
            form.get("client_assertion"),
            Some("async-https://login/token")
        );
    }

    #[tokio::test]
    async fn a_failing_callback_fails_the_request() {
        let failing = ClientCredential::assertion_fn(|_| {
            Err(tokenhop_core::Error::CertNotFound {
                what: "hsm key".into(),
            })
        });
        assert!(
            failing
                .authenticate(Form::new(), &context(), &[])
                .await
                .is_err()
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", ClientCredential::secret("cs-visible?")).contains("cs-visible"));
    }
}
