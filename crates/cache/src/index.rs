//! The lookup indexes of a [`TokenCache`](crate::TokenCache). They are built by the
//! first lookup after a load, not by the load: a cache that is loaded, changed and
//! saved again (what every write through a shared file does) never needs them. Once
//! built, every write keeps them up to date.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use crate::entry::{Entry, Field};
use crate::section::{FastState, ScopeMatching, Section, Sections};

/// Index buckets are 64-bit hashes of the fields they group by; a bucket may (very
/// rarely) hold an entry of another group, so every read verifies the entry's fields.
pub(crate) type Bucket = u64;

/// Where an entry is in its section's map. Positions, not keys: no reference counts
/// to touch and a quarter of the memory; a removal that moves the section's last entry
/// into the gap moves its positions too ([`Indexes::relocate`]).
pub(crate) type Position = u32;

/// The positions of a bucket's entries; most buckets hold one (a scope only one of an
/// account's tokens has), and then need no allocation.
#[derive(Clone, Debug)]
enum Positions {
    One(Position),
    Many(Vec<Position>),
}

impl Positions {
    fn push(&mut self, position: Position) {
        match self {
            Self::One(first) => {
                // The scopes every token of an account has (`openid`…) fill a few.
                let mut all = Vec::with_capacity(4);
                all.extend([*first, position]);
                *self = Self::Many(all);
            }
            Self::Many(all) => all.push(position),
        }
    }

    /// Removes `position`; true when none are left.
    fn remove(&mut self, position: Position) -> bool {
        match self {
            Self::One(only) => *only == position,
            Self::Many(all) => {
                all.retain(|p| *p != position);
                all.is_empty()
            }
        }
    }

    fn replace(&mut self, from: Position, to: Position) {
        match self {
            Self::One(only) if *only == from => *only = to,
            Self::One(_) => {}
            Self::Many(all) => all.iter_mut().filter(|p| **p == from).for_each(|p| *p = to),
        }
    }

    fn as_slice(&self) -> &[Position] {
        match self {
            Self::One(only) => std::slice::from_ref(only),
            Self::Many(all) => all,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Indexes {
    matching: ScopeMatching,
    // Access tokens by (home, environment, client, realm, ext key) and one of their scopes.
    at_by_group_scope: HashMap<(Bucket, Bucket), Positions, FastState>,
    rt_by_account: HashMap<Bucket, Positions, FastState>,
    accounts_by_environment: HashMap<Bucket, Positions, FastState>,
}

/// What [`Indexes::visit`] does with each bucket of an entry.
#[derive(Clone, Copy)]
enum Change {
    Add(Position),
    Remove(Position),
    Move { from: Position, to: Position },
}

impl Indexes {
    pub(crate) fn build(sections: &Sections, matching: ScopeMatching) -> Self {
        let len = |section: Section| sections[section as usize].len();
        let mut indexes = Self {
            matching,
            // About two scopes of each token are not shared with the account's others.
            at_by_group_scope: HashMap::with_capacity_and_hasher(
                2 * len(Section::AccessToken),
                FastState::default(),
            ),
            rt_by_account: HashMap::with_capacity_and_hasher(
                len(Section::Account),
                FastState::default(),
            ),
            accounts_by_environment: HashMap::default(),
        };
        for section in Section::ALL {
            for (position, entry) in sections[section as usize].values().enumerate() {
                if let Ok(position) = Position::try_from(position) {
                    indexes.visit(section, entry, Change::Add(position));
                }
            }
        }
        indexes
    }

    /// Indexes `entry`, at `position` of `section`.
    pub(crate) fn add(&mut self, section: Section, position: usize, entry: &Entry) {
        if let Ok(position) = Position::try_from(position) {
            self.visit(section, entry, Change::Add(position));
        }
    }

    /// Forgets `entry`, which was at `position` of `section`.
    pub(crate) fn remove(&mut self, section: Section, position: usize, entry: &Entry) {
        if let Ok(position) = Position::try_from(position) {
            self.visit(section, entry, Change::Remove(position));
        }
    }

    /// `entry` moved from `from` to `to` in `section` (a removal filled the gap).
    pub(crate) fn relocate(&mut self, section: Section, from: usize, to: usize, entry: &Entry) {
        if let (Ok(from), Ok(to)) = (Position::try_from(from), Position::try_from(to)) {
            self.visit(section, entry, Change::Move { from, to });
        }
    }

    fn visit(&mut self, section: Section, entry: &Entry, change: Change) {
        match section {
            Section::AccessToken => {
                let group = at_group_bucket(entry);
                for scope in entry
                    .get(Field::Target)
                    .unwrap_or_default()
                    .split_whitespace()
                {
                    let scope = scope_bucket(scope, self.matching);
                    apply(&mut self.at_by_group_scope, (group, scope), change);
                }
            }
            Section::RefreshToken => apply(&mut self.rt_by_account, rt_bucket(entry), change),
            Section::Account => {
                let bucket = environment_bucket(entry.get(Field::Environment).unwrap_or_default());
                apply(&mut self.accounts_by_environment, bucket, change);
            }
            Section::IdToken | Section::AppMetadata => {}
        }
    }

    /// The access tokens of a group that hold `scope` (already in the matching form).
    pub(crate) fn at_candidates(&self, group: Bucket, scope: &str) -> &[Position] {
        self.at_by_group_scope
            .get(&(group, bucket_of(&[scope])))
            .map_or(&[], Positions::as_slice)
    }

    pub(crate) fn rts_of(&self, home: &str, environment: &str) -> &[Position] {
        self.rt_by_account
            .get(&account_bucket(home, environment))
            .map_or(&[], Positions::as_slice)
    }

    pub(crate) fn accounts_in(&self, environment: &str) -> &[Position] {
        self.accounts_by_environment
            .get(&environment_bucket(environment))
            .map_or(&[], Positions::as_slice)
    }
}

fn apply<K: Hash + Eq>(index: &mut HashMap<K, Positions, FastState>, bucket: K, change: Change) {
    use std::collections::hash_map::Entry as Slot;
    match (index.entry(bucket), change) {
        (Slot::Occupied(mut positions), Change::Add(position)) => {
            positions.get_mut().push(position)
        }
        (Slot::Vacant(vacant), Change::Add(position)) => {
            vacant.insert(Positions::One(position));
        }
        (Slot::Occupied(mut positions), Change::Remove(position)) => {
            if positions.get_mut().remove(position) {
                positions.remove();
            }
        }
        (Slot::Occupied(mut positions), Change::Move { from, to }) => {
            positions.get_mut().replace(from, to);
        }
        (Slot::Vacant(_), _) => {}
    }
}

/// A scope as it is compared under `matching`.
#[inline]
pub(crate) fn scope_form(scope: &str, matching: ScopeMatching) -> Cow<'_, str> {
    match matching {
        ScopeMatching::CaseSensitive => Cow::Borrowed(scope),
        ScopeMatching::CaseInsensitive => lowercase(scope),
    }
}

fn scope_bucket(scope: &str, matching: ScopeMatching) -> Bucket {
    bucket_of(&[&scope_form(scope, matching)])
}

/// ASCII-lowercased, allocating only when there is something to lower.
#[inline]
fn lowercase(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// A bucket for a tuple of strings.
#[inline]
pub(crate) fn bucket_of(parts: &[&str]) -> Bucket {
    let mut hasher = foldhash::fast::FixedState::with_seed(0x746f_6b65_6e68_6f70).build_hasher();
    for part in parts {
        part.hash(&mut hasher);
    }
    hasher.finish()
}

fn environment_bucket(environment: &str) -> Bucket {
    bucket_of(&[&lowercase(environment)])
}

fn account_bucket(home: &str, environment: &str) -> Bucket {
    bucket_of(&[home, &lowercase(environment)])
}

fn rt_bucket(entry: &Entry) -> Bucket {
    account_bucket(
        entry.get(Field::HomeAccountId).unwrap_or_default(),
        entry.get(Field::Environment).unwrap_or_default(),
    )
}

/// The access-token group of an entry: (home, environment, client, realm, ext key).
fn at_group_bucket(entry: &Entry) -> Bucket {
    group_bucket(
        entry.get(Field::HomeAccountId).unwrap_or_default(),
        entry.get(Field::Environment).unwrap_or_default(),
        entry.get(Field::ClientId).unwrap_or_default(),
        entry.get(Field::Realm).unwrap_or_default(),
        entry.get(Field::ExtCacheKey).unwrap_or_default(),
    )
}

pub(crate) fn group_bucket(
    home: &str,
    environment: &str,
    client: &str,
    realm: &str,
    ext: &str,
) -> Bucket {
    bucket_of(&[home, &lowercase(environment), client, realm, ext])
}
