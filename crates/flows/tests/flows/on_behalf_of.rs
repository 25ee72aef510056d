//! On-behalf-of against the emulator: the middle tier's token for the same user,
//! cached per incoming assertion.

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Error, Scopes, Secret, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::Authority;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::ConfidentialClient;
use tokenhop_flows::PublicClient;
use tokenhop_flows::unverified_claims;

/// A user token for the middle tier's API, by the device flow approved as `user`.
async fn incoming_token(emulator: &EmulatorHandle, user: &str) -> Secret {
    let middle = &emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .client_id;
    let public = PublicClient::builder(
        crate::common::client_id(emulator, names::PUBLIC_CLIENT),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .build()
    .unwrap();
    let scopes = Scopes::new([format!("api://{middle}/access_as_user")]).unwrap();
    crate::common::sign_in(emulator, &public, &scopes, user)
        .await
        .token
        .secret
}

fn middle_tier(emulator: &EmulatorHandle, secret: &str) -> ConfidentialClient {
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(secret.to_owned()),
    )
    .cache(SharedTokenCache::in_memory())
    .build()
    .unwrap()
}

#[tokio::test]
async fn obo_gets_a_graph_token_for_the_same_user_cached_per_incoming_token() {
    let emulator = Emulator::builder().start().await.unwrap();
    let secret = emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .secret
        .clone()
        .unwrap();
    let client = middle_tier(&emulator, &secret);
    let graph = Scopes::new(["https://graph.microsoft.com/User.Read"]).unwrap();
    let options = TokenRequestOptions::default();
    let alice = incoming_token(&emulator, names::ALICE).await;
    emulator.reset_counters();

    let token = client
        .acquire_token_on_behalf_of(&alice, &graph, &options)
        .await
        .unwrap();
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(
        claims["oid"],
        emulator
            .config()
            .user(names::ALICE)
            .unwrap()
            .object_id
            .as_str()
    );
    assert_eq!(claims["appid"], client.client_id().as_str());
    assert_eq!(claims["scp"], "User.Read");

    client
        .acquire_token_on_behalf_of(&alice, &graph, &options)
        .await
        .unwrap();
    assert_eq!(
        emulator
            .counters()
            .grant("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        1,
        "cached"
    );

    // Another incoming token (bob's) never gets alice's cached token.
    let bob = incoming_token(&emulator, names::BOB).await;
    let token = client
        .acquire_token_on_behalf_of(&bob, &graph, &options)
        .await
        .unwrap();
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(
        claims["oid"],
        emulator
            .config()
            .user(names::BOB)
            .unwrap()
            .object_id
            .as_str()
    );
    assert_eq!(
        emulator
            .counters()
            .grant("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        2
    );
}

#[tokio::test]
async fn obo_refusals_carry_their_aadsts_codes_and_no_secret() {
    let emulator = Emulator::builder().start().await.unwrap();
    let graph = Scopes::new(["https://graph.microsoft.com/User.Read"]).unwrap();
    let alice = incoming_token(&emulator, names::ALICE).await;
    let err = middle_tier(&emulator, "wrong-secret")
        .acquire_token_on_behalf_of(&alice, &graph, &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error_codes, .. } if error_codes == &vec![7000215]),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains("wrong-secret") && !text.contains(alice.expose_secret()));

    let secret = emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .secret
        .clone()
        .unwrap();
    let err = middle_tier(&emulator, &secret)
        .acquire_token_on_behalf_of(
            &Secret::new("not-a-jwt"),
            &graph,
            &TokenRequestOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error_codes, .. } if error_codes == &vec![50013]),
        "{err:?}"
    );
}
