//! On-behalf-of: a middle-tier API exchanges the user token it received for a token to
//! a downstream resource, for the same user.
//!
//! Unlike MSAL, tokens are cached per incoming assertion (under an extended key that
//! hashes it), so a second call with the same incoming token makes no request, and a
//! different incoming token never gets a token minted for another one.

use sha2::Digest;
use tokenhop_cache::keys;
use tokenhop_core::{AccessToken, Result, Scopes, Secret, TokenRequestOptions};

use crate::claims::unverified_claims;
use crate::confidential::ConfidentialClient;
use crate::http::Form;

const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The extra field that keys the cache entry by incoming assertion (never sent).
const ASSERTION_KEY_FIELD: &str = "obo_assertion_sha256";

impl ConfidentialClient {
    /// A token for `scopes` on behalf of the user whose token `user_assertion` is.
    pub async fn acquire_token_on_behalf_of(
        &self,
        user_assertion: &Secret,
        scopes: &Scopes,
        options: &TokenRequestOptions,
    ) -> Result<AccessToken> {
        let assertion = user_assertion.expose_secret();
        let digest = sha2::Sha256::digest(assertion.as_bytes());
        let digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let extra = vec![(ASSERTION_KEY_FIELD.to_owned(), digest)];
        let ext = keys::ext_cache_key(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // The response's client_info is `{oid}.{tid}` of the incoming token's user, so
        // the account is known before the request.
        let home_account_id = unverified_claims(assertion).ok().and_then(|claims| {
            Some(format!(
                "{}.{}",
                claims["oid"].as_str()?,
                claims["tid"].as_str()?
            ))
        });
        let cached = async || match &home_account_id {
            Some(home) if !options.force_refresh => {
                self.cached(Some(home), scopes, ext.as_deref()).await
            }
            _ => Ok(None),
        };
        if let Some(token) = cached().await? {
            return Ok(token);
        }
        let _flight = self
            .flight(format!(
                "obo|{}|{}",
                scopes,
                ext.as_deref().unwrap_or_default()
            ))
            .await;
        if let Some(token) = cached().await? {
            return Ok(token);
        }
        let form = Form::new()
            .field("grant_type", JWT_BEARER_GRANT)
            .field("client_id", self.client_id().as_str())
            .secret("assertion", user_assertion)
            .field("requested_token_use", "on_behalf_of")
            .field("scope", with_oidc_scopes(scopes))
            .field("client_info", "1");
        let response = self.post_authenticated(form, &[], None).await?;
        self.store(JWT_BEARER_GRANT, scopes, &response, &extra)
            .await
    }
}

/// `scopes` plus `openid profile offline_access`, as MSAL sends for user tokens (so the
/// response carries an id token, `client_info` and a refresh token).
pub(crate) fn with_oidc_scopes(scopes: &Scopes) -> String {
    format!(
        "{} openid profile offline_access",
        scopes.to_space_separated()
    )
}
