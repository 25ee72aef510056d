//! A fresh SoftHSM2 token per test, in a child process of this test binary (see
//! `softhsm`), and checks outside tokenhop (openssl).

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokenhop_cert::SigningAlgorithm;
use tokenhop_pkcs11::PinSource;

pub use crate::softhsm::{TestToken, USER_PIN, in_memory_key};
use crate::softhsm::{child_command, child_token};

/// Declares a test whose body runs in a child process with a fresh token.
macro_rules! token_test {
    ($(#[$meta:meta])* fn $name:ident($token:ident: &TestToken) $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            $crate::common::in_token_process(
                concat!(module_path!(), "::", stringify!($name)),
                |$token: &$crate::common::TestToken| $body,
            );
        }
    };
}
pub(crate) use token_test;

/// In the parent: makes a token directory and runs this test again in a child process
/// pointed at it. In the child: runs `body` with the initialized token.
pub fn in_token_process(module_path: &str, body: impl FnOnce(&TestToken)) {
    if let Some(token) = child_token() {
        body(&token);
        return;
    }
    let Some((_dir, mut child)) = child_command() else {
        return;
    };
    // `pkcs11::signing::name` is `signing::name` to the test harness.
    let test_name = module_path
        .split_once("::")
        .map_or(module_path, |(_, rest)| rest);
    let output = child
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(output.status.success(), "the test's child process failed");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test named {test_name}"
    );
}

impl TestToken {
    /// A PIN file holding `pin`.
    pub fn pin_file(&self, pin: &str) -> PinSource {
        let path = self.dir.join("pin.txt");
        std::fs::write(&path, format!("{pin}\n")).unwrap();
        PinSource::file(path)
    }

    /// Deletes the token from disk, as `softhsm2-util --delete-token` does, while the
    /// process keeps using it.
    pub fn delete_from_disk(&self) {
        let tokens = self.dir.join("tokens");
        for entry in std::fs::read_dir(&tokens).unwrap() {
            std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
        }
        assert!(is_empty(&tokens));
    }
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

/// Whether `openssl dgst -verify` accepts `jwt`'s signature with the public key of the
/// certificate at `certificate_pem`: a check outside tokenhop.
pub fn openssl_verifies(
    dir: &Path,
    certificate_pem: &Path,
    jwt: &str,
    algorithm: SigningAlgorithm,
) -> bool {
    let (signing_input, signature) = jwt.rsplit_once('.').unwrap();
    std::fs::write(dir.join("input"), signing_input).unwrap();
    std::fs::write(
        dir.join("signature"),
        URL_SAFE_NO_PAD.decode(signature).unwrap(),
    )
    .unwrap();
    let public_key = openssl(
        dir,
        &[
            "x509",
            "-in",
            certificate_pem.to_str().unwrap(),
            "-noout",
            "-pubkey",
        ],
    );
    assert!(public_key.status.success());
    std::fs::write(dir.join("public.pem"), &public_key.stdout).unwrap();
    let mut args = vec![
        "dgst",
        "-sha256",
        "-verify",
        "public.pem",
        "-signature",
        "signature",
    ];
    if algorithm == SigningAlgorithm::Ps256 {
        args.extend([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-sigopt",
            "rsa_mgf1_md:sha256",
        ]);
    }
    args.push("input");
    let verified = openssl(dir, &args);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(
        verified.status.success(),
        stdout.contains("Verified OK"),
        "openssl said: {stdout}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    verified.status.success()
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI is needed for these tests (apt-get install openssl)")
}
