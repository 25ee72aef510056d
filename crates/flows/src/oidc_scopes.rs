//! The scopes MSAL adds to every user-token request.

use tokenhop_core::Scopes;

/// `scopes` plus `openid profile offline_access`, as MSAL sends for user tokens (so the
/// response carries an id token, `client_info` and a refresh token).
pub(crate) fn with_oidc_scopes(scopes: &Scopes) -> String {
    format!(
        "{} openid profile offline_access",
        scopes.to_space_separated()
    )
}
