//! The key's certificate: on the token under the key's id, or from a file; always the
//! key's own.

use tokenhop_cert::{Certificate, KeySize, generate_self_signed, self_signed_certificate};
use tokenhop_pkcs11::{Pkcs11Error, Pkcs11Signer, Pkcs11Uri};

use crate::common::token_test;

token_test! {
    fn the_certificate_is_found_on_the_token_by_the_key_id_or_read_from_a_file(token: &TestToken) {
        token.generate_key("app-key", &[0xa1, 0x00]);
        let signer = Pkcs11Signer::open(&token.module, &token.uri("app-key"), &token.pin()).unwrap();
        let missing = signer.token_certificate().unwrap_err();
        assert!(
            matches!(&missing, Pkcs11Error::CertificateNotFound { id, .. } if id == "a100"),
            "{missing:?}"
        );
        let certificate = self_signed_certificate("hsm-app", 30, signer.public_key(), &signer).unwrap();
        let other = generate_self_signed("other", 1, KeySize::Rsa2048).unwrap().certificate;
        let refused = signer.store_certificate(&other).unwrap_err();
        assert!(matches!(refused, Pkcs11Error::KeyMismatch { .. }), "{refused:?}");
        signer.store_certificate(&certificate).unwrap();
        drop(signer);

        // By id alone, and with the percent-encoded zero byte.
        let by_id: Pkcs11Uri = "pkcs11:token=tokenhop%20test;id=%A1%00".parse().unwrap();
        let signer = Pkcs11Signer::open(&token.module, &by_id, &token.pin()).unwrap();
        assert_eq!(signer.key_id(), [0xa1, 0x00]);
        assert_eq!(signer.token_certificate().unwrap(), certificate);

        // From a file: a chain in any order, the key's certificate becomes the leaf.
        let path = token.dir.join("chain.pem");
        std::fs::write(&path, format!("{}{}", other.to_pem(), certificate.to_pem())).unwrap();
        let chain = Certificate::chain_from_file(&path).unwrap();
        let client_certificate = signer.client_certificate_with_chain(chain).unwrap();
        assert_eq!(client_certificate.certificate(), &certificate);
        assert_eq!(client_certificate.chain().len(), 2);

        let signer = Pkcs11Signer::open(&token.module, &by_id, &token.pin()).unwrap();
        let mismatch = signer.client_certificate_with_chain(vec![other]).unwrap_err();
        assert!(
            mismatch.to_string().contains("does not carry the public key"),
            "{mismatch}"
        );

        // A second certificate under the same id is ambiguous, not a guess.
        let signer = Pkcs11Signer::open(&token.module, &by_id, &token.pin()).unwrap();
        let renewed = self_signed_certificate("hsm-app renewed", 30, signer.public_key(), &signer).unwrap();
        signer.store_certificate(&renewed).unwrap();
        let ambiguous = signer.client_certificate().unwrap_err();
        assert!(
            matches!(ambiguous, Pkcs11Error::AmbiguousCertificate { count: 2, .. }),
            "{ambiguous:?}"
        );
    }
}
