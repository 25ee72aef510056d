//! What a [`TokenCache`](crate::TokenCache) is made of: its five sections, the maps
//! that hold them, and how scopes are compared. The cache, its indexes, the document
//! reader and the lookups all build on these; they build on entries alone.

use indexmap::IndexMap;

use crate::entry::Entry;
use crate::entry_key::EntryKey;

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

/// A fast, non-cryptographic hasher: cache keys are not attacker-chosen in a way that
/// matters here (the worst case is a slower lookup in one's own cache).
pub(crate) type FastState = foldhash::fast::RandomState;

pub(crate) type SectionMap = IndexMap<EntryKey, Entry, FastState>;

pub(crate) type Sections = [SectionMap; 5];
