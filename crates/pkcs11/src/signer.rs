//! [`Pkcs11Signer`]: a `tokenhop_cert::Signer` whose RSA key stays in a PKCS#11 token.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use rsa::BoxedUint;
use tokenhop_cert::{CertError, Certificate, ClientCertificate, Signer, SigningAlgorithm};

use crate::module::Module;
use crate::pool::SessionPool;
use crate::token::Token;
use crate::{PinSource, Pkcs11Error, Pkcs11Uri};

/// How well the token guards the key, from its attributes (`CKA_SENSITIVE`,
/// `CKA_EXTRACTABLE`, `CKA_ALWAYS_SENSITIVE`, `CKA_NEVER_EXTRACTABLE`, `CKA_LOCAL`); an
/// attribute the token does not report counts as the weaker answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyProtection {
    /// The token never reveals the private key's value.
    pub sensitive: bool,
    /// The key may be exported, wrapped by another key.
    pub extractable: bool,
    /// The key has been sensitive since it was created.
    pub always_sensitive: bool,
    /// The key has never been extractable.
    pub never_extractable: bool,
    /// The key was generated on the token (not imported).
    pub generated_on_token: bool,
}

impl KeyProtection {
    /// The key was made on the token and has never been readable or exportable: it
    /// never left the token.
    pub fn never_left_the_token(&self) -> bool {
        self.generated_on_token && self.always_sensitive && self.never_extractable
    }
}

/// An RSA private key on a PKCS#11 token, signing RS256 (`CKM_SHA256_RSA_PKCS`) and
/// PS256 (`CKM_SHA256_RSA_PKCS_PSS`, MGF1-SHA256, 32-byte salt) inside the token.
///
/// [`Pkcs11Signer::open`] logs in once; the login lasts as long as the signer, and
/// signatures from many threads at once each use a session of their own. Signing
/// blocks (call it off the async executor, as tokenhop's flows do). A token that is
/// removed or deleted, or a module that fails, gives an error, never a hang.
pub struct Pkcs11Signer {
    pool: SessionPool,
    /// Keeps the application logged in: a token logs out when its last session closes.
    _login: Mutex<Session>,
    key: ObjectHandle,
    key_id: Vec<u8>,
    key_label: String,
    wanted: String,
    public_key: rsa::PublicKey,
    protection: KeyProtection,
    algorithms: Vec<SigningAlgorithm>,
    token: Token,
    // Last: the sessions above close before the module may be finalized.
    module: Module,
}

impl Pkcs11Signer {
    /// Loads the PKCS#11 module at `module` (the vendor's library, e.g.
    /// `/usr/lib/softhsm/libsofthsm2.so`), finds the one token and the one private key
    /// `uri` names, and logs in with the PIN from `pin` when the token needs a login.
    ///
    /// A login belongs to the process, not the signer: a second signer on a token the
    /// process is logged in to keeps that login (the token answers
    /// `CKR_USER_ALREADY_LOGGED_IN` without checking the PIN again).
    pub fn open(
        module: impl AsRef<Path>,
        uri: &Pkcs11Uri,
        pin: &PinSource,
    ) -> Result<Self, Pkcs11Error> {
        let module = Module::open(module.as_ref())?;
        let context = module.context();
        let token = Token::find(context, uri)?;
        let login = context
            .open_ro_session(token.slot)
            .map_err(|e| token.error(e))?;
        if token.login_required {
            log_in(&login, &token, pin)?;
        }
        let wanted = uri.describe_object();
        let key = KeyObject::find(&login, &token, uri, &wanted)?;
        let unsupported = |reason: String| Pkcs11Error::UnsupportedKey {
            token: token.label.clone(),
            wanted: wanted.clone(),
            reason,
        };
        let mechanisms = context
            .get_mechanism_list(token.slot)
            .map_err(|e| token.error(e))?;
        let algorithms: Vec<SigningAlgorithm> = [
            (SigningAlgorithm::Ps256, MechanismType::SHA256_RSA_PKCS_PSS),
            (SigningAlgorithm::Rs256, MechanismType::SHA256_RSA_PKCS),
        ]
        .into_iter()
        .filter(|(_, mechanism)| mechanisms.contains(mechanism))
        .map(|(algorithm, _)| algorithm)
        .collect();
        if algorithms.is_empty() {
            return Err(unsupported(
                "the token offers neither CKM_SHA256_RSA_PKCS_PSS nor CKM_SHA256_RSA_PKCS".into(),
            ));
        }
        tracing::debug!(token = %token.label, key = %wanted, "opened a PKCS#11 key");
        Ok(Self {
            pool: SessionPool::new(context.clone(), token.clone()),
            _login: Mutex::new(login),
            key: key.handle,
            key_id: key.id,
            key_label: key.label,
            wanted,
            public_key: key.public_key,
            protection: key.protection,
            algorithms,
            token,
            module,
        })
    }

    /// Signs `message` with `algorithm` in the token.
    pub fn sign_message(
        &self,
        algorithm: SigningAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, Pkcs11Error> {
        let mechanism = match algorithm {
            SigningAlgorithm::Rs256 if self.algorithms.contains(&algorithm) => {
                Mechanism::Sha256RsaPkcs
            }
            SigningAlgorithm::Ps256 if self.algorithms.contains(&algorithm) => {
                Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
                    hash_alg: MechanismType::SHA256,
                    mgf: PkcsMgfType::MGF1_SHA256,
                    s_len: 32.into(),
                })
            }
            other => {
                return Err(Pkcs11Error::UnsupportedKey {
                    token: self.token.label.clone(),
                    wanted: self.wanted.clone(),
                    reason: format!("the token offers no mechanism for {}", other.jws_name()),
                });
            }
        };
        self.pool.with_session(|session| {
            session
                .sign(&mechanism, self.key, message)
                .map_err(|e| self.token.error(e))
        })
    }

    /// The key's public half.
    pub fn public_key(&self) -> &rsa::PublicKey {
        &self.public_key
    }

    /// How the token guards the key.
    pub fn key_protection(&self) -> KeyProtection {
        self.protection
    }

    /// The key's `CKA_ID`, which its certificate on the token shares.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The token's label.
    pub fn token_label(&self) -> &str {
        &self.token.label
    }

    /// The certificate on the token for this key: the `CKO_CERTIFICATE` object with the
    /// key's `CKA_ID`, checked to carry the key's public key.
    pub fn token_certificate(&self) -> Result<Certificate, Pkcs11Error> {
        let der = self.pool.with_session(|session| {
            let template = [
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Id(self.key_id.clone()),
            ];
            let found = session
                .find_objects(&template)
                .map_err(|e| self.token.error(e))?;
            let handle = match found.as_slice() {
                [one] => *one,
                [] => {
                    return Err(Pkcs11Error::CertificateNotFound {
                        token: self.token.label.clone(),
                        id: hex(&self.key_id),
                    });
                }
                many => {
                    return Err(Pkcs11Error::AmbiguousCertificate {
                        token: self.token.label.clone(),
                        id: hex(&self.key_id),
                        count: many.len(),
                    });
                }
            };
            let attributes = session
                .get_attributes(handle, &[AttributeType::Value])
                .map_err(|e| self.token.error(e))?;
            attributes
                .into_iter()
                .find_map(|a| match a {
                    Attribute::Value(der) => Some(der),
                    _ => None,
                })
                .ok_or_else(|| {
                    CertError::Malformed {
                        what: "certificate",
                        reason: "the token's certificate object has no CKA_VALUE".into(),
                    }
                    .into()
                })
        })?;
        let certificate = Certificate::from_der(&der)?;
        self.check_key_of(&certificate)?;
        Ok(certificate)
    }

    /// Stores `certificate` on the token as the key's certificate (`CKO_CERTIFICATE`
    /// with the key's `CKA_ID` and label), after checking it carries the key's public
    /// key; [`Pkcs11Signer::token_certificate`] finds it from then on.
    pub fn store_certificate(&self, certificate: &Certificate) -> Result<(), Pkcs11Error> {
        self.check_key_of(certificate)?;
        let session = self
            .module
            .context()
            .open_rw_session(self.token.slot)
            .map_err(|e| self.token.error(e))?;
        session
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Label(self.key_label.clone().into_bytes()),
                Attribute::Id(self.key_id.clone()),
                Attribute::Subject(certificate.subject_der()?),
                Attribute::Value(certificate.der().to_vec()),
            ])
            .map_err(|e| self.token.error(e))?;
        Ok(())
    }

    /// A client certificate for tokenhop's flows: the token's certificate for the key
    /// ([`Pkcs11Signer::token_certificate`]) signed for by this signer.
    pub fn client_certificate(self) -> Result<ClientCertificate, Pkcs11Error> {
        let leaf = self.token_certificate()?;
        Ok(ClientCertificate::with_signer(vec![leaf], Arc::new(self))?)
    }

    /// A client certificate for tokenhop's flows from a chain given apart from the
    /// token (a file: [`Certificate::chain_from_file`]); the certificate carrying the
    /// key's public key becomes the leaf, and there must be one.
    pub fn client_certificate_with_chain(
        self,
        mut chain: Vec<Certificate>,
    ) -> Result<ClientCertificate, Pkcs11Error> {
        let leaf = chain
            .iter()
            .position(|c| c.rsa_public_key().is_ok_and(|k| k == self.public_key))
            .ok_or_else(|| Pkcs11Error::KeyMismatch {
                subject: chain
                    .first()
                    .map_or_else(|| "(none given)".into(), Certificate::subject),
                wanted: self.wanted.clone(),
            })?;
        chain.swap(0, leaf);
        Ok(ClientCertificate::with_signer(chain, Arc::new(self))?)
    }

    fn check_key_of(&self, certificate: &Certificate) -> Result<(), Pkcs11Error> {
        if certificate.rsa_public_key().ok().as_ref() != Some(&self.public_key) {
            return Err(Pkcs11Error::KeyMismatch {
                subject: certificate.subject(),
                wanted: self.wanted.clone(),
            });
        }
        Ok(())
    }
}

impl Signer for Pkcs11Signer {
    fn algorithms(&self) -> &[SigningAlgorithm] {
        &self.algorithms
    }

    fn sign(&self, algorithm: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, CertError> {
        Ok(self.sign_message(algorithm, message)?)
    }
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("module", &self.module.path())
            .field("token", &self.token.label)
            .field("key", &self.wanted)
            .field("key_id", &hex(&self.key_id))
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

fn log_in(session: &Session, token: &Token, pin: &PinSource) -> Result<(), Pkcs11Error> {
    use cryptoki::error::{Error as CryptokiError, RvError};
    let secret = pin.read()?;
    match session.login(UserType::User, Some(&secret)) {
        Ok(()) | Err(CryptokiError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CryptokiError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
            Err(Pkcs11Error::PinIncorrect {
                token: token.label.clone(),
                pin_source: pin.to_string(),
            })
        }
        Err(e) => Err(token.error(e)),
    }
}

/// The private key the URI names, and what the token says about it.
struct KeyObject {
    handle: ObjectHandle,
    id: Vec<u8>,
    label: String,
    public_key: rsa::PublicKey,
    protection: KeyProtection,
}

/// What the token is asked about a key.
const KEY_ATTRIBUTES: [AttributeType; 12] = [
    AttributeType::KeyType,
    AttributeType::Id,
    AttributeType::Label,
    AttributeType::Modulus,
    AttributeType::PublicExponent,
    AttributeType::Sign,
    AttributeType::AlwaysAuthenticate,
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::AlwaysSensitive,
    AttributeType::NeverExtractable,
    AttributeType::Local,
];

impl KeyObject {
    fn find(
        session: &Session,
        token: &Token,
        uri: &Pkcs11Uri,
        wanted: &str,
    ) -> Result<Self, Pkcs11Error> {
        let unsupported = |reason: &str| Pkcs11Error::UnsupportedKey {
            token: token.label.clone(),
            wanted: wanted.to_owned(),
            reason: reason.to_owned(),
        };
        let handle = Self::locate(session, token, uri, wanted)?;
        let attributes = Attributes(
            session
                .get_attributes(handle, &KEY_ATTRIBUTES)
                .map_err(|e| token.error(e))?,
        );
        if let Some(reason) = attributes.why_it_cannot_sign() {
            return Err(unsupported(reason));
        }
        let id = attributes.bytes(AttributeType::Id).unwrap_or_default();
        let public_key = match (
            attributes.bytes(AttributeType::Modulus),
            attributes.bytes(AttributeType::PublicExponent),
        ) {
            (Some(n), Some(e)) => Some((n, e)),
            // Some tokens keep the public half only on the public key object.
            _ => public_half_from_public_object(session, token, &id)?,
        }
        .ok_or_else(|| {
            unsupported("the token shows neither its modulus nor a public key object with its id")
        })?;
        let public_key = rsa::PublicKey::new(
            BoxedUint::from_be_slice_vartime(&public_key.0),
            BoxedUint::from_be_slice_vartime(&public_key.1),
        )
        .map_err(|e| unsupported(&format!("its public key is unusable: {e}")))?;
        Ok(Self {
            handle,
            label: attributes
                .bytes(AttributeType::Label)
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default(),
            id,
            public_key,
            protection: attributes.protection(),
        })
    }

    /// The one private key the URI names.
    fn locate(
        session: &Session,
        token: &Token,
        uri: &Pkcs11Uri,
        wanted: &str,
    ) -> Result<ObjectHandle, Pkcs11Error> {
        let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
        if let Some(label) = uri.object() {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = uri.id() {
            template.push(Attribute::Id(id.to_vec()));
        }
        let found = session
            .find_objects(&template)
            .map_err(|e| token.error(e))?;
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Pkcs11Error::KeyNotFound {
                token: token.label.clone(),
                wanted: wanted.to_owned(),
            }),
            many => Err(Pkcs11Error::AmbiguousKey {
                token: token.label.clone(),
                wanted: wanted.to_owned(),
                count: many.len(),
            }),
        }
    }
}

impl Attributes {
    /// Why a key with these attributes cannot sign assertions here, if it cannot.
    fn why_it_cannot_sign(&self) -> Option<&'static str> {
        if !self
            .0
            .iter()
            .any(|a| matches!(a, Attribute::KeyType(KeyType::RSA)))
        {
            return Some("it is not an RSA key");
        }
        if self.flag(AttributeType::Sign) == Some(false) {
            return Some("the token does not allow it to sign (CKA_SIGN is false)");
        }
        if self.flag(AttributeType::AlwaysAuthenticate) == Some(true) {
            return Some("it needs the PIN again for every signature (CKA_ALWAYS_AUTHENTICATE)");
        }
        None
    }

    fn protection(&self) -> KeyProtection {
        KeyProtection {
            sensitive: self.flag(AttributeType::Sensitive) == Some(true),
            extractable: self.flag(AttributeType::Extractable) != Some(false),
            always_sensitive: self.flag(AttributeType::AlwaysSensitive) == Some(true),
            never_extractable: self.flag(AttributeType::NeverExtractable) == Some(true),
            generated_on_token: self.flag(AttributeType::Local) == Some(true),
        }
    }
}

/// An RSA public key as a token stores it: big-endian modulus and public exponent.
type ModulusAndExponent = (Vec<u8>, Vec<u8>);

fn public_half_from_public_object(
    session: &Session,
    token: &Token,
    id: &[u8],
) -> Result<Option<ModulusAndExponent>, Pkcs11Error> {
    let template = [
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Id(id.to_vec()),
    ];
    let found = session
        .find_objects(&template)
        .map_err(|e| token.error(e))?;
    let Some(&handle) = found.first() else {
        return Ok(None);
    };
    let attributes = Attributes(
        session
            .get_attributes(
                handle,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .map_err(|e| token.error(e))?,
    );
    Ok(attributes
        .bytes(AttributeType::Modulus)
        .zip(attributes.bytes(AttributeType::PublicExponent)))
}

/// The attributes a token returned (it leaves out those it does not have).
struct Attributes(Vec<Attribute>);

impl Attributes {
    fn flag(&self, wanted: AttributeType) -> Option<bool> {
        self.0.iter().find_map(|a| match (a, wanted) {
            (Attribute::Sign(v), AttributeType::Sign)
            | (Attribute::AlwaysAuthenticate(v), AttributeType::AlwaysAuthenticate)
            | (Attribute::Sensitive(v), AttributeType::Sensitive)
            | (Attribute::Extractable(v), AttributeType::Extractable)
            | (Attribute::AlwaysSensitive(v), AttributeType::AlwaysSensitive)
            | (Attribute::NeverExtractable(v), AttributeType::NeverExtractable)
            | (Attribute::Local(v), AttributeType::Local) => Some(*v),
            _ => None,
        })
    }

    fn bytes(&self, wanted: AttributeType) -> Option<Vec<u8>> {
        self.0.iter().find_map(|a| match (a, wanted) {
            (Attribute::Id(v), AttributeType::Id)
            | (Attribute::Label(v), AttributeType::Label)
            | (Attribute::Modulus(v), AttributeType::Modulus)
            | (Attribute::PublicExponent(v), AttributeType::PublicExponent) => Some(v.clone()),
            _ => None,
        })
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
