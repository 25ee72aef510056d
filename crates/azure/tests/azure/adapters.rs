//! The tokenhop → azure_core adapter against the emulator: scopes and lifetimes pass
//! through, errors keep the OAuth error, the AADSTS codes and the hop, and no secret.

use std::sync::Arc;

use azure_core::credentials::TokenCredential as AzureTokenCredential;
use azure_core::error::ErrorKind;
use tokenhop_azure::{AzureCredential, FromAzureCredential};
use tokenhop_core::{Error, Scopes, TokenCredential, TokenRequestOptions, epoch_seconds};
use tokenhop_emulator::{Emulator, names};

use crate::common::{agent_user_credential, app_secret, claims, secret_client};

const STORAGE: &str = "https://storage.azure.com/.default";

#[tokio::test]
async fn scopes_pass_through_and_expires_on_is_the_tokens_own() {
    let emulator = Emulator::builder().start().await.unwrap();
    let adapter = AzureCredential::new(secret_client(&emulator, &app_secret(&emulator)));
    let azure = adapter.get_token(&[STORAGE], None).await.unwrap();
    assert_eq!(
        claims(azure.token.secret())["aud"],
        "https://storage.azure.com"
    );

    let ours = adapter
        .inner()
        .get_token(
            &Scopes::new([STORAGE]).unwrap(),
            &TokenRequestOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        ours.secret.expose_secret(),
        azure.token.secret(),
        "the same cached token"
    );
    // The cache keeps whole seconds, as MSAL's does.
    assert_eq!(
        epoch_seconds(std::time::SystemTime::from(azure.expires_on)),
        epoch_seconds(ours.expires_on)
    );
    let graph = adapter
        .get_token(&["https://graph.microsoft.com/.default"], None)
        .await
        .unwrap();
    assert_eq!(
        claims(graph.token.secret())["aud"],
        "https://graph.microsoft.com"
    );
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        2,
        "one request per resource; the second Storage call was a cache hit"
    );
}

#[tokio::test]
async fn refusals_keep_the_oauth_error_and_aadsts_codes_but_no_secret() {
    let emulator = Emulator::builder().start().await.unwrap();
    let wrong = "wrong-secret-5f1d9c2e";
    let adapter = AzureCredential::new(secret_client(&emulator, wrong));
    let error = adapter.get_token(&[STORAGE], None).await.unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::Credential);
    let text = error.to_string();
    assert!(
        text.contains("invalid_client") && text.contains("AADSTS7000215"),
        "{text}"
    );
    for shown in [text, format!("{error:?}")] {
        assert!(!shown.contains(wrong), "the secret leaked: {shown}");
    }
    match error.downcast_ref::<Error>() {
        Some(Error::TokenExchange {
            hop: None,
            error,
            error_codes,
            ..
        }) => assert_eq!(
            (error.as_str(), error_codes.as_slice()),
            ("invalid_client", &[7000215][..])
        ),
        other => panic!("{other:?}"),
    }

    let bad_scope = adapter
        .get_token(&["https://storage.azure.com/\u{7}"], None)
        .await;
    let bad_scope = bad_scope.unwrap_err();
    assert!(matches!(
        bad_scope.downcast_ref::<Error>(),
        Some(Error::Configuration { .. })
    ));
}

#[tokio::test]
async fn an_agent_id_chain_keeps_the_hop_that_failed_through_both_adapters() {
    let emulator = Emulator::builder().start().await.unwrap();
    // This agent identity belongs to another blueprint: hop 2 refuses.
    let chain = agent_user_credential(&emulator, names::FOREIGN_AGENT_IDENTITY);
    let adapter = AzureCredential::new(chain);
    let error = adapter.get_token(&[STORAGE], None).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("hop 2") && text.contains("AADSTS7002137"),
        "{text}"
    );
    assert!(matches!(
        error.downcast_ref::<Error>(),
        Some(Error::TokenExchange { hop: Some(2), .. })
    ));

    // Back into tokenhop, the error is tokenhop's own again.
    let back = FromAzureCredential::new(adapter as Arc<dyn AzureTokenCredential>);
    let again = back
        .get_token(
            &Scopes::new([STORAGE]).unwrap(),
            &TokenRequestOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(again, Error::TokenExchange { hop: Some(2), ref error_codes, .. } if error_codes == &[7002137]),
        "{again:?}"
    );
}
