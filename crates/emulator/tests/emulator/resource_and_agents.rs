//! `/v1.0/me` and revocation, the Agent ID `user_fic` hop, and workload identity with
//! federated tokens.

use serde_json::{Value, json};
use tokenhop_emulator::{EmulatorHandle, Revocation, names};

use crate::common::{self, JWT_BEARER, certificate_assertion, claims, codes, post_token, start};

const EXCHANGE: &str = "api://AzureADTokenExchange/.default";

async fn me(emulator: &EmulatorHandle, token: &str) -> (u16, Option<String>, Value) {
    let response = common::http()
        .get(format!("{}/v1.0/me", emulator.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status().as_u16(),
        challenge,
        response.json().await.unwrap(),
    )
}

/// Hop 3's inputs through hops 1 and 2: (T1, T2) for the agent identity named `agent`.
async fn t1_and_t2(emulator: &EmulatorHandle, agent: &str) -> (String, String) {
    let blueprint = emulator
        .config()
        .app(names::AGENT_BLUEPRINT)
        .unwrap()
        .client_id
        .clone();
    let agent_id = emulator
        .config()
        .agent_identity(agent)
        .unwrap()
        .client_id
        .clone();
    let (status, hop1) = post_token(
        &emulator.authority(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &blueprint),
            ("client_assertion_type", JWT_BEARER),
            (
                "client_assertion",
                &certificate_assertion(emulator, names::AGENT_BLUEPRINT),
            ),
            ("scope", EXCHANGE),
            ("fmi_path", &agent_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{hop1}");
    let t1 = hop1["access_token"].as_str().unwrap().to_owned();
    let (status, hop2) = post_token(
        &emulator.authority(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &agent_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &t1),
            ("scope", EXCHANGE),
        ],
    )
    .await;
    assert_eq!(status, 200, "{hop2}");
    (t1, hop2["access_token"].as_str().unwrap().to_owned())
}

async fn user_fic(
    emulator: &EmulatorHandle,
    t1: &str,
    t2: &str,
    user: (&str, &str),
) -> (u16, Value) {
    let agent_id = emulator
        .config()
        .agent_identity(names::AGENT_IDENTITY)
        .unwrap()
        .client_id
        .clone();
    post_token(
        &emulator.authority(),
        &[
            ("grant_type", "user_fic"),
            ("client_id", &agent_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", t1),
            ("user_federated_identity_credential", t2),
            (user.0, user.1),
            (
                "scope",
                "https://graph.microsoft.com/.default openid offline_access",
            ),
            ("client_info", "1"),
        ],
    )
    .await
}

#[tokio::test]
async fn hop_three_gives_the_agent_user_a_delegated_token_and_refuses_what_entra_refuses() {
    let emulator = start().await;
    let (t1, t2) = t1_and_t2(&emulator, names::AGENT_IDENTITY).await;
    let agent_user = emulator.config().user(names::AGENT_USER).unwrap().clone();
    let (status, body) = user_fic(&emulator, &t1, &t2, ("user_id", &agent_user.object_id)).await;
    assert_eq!(status, 200, "{body}");
    let token = claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["idtyp"], "user");
    assert_eq!(token["oid"], agent_user.object_id.as_str());
    assert_eq!(
        (token["xms_act_fct"].as_str(), token["xms_sub_fct"].as_str()),
        (Some("11"), Some("13"))
    );
    assert!(body["id_token"].is_string() && body["client_info"].is_string());

    let (_, body) = user_fic(&emulator, &t1, &t2, ("username", &agent_user.upn)).await;
    assert!(body["access_token"].is_string(), "{body}");
    let (_, body) = user_fic(&emulator, &t1, &t2, ("user_id", &agent_user.upn)).await;
    assert_eq!(codes(&body), [50000]);
    let alice = emulator
        .config()
        .user(names::ALICE)
        .unwrap()
        .object_id
        .clone();
    let (_, body) = user_fic(&emulator, &t1, &t2, ("user_id", &alice)).await;
    assert_eq!(codes(&body), [65001]);
    // T1 where T2 belongs: the credential must be the agent's own exchange token.
    let (_, body) = user_fic(&emulator, &t1, &t1, ("user_id", &agent_user.object_id)).await;
    assert_eq!(codes(&body), [7002137]);
    let (_, body) = user_fic(
        &emulator,
        &t1,
        "not-a-token",
        ("user_id", &agent_user.object_id),
    )
    .await;
    assert_eq!(codes(&body), [50013]);
}

#[tokio::test]
async fn me_answers_users_refuses_app_tokens_and_expired_or_revoked_ones() {
    let emulator = start().await;
    let (t1, t2) = t1_and_t2(&emulator, names::AGENT_IDENTITY).await;
    let agent_user = emulator.config().user(names::AGENT_USER).unwrap().clone();
    let (_, body) = user_fic(&emulator, &t1, &t2, ("user_id", &agent_user.object_id)).await;
    let user_token = body["access_token"].as_str().unwrap().to_owned();

    let (status, _, body) = me(&emulator, &user_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userPrincipalName"], agent_user.upn.as_str());
    assert_eq!(emulator.counters().endpoint("me"), 1);

    let secret_app = emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .clone();
    let (_, app) = post_token(
        &emulator.authority(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &secret_app.client_id),
            ("client_secret", secret_app.secret.as_deref().unwrap()),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    let (status, _, body) = me(&emulator, app["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadRequest"))
    );

    let (status, challenge, body) = me(&emulator, "garbage").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
    assert!(challenge.unwrap().contains("error=\"invalid_token\""));

    let revocation: Revocation = serde_json::from_value(json!({"token": user_token})).unwrap();
    assert_eq!(emulator.revoke(&revocation).unwrap(), 1);
    assert_eq!(me(&emulator, &user_token).await.0, 401);
    let (_, body) = user_fic(&emulator, &t1, &t2, ("user_id", &agent_user.object_id)).await;
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&emulator, &fresh).await.0, 200);

    // Blocked for good: tokens issued later are refused too, until reset.
    let blocked = common::http()
        .post(format!("{}/admin/revoke", emulator.url()))
        .json(&json!({"user": names::AGENT_USER, "block": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 200);
    let (_, body) = user_fic(&emulator, &t1, &t2, ("user_id", &agent_user.object_id)).await;
    assert_eq!(
        me(&emulator, body["access_token"].as_str().unwrap())
            .await
            .0,
        401
    );
    common::http()
        .post(format!("{}/admin/reset", emulator.url()))
        .send()
        .await
        .unwrap();
    let (_, body) = user_fic(&emulator, &t1, &t2, ("user_id", &agent_user.object_id)).await;
    let after_reset = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&emulator, &after_reset).await.0, 200);

    emulator.advance_clock(3601);
    assert_eq!(me(&emulator, &after_reset).await.0, 401);
}

#[tokio::test]
async fn workload_identity_trusts_federated_tokens_for_configured_subjects_only() {
    let emulator = start().await;
    let app = emulator
        .config()
        .app(names::WORKLOAD_APP)
        .unwrap()
        .client_id
        .clone();
    let exchange = |assertion: String| {
        let (authority, app) = (emulator.authority(), app.clone());
        async move {
            post_token(
                &authority,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &app),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &assertion),
                    ("scope", "https://storage.azure.com/.default"),
                ],
            )
            .await
        }
    };
    let trusted = emulator.federated_token(names::WORKLOAD_SUBJECT).unwrap();
    let (status, body) = exchange(trusted).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["appid"],
        app.as_str()
    );

    let (status, body) = exchange(
        emulator
            .federated_token("system:serviceaccount:default:other")
            .unwrap(),
    )
    .await;
    assert_eq!((status, codes(&body)), (401, vec![70021]));

    let over_http = common::http()
        .post(format!("{}/admin/federated-token", emulator.url()))
        .json(&json!({"subject": names::WORKLOAD_SUBJECT}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let token = over_http["token"].as_str().unwrap().to_owned();
    emulator.advance_clock(3601);
    let (_, body) = exchange(token).await;
    assert_eq!(codes(&body), [700024]);
}
