//! [`TokenCache`]: MSAL's unified cache in memory, with indexes for every lookup.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::entry::{Entry, F};

/// The five sections MSAL's schema defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// `AccessToken`.
    AccessToken,
    /// `RefreshToken`.
    RefreshToken,
    /// `IdToken`.
    IdToken,
    /// `Account`.
    Account,
    /// `AppMetadata`.
    AppMetadata,
}

impl Section {
    /// All sections, in MSAL's order.
    pub const ALL: [Section; 5] = [
        Self::AccessToken,
        Self::RefreshToken,
        Self::IdToken,
        Self::Account,
        Self::AppMetadata,
    ];

    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Self::AccessToken => "AccessToken",
            Self::RefreshToken => "RefreshToken",
            Self::IdToken => "IdToken",
            Self::Account => "Account",
            Self::AppMetadata => "AppMetadata",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How requested scopes are compared with cached ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeMatching {
    /// Exactly, as MSAL does (`User.Read` ≠ `user.read`).
    #[default]
    CaseSensitive,
    /// Ignoring ASCII case, as Entra itself treats scopes: a documented improvement
    /// over MSAL that finds tokens MSAL would fetch again.
    CaseInsensitive,
}

/// Lookup rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheOptions {
    /// An access token with less than this many seconds left counts as expired (MSAL: 300).
    pub expiry_margin_secs: u64,
    /// How scopes are compared.
    pub scope_matching: ScopeMatching,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            expiry_margin_secs: 300,
            scope_matching: ScopeMatching::CaseSensitive,
        }
    }
}

impl CacheOptions {
    /// Sets the scope matching rule.
    pub fn with_scope_matching(mut self, matching: ScopeMatching) -> Self {
        self.scope_matching = matching;
        self
    }

    /// Sets the expiry margin.
    pub fn with_expiry_margin_secs(mut self, secs: u64) -> Self {
        self.expiry_margin_secs = secs;
        self
    }
}

/// Index buckets are 64-bit hashes of the fields they group by; a bucket may (very
/// rarely) hold an entry of another group, so every read verifies the entry's fields.
pub(crate) type Bucket = u64;

pub(crate) type Key = Arc<str>;

/// A fast, non-cryptographic hasher: cache keys are not attacker-chosen in a way that
/// matters here (the worst case is a slower lookup in one's own cache).
pub(crate) type FastState = foldhash::fast::RandomState;

pub(crate) type Sections = [IndexMap<Key, Entry, FastState>; 5];

/// MSAL's token cache, with unknown fields and sections kept for the round trip.
#[derive(Clone, Debug, Default)]
pub struct TokenCache {
    pub(crate) sections: Sections,
    pub(crate) unknown_sections: Vec<(String, Value)>,
    options: CacheOptions,
    // Access tokens by (home, environment, client, realm, ext key) and one of their scopes.
    at_by_group_scope: HashMap<(Bucket, Bucket), Vec<Key>, FastState>,
    rt_by_account: HashMap<Bucket, Vec<Key>, FastState>,
    accounts_by_environment: HashMap<Bucket, Vec<Key>, FastState>,
    pub(crate) changed: bool,
    dirty: HashSet<(Section, String)>,
}

impl TokenCache {
    /// An empty cache with MSAL's lookup rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache with other lookup rules.
    pub fn with_options(options: CacheOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// The lookup rules.
    pub fn options(&self) -> CacheOptions {
        self.options
    }

    /// True when a write happened since the last serialize or deserialize: the host
    /// should persist.
    pub fn has_state_changed(&self) -> bool {
        self.changed
    }

    pub(crate) fn mark_persisted(&mut self) {
        self.changed = false;
        self.dirty.clear();
    }

    /// How many entries a section holds.
    pub fn len(&self, section: Section) -> usize {
        self.sections[section as usize].len()
    }

    /// True when every section is empty.
    pub fn is_empty(&self) -> bool {
        self.sections.iter().all(|s| s.is_empty())
    }

    /// A section's entries, in file order.
    pub fn entries(&self, section: Section) -> impl Iterator<Item = (&str, &Entry)> {
        self.sections[section as usize]
            .iter()
            .map(|(k, v)| (k.as_ref(), v))
    }

    /// One entry by key.
    pub fn get(&self, section: Section, key: &str) -> Option<&Entry> {
        self.sections[section as usize].get(key)
    }

    /// Writes an entry under `key`, replacing what was there.
    pub fn insert(&mut self, section: Section, key: String, entry: Entry) {
        let key: Key = Arc::from(key);
        self.unindex(section, &key);
        self.index(section, &key, &entry);
        self.dirty.insert((section, key.to_string()));
        self.sections[section as usize].insert(key, entry);
        self.changed = true;
    }

    /// Removes an entry.
    pub fn remove(&mut self, section: Section, key: &str) -> Option<Entry> {
        self.unindex(section, key);
        let removed = self.sections[section as usize].swap_remove(key);
        if removed.is_some() {
            self.dirty.insert((section, key.to_owned()));
            self.changed = true;
        }
        removed
    }

    /// Applies this cache's writes since it was last persisted onto `base` (the state
    /// another process may have saved meanwhile): what this process wrote wins, what
    /// it removed stays removed, everything else in `base` is kept.
    pub fn apply_changes_to(&self, base: &mut TokenCache) {
        for (section, key) in &self.dirty {
            match self.get(*section, key) {
                Some(entry) => base.insert(*section, key.clone(), entry.clone()),
                None => {
                    base.remove(*section, key);
                }
            }
        }
    }

    pub(crate) fn rebuild_indexes(&mut self) {
        self.at_by_group_scope.clear();
        self.rt_by_account.clear();
        self.accounts_by_environment.clear();
        let sections = std::mem::take(&mut self.sections);
        for section in Section::ALL {
            for (key, entry) in &sections[section as usize] {
                self.index(section, key, entry);
            }
        }
        self.sections = sections;
    }

    pub(crate) fn scope_form<'s>(&self, scope: &'s str) -> std::borrow::Cow<'s, str> {
        match self.options.scope_matching {
            ScopeMatching::CaseSensitive => std::borrow::Cow::Borrowed(scope),
            ScopeMatching::CaseInsensitive => std::borrow::Cow::Owned(scope.to_ascii_lowercase()),
        }
    }

    pub(crate) fn at_candidates(&self, group: Bucket, scope: &str) -> &[Key] {
        self.at_by_group_scope
            .get(&(group, bucket_of(&[scope])))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub(crate) fn rts_of(&self, home: &str, environment: &str) -> &[Key] {
        self.rt_by_account
            .get(&account_bucket(home, environment))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub(crate) fn accounts_in(&self, environment: &str) -> &[Key] {
        self.accounts_by_environment
            .get(&bucket_of(&[&environment.to_ascii_lowercase()]))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn index(&mut self, section: Section, key: &Key, entry: &Entry) {
        match section {
            Section::AccessToken => {
                let group = at_group_bucket(entry);
                for scope in entry.get(F::Target).unwrap_or_default().split_whitespace() {
                    let scope = bucket_of(&[&self.scope_form(scope)]);
                    self.at_by_group_scope
                        .entry((group, scope))
                        .or_default()
                        .push(Arc::clone(key));
                }
            }
            Section::RefreshToken => {
                let bucket = account_bucket(
                    entry.get(F::HomeAccountId).unwrap_or_default(),
                    entry.get(F::Environment).unwrap_or_default(),
                );
                self.rt_by_account
                    .entry(bucket)
                    .or_default()
                    .push(Arc::clone(key));
            }
            Section::Account => {
                let bucket = bucket_of(&[&entry
                    .get(F::Environment)
                    .unwrap_or_default()
                    .to_ascii_lowercase()]);
                self.accounts_by_environment
                    .entry(bucket)
                    .or_default()
                    .push(Arc::clone(key));
            }
            Section::IdToken | Section::AppMetadata => {}
        }
    }

    fn unindex(&mut self, section: Section, key: &str) {
        let Some(entry) = self.sections[section as usize].get(key) else {
            return;
        };
        match section {
            Section::AccessToken => {
                let group = at_group_bucket(entry);
                let scopes: Vec<Bucket> = entry
                    .get(F::Target)
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(|s| bucket_of(&[&self.scope_form(s)]))
                    .collect();
                for scope in scopes {
                    remove_key(&mut self.at_by_group_scope, &(group, scope), key);
                }
            }
            Section::RefreshToken => {
                let bucket = account_bucket(
                    entry.get(F::HomeAccountId).unwrap_or_default(),
                    entry.get(F::Environment).unwrap_or_default(),
                );
                remove_key(&mut self.rt_by_account, &bucket, key);
            }
            Section::Account => {
                let bucket = bucket_of(&[&entry
                    .get(F::Environment)
                    .unwrap_or_default()
                    .to_ascii_lowercase()]);
                remove_key(&mut self.accounts_by_environment, &bucket, key);
            }
            Section::IdToken | Section::AppMetadata => {}
        }
    }
}

/// A bucket for a tuple of strings.
pub(crate) fn bucket_of(parts: &[&str]) -> Bucket {
    use std::hash::BuildHasher;
    let mut hasher = foldhash::fast::FixedState::with_seed(0x746f_6b65_6e68_6f70).build_hasher();
    for part in parts {
        part.hash(&mut hasher);
    }
    hasher.finish()
}

fn account_bucket(home: &str, environment: &str) -> Bucket {
    bucket_of(&[home, &environment.to_ascii_lowercase()])
}

/// The access-token group of an entry: (home, environment, client, realm, ext key).
pub(crate) fn at_group_bucket(entry: &Entry) -> Bucket {
    group_bucket(
        entry.get(F::HomeAccountId).unwrap_or_default(),
        entry.get(F::Environment).unwrap_or_default(),
        entry.get(F::ClientId).unwrap_or_default(),
        entry.get(F::Realm).unwrap_or_default(),
        entry.get(F::ExtCacheKey).unwrap_or_default(),
    )
}

pub(crate) fn group_bucket(
    home: &str,
    environment: &str,
    client: &str,
    realm: &str,
    ext: &str,
) -> Bucket {
    bucket_of(&[home, &environment.to_ascii_lowercase(), client, realm, ext])
}

fn remove_key<K: std::hash::Hash + Eq>(
    index: &mut HashMap<K, Vec<Key>, FastState>,
    bucket: &K,
    key: &str,
) {
    if let Some(keys) = index.get_mut(bucket) {
        keys.retain(|k| k.as_ref() != key);
        if keys.is_empty() {
            index.remove(bucket);
        }
    }
}

pub(crate) fn field(entry: &Entry, f: F) -> String {
    entry.get(f).unwrap_or_default().to_owned()
}
