//! Claims requests, continuous access evaluation and other tenants: `cp1` clients get
//! long-lived CAE tokens with `xms_cc` for CAE-capable resources, a critical event makes
//! Graph challenge them with `insufficient_claims` until the client asks again with the
//! claims, requested claims are honoured, and a second tenant issues its own tokens for
//! accounts homed in the main one.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokenhop_emulator::{EmulatorHandle, names};

use crate::common::{self, claims, codes, post_token, start};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
const GRAPH: &str = "https://graph.microsoft.com/.default";

fn app(emulator: &EmulatorHandle, name: &str) -> (String, String) {
    let app = emulator.config().app(name).unwrap();
    (
        app.client_id.clone(),
        app.secret.clone().unwrap_or_default(),
    )
}

/// Client credentials for the secret app at `authority`, with `claims` when given.
async fn app_token(
    emulator: &EmulatorHandle,
    authority: &str,
    scope: &str,
    claims: Option<&str>,
) -> (u16, Value) {
    let (client_id, secret) = app(emulator, names::CONFIDENTIAL_SECRET);
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", scope),
    ];
    form.extend(claims.map(|c| ("claims", c)));
    post_token(authority, &form).await
}

/// Alice signs in to the public client at `authority` by device code, with `claims` on
/// the poll when given: the token response.
async fn alice(emulator: &EmulatorHandle, authority: &str, claims: Option<&str>) -> Value {
    let client = app(emulator, names::PUBLIC_CLIENT).0;
    let flow: Value = common::http()
        .post(format!("{authority}/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", client.as_str()),
            ("scope", "User.Read offline_access openid"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(emulator.approve_device_code(flow["user_code"].as_str(), names::ALICE, 0));
    let mut form = vec![
        ("grant_type", DEVICE_GRANT),
        ("client_id", client.as_str()),
        ("device_code", flow["device_code"].as_str().unwrap()),
        ("client_info", "1"),
    ];
    form.extend(claims.map(|c| ("claims", c)));
    let (status, body) = post_token(authority, &form).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// GET /v1.0/me: status, the `WWW-Authenticate` header, the body.
async fn me(emulator: &EmulatorHandle, token: &str) -> (u16, String, Value) {
    let response = common::http()
        .get(format!("{}/v1.0/me", emulator.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        response.status().as_u16(),
        challenge,
        response.json().await.unwrap(),
    )
}

/// The `claims` of an `insufficient_claims` challenge, decoded.
fn challenge_claims(header: &str) -> Value {
    assert!(
        header.contains(r#"error="insufficient_claims""#),
        "{header}"
    );
    let encoded = header
        .split(r#"claims=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    serde_json::from_slice(&STANDARD.decode(encoded).unwrap()).unwrap()
}

fn access_claims(response: &Value) -> Value {
    claims(response["access_token"].as_str().unwrap())
}

#[tokio::test]
async fn cp1_clients_get_long_lived_cae_tokens_for_cae_capable_resources_only() {
    let emulator = start().await;
    let authority = emulator.authority();
    let (status, cae) = app_token(&emulator, &authority, GRAPH, Some(CP1)).await;
    assert_eq!(status, 200, "{cae}");
    let lifetime = emulator.config().cae_token_lifetime_secs;
    assert_eq!(
        (cae["expires_in"].as_u64(), cae["refresh_in"].as_u64()),
        (Some(lifetime), Some(lifetime / 2))
    );
    let token = access_claims(&cae);
    assert_eq!(token["xms_cc"], json!(["cp1"]));
    assert_eq!(
        token["exp"].as_u64().unwrap() - token["iat"].as_u64().unwrap(),
        lifetime
    );

    let (_, plain) = app_token(&emulator, &authority, GRAPH, None).await;
    assert_eq!(plain["expires_in"], 3600);
    assert!(access_claims(&plain).get("xms_cc").is_none());
    let (_, storage) = app_token(
        &emulator,
        &authority,
        "https://storage.azure.com/.default",
        Some(CP1),
    )
    .await;
    assert_eq!(
        storage["expires_in"], 3600,
        "Storage is not CAE-capable here"
    );
    assert!(access_claims(&storage).get("xms_cc").is_none());
}

#[tokio::test]
async fn a_critical_event_challenges_cae_tokens_until_the_client_asks_with_the_claims() {
    let emulator = start().await;
    let authority = emulator.authority();
    let cae = alice(&emulator, &authority, Some(CP1)).await;
    let plain = alice(&emulator, &authority, None).await;
    let cae_token = cae["access_token"].as_str().unwrap();
    assert_eq!(me(&emulator, cae_token).await.0, 200);

    let event = emulator
        .revoke(&serde_json::from_value(json!({"user": names::ALICE, "cae": true})).unwrap())
        .unwrap();
    assert_eq!(
        event, 2,
        "one CAE token challenged, one plain token revoked"
    );
    let (status, header, body) = me(&emulator, cae_token).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let wanted = challenge_claims(&header);
    let not_before = wanted["access_token"]["nbf"]["value"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(
        wanted["access_token"]["nbf"]["essential"]
            .as_bool()
            .unwrap()
    );
    assert!(not_before >= access_claims(&cae)["iat"].as_u64().unwrap());

    // Without cp1 the token is revoked as before: the plain challenge.
    let (status, header, _) = me(&emulator, plain["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);
    assert!(header.contains(r#"error="invalid_token""#), "{header}");

    // The refresh token survives the event: asking with the challenge's claims (and
    // cp1, merged as MSAL merges them) gives a token Graph accepts.
    let mut merged = wanted.clone();
    merged["access_token"]["xms_cc"] = json!({"values": ["cp1"]});
    let (client, _) = app(&emulator, names::PUBLIC_CLIENT);
    let (status, renewed) = post_token(
        &authority,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", cae["refresh_token"].as_str().unwrap()),
            ("scope", "User.Read offline_access"),
            ("claims", &merged.to_string()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let renewed_claims = access_claims(&renewed);
    assert!(renewed_claims["nbf"].as_u64().unwrap() >= not_before);
    assert_eq!(renewed_claims["xms_cc"], json!(["cp1"]));
    let (status, _, user) = me(&emulator, renewed["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{user}");
}

#[tokio::test]
async fn requested_claims_are_honoured_and_bad_ones_refused() {
    let emulator = start().await;
    let authority = emulator.authority();
    let later = common::now() + 120;
    let asked = json!({"access_token": {"nbf": {"essential": true, "value": later.to_string()}, "acrs": {"essential": true, "value": "c1"}}});
    let (status, body) = app_token(&emulator, &authority, GRAPH, Some(&asked.to_string())).await;
    assert_eq!(status, 200, "{body}");
    let token = access_claims(&body);
    assert!(token["nbf"].as_u64().unwrap() >= later && token["iat"].as_u64().unwrap() >= later);
    assert_eq!(token["acrs"], json!(["c1"]));

    for bad in [
        "not json",
        "[]",
        r#"{"access_token":{"nbf":{"value":"yesterday"}}}"#,
    ] {
        let (status, body) = app_token(&emulator, &authority, GRAPH, Some(bad)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}: {body}"
        );
        assert_eq!(codes(&body), [90100]);
    }
}

#[tokio::test]
async fn another_tenant_issues_its_own_tokens_for_accounts_homed_in_the_main_one() {
    let emulator = start().await;
    let other = emulator.config().other_tenants[0].clone();
    let other_authority = format!("{}/{}", emulator.url(), other.domain);
    let discovery = common::get_json(&format!(
        "{other_authority}/v2.0/.well-known/openid-configuration"
    ))
    .await;
    let issuer = format!("{}/{}/v2.0", emulator.url(), other.tenant_id);
    assert_eq!(discovery["issuer"], issuer.as_str());

    let (status, body) = app_token(&emulator, &other_authority, GRAPH, None).await;
    assert_eq!(status, 200, "{body}");
    let token = access_claims(&body);
    // Graph takes v1 tokens, whose issuer is the tenant's v1 one.
    let v1_issuer = format!("https://sts.windows.net/{}/", other.tenant_id);
    assert_eq!(
        (token["tid"].as_str(), token["iss"].as_str()),
        (Some(other.tenant_id.as_str()), Some(v1_issuer.as_str()))
    );

    let signed_in = alice(&emulator, &other_authority, None).await;
    assert_eq!(access_claims(&signed_in)["tid"], other.tenant_id.as_str());
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signed_in["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        info["utid"],
        emulator.tenant_id(),
        "the account stays homed in the main tenant"
    );

    let (status, body) = app_token(
        &emulator,
        &format!("{}/fabrikam.example", emulator.url()),
        GRAPH,
        None,
    )
    .await;
    assert_eq!((status, codes(&body)), (400, vec![90002]), "{body}");
}

/// The ARM-like resource lists the subscriptions of the token's tenant and every
/// tenant, for an ARM token only: what `az login` asks for after signing in.
#[tokio::test]
async fn arm_lists_the_tokens_tenants_subscriptions_for_an_arm_token_only() {
    let emulator = start().await;
    let other = emulator.config().other_tenants[0].clone();
    let arm = "https://management.core.windows.net//.default";
    let get = |path: &'static str, token: String| {
        let url = format!("{}/arm/{path}?api-version=2022-12-01", emulator.url());
        async move {
            let response = common::http()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    for (authority, tenant) in [
        (emulator.authority(), emulator.tenant_id().to_owned()),
        (
            format!("{}/{}", emulator.url(), other.domain),
            other.tenant_id.clone(),
        ),
    ] {
        let (status, body) = app_token(&emulator, &authority, arm, None).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        let (status, listed) = get("subscriptions", token.clone()).await;
        assert_eq!(status, 200, "{listed}");
        let tenants: Vec<&str> = listed["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["tenantId"].as_str().unwrap())
            .collect();
        assert_eq!(tenants, [tenant.as_str()], "only the token's tenant");
        let (status, listed) = get("tenants", token).await;
        assert_eq!(status, 200);
        assert_eq!(listed["value"].as_array().unwrap().len(), 2);
    }
    let (_, graph) = app_token(&emulator, &emulator.authority(), GRAPH, None).await;
    let (status, refused) = get(
        "subscriptions",
        graph["access_token"].as_str().unwrap().into(),
    )
    .await;
    assert_eq!(status, 401, "a Graph token is not for ARM: {refused}");
    assert_eq!(refused["error"]["code"], "InvalidAuthenticationToken");
}
