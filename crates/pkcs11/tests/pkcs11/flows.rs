//! tokenhop's flows with the key in the token: the emulator accepts the PS256 and RS256
//! assertions of a key generated inside the token (sensitive, never extractable), for
//! client credentials and for Agent ID hop 1. The app's certificate is self-signed by
//! the token's signer and registered with the emulator, which never sees the key.

use tokenhop_cert::{ClientCertificate, SigningAlgorithm, self_signed_certificate};
use tokenhop_core::{ClientId, Error, Scopes, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::{
    AgentIdSettings, AgentIdentityCredential, Authority, CertificateAssertions, ConfidentialClient,
    unverified_claims,
};
use tokenhop_pkcs11::Pkcs11Signer;

use crate::common::{TestToken, USER_PIN, token_test};

/// A key for the emulator's app `app` generated inside the token, with a certificate
/// the token's signer made for it (stored on the token), and an emulator that has that
/// certificate registered for the app.
async fn emulator_trusting_a_key_in_the_token(
    token: &TestToken,
    app: &str,
) -> (EmulatorHandle, ClientCertificate) {
    token.generate_key(app, app.as_bytes());
    let signer = Pkcs11Signer::open(&token.module, &token.uri(app), &token.pin()).unwrap();
    assert!(
        signer.key_protection().never_left_the_token(),
        "{:?}",
        signer.key_protection()
    );
    let certificate = self_signed_certificate(app, 1, signer.public_key(), &signer).unwrap();
    signer.store_certificate(&certificate).unwrap();
    let emulator = Emulator::builder()
        .register_certificate(app, certificate.to_pem())
        .start()
        .await
        .unwrap();
    (emulator, signer.client_certificate().unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn graph() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}

token_test! {
    fn client_credentials_with_ps256_and_rs256_signed_in_the_token(token: &TestToken) {
        runtime().block_on(async {
            let (emulator, certificate) =
                emulator_trusting_a_key_in_the_token(token, names::CONFIDENTIAL_CERT).await;
            let client_id = emulator.config().app(names::CONFIDENTIAL_CERT).unwrap().client_id.clone();
            for algorithm in [SigningAlgorithm::Ps256, SigningAlgorithm::Rs256] {
                let client = ConfidentialClient::builder(
                    ClientId::new(client_id.clone()).unwrap(),
                    Authority::parse(&emulator.authority()).unwrap(),
                    CertificateAssertions::new(certificate.clone())
                        .algorithm(algorithm)
                        .into_credential(),
                )
                .build()
                .unwrap();
                let token = client
                    .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
                    .await
                    .unwrap();
                let claims = unverified_claims(token.secret.expose_secret()).unwrap();
                assert_eq!(claims["appid"], client_id.as_str(), "{algorithm:?}");
            }
            assert_eq!(emulator.counters().grant("client_credentials"), 2);
        });
    }
}

token_test! {
    fn the_agent_id_chain_with_the_blueprint_key_in_the_token(token: &TestToken) {
        runtime().block_on(async {
            let (emulator, certificate) =
                emulator_trusting_a_key_in_the_token(token, names::AGENT_BLUEPRINT).await;
            let config = emulator.config();
            let mut settings = AgentIdSettings::default();
            settings.tenant_id = Some(emulator.tenant_id().to_owned());
            settings.blueprint_id = Some(config.app(names::AGENT_BLUEPRINT).unwrap().client_id.clone());
            settings.agent_id = Some(config.agent_identity(names::AGENT_IDENTITY).unwrap().client_id.clone());
            let credential = AgentIdentityCredential::builder(settings.clone())
                .authority_host(emulator.url())
                .blueprint_credential(CertificateAssertions::new(certificate).into_credential())
                .build()
                .unwrap();
            let token = credential.token(&TokenRequestOptions::default()).await.unwrap();
            let claims = unverified_claims(token.secret.expose_secret()).unwrap();
            assert_eq!(claims["xms_par_app_azp"], settings.blueprint_id.as_deref().unwrap());
            assert_eq!(claims["appid"], settings.agent_id.as_deref().unwrap());
            assert_eq!(emulator.counters().grant("client_credentials"), 2, "one request per hop");
        });
    }
}

token_test! {
    fn a_token_deleted_under_a_flow_is_a_typed_error_without_the_pin(token: &TestToken) {
        runtime().block_on(async {
            let (emulator, certificate) =
                emulator_trusting_a_key_in_the_token(token, names::CONFIDENTIAL_CERT).await;
            let client = ConfidentialClient::builder(
                ClientId::new(emulator.config().app(names::CONFIDENTIAL_CERT).unwrap().client_id.clone()).unwrap(),
                Authority::parse(&emulator.authority()).unwrap(),
                CertificateAssertions::new(certificate).into_credential(),
            )
            .build()
            .unwrap();
            token.delete_from_disk();
            let error = client
                .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
                .await
                .unwrap_err();
            assert!(matches!(&error, Error::CertNotFound { what } if what.contains("is gone")), "{error:?}");
            assert!(!format!("{error:?}{error}").contains(USER_PIN));
            assert_eq!(emulator.counters().grant("client_credentials"), 0, "nothing was sent");
        });
    }
}
