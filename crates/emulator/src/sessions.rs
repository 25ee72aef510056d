//! What the emulator remembers between requests: refresh tokens it issued, and which
//! tokens are revoked.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde::Deserialize;

/// A refresh token's grant.
#[derive(Clone, Debug)]
pub(crate) struct RefreshGrant {
    pub(crate) user_object_id: String,
    pub(crate) client_id: String,
    /// FOCI family of the client it was issued to.
    pub(crate) family: Option<String>,
    pub(crate) expires_at: u64,
    pub(crate) revoked: bool,
}

/// Refresh tokens by value. Redeeming one issues a new one (rotation); the old one
/// stays valid until it expires or is revoked, as in Entra.
#[derive(Default)]
pub(crate) struct RefreshTokens(Mutex<HashMap<String, RefreshGrant>>);

impl RefreshTokens {
    pub(crate) fn issue(&self, grant: RefreshGrant) -> String {
        let token = format!(
            "1.emu.{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        lock(&self.0).insert(token.clone(), grant);
        token
    }

    pub(crate) fn get(&self, token: &str) -> Option<RefreshGrant> {
        lock(&self.0).get(token).cloned()
    }

    /// Revokes the refresh tokens `which` selects; returns how many.
    fn revoke(&self, which: impl Fn(&str, &RefreshGrant) -> bool) -> usize {
        let mut tokens = lock(&self.0);
        let mut count = 0;
        for (token, grant) in tokens.iter_mut() {
            if !grant.revoked && which(token, grant) {
                grant.revoked = true;
                count += 1;
            }
        }
        count
    }
}

/// What `POST /admin/revoke` names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Revocation {
    /// A user, by name: every token and refresh token issued to them so far.
    #[serde(default)]
    pub user: Option<String>,
    /// A client id: every token and refresh token issued to it so far.
    #[serde(default)]
    pub client: Option<String>,
    /// One access token or refresh token.
    #[serde(default)]
    pub token: Option<String>,
    /// Also refuse, at the resource, every later token of that user or client (as a
    /// resource does once it has revoked a user's sessions for good).
    #[serde(default)]
    pub block: bool,
}

#[derive(Default)]
struct Revoked {
    /// `uti` of each access token issued → (user or service principal oid, client id).
    issued: HashMap<String, (String, String)>,
    utis: HashSet<String>,
    /// Subjects (user object ids, client ids) refused at the resource from now on.
    blocked: HashSet<String>,
}

/// Revoked access tokens (by `uti`) and blocked subjects.
#[derive(Default)]
pub(crate) struct Revocations(Mutex<Revoked>);

impl Revocations {
    /// Remembers an issued access token so that revoking its user or client finds it.
    pub(crate) fn record(&self, uti: &str, subject: &str, client_id: &str) {
        lock(&self.0)
            .issued
            .insert(uti.to_owned(), (subject.to_owned(), client_id.to_owned()));
    }

    /// Whether an access token with these claims was revoked or its subject blocked.
    pub(crate) fn is_revoked(&self, claims: &serde_json::Value) -> bool {
        let revoked = lock(&self.0);
        let named = |claim: &str| claims[claim].as_str().unwrap_or_default();
        revoked.utis.contains(named("uti"))
            || revoked.blocked.contains(named("oid"))
            || revoked.blocked.contains(named("azp"))
    }

    /// Revokes what `revocation` names; `user_object_id` is its user's object id, and
    /// `token_uti` the `uti` of its token when that is an access token. Returns how many
    /// tokens it revoked.
    pub(crate) fn revoke(
        &self,
        refresh_tokens: &RefreshTokens,
        revocation: &Revocation,
        user_object_id: Option<&str>,
        token_uti: Option<&str>,
    ) -> usize {
        let mut revoked = lock(&self.0);
        let Revoked {
            issued,
            utis,
            blocked,
        } = &mut *revoked;
        let mut count = 0;
        let subject_matches = |subject: &str, client: &str| {
            user_object_id == Some(subject) || revocation.client.as_deref() == Some(client)
        };
        for (uti, (subject, client)) in issued.iter() {
            if subject_matches(subject, client) && utis.insert(uti.clone()) {
                count += 1;
            }
        }
        if let Some(uti) = token_uti
            && utis.insert(uti.to_owned())
        {
            count += 1;
        }
        count += refresh_tokens.revoke(|token, grant| {
            subject_matches(&grant.user_object_id, &grant.client_id)
                || revocation.token.as_deref() == Some(token)
        });
        if revocation.block {
            blocked.extend(user_object_id.map(str::to_owned));
            blocked.extend(revocation.client.clone());
        }
        count
    }

    pub(crate) fn clear(&self) {
        let mut revoked = lock(&self.0);
        revoked.utis.clear();
        revoked.blocked.clear();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
