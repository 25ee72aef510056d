//! Authorities are validated before any credential is sent, as MSAL does: the discovery
//! document's issuer must be the authority's and its endpoints on the authority's host;
//! a host that is not known is checked by instance discovery (the emulator serves it) and
//! refused when unknown, unless validation is off.

use tokenhop_core::{Error, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle};
use tokenhop_flows::{AuthorityValidation, HttpClient, HttpConfig};

fn storage() -> Scopes {
    Scopes::new(["https://storage.azure.com/.default"]).unwrap()
}

/// The emulator's authority under the name `localhost` instead of `127.0.0.1`: the
/// discovery document it serves names the other host.
fn as_localhost(emulator: &EmulatorHandle) -> String {
    emulator.authority().replace("127.0.0.1", "localhost")
}

/// Validation that trusts no host, not even loopback, and asks the emulator's instance
/// discovery: the emulator stands in for an unknown host.
fn nothing_trusted(emulator: &EmulatorHandle) -> AuthorityValidation {
    AuthorityValidation::default()
        .with_trusted_hosts(Vec::<String>::new())
        .with_loopback_trusted(false)
        .with_instance_discovery(
            url::Url::parse(&format!("{}/common/discovery/instance", emulator.url())).unwrap(),
        )
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_refused_before_any_credential_is_sent() {
    let emulator = Emulator::builder().start().await.unwrap();
    let http = HttpClient::new(HttpConfig::default()).unwrap();
    let client = crate::common::secret_client(&emulator, &as_localhost(&emulator), http);
    let error = client
        .acquire_token_for_client(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Configuration { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("issuer") && text.contains("127.0.0.1"),
        "{text}"
    );
    assert_eq!(emulator.counters().endpoint("discovery"), 1);
    assert_eq!(
        emulator.counters().endpoint("token"),
        0,
        "a credential was sent"
    );
}

#[tokio::test]
async fn an_unknown_host_is_refused_by_instance_discovery_and_accepted_with_validation_off() {
    let emulator = Emulator::builder().start().await.unwrap();
    let validating = HttpClient::new(
        HttpConfig::default().with_authority_validation(nothing_trusted(&emulator)),
    )
    .unwrap();
    // localhost is not an instance the emulator knows.
    let error =
        crate::common::secret_client(&emulator, &as_localhost(&emulator), validating.clone())
            .acquire_token_for_client(&storage(), &TokenRequestOptions::default())
            .await
            .unwrap_err();
    assert!(matches!(error, Error::Configuration { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("invalid_instance") && text.contains("localhost"),
        "{text}"
    );
    let counters = emulator.counters();
    assert_eq!(counters.endpoint("instance_discovery"), 1);
    assert_eq!(counters.endpoint("discovery"), 0);
    assert_eq!(counters.endpoint("token"), 0, "a credential was sent");

    // 127.0.0.1 is the emulator's own instance: instance discovery vouches for it.
    emulator.reset_counters();
    crate::common::secret_client(&emulator, &emulator.authority(), validating)
        .acquire_token_for_client(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(emulator.counters().endpoint("instance_discovery"), 1);

    // With validation off the caller vouches for the host: no instance discovery, no
    // issuer or endpoint check.
    emulator.reset_counters();
    let trusting = HttpClient::new(
        HttpConfig::default().with_authority_validation(AuthorityValidation::off()),
    )
    .unwrap();
    crate::common::secret_client(&emulator, &as_localhost(&emulator), trusting)
        .acquire_token_for_client(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap();
    let counters = emulator.counters();
    assert_eq!(counters.endpoint("instance_discovery"), 0);
    assert_eq!(counters.endpoint("token"), 1);
}
