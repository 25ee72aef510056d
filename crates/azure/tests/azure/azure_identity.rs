//! `azure_identity` credentials used by tokenhop through [`FromAzureCredential`], as far
//! as `azure_identity` 1.0 can be pointed at the emulator: its client secret
//! credential (a custom cloud whose authority host is the TLS emulator) and its
//! managed identity credential's IMDS source (whose endpoint is fixed at
//! 169.254.169.254: its HTTP client goes through the emulator as a proxy, as a
//! forwarding proxy on a host would).

use std::sync::Arc;

use azure_core::http::{ClientOptions, Transport};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions};
use tokenhop_azure::{AzureCredential, FromAzureCredential};
use tokenhop_core::{
    CachingCredential, Error, Scopes, TokenCredential, TokenCredentialExt, TokenRequestOptions,
};
use tokenhop_emulator::Emulator;
use tokenhop_flows::{BearerClient, HttpClient, HttpConfig};

use crate::common::{self, app_secret, azure_identity_secret_credential, claims, round_trip};

fn storage() -> Scopes {
    Scopes::new(["https://storage.azure.com/.default"]).unwrap()
}

#[tokio::test]
async fn concurrent_callers_share_one_azure_identity_request_through_tokenhops_cache() {
    let emulator = Emulator::builder().tls(true).start().await.unwrap();
    let azure = azure_identity_secret_credential(&emulator, &app_secret(&emulator));
    let credential = Arc::new(CachingCredential::new(FromAzureCredential::new(azure)));
    let callers = (0..16).map(|_| {
        let credential = Arc::clone(&credential);
        tokio::spawn(async move {
            credential
                .get_token(&storage(), &TokenRequestOptions::default())
                .await
        })
    });
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap());
    }
    assert!(
        tokens.windows(2).all(|pair| pair[0] == pair[1]),
        "one token for all"
    );
    assert_eq!(emulator.counters().grant("client_credentials"), 1);
    let token = claims(tokens[0].secret.expose_secret());
    assert_eq!(
        (token["aud"].as_str(), token["ver"].as_str()),
        (Some("https://storage.azure.com"), Some("1.0"))
    );
}

#[tokio::test]
async fn an_azure_identity_credential_behind_tokenhops_cache_writes_a_blob_tokenhops_bearer_client_reads()
 {
    let Some(azurite) = common::azurite() else {
        return;
    };
    let emulator = Emulator::builder().tls(true).start().await.unwrap();
    let azure = azure_identity_secret_credential(&emulator, &app_secret(&emulator));
    let credential = Arc::new(CachingCredential::new(FromAzureCredential::new(azure)));

    // Written by the Azure SDK's blob client, with the credential gone round both ways.
    let service = azurite
        .blob_service(AzureCredential::new(Arc::clone(&credential)))
        .unwrap();
    let content = b"azure_identity's token, tokenhop's cache".to_vec();
    let read = round_trip(&service, "shared", "both-ways.txt", &content)
        .await
        .unwrap();
    assert_eq!(read, content);

    // Read by tokenhop's bearer client, from the same cache.
    let http =
        HttpClient::new(HttpConfig::default().with_extra_ca_pem(azurite.certificate_pem.clone()))
            .unwrap();
    let bearer = BearerClient::builder(credential.into_provider(storage()))
        .http(http)
        .build()
        .unwrap();
    let url = format!("{}/shared/both-ways.txt", azurite.account_url);
    let request = http::Request::get(url)
        .header("x-ms-version", "2025-11-05")
        .body(Vec::new())
        .unwrap();
    let response = bearer.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), content);
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        1,
        "one token request for the SDK's five calls and the bearer client's one"
    );
}

#[tokio::test]
async fn azure_identitys_managed_identity_reaches_the_emulators_imds_through_a_proxy() {
    let Some(azurite) = common::azurite() else {
        return;
    };
    let emulator = Emulator::builder().start().await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let through_emulator = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(emulator.url()).unwrap())
        .build()
        .unwrap();
    let azure = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(through_emulator))),
            ..ClientOptions::default()
        },
        ..ManagedIdentityCredentialOptions::default()
    }))
    .unwrap();
    let credential = CachingCredential::new(FromAzureCredential::new(azure));
    let token = credential
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap();
    let system = &emulator.config().managed_identities[0];
    assert_eq!(
        claims(token.secret.expose_secret())["oid"],
        system.object_id.as_str()
    );

    let service = azurite
        .blob_service(AzureCredential::new(credential))
        .unwrap();
    let content = b"azure_identity on a VM".to_vec();
    let read = round_trip(&service, "imds", "vm.txt", &content)
        .await
        .unwrap();
    assert_eq!(read, content);
    assert_eq!(emulator.counters().endpoint("imds"), 1);
}

#[tokio::test]
async fn azure_identity_refusals_keep_their_aadsts_codes_and_unexpressible_options_are_refused() {
    let emulator = Emulator::builder().tls(true).start().await.unwrap();
    let wrong = "wrong-secret-0b7e44a1";
    let credential = FromAzureCredential::new(azure_identity_secret_credential(&emulator, wrong));
    let error = credential
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    // azure_identity 1.0 reads Entra's error body into borrowed strings, which fails on
    // the escaped `\r\n` before "Trace ID" that every Entra error_description holds: it
    // reports a DataConversion error, which arrives as InvalidResponse, Entra's text kept.
    match &error {
        Error::InvalidResponse { reason, .. } => {
            assert!(reason.contains("AADSTS7000215"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{error} {error:?}").contains(wrong), "{error:?}");

    let claims_challenge = TokenRequestOptions::default().with_claims(r#"{"access_token":{}}"#);
    let refused = credential.get_token(&storage(), &claims_challenge).await;
    assert!(
        matches!(refused, Err(Error::Configuration { .. })),
        "{refused:?}"
    );
    let other_tenant = TokenRequestOptions::default()
        .with_tenant(tokenhop_core::TenantId::new("fabrikam.onmicrosoft.com").unwrap());
    let refused = credential.get_token(&storage(), &other_tenant).await;
    assert!(
        matches!(refused, Err(Error::Configuration { .. })),
        "{refused:?}"
    );
    assert_eq!(
        emulator.counters().grant("client_credentials"),
        1,
        "only the wrong secret reached the emulator"
    );
}
