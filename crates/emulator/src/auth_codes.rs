//! The authorization codes the emulator issued, each redeemable once.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::realm::Realm;

/// What an authorization code was issued for.
#[derive(Clone, Debug)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    /// The PKCE S256 challenge, when the request had one.
    pub(crate) code_challenge: Option<String>,
    pub(crate) realm: Realm,
    /// The signed-in user, by name.
    pub(crate) user: String,
    /// In the emulator's clock, epoch seconds.
    pub(crate) expires_at: u64,
}

/// Authorization codes by value.
#[derive(Default)]
pub(crate) struct AuthCodes(Mutex<HashMap<String, CodeGrant>>);

impl AuthCodes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CodeGrant>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a new code.
    pub(crate) fn insert(&self, code: String, grant: CodeGrant) {
        self.lock().insert(code, grant);
    }

    /// The grant of `code`, which can then not be redeemed again.
    pub(crate) fn take(&self, code: &str) -> Option<CodeGrant> {
        self.lock().remove(code)
    }
}
