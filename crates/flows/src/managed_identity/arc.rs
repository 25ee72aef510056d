//! Azure Arc's challenge: the first request gets `401` with `WWW-Authenticate: Basic
//! realm=<path of a key file>`, and the request is repeated once with
//! `Authorization: Basic <the file's content>`.
//!
//! Whoever answers on the agent's port chooses that path, so the file is read only if it
//! is a regular `.key` file directly in the agent's token directory and at most 4 KiB;
//! anything else is refused before the file is opened. A hostile local server cannot
//! make tokenhop read and send it some other file.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use tokenhop_core::{Error, Result, Secret};

use crate::http::HttpResponse;

/// The largest key file read.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The secret the challenge in `response` points at, read from `token_dir`.
pub(super) async fn challenge_secret(
    response: &HttpResponse,
    token_dir: &Path,
    endpoint: &str,
) -> Result<Secret> {
    let refused = |reason: String| Error::InvalidResponse {
        endpoint: endpoint.to_owned(),
        reason: format!("Azure Arc's challenge: {reason}"),
    };
    let header = response
        .header("www-authenticate")
        .ok_or_else(|| refused("401 without a WWW-Authenticate header".into()))?;
    let realm = realm(header).ok_or_else(|| {
        refused(format!(
            "WWW-Authenticate {header:?} is not `Basic realm=<key file>`"
        ))
    })?;
    let path = PathBuf::from(realm);
    check_key_file_path(&path, token_dir).map_err(&refused)?;
    let token_dir = token_dir.to_owned();
    tokio::task::spawn_blocking(move || read_key_file(&path, &token_dir))
        .await
        .map_err(|e| Error::Cancelled {
            reason: format!("reading Azure Arc's key file failed: {e}"),
        })?
        .map_err(refused)
}

/// The realm of a `Basic realm=<path>` challenge (quotes optional).
fn realm(header: &str) -> Option<&str> {
    let (scheme, value) = header.trim().split_once('=')?;
    if !scheme.trim().eq_ignore_ascii_case("basic realm") {
        return None;
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    (!value.is_empty()).then_some(value)
}

/// The path's own rules, before anything touches the file system: directly in
/// `token_dir`, no `..`, the `.key` extension.
fn check_key_file_path(path: &Path, token_dir: &Path) -> std::result::Result<(), String> {
    let shown = path.display();
    if path.components().any(|c| matches!(c, Component::ParentDir)) || !path.is_absolute() {
        return Err(format!(
            "the realm {shown} is not an absolute path without `..`; refusing to read it"
        ));
    }
    if path.parent() != Some(token_dir) {
        return Err(format!(
            "the realm {shown} is outside the Arc agent's token directory {}; refusing to read it (is something else listening on the agent's port?)",
            token_dir.display()
        ));
    }
    if path.extension().and_then(|e| e.to_str()) != Some("key") {
        return Err(format!(
            "the realm {shown} is not a .key file; refusing to read it"
        ));
    }
    Ok(())
}

/// Reads the key file: a regular file (not a link) of at most 4 KiB, checked before it is
/// opened and again while it is read.
fn read_key_file(path: &Path, token_dir: &Path) -> std::result::Result<Secret, String> {
    let shown = path.display();
    let metadata = std::fs::symlink_metadata(path)
        .map_err(|e| format!("cannot look at the key file {shown}: {e}"))?;
    if !metadata.file_type().is_file() {
        return Err(format!(
            "the key file {shown} is not a regular file; refusing to read it"
        ));
    }
    if metadata.len() > MAX_KEY_FILE_BYTES {
        return Err(format!(
            "the key file {shown} is {} bytes, more than {MAX_KEY_FILE_BYTES}; refusing to read it",
            metadata.len()
        ));
    }
    // The directory itself must not be a link to elsewhere either.
    let real_dir = std::fs::canonicalize(token_dir).map_err(|e| {
        format!(
            "cannot resolve the token directory {}: {e}",
            token_dir.display()
        )
    })?;
    let real_file = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot resolve the key file {shown}: {e}"))?;
    if real_file.parent() != Some(real_dir.as_path()) {
        return Err(format!(
            "the key file {shown} resolves outside the token directory; refusing to read it"
        ));
    }
    let mut content = String::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(MAX_KEY_FILE_BYTES + 1)
                .read_to_string(&mut content)
        })
        .map_err(|e| format!("cannot read the key file {shown}: {e}"))?;
    if content.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(format!(
            "the key file {shown} grew past {MAX_KEY_FILE_BYTES} bytes while it was read; refusing it"
        ));
    }
    Ok(Secret::new(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realms_with_and_without_quotes() {
        assert_eq!(
            realm("Basic realm=/var/opt/azcmagent/tokens/a.key"),
            Some("/var/opt/azcmagent/tokens/a.key")
        );
        assert_eq!(realm(r#"basic REALM="/t/a.key""#), Some("/t/a.key"));
        assert_eq!(realm("Bearer realm=/t/a.key"), None);
        assert_eq!(realm("Basic realm="), None);
    }

    #[test]
    fn paths_outside_the_directory_or_not_key_files_are_refused_by_name() {
        let dir = Path::new("/var/opt/azcmagent/tokens");
        assert!(check_key_file_path(&dir.join("a.key"), dir).is_ok());
        for bad in [
            "/etc/shadow",
            "/var/opt/azcmagent/tokens/a.txt",
            "/var/opt/azcmagent/tokens/a",
            "/var/opt/azcmagent/tokens/../tokens/a.key",
            "/var/opt/azcmagent/tokens/sub/a.key",
            "a.key",
        ] {
            assert!(check_key_file_path(Path::new(bad), dir).is_err(), "{bad}");
        }
    }
}
