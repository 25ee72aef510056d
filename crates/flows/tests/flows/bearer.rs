//! The bearer client against the emulator's `/v1.0/me`: one forced refresh and one
//! retry for a revoked token, `TokenExpired` when it stays revoked, other answers
//! untouched; sync, async and closure providers.

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Error, Scopes, TokenCredentialExt};
use tokenhop_emulator::{Emulator, EmulatorHandle, Revocation, names};
use tokenhop_flows::AgentUserCredential;
use tokenhop_flows::Authority;
use tokenhop_flows::BearerClient;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::ConfidentialClient;

fn graph() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}

fn agent_user(emulator: &EmulatorHandle) -> AgentUserCredential {
    agent_user_with(emulator, &[])
}

fn agent_user_with(emulator: &EmulatorHandle, capabilities: &[&str]) -> AgentUserCredential {
    AgentUserCredential::builder(crate::common::agent_settings(
        emulator,
        names::AGENT_IDENTITY,
        true,
    ))
    .authority_host(emulator.url())
    .blueprint_credential(crate::common::blueprint_credential(emulator))
    .cache(SharedTokenCache::in_memory())
    .client_capabilities(capabilities.iter().copied())
    .build()
    .unwrap()
}

fn me(emulator: &EmulatorHandle) -> String {
    format!("{}/v1.0/me", emulator.url())
}

fn revoke(emulator: &EmulatorHandle, json: serde_json::Value) {
    let revocation: Revocation = serde_json::from_value(json).unwrap();
    emulator.revoke(&revocation).unwrap();
}

#[tokio::test]
async fn a_token_revoked_between_calls_costs_one_token_request_and_the_call_succeeds() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = BearerClient::new(agent_user(&emulator).into_provider(graph())).unwrap();
    let first = client.get(&me(&emulator)).await.unwrap();
    assert_eq!(first.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&first.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body["userPrincipalName"],
        emulator
            .config()
            .user(names::AGENT_USER)
            .unwrap()
            .upn
            .as_str()
    );

    revoke(&emulator, serde_json::json!({"user": names::AGENT_USER}));
    emulator.reset_counters();
    let second = client.get(&me(&emulator)).await.unwrap();
    assert_eq!(second.status(), 200);
    let counters = emulator.counters();
    assert_eq!(
        counters.endpoint("token"),
        1,
        "exactly one extra token request (hop 3)"
    );
    assert_eq!(counters.grant("user_fic"), 1);
    assert_eq!(counters.endpoint("me"), 2, "the call and its one retry");
}

#[tokio::test]
async fn a_token_revoked_for_good_is_token_expired_after_exactly_one_retry() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = BearerClient::new(agent_user(&emulator).into_provider(graph())).unwrap();
    client.get(&me(&emulator)).await.unwrap();
    revoke(
        &emulator,
        serde_json::json!({"user": names::AGENT_USER, "block": true}),
    );
    emulator.reset_counters();
    let err = client.get(&me(&emulator)).await.unwrap_err();
    assert!(matches!(err, Error::TokenExpired { .. }), "{err}");
    let counters = emulator.counters();
    assert_eq!(
        (counters.endpoint("me"), counters.endpoint("token")),
        (2, 1)
    );
}

#[tokio::test]
async fn an_app_only_token_gets_the_400_untouched_with_no_retry() {
    let emulator = Emulator::builder().start().await.unwrap();
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    let credential = ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(app.secret.clone().unwrap()),
    )
    .build()
    .unwrap();
    let client = BearerClient::new(credential.into_provider(graph())).unwrap();
    let response = client.get(&me(&emulator)).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "BadRequest");
    let counters = emulator.counters();
    assert_eq!(
        (counters.endpoint("me"), counters.endpoint("token")),
        (1, 1)
    );
}

#[tokio::test]
async fn sync_async_and_fixed_string_providers_drive_the_client() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = agent_user(&emulator)
        .token(&Default::default())
        .await
        .unwrap()
        .secret
        .expose_secret()
        .to_owned();
    emulator.reset_counters();

    let fixed = token.clone();
    let sync = BearerClient::from_blocking(move || Ok::<_, Error>(fixed.clone())).unwrap();
    assert_eq!(sync.get(&me(&emulator)).await.unwrap().status(), 200);

    let fixed = token.clone();
    let asynchronous = BearerClient::new(move || {
        let token = fixed.clone();
        async move { Ok::<_, Error>(token) }
    })
    .unwrap();
    assert_eq!(
        asynchronous.get(&me(&emulator)).await.unwrap().status(),
        200
    );
    assert_eq!(
        emulator.counters().endpoint("token"),
        0,
        "the providers made no token request"
    );

    // A stub that can never refresh: the resource refuses it twice, once per try.
    let stub = BearerClient::new(|| async { Ok::<_, Error>("not-a-token") }).unwrap();
    let err = stub.get(&me(&emulator)).await.unwrap_err();
    assert!(matches!(err, Error::TokenExpired { .. }), "{err}");
    let text = format!("{err} {err:?} {stub:?}");
    assert!(
        !text.contains(&token) && !text.contains("not-a-token"),
        "{text}"
    );
}

/// A provider that hands out one token and ignores claims: what a cache that does not
/// honour a claims challenge does. It counts the claims it was asked for.
struct StaleProvider {
    token: String,
    asked_with_claims: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl tokenhop_core::TokenProvider for StaleProvider {
    fn token(
        &self,
    ) -> tokenhop_core::BoxFuture<'_, tokenhop_core::Result<tokenhop_core::AccessToken>> {
        Box::pin(async move { Ok(self.token.as_str().into()) })
    }

    fn token_with_claims<'a>(
        &'a self,
        claims: &'a str,
    ) -> tokenhop_core::BoxFuture<'a, tokenhop_core::Result<tokenhop_core::AccessToken>> {
        self.asked_with_claims
            .lock()
            .unwrap()
            .push(claims.to_owned());
        self.token()
    }
}

#[tokio::test]
async fn a_cae_challenge_costs_one_token_request_with_the_claims_and_the_call_succeeds() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = agent_user_with(&emulator, &["cp1"]);
    let first = credential.token(&Default::default()).await.unwrap();
    let first_claims = tokenhop_flows::unverified_claims(first.secret.expose_secret()).unwrap();
    assert_eq!(
        first_claims["xms_cc"],
        serde_json::json!(["cp1"]),
        "a CAE token"
    );
    let client = BearerClient::new(credential.into_provider(graph())).unwrap();
    assert_eq!(client.get(&me(&emulator)).await.unwrap().status(), 200);

    revoke(
        &emulator,
        serde_json::json!({"user": names::AGENT_USER, "cae": true}),
    );
    emulator.reset_counters();
    let response = client.get(&me(&emulator)).await.unwrap();
    assert_eq!(response.status(), 200);
    let counters = emulator.counters();
    assert_eq!(
        (
            counters.endpoint("me"),
            counters.endpoint("token"),
            counters.grant("user_fic")
        ),
        (2, 1, 1),
        "the challenge, one hop-3 request with the claims, the retry"
    );
}

#[tokio::test]
async fn a_second_challenge_is_an_error_carrying_the_claims_never_a_loop() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = agent_user_with(&emulator, &["cp1"])
        .token(&Default::default())
        .await
        .unwrap();
    revoke(
        &emulator,
        serde_json::json!({"user": names::AGENT_USER, "cae": true}),
    );
    let asked = std::sync::Arc::<std::sync::Mutex<Vec<String>>>::default();
    let client = BearerClient::new(StaleProvider {
        token: token.secret.expose_secret().to_owned(),
        asked_with_claims: std::sync::Arc::clone(&asked),
    })
    .unwrap();
    emulator.reset_counters();
    let err = client.get(&me(&emulator)).await.unwrap_err();
    let Error::InsufficientClaims { claims, .. } = &err else {
        panic!("{err:?}");
    };
    let claims: serde_json::Value = serde_json::from_str(claims).unwrap();
    assert!(
        claims["access_token"]["nbf"]["value"].is_string(),
        "{claims}"
    );
    assert_eq!(asked.lock().unwrap().len(), 1, "asked once");
    assert_eq!(emulator.counters().endpoint("me"), 2, "one retry, no loop");
    assert!(!err.to_string().contains(token.secret.expose_secret()));

    // A provider that cannot ask for claims at all says so, with the claims.
    let fixed = token.secret.expose_secret().to_owned();
    let closure = BearerClient::new(move || {
        let fixed = fixed.clone();
        async move { Ok::<_, Error>(fixed) }
    })
    .unwrap();
    let err = closure.get(&me(&emulator)).await.unwrap_err();
    assert!(err.claims().is_some_and(|c| c.contains("nbf")), "{err:?}");
}
