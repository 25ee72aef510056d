//! Pruning, done before every save of a [`SharedTokenCache`](crate::SharedTokenCache):
//! expired access tokens go, on-behalf-of tokens are bounded per user, and the number
//! of access tokens is bounded, least recently used first. Refresh tokens, accounts,
//! id tokens and app metadata are kept, as MSAL keeps them.

use std::collections::HashMap;

use crate::cache::TokenCache;
use crate::entry::{Entry, Field};
use crate::section::Section;

/// An access token that pruning may still drop, and when it was last used.
struct Kept {
    key: String,
    last_used: u64,
}

impl TokenCache {
    /// Drops the access tokens expired at `now` (epoch seconds), then applies the
    /// bounds of [`CacheOptions`](crate::CacheOptions): at most
    /// `max_on_behalf_of_tokens_per_user` on-behalf-of tokens for one user, app, tenant
    /// and scopes, and at most `max_access_tokens` access tokens; the least recently
    /// used (found by a lookup, else cached) go first. Returns how many went.
    pub fn prune(&mut self, now: u64) -> usize {
        let options = self.options();
        let mut doomed = Vec::new();
        let mut kept = Vec::new();
        let mut on_behalf_of: HashMap<[&str; 5], Vec<usize>> = HashMap::new();
        for (key, entry) in self.entries(Section::AccessToken) {
            if entry.get_u64(Field::ExpiresOn).is_some_and(|on| on <= now) {
                doomed.push(key.to_owned());
                continue;
            }
            if let Some(group) = on_behalf_of_group(entry) {
                on_behalf_of.entry(group).or_default().push(kept.len());
            }
            kept.push(Kept {
                key: key.to_owned(),
                last_used: entry.last_used(),
            });
        }
        let mut dropped = vec![false; kept.len()];
        for mut members in on_behalf_of.into_values() {
            if members.len() > options.max_on_behalf_of_tokens_per_user {
                members.sort_unstable_by_key(|&i| std::cmp::Reverse(kept[i].last_used));
                for &i in &members[options.max_on_behalf_of_tokens_per_user..] {
                    dropped[i] = true;
                }
            }
        }
        let mut survivors: Vec<&Kept> = kept
            .iter()
            .zip(&dropped)
            .filter(|(_, dropped)| !**dropped)
            .map(|(kept, _)| kept)
            .collect();
        let excess = options
            .max_access_tokens
            .map_or(0, |max| survivors.len().saturating_sub(max));
        if excess > 0 {
            survivors.select_nth_unstable_by_key(excess - 1, |k| k.last_used);
        }
        let evicted = survivors[..excess].iter().map(|k| k.key.clone());
        let over_bound = kept
            .iter()
            .zip(&dropped)
            .filter(|(_, dropped)| **dropped)
            .map(|(kept, _)| kept.key.clone());
        doomed.extend(over_bound.chain(evicted).collect::<Vec<_>>());
        for key in &doomed {
            self.remove(Section::AccessToken, key);
        }
        doomed.len()
    }
}

/// The user, environment, app, tenant and scopes of an on-behalf-of token: a user's
/// token under an extended key (tokenhop keys those by the incoming assertion).
fn on_behalf_of_group(entry: &Entry) -> Option<[&str; 5]> {
    let home = entry.get(Field::HomeAccountId).filter(|h| !h.is_empty())?;
    entry.get(Field::ExtCacheKey).filter(|e| !e.is_empty())?;
    Some([
        home,
        entry.get(Field::Environment).unwrap_or_default(),
        entry.get(Field::ClientId).unwrap_or_default(),
        entry.get(Field::Realm).unwrap_or_default(),
        entry.get(Field::Target).unwrap_or_default(),
    ])
}

#[cfg(test)]
mod tests {
    use crate::{CacheOptions, Section, TokenCache};

    const NOW: u64 = 1_800_000_000;

    fn app_token(cache: &mut TokenCache, client: &str, expires_in: u64, now: u64) {
        crate::test_support::app_token(cache, client, &format!("at-{client}"), expires_in, now);
    }

    #[test]
    fn expired_access_tokens_go_and_the_rest_stays() {
        let mut cache = TokenCache::new();
        app_token(&mut cache, "old", 60, NOW);
        app_token(&mut cache, "fresh", 3600, NOW);
        assert_eq!(cache.prune(NOW + 61), 1);
        let left: Vec<&str> = cache
            .entries(Section::AccessToken)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(left.len(), 1);
        assert!(left[0].contains("fresh"), "{left:?}");
        assert_eq!(cache.len(Section::AppMetadata), 2, "app metadata is kept");
    }

    #[test]
    fn the_bound_drops_the_least_recently_used_first() {
        let mut cache = TokenCache::with_options(CacheOptions::default().with_max_access_tokens(2));
        for (i, client) in ["a", "b", "c"].into_iter().enumerate() {
            app_token(&mut cache, client, 3600, NOW + i as u64);
        }
        // "a" was cached first but is used after "b" and "c" were cached.
        let query = crate::AccessTokenQuery {
            home_account_id: None,
            environment: "login.microsoftonline.com",
            client_id: "a",
            realm: "t",
            scopes: &["s"],
            ext_cache_key: None,
        };
        assert!(matches!(
            cache.find_access_token(&query, NOW + 10),
            crate::AccessTokenLookup::Hit(_)
        ));
        assert_eq!(cache.prune(NOW + 10), 1);
        let left: Vec<String> = cache
            .entries(Section::AccessToken)
            .map(|(_, e)| e.get(crate::entry::Field::ClientId).unwrap().to_owned())
            .collect();
        assert_eq!(left.len(), 2);
        assert!(
            !left.contains(&"b".to_owned()),
            "b was least recently used: {left:?}"
        );
    }
}
