//! Every failure is a typed error that says what to do, and none holds the PIN: a wrong
//! PIN, a missing PIN, a missing token or key, an unloadable module, a token deleted
//! while the process uses it.

use tokenhop_cert::{CertError, SigningAlgorithm};
use tokenhop_pkcs11::{PinSource, Pkcs11Error, Pkcs11Signer, Pkcs11Uri};

use crate::common::{USER_PIN, token_test};

/// Neither the error nor its `Debug` holds a PIN.
fn assert_no_pin(error: &dyn std::fmt::Debug, shown: &str, wrong_pin: &str) {
    let debug = format!("{error:?}");
    for pin in [USER_PIN, wrong_pin] {
        assert!(
            !shown.contains(pin) && !debug.contains(pin),
            "{shown} / {debug}"
        );
    }
}

token_test! {
    fn a_wrong_or_missing_pin_is_refused_without_showing_it(token: &TestToken) {
        token.generate_key("app-key", &[1]);
        let wrong = "wrong-pin-1234";
        let error = Pkcs11Signer::open(&token.module, &token.uri("app-key"), &token.pin_file(wrong)).unwrap_err();
        assert!(matches!(&error, Pkcs11Error::PinIncorrect { token, .. } if token == "tokenhop test"), "{error:?}");
        assert!(error.to_string().contains("pin.txt"), "it names the source: {error}");
        assert_no_pin(&error, &error.to_string(), wrong);

        let unset = PinSource::env("TOKENHOP_TEST_NO_SUCH_PIN_VARIABLE");
        let error = Pkcs11Signer::open(&token.module, &token.uri("app-key"), &unset).unwrap_err();
        assert!(matches!(error, Pkcs11Error::PinUnavailable { .. }), "{error:?}");
        assert!(error.to_string().contains("TOKENHOP_TEST_NO_SUCH_PIN_VARIABLE: it is not set"), "{error}");

        // The right PIN from a file works, and the signer's Debug shows no PIN either.
        let signer = Pkcs11Signer::open(&token.module, &token.uri("app-key"), &token.pin_file(USER_PIN)).unwrap();
        assert_no_pin(&signer, "", wrong);
        assert!(format!("{signer:?}").contains("object=app-key"));
    }
}

token_test! {
    fn a_missing_key_or_token_names_what_was_looked_for(token: &TestToken) {
        token.generate_key("app-key", &[1]);
        let error = Pkcs11Signer::open(&token.module, &token.uri("no-such-key"), &token.pin()).unwrap_err();
        assert!(matches!(&error, Pkcs11Error::KeyNotFound { wanted, .. } if wanted == "object=no-such-key"), "{error:?}");
        assert_no_pin(&error, &error.to_string(), USER_PIN);

        let other_token: Pkcs11Uri = "pkcs11:token=elsewhere;object=app-key".parse().unwrap();
        let error = Pkcs11Signer::open(&token.module, &other_token, &token.pin()).unwrap_err();
        assert!(
            matches!(&error, Pkcs11Error::TokenNotFound { present, .. } if present.contains("tokenhop test")),
            "{error:?}"
        );

        token.generate_key("app-key", &[2]);
        let error = Pkcs11Signer::open(&token.module, &token.uri("app-key"), &token.pin()).unwrap_err();
        assert!(matches!(error, Pkcs11Error::AmbiguousKey { count: 2, .. }), "{error:?}");
    }
}

token_test! {
    fn a_token_deleted_while_in_use_is_an_error_at_once_not_a_hang(token: &TestToken) {
        token.generate_key("app-key", &[1]);
        let signer = Pkcs11Signer::open(&token.module, &token.uri("app-key"), &token.pin()).unwrap();
        signer.sign_message(SigningAlgorithm::Ps256, b"before").unwrap();
        token.delete_from_disk();

        let started = std::time::Instant::now();
        for algorithm in [SigningAlgorithm::Ps256, SigningAlgorithm::Rs256] {
            let error = signer.sign_message(algorithm, b"after").unwrap_err();
            assert!(matches!(error, Pkcs11Error::TokenRemoved { .. }), "{error:?}");
            assert!(error.to_string().contains("reconnect it"), "{error}");
            assert_no_pin(&error, &error.to_string(), USER_PIN);
        }
        // Through the Signer trait: the key store lost its key.
        let error = tokenhop_cert::Signer::sign(&signer, SigningAlgorithm::Ps256, b"after").unwrap_err();
        assert!(matches!(error, CertError::CertNotFound { .. }), "{error:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
}

#[test]
fn a_module_that_is_missing_or_not_pkcs11_fails_to_load() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_library = dir.path().join("libnot-pkcs11.so");
    std::fs::write(&not_a_library, b"\x7fELF but not really").unwrap();
    let uri: Pkcs11Uri = "pkcs11:object=app-key".parse().unwrap();
    let pin = PinSource::env("TOKENHOP_TEST_NO_SUCH_PIN_VARIABLE");
    let mut modules = vec![dir.path().join("absent.so"), not_a_library];
    // A real shared library without C_GetFunctionList.
    modules.extend(
        [
            "/lib/x86_64-linux-gnu/libz.so.1",
            "/usr/lib/x86_64-linux-gnu/libz.so.1",
            "/lib64/libz.so.1",
        ]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists()),
    );
    for module in modules {
        let error = Pkcs11Signer::open(&module, &uri, &pin).unwrap_err();
        assert!(
            matches!(&error, Pkcs11Error::ModuleLoad { module: path, .. } if *path == module),
            "{error:?}"
        );
        assert!(error.to_string().contains("check the path"), "{error}");
    }
}
