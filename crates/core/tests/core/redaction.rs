//! No Debug or Display output of a secret-bearing type, or of any error, contains the
//! secret value.

use tokenhop_core::{AccessToken, Error, Secret, from_epoch_seconds};

const KNOWN_SECRET: &str = "eyJ0eXAi.known-secret-4c7d9e.sig";

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(KNOWN_SECRET),
        "{what} leaked the secret: {text}"
    );
    assert!(
        !text.contains("known-secret-4c7d9e"),
        "{what} leaked part of the secret: {text}"
    );
}

#[test]
fn secret_and_access_token_never_print_the_value() {
    let secret = Secret::new(KNOWN_SECRET);
    assert_clean("Secret Debug", &format!("{secret:?}"));
    assert_clean("Secret Display", &secret.to_string());
    let token = AccessToken::new(KNOWN_SECRET, from_epoch_seconds(2_000_000_000));
    assert_clean("AccessToken Debug", &format!("{token:?}"));
    assert_clean("AccessToken pretty Debug", &format!("{token:#?}"));
}

#[test]
fn no_error_variant_prints_a_secret_it_was_built_near() {
    // Each variant built the way the flows build them, from a context that holds the
    // secret: none of them may copy it in.
    let secret = Secret::new(KNOWN_SECRET);
    let errors = vec![
        Error::Authentication {
            reason: "no cached account".into(),
        },
        Error::TokenExchange {
            hop: Some(3),
            error: "invalid_grant".into(),
            description: "AADSTS50000: the user_id is not an object id".into(),
            error_codes: vec![50000],
            correlation_id: Some("corr".into()),
            suberror: Some("basic_action".into()),
            claims: Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#.into()),
            trace_id: Some("trace".into()),
        },
        Error::InsufficientClaims {
            claims: r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#.into(),
            reason: "the resource challenged the new token again".into(),
        },
        Error::Throttled {
            endpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token".into(),
            retry_after: std::time::Duration::from_secs(120),
            status: 429,
        },
        Error::AgentIdNotAvailable {
            missing: vec!["agent_user_id".into()],
        },
        Error::TokenExpired {
            reason: "InvalidAuthenticationToken".into(),
        },
        Error::CertNotFound {
            what: "thumbprint ABC".into(),
        },
        Error::Signing {
            reason: format!("key store refused ({secret})"),
        },
        Error::Transport {
            message: format!("connection reset ({secret:?})"),
            source: None,
        },
        Error::InvalidResponse {
            endpoint: "token".into(),
            reason: "not JSON".into(),
        },
        Error::Configuration {
            message: "missing client_secret".into(),
        },
        Error::Cache {
            message: "corrupt".into(),
        },
        Error::Cancelled {
            reason: "dropped".into(),
        },
    ];
    for error in &errors {
        assert_clean("error Display", &error.to_string());
        assert_clean("error Debug", &format!("{error:?}"));
        assert!(!error.to_string().is_empty());
    }
}
