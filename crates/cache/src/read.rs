//! Lookups: access tokens (exact key, then the superset-of-scopes index), refresh
//! tokens (own and FOCI family), accounts.

use crate::cache::TokenCache;
use crate::entry::{Entry, Field};
use crate::index::group_bucket;
use crate::keys;
use crate::section::Section;

/// What to look an access token up by: MSAL's query fields.
#[derive(Clone, Copy, Debug)]
pub struct AccessTokenQuery<'a> {
    /// `uid.utid` of the account; `None` for app-only tokens.
    pub home_account_id: Option<&'a str>,
    /// The authority host.
    pub environment: &'a str,
    /// The client.
    pub client_id: &'a str,
    /// The tenant segment of the authority.
    pub realm: &'a str,
    /// The requested scopes; a cached token for a superset of them matches.
    pub scopes: &'a [&'a str],
    /// The extended key of extra request fields (`fmi_path`…), if any.
    pub ext_cache_key: Option<&'a str>,
}

impl AccessTokenQuery<'_> {
    /// The partition of a partitioned cache that holds the token (see
    /// [`crate::partition_key`]).
    pub fn partition_key(&self) -> String {
        crate::partition::partition_key(
            self.client_id,
            self.realm,
            self.home_account_id,
            self.ext_cache_key,
        )
    }
}

/// The outcome of an access token lookup, by MSAL's rules.
#[derive(Clone, Copy, Debug)]
pub enum AccessTokenLookup<'c> {
    /// A token good for at least the expiry margin and not due for refresh.
    Hit(&'c Entry),
    /// A valid token whose `refresh_on` has passed: refresh, and use it if that fails.
    Aging(&'c Entry),
    /// No usable token: go to the network.
    Miss,
}

/// An account, as `get_accounts` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Account {
    /// `uid.utid`.
    pub home_account_id: String,
    /// The authority host.
    pub environment: String,
    /// The tenant it signed in to.
    pub realm: String,
    /// The object id in that tenant.
    pub local_account_id: String,
    /// The sign-in name.
    pub username: String,
    /// `MSSTS` or `ADFS`.
    pub authority_type: String,
    /// The grant that established it (`authorization_code`, `device_code`, `user_fic`…).
    pub account_source: Option<String>,
}

impl Account {
    fn from_entry(entry: &Entry) -> Self {
        Self {
            home_account_id: field(entry, Field::HomeAccountId),
            environment: field(entry, Field::Environment),
            realm: field(entry, Field::Realm),
            local_account_id: field(entry, Field::LocalAccountId),
            username: field(entry, Field::Username),
            authority_type: field(entry, Field::AuthorityType),
            account_source: entry.get(Field::AccountSource).map(str::to_owned),
        }
    }
}

fn field(entry: &Entry, field: Field) -> String {
    entry.get(field).unwrap_or_default().to_owned()
}

fn classify(entry: &Entry, now: u64) -> AccessTokenLookup<'_> {
    entry.note_use(now);
    match entry.get_u64(Field::RefreshOn) {
        Some(refresh_on) if refresh_on < now => AccessTokenLookup::Aging(entry),
        _ => AccessTokenLookup::Hit(entry),
    }
}

fn is_of_account(entry: &Entry, home_account_id: &str, environment: &str) -> bool {
    entry.get(Field::HomeAccountId).unwrap_or_default() == home_account_id
        && entry
            .get(Field::Environment)
            .unwrap_or_default()
            .eq_ignore_ascii_case(environment)
}

impl TokenCache {
    /// Finds an access token: a walk of the cached tokens that share the request's
    /// rarest scope within the same account, client, realm and extended key (one hash
    /// lookup per requested scope to find it) — independent of the cache's size.
    pub fn find_access_token(
        &self,
        query: &AccessTokenQuery<'_>,
        now: u64,
    ) -> AccessTokenLookup<'_> {
        let home = query.home_account_id.unwrap_or_default();
        let environment = query.environment.to_ascii_lowercase();
        let ext = query.ext_cache_key.unwrap_or_default();
        let wanted: Vec<std::borrow::Cow<'_, str>> =
            query.scopes.iter().map(|s| self.scope_form(s)).collect();
        if wanted.is_empty() {
            return AccessTokenLookup::Miss;
        }
        let distinct: std::collections::HashSet<&str> = wanted.iter().map(|w| w.as_ref()).collect();
        let matches = |entry: &Entry| {
            entry.get(Field::HomeAccountId).unwrap_or_default() == home
                && entry
                    .get(Field::Environment)
                    .unwrap_or_default()
                    .eq_ignore_ascii_case(&environment)
                && entry.get(Field::ClientId).unwrap_or_default() == query.client_id
                && entry.get(Field::Realm).unwrap_or_default() == query.realm
                && entry.get(Field::ExtCacheKey).unwrap_or_default() == ext
        };
        let group = group_bucket(home, &environment, query.client_id, query.realm, ext);
        let rarest = wanted
            .iter()
            .map(|s| self.indexes().at_candidates(group, s))
            .min_by_key(|keys| keys.len())
            .unwrap_or(&[]);
        // Like MSAL, prefer the token for exactly the requested scopes; otherwise the
        // first usable token for a superset.
        let mut superset = None;
        for (_, entry) in rarest
            .iter()
            .filter_map(|p| self.at_position(Section::AccessToken, *p))
        {
            if !matches(entry) || !self.covers(entry, &wanted) {
                continue;
            }
            let Some(expires_on) = entry.get_u64(Field::ExpiresOn) else {
                continue;
            };
            if expires_on < now.saturating_add(self.options().expiry_margin_secs) {
                continue;
            }
            let exact = entry
                .get(Field::Target)
                .unwrap_or_default()
                .split_whitespace()
                .count()
                == distinct.len();
            if exact {
                return classify(entry, now);
            }
            superset.get_or_insert(entry);
        }
        match superset {
            Some(entry) => classify(entry, now),
            None => AccessTokenLookup::Miss,
        }
    }

    fn covers(&self, entry: &Entry, wanted: &[std::borrow::Cow<'_, str>]) -> bool {
        let target = entry.get(Field::Target).unwrap_or_default();
        wanted
            .iter()
            .all(|w| target.split_whitespace().any(|t| self.scope_form(t) == *w))
    }

    /// The app's own refresh token for an account.
    pub fn find_refresh_token(
        &self,
        home_account_id: &str,
        environment: &str,
        client_id: &str,
    ) -> Option<(&str, &Entry)> {
        self.find_account_refresh_token(home_account_id, environment, |e| {
            e.get(Field::ClientId) == Some(client_id)
        })
    }

    /// A family (FOCI) refresh token for an account, from any app of the family.
    pub fn find_family_refresh_token(
        &self,
        home_account_id: &str,
        environment: &str,
        family_id: &str,
    ) -> Option<(&str, &Entry)> {
        self.find_account_refresh_token(home_account_id, environment, |e| {
            e.get(Field::FamilyId) == Some(family_id)
        })
    }

    pub(crate) fn find_account_refresh_token(
        &self,
        home_account_id: &str,
        environment: &str,
        wanted: impl Fn(&Entry) -> bool,
    ) -> Option<(&str, &Entry)> {
        self.indexes()
            .rts_of(home_account_id, environment)
            .iter()
            .filter_map(|p| self.at_position(Section::RefreshToken, *p))
            .find(|(_, e)| is_of_account(e, home_account_id, environment) && wanted(e))
    }

    /// The app's family id from its metadata (`None`: not known to be in a family).
    pub fn app_family_id(&self, environment: &str, client_id: &str) -> Option<&str> {
        self.get(
            Section::AppMetadata,
            &keys::app_metadata_key(&environment.to_ascii_lowercase(), client_id),
        )
        .and_then(|e| e.get(Field::FamilyId))
        .filter(|f| !f.is_empty())
    }

    /// The accounts signed in at `environment`, one per home account (as MSAL's
    /// `get_accounts` lists them: not filtered by client).
    pub fn accounts(&self, environment: &str) -> Vec<Account> {
        let mut seen = std::collections::HashSet::new();
        self.indexes()
            .accounts_in(environment)
            .iter()
            .filter_map(|p| self.at_position(Section::Account, *p))
            .map(|(_, entry)| entry)
            .filter(|e| {
                e.get(Field::Environment)
                    .is_some_and(|env| env.eq_ignore_ascii_case(environment))
            })
            .filter(|e| matches!(e.get(Field::AuthorityType), Some("MSSTS" | "ADFS")))
            .map(Account::from_entry)
            .filter(|a| seen.insert(a.home_account_id.clone()))
            .collect()
    }

    /// Signs an account out: removes its account entries and every token of it at
    /// `environment`. Returns how many entries went.
    pub fn remove_account(&mut self, home_account_id: &str, environment: &str) -> usize {
        let environment = environment.to_ascii_lowercase();
        let mut doomed = Vec::new();
        for section in Section::ALL {
            if section == Section::AppMetadata {
                continue;
            }
            for (key, entry) in self.entries(section) {
                if entry.get(Field::HomeAccountId) == Some(home_account_id)
                    && entry
                        .get(Field::Environment)
                        .is_some_and(|e| e.eq_ignore_ascii_case(&environment))
                {
                    doomed.push((section, key.to_owned()));
                }
            }
        }
        for (section, key) in &doomed {
            self.remove(*section, key);
        }
        doomed.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::entry::{Entry, Field};
    use crate::{AccessTokenLookup, AccessTokenQuery, CacheOptions, Section, TokenCache};

    const HOMES: [&str; 3] = ["h1", "h2", "h3"];
    const SCOPES: [&str; 4] = ["a", "b", "c", "d"];

    fn token(home: &str, scopes: &[&str], secret: &str) -> Entry {
        let mut entry = Entry::new();
        entry.set(Field::Secret, secret);
        entry.set(Field::HomeAccountId, home);
        entry.set(Field::Environment, "login.example");
        entry.set(Field::ClientId, "c");
        entry.set(Field::Realm, "r");
        entry.set(Field::Target, scopes.join(" "));
        entry.set(Field::ExpiresOn, "9999999999");
        entry
    }

    /// Every lookup's answer: hit or miss (which of several matching tokens is found
    /// first depends on the order they were indexed in, as in MSAL on its dict order).
    fn answers(cache: &TokenCache) -> Vec<bool> {
        let mut found = Vec::new();
        for home in HOMES {
            for scope in SCOPES {
                let query = AccessTokenQuery {
                    home_account_id: Some(home),
                    environment: "login.example",
                    client_id: "c",
                    realm: "r",
                    scopes: &[scope],
                    ext_cache_key: None,
                };
                found.push(match cache.find_access_token(&query, 0) {
                    AccessTokenLookup::Hit(entry) => {
                        let target = entry.get(Field::Target).unwrap_or_default();
                        assert_eq!(entry.get(Field::HomeAccountId), Some(home));
                        assert!(
                            target.split(' ').any(|s| s == scope),
                            "{target} lacks {scope}"
                        );
                        true
                    }
                    _ => false,
                });
            }
            let rt = cache.find_refresh_token(home, "login.example", "c");
            assert!(rt.is_none_or(|(_, e)| e.get(Field::HomeAccountId) == Some(home)));
            found.push(rt.is_some());
        }
        found
    }

    proptest! {
        /// Indexes kept up to date through inserts, replacements and removals (which move
        /// the last entry into the gap) answer as indexes built afresh do.
        #[test]
        fn maintained_indexes_answer_as_rebuilt_ones(
            ops in prop::collection::vec((any::<bool>(), 0usize..8, 0usize..3, prop::sample::subsequence(SCOPES.to_vec(), 1..4)), 1..40)
        ) {
            let mut cache = TokenCache::new();
            cache.insert(Section::AccessToken, "seed".into(), token("h1", &["a"], "seed"));
            let _ = answers(&cache);
            for (round, (insert, key, home, scopes)) in ops.into_iter().enumerate() {
                let key = format!("k{key}");
                if insert {
                    let home = HOMES[home];
                    cache.insert(Section::AccessToken, key.clone(), token(home, &scopes, &format!("s{round}")));
                    let mut rt = token(home, &[], &key);
                    rt.set(Field::Target, "");
                    cache.insert(Section::RefreshToken, key, rt);
                } else {
                    cache.remove(Section::AccessToken, &key);
                    cache.remove(Section::RefreshToken, &key);
                }
            }
            let rebuilt = TokenCache::deserialize(&cache.to_json(), CacheOptions::default()).unwrap();
            prop_assert_eq!(answers(&cache), answers(&rebuilt));
        }
    }
}
