//! Newtypes for protocol strings, so that a client id cannot be passed where a tenant
//! or a scope is expected.

use std::collections::BTreeSet;
use std::fmt;

use crate::Error;

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps a value: it must be non-empty and contain no whitespace
            /// or control characters.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(Error::Configuration {
                        message: format!(
                            concat!("invalid ", $what, " {:?}: it must be non-empty, without spaces or control characters"),
                            value
                        ),
                    });
                }
                Ok(Self(value))
            }

            /// The value as given.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self, Error> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(value: &str) -> Result<Self, Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

identifier!(
    /// An application (client) id, e.g. `51f81489-12ee-4a9e-aaae-a2591f45987d`.
    ClientId,
    "client id"
);
identifier!(
    /// A tenant: a GUID, a domain, or `common`/`organizations`/`consumers`.
    TenantId,
    "tenant id"
);
identifier!(
    /// One OAuth2 scope, e.g. `User.Read` or `https://graph.microsoft.com/.default`.
    Scope,
    "scope"
);

/// A normalised set of scopes: split on whitespace, empty parts dropped, duplicates
/// removed, sorted. Two requests for the same scopes in another order or spacing are
/// the same `Scopes`, which is what caches key on.
///
/// Comparison is case-sensitive, as MSAL's cache is.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Normalises scopes from strings; each string may hold several space-separated
    /// scopes. Fails on a control character.
    pub fn new<I, S>(scopes: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for item in scopes {
            for part in item.as_ref().split_whitespace() {
                set.insert(Scope::new(part)?);
            }
        }
        Ok(Self(set))
    }

    /// Parses one space-separated string, as found in a token response's `scope`.
    pub fn parse(space_separated: &str) -> Result<Self, Error> {
        Self::new([space_separated])
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// How many scopes there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `self` holds every scope of `other`.
    pub fn is_superset(&self, other: &Scopes) -> bool {
        self.0.is_superset(&other.0)
    }

    /// True when it holds `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// The scopes joined by single spaces, sorted: the wire form and the cache's `target`.
    pub fn to_space_separated(&self) -> String {
        let mut out = String::new();
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(scope.as_str());
        }
        out
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_space_separated())
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a Scope;
    type IntoIter = std::collections::btree_set::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_dedups_and_sorts() {
        let scopes =
            Scopes::new(["User.Read  Mail.Read", "User.Read", " offline_access "]).unwrap();
        assert_eq!(
            scopes.to_space_separated(),
            "Mail.Read User.Read offline_access"
        );
        assert_eq!(scopes.len(), 3);
    }

    #[test]
    fn is_case_sensitive_like_msal() {
        let scopes = Scopes::new(["user.read", "User.Read"]).unwrap();
        assert_eq!(scopes.len(), 2);
    }

    #[test]
    fn refuses_control_characters_and_empty_identifiers() {
        assert!(Scopes::new(["a\u{0}b"]).is_err());
        assert!(ClientId::new("").is_err());
        assert!(TenantId::new("two words").is_err());
        let err = ClientId::new("bad id").unwrap_err().to_string();
        assert!(err.contains("client id"), "{err}");
    }

    #[test]
    fn identifiers_round_trip_through_serde() {
        let id: ClientId = serde_json::from_str(r#""abc""#).unwrap();
        assert_eq!(id.as_str(), "abc");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""abc""#);
        assert!(serde_json::from_str::<ClientId>(r#""""#).is_err());
    }

    fn scope_word() -> impl Strategy<Value = String> {
        "[A-Za-z0-9./:_-]{1,12}"
    }

    fn messy_input() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(
            prop::collection::vec((scope_word(), "[ \t\n]{0,3}"), 0..5).prop_map(|parts| {
                parts
                    .into_iter()
                    .map(|(w, sep)| format!("{sep}{w}{sep}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            0..5,
        )
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(input in messy_input()) {
            let once = Scopes::new(&input).unwrap();
            let twice = Scopes::parse(&once.to_space_separated()).unwrap();
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn normalisation_ignores_order_and_duplicates(mut input in messy_input()) {
            let forward = Scopes::new(&input).unwrap();
            input.reverse();
            let doubled: Vec<String> = input.iter().chain(input.iter()).cloned().collect();
            prop_assert_eq!(forward, Scopes::new(&doubled).unwrap());
        }

        #[test]
        fn output_is_sorted_unique_and_keeps_every_word(input in messy_input()) {
            let scopes = Scopes::new(&input).unwrap();
            let joined = scopes.to_space_separated();
            let words: Vec<&str> = joined.split(' ').filter(|w| !w.is_empty()).collect();
            let mut sorted = words.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(&words, &sorted);
            for item in &input {
                for word in item.split_whitespace() {
                    prop_assert!(scopes.contains(word));
                }
            }
            prop_assert!(!joined.contains("  "));
        }
    }
}
