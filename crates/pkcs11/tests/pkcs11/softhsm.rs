//! A fresh SoftHSM2 token in a directory of its own, for the tests and the bench.
//! SoftHSM reads `SOFTHSM2_CONF` when it is initialized, and a process may not change
//! its own environment, so the token is used in a child process whose environment
//! points at the directory (and carries the PIN variable the signer reads).

use std::path::PathBuf;
use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use tokenhop_cert::KeySize;
use tokenhop_pkcs11::{PinSource, Pkcs11Uri};

/// The user PIN of every test token: tests look for it in errors and `Debug` output.
pub const USER_PIN: &str = "pin-4711-never-printed";
const SO_PIN: &str = "so-pin-0815";
/// The environment variable the child gets the PIN in.
const PIN_VARIABLE: &str = "TOKENHOP_TEST_PKCS11_PIN";
/// Set in the child: where its token directory is.
const CHILD_VARIABLE: &str = "TOKENHOP_TEST_SOFTHSM2_DIR";
const TOKEN_LABEL: &str = "tokenhop test";

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

/// In a child process: its initialized token.
pub fn child_token() -> Option<TestToken> {
    let dir = std::env::var_os(CHILD_VARIABLE)?;
    Some(TestToken::initialize(PathBuf::from(dir)))
}

/// In the parent: a new token directory (removed when dropped) and a command that runs
/// this executable again as a child using it; `None` when SoftHSM2 is missing.
pub fn child_command() -> Option<(tempfile::TempDir, Command)> {
    softhsm_module()?;
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
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD_VARIABLE, dir.path())
        .env(PIN_VARIABLE, USER_PIN);
    Some((dir, command))
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
        format!(
            "pkcs11:token={};object={object}",
            TOKEN_LABEL.replace(' ', "%20")
        )
        .parse()
        .unwrap()
    }

    /// The PIN, from the variable the parent set.
    pub fn pin(&self) -> PinSource {
        PinSource::env(PIN_VARIABLE)
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
    /// the in-memory signer.
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
}

/// A 2048-bit RSA key made in memory (for comparisons with the in-memory signer).
pub fn in_memory_key() -> rsa::PrivateKey {
    let generated = tokenhop_cert::generate_self_signed("in-memory", 1, KeySize::Rsa2048).unwrap();
    rsa::PrivateKey::from_pkcs8_pem(generated.private_key_pem.expose_secret()).unwrap()
}
