//! [`EntryKey`]: the key a section's entry is stored under. An entry read from a document shares one
//! allocation with its key (the key's text, then the entry's values): loading 100,000
//! entries then costs 100,000 allocations, and cloning an entry or its key none.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use zeroize::Zeroize;

/// A key: the first `len` bytes of a shared text.
#[derive(Clone)]
pub(crate) struct EntryKey {
    text: Arc<str>,
    len: usize,
}

impl EntryKey {
    /// The first `len` bytes of `text` (all of it when `len` is not a character
    /// boundary of it).
    pub(crate) fn prefix_of(text: Arc<str>, len: usize) -> Self {
        let len = if text.is_char_boundary(len) {
            len
        } else {
            text.len()
        };
        Self { text, len }
    }

    pub(crate) fn as_str(&self) -> &str {
        self.text.get(..self.len).unwrap_or_default()
    }
}

/// Wipes a shared text when no one else holds it (an entry's text holds its secret).
pub(crate) fn wipe_if_last(text: &mut Arc<str>) {
    if let Some(only) = Arc::get_mut(text) {
        only.zeroize();
    }
}

impl Drop for EntryKey {
    fn drop(&mut self) {
        wipe_if_last(&mut self.text);
    }
}

impl From<String> for EntryKey {
    fn from(text: String) -> Self {
        let len = text.len();
        Self {
            text: Arc::from(text),
            len,
        }
    }
}

impl Deref for EntryKey {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for EntryKey {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for EntryKey {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

// As `str` hashes and compares, so that maps of keys are looked up by `&str`.
impl Hash for EntryKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq for EntryKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for EntryKey {}

impl fmt::Debug for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
