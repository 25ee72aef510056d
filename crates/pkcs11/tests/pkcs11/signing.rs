//! Signatures made in the token: RS256 byte for byte the in-memory signer's, PS256
//! verifiable, both verified by openssl; the key never leaves; many threads at once.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass};
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use tokenhop_cert::{
    ClientAssertionBuilder, RsaKeySigner, Signer, SigningAlgorithm, self_signed_certificate,
};
use tokenhop_pkcs11::Pkcs11Signer;

use crate::common::{in_memory_key, openssl_verifies, token_test};

token_test! {
    fn rs256_is_byte_for_byte_the_in_memory_signature_and_ps256_verifies(token: &TestToken) {
        let key = in_memory_key();
        token.import_key(&key, "imported", &[7]);
        let in_token = Pkcs11Signer::open(&token.module, &token.uri("imported"), &token.pin()).unwrap();
        let in_memory = RsaKeySigner::new(key.clone());
        assert_eq!(in_token.public_key(), &key.to_public_key());

        let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0b2tlbmhvcCJ9";
        let from_token = in_token.sign(SigningAlgorithm::Rs256, message).unwrap();
        assert_eq!(from_token, in_memory.sign(SigningAlgorithm::Rs256, message).unwrap());

        let pss = in_token.sign(SigningAlgorithm::Ps256, message).unwrap();
        let verifying = rsa::pss::VerifyingKey::<Sha256>::new(key.to_public_key());
        let signature = rsa::pss::Signature::try_from(pss.as_slice()).unwrap();
        verifying.verify(message, &signature).unwrap();
        assert!(verifying.verify(b"another message", &signature).is_err());
        assert_ne!(pss, in_token.sign(SigningAlgorithm::Ps256, message).unwrap(), "PSS is salted");
    }
}

token_test! {
    fn a_key_generated_in_the_token_signs_assertions_that_openssl_verifies(token: &TestToken) {
        token.generate_key("app-key", &[1, 2]);
        let signer = Pkcs11Signer::open(&token.module, &token.uri("app-key"), &token.pin()).unwrap();
        let certificate = self_signed_certificate("hsm-app", 30, signer.public_key(), &signer).unwrap();
        signer.store_certificate(&certificate).unwrap();
        let client_certificate = signer.client_certificate().unwrap();
        assert_eq!(client_certificate.certificate(), &certificate);
        let pem_path = token.dir.join("cert.pem");
        std::fs::write(&pem_path, certificate.to_pem()).unwrap();

        for (algorithm, thumbprint_header) in [
            (SigningAlgorithm::Ps256, "x5t#S256"),
            (SigningAlgorithm::Rs256, "x5t"),
        ] {
            let assertion = ClientAssertionBuilder::new("client", "https://login.example/token", &client_certificate)
                .algorithm(algorithm)
                .build()
                .unwrap();
            let jwt = assertion.expose_secret();
            let header: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap(),
            )
            .unwrap();
            let expected = match algorithm {
                SigningAlgorithm::Ps256 => certificate.sha256_thumbprint(),
                _ => certificate.sha1_thumbprint(),
            };
            assert_eq!(header[thumbprint_header], expected.to_base64url().as_str());
            assert_eq!(header["alg"], algorithm.jws_name());
            assert!(openssl_verifies(&token.dir, &pem_path, jwt, algorithm), "{algorithm:?}");
            let (signed, signature) = jwt.rsplit_once('.').unwrap();
            let tampered = format!("{signed}x.{signature}");
            assert!(!openssl_verifies(&token.dir, &pem_path, &tampered, algorithm));
        }
    }
}

token_test! {
    fn the_key_is_not_extractable_and_its_value_cannot_be_read(token: &TestToken) {
        token.generate_key("app-key", &[1]);
        let signer = Pkcs11Signer::open(&token.module, &token.uri("app-key"), &token.pin()).unwrap();
        let protection = signer.key_protection();
        assert!(protection.sensitive && !protection.extractable, "{protection:?}");
        assert!(protection.never_left_the_token(), "{protection:?}");

        token.as_user(|session| {
            let key = session
                .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(b"app-key".to_vec())])
                .unwrap()[0];
            let attributes = session
                .get_attributes(key, &[AttributeType::Extractable, AttributeType::Sensitive, AttributeType::NeverExtractable])
                .unwrap();
            assert!(attributes.contains(&Attribute::Extractable(false)), "{attributes:?}");
            assert!(attributes.contains(&Attribute::Sensitive(true)), "{attributes:?}");
            assert!(attributes.contains(&Attribute::NeverExtractable(true)), "{attributes:?}");
            // The private parts are refused, and RSA keys have no CKA_VALUE at all.
            let info = session
                .get_attribute_info(key, &[AttributeType::PrivateExponent, AttributeType::Prime1, AttributeType::Prime2, AttributeType::Value])
                .unwrap();
            assert!(
                matches!(
                    info.as_slice(),
                    [AttributeInfo::Sensitive, AttributeInfo::Sensitive, AttributeInfo::Sensitive, AttributeInfo::TypeInvalid]
                ),
                "{info:?}"
            );
            let read = session.get_attributes(key, &[AttributeType::PrivateExponent, AttributeType::Value]).unwrap();
            assert!(read.is_empty(), "{read:?}");
            // Nor can it be wrapped out under another key.
            let wrapping = session
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::ValueLen(32.into()), Attribute::Wrap(true), Attribute::Token(false)],
                )
                .unwrap();
            let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, key);
            assert!(
                matches!(wrapped, Err(CryptokiError::Pkcs11(RvError::KeyUnextractable, _))),
                "{wrapped:?}"
            );
        });

        let imported = in_memory_key();
        token.import_key(&imported, "imported", &[2]);
        let signer = Pkcs11Signer::open(&token.module, &token.uri("imported"), &token.pin()).unwrap();
        assert!(!signer.key_protection().never_left_the_token(), "an imported key was outside once");
    }
}

token_test! {
    fn many_threads_sign_at_once_through_one_login(token: &TestToken) {
        token.generate_key("app-key", &[1]);
        let signer = Arc::new(Pkcs11Signer::open(&token.module, &token.uri("app-key"), &token.pin()).unwrap());
        // A second signer on the same module and token shares the initialized module
        // and the login.
        token.generate_key("second-key", &[2]);
        let second = Pkcs11Signer::open(&token.module, &token.uri("second-key"), &token.pin()).unwrap();
        let verifying = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(signer.public_key().clone());
        let threads: Vec<_> = (0..16)
            .map(|thread| {
                let signer = Arc::clone(&signer);
                let verifying = verifying.clone();
                std::thread::spawn(move || {
                    for round in 0..10 {
                        let message = format!("thread {thread} round {round}");
                        let algorithm = if round % 2 == 0 { SigningAlgorithm::Rs256 } else { SigningAlgorithm::Ps256 };
                        let signature = signer.sign(algorithm, message.as_bytes()).unwrap();
                        if algorithm == SigningAlgorithm::Rs256 {
                            let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap();
                            verifying.verify(message.as_bytes(), &signature).unwrap();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(second);
        signer.sign(SigningAlgorithm::Rs256, b"after the second signer closed").unwrap();
    }
}
