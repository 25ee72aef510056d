//! Certificates and keys made by the real `openssl` CLI in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PASSWORD: &str = "correct horse";

pub struct OpensslFixture {
    pub dir: tempfile::TempDir,
}

impl OpensslFixture {
    /// A key and a self-signed certificate, plus the other encodings tests need.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Self { dir };
        fixture.new_key("key.pem");
        fixture.openssl(&[
            "req",
            "-x509",
            "-key",
            "key.pem",
            "-subj",
            "/CN=tokenhop-test",
            "-days",
            "2",
            "-out",
            "cert.pem",
        ]);
        fixture
    }

    /// A fresh 2048-bit RSA key (PKCS#8 PEM) in `name`.
    pub fn new_key(&self, name: &str) {
        self.openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            name,
        ]);
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// Runs openssl in the fixture's directory and returns its stdout.
    pub fn openssl(&self, args: &[&str]) -> String {
        openssl_in(self.dir.path(), args)
    }

    pub fn concat(&self, names: &[&str]) -> Vec<u8> {
        names.iter().flat_map(|n| self.read(n)).collect()
    }
}

/// Runs openssl in `dir`; returns its stdout, or for `pkcs12 -info` (which reports on
/// stderr) its stderr.
pub fn openssl_in(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI is needed for these tests (apt-get install openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stream = if args.contains(&"-info") {
        &output.stderr
    } else {
        &output.stdout
    };
    String::from_utf8_lossy(stream).into_owned()
}
