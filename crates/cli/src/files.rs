//! Writing files the user named: whole or not at all (a temporary file renamed into
//! place), private ones with mode 0600 from the start.

use std::io::Write;
use std::path::Path;

use crate::failure::{Failure, Outcome};

/// Who may read a written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only the owner (0600 on unix): keys, exported caches.
    Private,
    /// Everyone (0644 on unix): certificates.
    Public,
}

/// Writes `data` to `path`; with `replace` false an existing file is an error.
pub fn write(path: &Path, data: &[u8], access: Access, replace: bool) -> Outcome {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        Failure::Other(format!("cannot {what} {}: {e}", path.display()))
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // tempfile creates the file with mode 0600 on unix.
    let mut temp = tempfile::Builder::new()
        .prefix(".tokenhop-")
        .tempfile_in(dir)
        .map_err(|e| failed("write", &e))?;
    if access == Access::Public {
        make_public(temp.as_file()).map_err(|e| failed("set the permissions of", &e))?;
    }
    temp.write_all(data).map_err(|e| failed("write", &e))?;
    temp.as_file().sync_all().map_err(|e| failed("write", &e))?;
    if replace {
        temp.persist(path).map_err(|e| failed("write", &e.error))?;
    } else {
        temp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Failure::Token(tokenhop_core::Error::configuration(format!(
                    "{} already exists; remove it or choose another path",
                    path.display()
                )))
            } else {
                failed("write", &e.error)
            }
        })?;
    }
    Ok(())
}

#[cfg(unix)]
fn make_public(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn make_public(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}
