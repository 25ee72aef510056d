//! [`TokenCache`]: MSAL's unified cache in memory, with indexes for every lookup.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde_json::Value;

use crate::entry::Entry;
use crate::entry_key::EntryKey;
use crate::index::{Indexes, Position};
use crate::section::{ScopeMatching, Section, SectionMap, Sections};

/// Lookup rules, and the limits [`TokenCache::prune`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheOptions {
    /// An access token with less than this many seconds left counts as expired (MSAL: 300).
    pub expiry_margin_secs: u64,
    /// How scopes are compared.
    pub scope_matching: ScopeMatching,
    /// At most this many access tokens are kept: pruning drops the least recently used
    /// beyond it. `None` (the default): no bound but expiry.
    pub max_access_tokens: Option<usize>,
    /// At most this many on-behalf-of tokens (user tokens under an extended key: one per
    /// incoming assertion) are kept for one user, app, tenant and scopes: pruning drops
    /// the least recently used beyond it. Default 8 (an incoming token lives about an
    /// hour, so a user has two or three at a time).
    pub max_on_behalf_of_tokens_per_user: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            expiry_margin_secs: 300,
            scope_matching: ScopeMatching::CaseSensitive,
            max_access_tokens: None,
            max_on_behalf_of_tokens_per_user: 8,
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

    /// Bounds the number of access tokens (least recently used go first).
    pub fn with_max_access_tokens(mut self, max: usize) -> Self {
        self.max_access_tokens = Some(max);
        self
    }

    /// Bounds the on-behalf-of tokens of one user, app, tenant and scopes.
    pub fn with_max_on_behalf_of_tokens_per_user(mut self, max: usize) -> Self {
        self.max_on_behalf_of_tokens_per_user = max;
        self
    }
}

/// MSAL's token cache, with unknown fields and sections kept for the round trip.
#[derive(Clone, Debug, Default)]
pub struct TokenCache {
    pub(crate) sections: Sections,
    pub(crate) unknown_sections: Vec<(String, Value)>,
    options: CacheOptions,
    /// Built by the first lookup (see [`Indexes`]).
    indexes: OnceLock<Indexes>,
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
    pub fn insert(&mut self, section: Section, key: String, mut entry: Entry) {
        entry.set_key_escape_free(!crate::json_escape::needs_escaping(key.as_bytes()));
        let map = &mut self.sections[section as usize];
        if let Some(indexes) = self.indexes.get_mut() {
            match map.get_full(key.as_str()) {
                Some((position, _, old)) => {
                    indexes.remove(section, position, old);
                    indexes.add(section, position, &entry);
                }
                None => indexes.add(section, map.len(), &entry),
            }
        }
        self.dirty.insert((section, key.clone()));
        put(map, EntryKey::from(key), entry);
        self.changed = true;
    }

    /// Removes an entry.
    pub fn remove(&mut self, section: Section, key: &str) -> Option<Entry> {
        let map = &mut self.sections[section as usize];
        let (position, _, entry) = map.swap_remove_full(key)?;
        if let Some(indexes) = self.indexes.get_mut() {
            indexes.remove(section, position, &entry);
            // The last entry moved into the gap.
            if let Some((_, moved)) = map.get_index(position) {
                indexes.relocate(section, map.len(), position, moved);
            }
        }
        self.dirty.insert((section, key.to_owned()));
        self.changed = true;
        Some(entry)
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

    /// Replaces the entries (a load): the indexes are rebuilt when next needed.
    pub(crate) fn replace_sections(
        &mut self,
        sections: Sections,
        unknown_sections: Vec<(String, Value)>,
    ) {
        self.sections = sections;
        self.unknown_sections = unknown_sections;
        self.indexes = OnceLock::new();
    }

    pub(crate) fn indexes(&self) -> &Indexes {
        self.indexes
            .get_or_init(|| Indexes::build(&self.sections, self.options.scope_matching))
    }

    /// The entry at an index position.
    pub(crate) fn at_position(
        &self,
        section: Section,
        position: Position,
    ) -> Option<(&str, &Entry)> {
        self.sections[section as usize]
            .get_index(usize::try_from(position).ok()?)
            .map(|(key, entry)| (key.as_str(), entry))
    }

    #[inline]
    pub(crate) fn scope_form<'s>(&self, scope: &'s str) -> std::borrow::Cow<'s, str> {
        crate::index::scope_form(scope, self.options.scope_matching)
    }
}

/// Inserts or replaces an entry, key included: a loaded key shares its allocation with
/// the entry loaded with it, which must not outlive a replacement.
fn put(map: &mut SectionMap, key: EntryKey, entry: Entry) {
    use indexmap::map::{Entry as Slot, MutableEntryKey};
    match map.entry(key.clone()) {
        Slot::Occupied(mut stored) => {
            *stored.key_mut() = key;
            stored.insert(entry);
        }
        Slot::Vacant(vacant) => {
            vacant.insert(entry);
        }
    }
}
