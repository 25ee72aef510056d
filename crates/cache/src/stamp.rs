//! [`Stamp`]: a cheap version of a stored cache, to tell whether another process saved
//! since this one loaded, without reading the blob (msal-extensions compares the file's
//! modification time; this compares size, modification time and the file's identity, so
//! a rewrite within the clock's resolution is seen too).

use std::path::Path;
use std::time::SystemTime;

/// A version of the stored cache: equal stamps mean the same blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp(Version);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    /// Nothing stored (no file).
    Absent,
    /// A file: an atomic save replaces it, so its identity changes with each save.
    File {
        len: u64,
        modified: Option<SystemTime>,
        identity: FileIdentity,
    },
    /// A backend that counts its own saves (it has no other writer).
    Counter(u64),
}

/// Device and inode on Unix; creation time elsewhere (a replaced file is a new one).
#[cfg(unix)]
type FileIdentity = (u64, u64);
#[cfg(not(unix))]
type FileIdentity = Option<SystemTime>;

impl Stamp {
    /// The stamp of the file at `path`: one `stat`, no read. A missing file has the
    /// stamp of "nothing stored".
    pub fn of_file(path: &Path) -> std::io::Result<Stamp> {
        match std::fs::metadata(path) {
            Ok(metadata) => Ok(Self::of_metadata(&metadata)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::absent()),
            Err(e) => Err(e),
        }
    }

    /// The stamp of a file with this metadata.
    pub fn of_metadata(metadata: &std::fs::Metadata) -> Stamp {
        Stamp(Version::File {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            identity: identity(metadata),
        })
    }

    /// The stamp of "nothing stored".
    pub fn absent() -> Stamp {
        Stamp(Version::Absent)
    }

    /// The stamp of the `saves`th save of a backend that has no other writer (memory,
    /// a host's callback).
    pub fn counter(saves: u64) -> Stamp {
        Stamp(Version::Counter(saves))
    }
}

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> FileIdentity {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn identity(metadata: &std::fs::Metadata) -> FileIdentity {
    metadata.created().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_of_the_same_size_has_another_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        assert_eq!(Stamp::of_file(&path).unwrap(), Stamp::absent());
        std::fs::write(&path, "{}").unwrap();
        let first = Stamp::of_file(&path).unwrap();
        assert_eq!(first, Stamp::of_file(&path).unwrap(), "a stat is stable");
        let next = dir.path().join("next");
        std::fs::write(&next, "{}").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_ne!(first, Stamp::of_file(&path).unwrap());
    }
}
