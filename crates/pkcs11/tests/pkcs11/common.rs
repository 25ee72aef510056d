//! A fresh SoftHSM2 token per test. SoftHSM reads `SOFTHSM2_CONF` when it is
//! initialized, and a test may not change its own environment, so each test runs its
//! body in a child process of this test binary whose environment points at a new
//! token directory (and carries the PIN variable the signer reads).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use tokenhop_cert::{KeySize, SigningAlgorithm};
use tokenhop_pkcs11::{PinSource, Pkcs11Uri};

/// The user PIN of every test token: tests look for it in errors and `Debug` output.
pub const USER_PIN: &str = "pin-4711-never-printed";
const SO_PIN: &str = "so-pin-0815";
/// The environment variable the child gets the PIN in.
pub const PIN_VARIABLE: &str = "TOKENHOP_TEST_PKCS11_PIN";
/// Set in the child: where its token directory is.
const CHILD_VARIABLE: &str = "TOKENHOP_TEST_SOFTHSM2_DIR";
pub const TOKEN_LABEL: &str = "tokenhop test";

/// Where Debian, Fedora and a source build put SoftHSM2's module.
const MODULE_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// SoftHSM2's module, or `None` (a skip outside CI, a failure in CI).
pub fn softhsm_module() -> Option<PathBuf> {
    let found = MODULE_PATHS.iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "SoftHSM2 is not installed (apt-get install -y softhsm2); CI must run the PKCS#11 tests"
        );
        eprintln!("SKIPPED: SoftHSM2 is not installed (apt-get install -y softhsm2)");
    }
    found
}

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
    if let Ok(dir) = std::env::var(CHILD_VARIABLE) {
        let token = TestToken::initialize(PathBuf::from(dir));
        body(&token);
        return;
    }
    let Some(_) = softhsm_module() else {
        return;
    };
    // `pkcs11::signing::name` is `signing::name` to the test harness.
    let test_name = module_path
        .split_once("::")
        .map_or(module_path, |(_, rest)| rest);
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD_VARIABLE, dir.path())
        .env(PIN_VARIABLE, USER_PIN)
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

/// An initialized SoftHSM2 token with the user PIN set, and a session of the test's
/// own (through cryptoki directly, not through tokenhop) to make keys with.
pub struct TestToken {
    pub dir: PathBuf,
    pub module: PathBuf,
    session: Session,
    _context: Pkcs11,
}

impl TestToken {
    fn initialize(dir: PathBuf) -> Self {
        let module = softhsm_module().unwrap();
        let context = Pkcs11::new(&module).unwrap();
        context
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        let slot = context.get_slots_with_token().unwrap()[0];
        let so_pin = AuthPin::new(SO_PIN.into());
        context.init_token(slot, &so_pin, TOKEN_LABEL).unwrap();
        let user_pin = AuthPin::new(USER_PIN.into());
        {
            let session = context.open_rw_session(slot).unwrap();
            session.login(UserType::So, Some(&so_pin)).unwrap();
            session.init_pin(&user_pin).unwrap();
        }
        // SoftHSM moves an initialized token to a new slot id.
        let slot = context.get_slots_with_initialized_token().unwrap()[0];
        let session = context.open_rw_session(slot).unwrap();
        Self {
            dir,
            module,
            session,
            _context: context,
        }
    }

    /// The URI of the key labelled `object` on this token.
    pub fn uri(&self, object: &str) -> Pkcs11Uri {
        format!("pkcs11:token=tokenhop%20test;object={object}")
            .parse()
            .unwrap()
    }

    /// The PIN, from the variable the parent set.
    pub fn pin(&self) -> PinSource {
        PinSource::env(PIN_VARIABLE)
    }

    /// A PIN file holding `pin`.
    pub fn pin_file(&self, pin: &str) -> PinSource {
        let path = self.dir.join("pin.txt");
        std::fs::write(&path, format!("{pin}\n")).unwrap();
        PinSource::file(path)
    }

    /// Runs `operation` on the test's own session, logged in. The login belongs to the
    /// whole process, so it logs out afterwards unless a signer had logged in first:
    /// a signer opened later must do its own login (and see a wrong PIN refused).
    pub fn as_user<T>(&self, operation: impl FnOnce(&Session) -> T) -> T {
        let pin = AuthPin::new(USER_PIN.into());
        let fresh = match self.session.login(UserType::User, Some(&pin)) {
            Ok(()) => true,
            Err(cryptoki::error::Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => false,
            Err(e) => panic!("the test could not log in: {e}"),
        };
        let outcome = operation(&self.session);
        if fresh {
            self.session.logout().unwrap();
        }
        outcome
    }

    /// A 2048-bit RSA key pair generated inside the token: the private key sensitive and
    /// not extractable.
    pub fn generate_key(&self, label: &str, id: &[u8]) {
        let common = |private: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Private(private),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
            ]
        };
        let mut public = common(false);
        public.extend([
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Verify(true),
        ]);
        let mut private = common(true);
        private.extend([
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
        ]);
        self.as_user(|session| {
            session
                .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
                .unwrap();
        });
    }

    /// Imports `key` as a sensitive, non-extractable private key: for comparisons with
    /// the in-memory signer, and for keys another party generated (the emulator's).
    pub fn import_key(&self, key: &rsa::PrivateKey, label: &str, id: &[u8]) {
        let bytes = |n: &rsa::BoxedUint| n.to_be_bytes_trimmed_vartime().to_vec();
        let primes = key.primes();
        let (p, q) = (primes[0].as_ref(), primes[1].as_ref());
        let template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::Modulus(bytes(key.n().as_ref())),
            Attribute::PublicExponent(bytes(key.e())),
            Attribute::PrivateExponent(bytes(key.d())),
            Attribute::Prime1(bytes(p)),
            Attribute::Prime2(bytes(q)),
            Attribute::Exponent1(bytes(key.dp().unwrap())),
            Attribute::Exponent2(bytes(key.dq().unwrap())),
            Attribute::Coefficient(bytes(&key.crt_coefficient().unwrap())),
        ];
        self.as_user(|session| {
            session.create_object(&template).unwrap();
        });
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

/// A 2048-bit RSA key made in memory (for comparisons with the in-memory signer).
pub fn in_memory_key() -> rsa::PrivateKey {
    let generated = tokenhop_cert::generate_self_signed("in-memory", 1, KeySize::Rsa2048).unwrap();
    rsa::PrivateKey::from_pkcs8_pem(generated.private_key_pem.expose_secret()).unwrap()
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
