//! Arbitrary bytes fed to every loader return an error and never panic.

use proptest::prelude::*;
use tokenhop_cert::{Certificate, ClientCertificate};

fn pem_like() -> impl Strategy<Value = Vec<u8>> {
    let label = prop_oneof![
        Just("CERTIFICATE"),
        Just("PRIVATE KEY"),
        Just("RSA PRIVATE KEY"),
        Just("ENCRYPTED PRIVATE KEY")
    ];
    (label, prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(label, body)| {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(body);
        format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n").into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn der_certificates(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(Certificate::from_der(&bytes).is_err());
    }

    #[test]
    fn pfx_files(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(ClientCertificate::from_pfx(&bytes, "pw").is_err());
    }

    #[test]
    fn pem_text(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(ClientCertificate::from_pem(&bytes, Some("pw")).is_err());
        prop_assert!(ClientCertificate::from_bytes(&bytes, None).is_err());
    }

    #[test]
    fn pem_blocks_with_garbage_inside(bytes in pem_like()) {
        prop_assert!(ClientCertificate::from_pem(&bytes, Some("pw")).is_err());
    }

    #[test]
    fn der_starting_like_a_sequence(mut bytes in prop::collection::vec(any::<u8>(), 2..512)) {
        bytes[0] = 0x30;
        prop_assert!(Certificate::from_der(&bytes).is_err());
        prop_assert!(ClientCertificate::from_pfx(&bytes, "").is_err());
    }
}
