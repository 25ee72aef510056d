//! The user grants: device code, authorization code with PKCE, refresh tokens (with
//! FOCI), and on-behalf-of; their success and refusal paths.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::Digest;
use tokenhop_emulator::{Emulator, EmulatorConfig, EmulatorHandle, names};

use crate::common::{self, claims, client_id, codes, post_token, start};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn start_device_flow(emulator: &EmulatorHandle, client: &str, scope: &str) -> Value {
    let response = common::http()
        .post(format!("{}/oauth2/v2.0/devicecode", emulator.authority()))
        .form(&[("client_id", client), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn poll(emulator: &EmulatorHandle, client: &str, device_code: &str) -> (u16, Value) {
    post_token(
        &emulator.authority(),
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", client),
            ("device_code", device_code),
            ("client_info", "1"),
        ],
    )
    .await
}

/// Signs alice in through the device flow; the token response.
async fn alice_signs_in(emulator: &EmulatorHandle, client: &str, scope: &str) -> Value {
    let flow = start_device_flow(emulator, client, scope).await;
    assert!(emulator.approve_device_code(flow["user_code"].as_str(), names::ALICE, 0));
    let (status, body) = poll(emulator, client, flow["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn device_flow_is_pending_then_slows_down_then_issues_user_tokens() {
    let emulator = start().await;
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let flow = start_device_flow(
        &emulator,
        &client,
        "User.Read openid profile offline_access",
    )
    .await;
    assert_eq!(flow["interval"], 5);
    assert!(
        flow["message"]
            .as_str()
            .unwrap()
            .contains(flow["user_code"].as_str().unwrap())
    );
    let device_code = flow["device_code"].as_str().unwrap();

    let (status, body) = poll(&emulator, &client, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    // Polling again at once is too fast.
    let (_, body) = poll(&emulator, &client, device_code).await;
    assert_eq!(body["error"], "slow_down");

    assert!(emulator.approve_device_code(None, names::ALICE, 0));
    let (status, body) = poll(&emulator, &client, device_code).await;
    assert_eq!(status, 200, "{body}");
    let alice = emulator.config().user(names::ALICE).unwrap();
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["oid"], alice.object_id.as_str());
    assert_eq!(access["idtyp"], "user");
    assert_eq!(access["scp"], "User.Read");
    assert_eq!(access["aud"], "https://graph.microsoft.com");
    assert_eq!(access["appid"], client.as_str());
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], client.as_str());
    assert_eq!(id["preferred_username"], alice.upn.as_str());
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["uid"], alice.object_id.as_str());
    assert_eq!(body["foci"], "1");
    assert!(body["refresh_token"].as_str().is_some());
    assert_eq!(body["scope"], "User.Read openid profile");

    // The code is spent.
    let (_, body) = poll(&emulator, &client, device_code).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn graph_user_tokens_are_v1_while_api_tokens_and_id_tokens_stay_v2() {
    let emulator = start().await;
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let alice = emulator.config().user(names::ALICE).unwrap().clone();
    let body = alice_signs_in(&emulator, &client, "User.Read openid profile").await;
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["ver"], "1.0", "{access}");
    assert_eq!(
        access["iss"],
        format!("https://sts.windows.net/{}/", emulator.tenant_id())
    );
    assert_eq!(access["appid"], client.as_str());
    // A public client has no credential.
    assert_eq!(access["appidacr"], "0");
    assert_eq!(access["upn"], alice.upn.as_str());
    assert_eq!(access["unique_name"], alice.upn.as_str());
    assert_eq!(access["name"], alice.display_name.as_str());
    assert_eq!(access["scp"], "User.Read");
    assert!(
        access.get("azp").is_none() && access.get("preferred_username").is_none(),
        "{access}"
    );
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["ver"], "2.0");
    assert_eq!(id["iss"], format!("{}/v2.0", emulator.authority()));

    let middle = client_id(&emulator, names::CONFIDENTIAL_SECRET);
    let body = alice_signs_in(
        &emulator,
        &client,
        &format!("api://{middle}/access_as_user"),
    )
    .await;
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["ver"], "2.0", "{access}");
    assert_eq!(access["azp"], client.as_str());
    assert_eq!(access["preferred_username"], alice.upn.as_str());
}

#[tokio::test]
async fn device_flow_declined_expired_and_refused_requests() {
    let emulator = start().await;
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let flow = start_device_flow(&emulator, &client, "User.Read").await;
    assert!(emulator.deny_device_code(flow["user_code"].as_str()));
    let (_, body) = poll(&emulator, &client, flow["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "authorization_declined");

    let flow = start_device_flow(&emulator, &client, "User.Read").await;
    emulator.advance_clock(901);
    let (_, body) = poll(&emulator, &client, flow["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "expired_token");
    assert_eq!(codes(&body), [70019]);

    // Approval after some polls, through the admin API.
    let flow = start_device_flow(&emulator, &client, "User.Read").await;
    let approved = common::http()
        .post(format!("{}/admin/device/approve", emulator.url()))
        .json(&serde_json::json!({"user_code": flow["user_code"], "user": "bob", "after_polls": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 204);
    let device_code = flow["device_code"].as_str().unwrap();
    assert_eq!(
        poll(&emulator, &client, device_code).await.1["error"],
        "authorization_pending"
    );
    let (status, body) = poll(&emulator, &client, device_code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["upn"],
        "bob@contoso.onmicrosoft.com"
    );

    // The page the message names: a user enters the code and signs in.
    let flow = start_device_flow(&emulator, &client, "User.Read").await;
    let page = common::http()
        .get(flow["verification_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("user_code"));
    let signed_in = common::http()
        .post(flow["verification_uri"].as_str().unwrap())
        .form(&[
            ("user_code", flow["user_code"].as_str().unwrap()),
            ("login", "alice"),
            ("password", "alice-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let (status, body) = poll(&emulator, &client, flow["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");

    let unknown_user = common::http()
        .post(format!("{}/admin/device/approve", emulator.url()))
        .json(&serde_json::json!({"user": "mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_user.status(), 400);

    let refused = common::http()
        .post(format!("{}/oauth2/v2.0/devicecode", emulator.authority()))
        .form(&[
            ("client_id", client.as_str()),
            ("scope", "https://nowhere.example/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(codes(&body), [500011]);
}

fn pkce() -> (String, String) {
    let verifier = "a-verifier-that-is-long-enough-for-rfc-7636-0123456789".to_owned();
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize_url(emulator: &EmulatorHandle, client: &str, challenge: &str, mode: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:8400/"),
            ("scope", "User.Read openid offline_access"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("response_mode", mode),
        ])
        .finish();
    format!("{}/oauth2/v2.0/authorize?{query}", emulator.authority())
}

fn no_redirects() -> reqwest::Client {
    let _ = common::http();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `code` and `state` of a redirect's `Location`.
fn code_and_state(location: &str) -> (String, String) {
    let url = url::Url::parse(location).unwrap();
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    (get("code"), get("state"))
}

async fn redeem(
    emulator: &EmulatorHandle,
    client: &str,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    post_token(
        &emulator.authority(),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", "http://localhost:8400/"),
            ("code_verifier", verifier),
        ],
    )
    .await
}

#[tokio::test]
async fn the_sign_in_form_issues_a_code_bound_to_pkce_state_and_nonce() {
    let emulator = start().await;
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&emulator, &client, &challenge, "query");
    let page = no_redirects()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<form"), "{page}");
    let query = url.split_once('?').unwrap().1.to_owned();
    let submit = |login: &'static str, password: &'static str| {
        let query = query.clone();
        let action = format!("{}/oauth2/v2.0/authorize", emulator.authority());
        async move {
            no_redirects()
                .post(action)
                .form(&[
                    ("request", query.as_str()),
                    ("login", login),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = submit("alice@contoso.onmicrosoft.com", "guess").await;
    assert_eq!(wrong.status(), 200);
    assert!(wrong.text().await.unwrap().contains("AADSTS50126"));

    let right = submit("alice@contoso.onmicrosoft.com", "alice-password").await;
    assert_eq!(right.status(), 302);
    let location = right.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://localhost:8400/?"),
        "{location}"
    );
    let (code, state) = code_and_state(&location);
    assert_eq!(state, "state-123");

    let (status, body) = redeem(&emulator, &client, &code, "a-wrong-verifier").await;
    assert_eq!((status, codes(&body)), (400, vec![501481]));
    // A refused redemption still spends the code, as Entra does.
    let (_, body) = redeem(&emulator, &client, &code, &verifier).await;
    assert_eq!(codes(&body), [54005]);

    let right = submit("alice", "alice-password").await;
    let (code, _) = code_and_state(right.headers()["location"].to_str().unwrap());
    let (status, body) = redeem(&emulator, &client, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["unique_name"],
        "alice@contoso.onmicrosoft.com"
    );
}

#[tokio::test]
async fn auto_sign_in_answers_with_form_post_and_bad_requests_are_refused() {
    let mut config = EmulatorConfig::default();
    config.auto_sign_in = Some(names::BOB.into());
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let (verifier, challenge) = pkce();
    let page = no_redirects()
        .get(authorize_url(&emulator, &client, &challenge, "form_post"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("action=\"http://localhost:8400/\""), "{page}");
    assert!(
        page.contains("name=\"state\" value=\"state-123\""),
        "{page}"
    );
    let code = page
        .split("name=\"code\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let (status, body) = redeem(&emulator, &client, code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["upn"],
        "bob@contoso.onmicrosoft.com"
    );

    // A redirect URI that is not loopback gets an error page, not a redirect.
    let evil = authorize_url(&emulator, &client, &challenge, "query")
        .replace("localhost%3A8400", "evil.example");
    let response = no_redirects().get(evil).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("AADSTS50011"));
    // `plain` PKCE goes back to the client as an error, with its state.
    let plain = authorize_url(&emulator, &client, &challenge, "query").replace("S256", "plain");
    let response = no_redirects().get(plain).send().await.unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("error=invalid_request") && location.contains("state=state-123"),
        "{location}"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_work_across_the_family_and_die_when_revoked() {
    let emulator = start().await;
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let first = alice_signs_in(&emulator, &client, "User.Read offline_access").await;
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let refresh = |client: String, token: String, scope: &'static str| {
        let authority = emulator.authority();
        async move {
            post_token(
                &authority,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &client),
                    ("refresh_token", &token),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    let (status, second) = refresh(
        client.clone(),
        refresh_token.into(),
        "Mail.Read offline_access",
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(
        claims(second["access_token"].as_str().unwrap())["scp"],
        "Mail.Read"
    );

    // FOCI: a family member redeems it; a client outside the family cannot.
    let family = client_id(&emulator, names::FAMILY_CLIENT);
    let (status, body) = refresh(family.clone(), refresh_token.into(), "User.Read").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["appid"],
        family.as_str()
    );
    let lone = client_id(&emulator, names::LONE_CLIENT);
    let (_, body) = refresh(lone, refresh_token.into(), "User.Read").await;
    assert_eq!(
        (body["error"].as_str(), codes(&body)),
        (Some("invalid_grant"), vec![70000])
    );

    let revoked = emulator
        .revoke(&serde_json::from_value(serde_json::json!({"user": "alice"})).unwrap())
        .unwrap();
    assert!(revoked >= 4, "{revoked}");
    let (_, body) = refresh(client.clone(), refresh_token.into(), "User.Read").await;
    assert_eq!(codes(&body), [50173]);
    let (_, body) = refresh(client, "not-a-refresh-token".into(), "User.Read").await;
    assert_eq!(codes(&body), [9002313]);
}

#[tokio::test]
async fn on_behalf_of_exchanges_a_user_token_for_the_middle_tier() {
    let emulator = start().await;
    let public = client_id(&emulator, names::PUBLIC_CLIENT);
    let middle = emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .clone();
    let incoming = alice_signs_in(
        &emulator,
        &public,
        &format!("api://{}/access_as_user", middle.client_id),
    )
    .await;
    let obo = |assertion: String| {
        let authority = emulator.authority();
        let (client, secret) = (middle.client_id.clone(), middle.secret.clone().unwrap());
        async move {
            post_token(
                &authority,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("client_id", &client),
                    ("client_secret", &secret),
                    ("assertion", &assertion),
                    ("requested_token_use", "on_behalf_of"),
                    ("scope", "https://graph.microsoft.com/User.Read"),
                ],
            )
            .await
        }
    };
    let (status, body) = obo(incoming["access_token"].as_str().unwrap().into()).await;
    assert_eq!(status, 200, "{body}");
    let token = claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["appid"], middle.client_id.as_str());
    assert_eq!(
        token["oid"],
        emulator
            .config()
            .user(names::ALICE)
            .unwrap()
            .object_id
            .as_str()
    );

    // A Graph token is not for the middle tier's API.
    let (_, body) = obo(token_for_graph(&emulator, &public).await).await;
    assert_eq!(codes(&body), [50013]);
}

async fn token_for_graph(emulator: &EmulatorHandle, client: &str) -> String {
    alice_signs_in(emulator, client, "User.Read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn b2c_policies_have_their_own_discovery_issuer_and_tfp_claim() {
    let emulator = start().await;
    let b2c = emulator.b2c_authority().unwrap();
    let doc = common::get_json(&format!("{b2c}/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(doc["token_endpoint"], format!("{b2c}/oauth2/v2.0/token"));
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let response = common::http()
        .post(format!("{b2c}/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", client.as_str()),
            ("scope", "openid offline_access"),
        ])
        .send()
        .await
        .unwrap();
    let flow: Value = response.json().await.unwrap();
    assert!(emulator.approve_device_code(flow["user_code"].as_str(), names::ALICE, 0));
    let (status, body) = post_token(
        &b2c,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", &client),
            ("device_code", flow["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["tfp"], "b2c_1_signupsignin");
    assert_eq!(id["iss"], doc["issuer"]);
    let unknown_policy = common::http()
        .get(format!(
            "{}/fabrikamb2c.onmicrosoft.com/B2C_1_nope/v2.0/.well-known/openid-configuration",
            emulator.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_policy.status(), 400);
}

/// What `az login` does: sign in at `organizations` for Azure Resource Manager, then
/// redeem the refresh token in each tenant the user is in. The other tenant's token
/// carries its `tid`; the account stays homed in the main tenant.
#[tokio::test]
async fn a_refresh_token_is_redeemed_in_another_tenant_for_an_account_homed_in_the_main_one() {
    let emulator = start().await;
    let client = client_id(&emulator, names::FAMILY_CLIENT);
    const ARM: &str = "https://management.core.windows.net//.default offline_access";
    let first = alice_signs_in(&emulator, &client, ARM).await;
    assert_eq!(
        claims(first["access_token"].as_str().unwrap())["aud"],
        "https://management.core.windows.net/"
    );
    let other = emulator.config().other_tenants[0].clone();
    let (status, body) = post_token(
        &format!("{}/{}", emulator.url(), other.domain),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("scope", ARM),
            ("client_info", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["tid"], other.tenant_id.as_str());
    // ARM takes v1 tokens, whose issuer is the tenant's v1 one.
    assert_eq!(
        access["iss"],
        format!("https://sts.windows.net/{}/", other.tenant_id)
    );
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        info["utid"],
        emulator.tenant_id(),
        "homed in the main tenant"
    );
}
