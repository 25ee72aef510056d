//! The emulator's discovery, JWKS and client-credentials grant, its refusals in
//! Entra's shape, counters, clock, limits and lifecycle.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokenhop_emulator::EmulatorHandle;

use crate::common::{self, secret_app, start};

async fn post_token(emulator: &EmulatorHandle, form: &[(&str, &str)]) -> (u16, Value) {
    common::post_token(&emulator.authority(), form).await
}

async fn client_credentials(emulator: &EmulatorHandle, scope: &str) -> (u16, Value) {
    let (client_id, secret) = secret_app(emulator);
    post_token(
        emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("scope", scope),
        ],
    )
    .await
}

#[tokio::test]
async fn discovery_names_endpoints_under_the_tenant_and_jwks_has_the_key() {
    let emulator = start().await;
    for tenant in [
        emulator.tenant_id().to_owned(),
        "contoso.onmicrosoft.com".into(),
        "common".into(),
    ] {
        let doc = common::get_json(&format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            emulator.url()
        ))
        .await;
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/{tenant}/oauth2/v2.0/token", emulator.url())
        );
        assert_eq!(doc["issuer"], format!("{}/v2.0", emulator.authority()));
    }
    let jwks = common::get_json(&format!("{}/discovery/v2.0/keys", emulator.authority())).await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str()),
        (Some("RSA"), Some("RS256"))
    );
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
}

#[tokio::test]
async fn client_credentials_issue_an_rs256_app_token_that_verifies_with_the_jwks() {
    let emulator = start().await;
    let (status, body) =
        client_credentials(&emulator, "https://graph.microsoft.com/.default").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();

    let jwks = common::get_json(&format!("{}/discovery/v2.0/keys", emulator.authority())).await;
    let jwk = &jwks["keys"][0];
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), jwk["kid"].as_str());
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://graph.microsoft.com"]);
    // Graph accepts v1 tokens, so Entra issues them v1 (see the token_versions tests).
    validation.set_issuer(&[format!("https://sts.windows.net/{}/", emulator.tenant_id())]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims;
    let (client_id, _) = secret_app(&emulator);
    assert_eq!(claims["appid"], client_id.as_str());
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["tid"], emulator.tenant_id());
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    assert!(claims["oid"].as_str().is_some() && claims["uti"].as_str().is_some());
}

async fn assert_refused(
    emulator: &EmulatorHandle,
    form: &[(&str, &str)],
    status: u16,
    error: &str,
    code: u64,
) {
    let (got_status, body) = post_token(emulator, form).await;
    assert_eq!(got_status, status, "{form:?}: {body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], code, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}:")),
        "{body}"
    );
    assert!(body["correlation_id"].as_str().is_some() && body["trace_id"].as_str().is_some());
}

#[tokio::test]
async fn refusals_carry_entras_errors_and_codes() {
    let emulator = start().await;
    let (client, secret) = secret_app(&emulator);
    let graph = "https://graph.microsoft.com/.default";
    let cc = "client_credentials";
    assert_refused(
        &emulator,
        &[
            ("grant_type", cc),
            ("client_id", &client),
            ("client_secret", "wrong"),
            ("scope", graph),
        ],
        401,
        "invalid_client",
        7000215,
    )
    .await;
    assert_refused(
        &emulator,
        &[
            ("grant_type", cc),
            ("client_id", "00000000-0000-0000-0000-000000000000"),
            ("client_secret", &secret),
            ("scope", graph),
        ],
        400,
        "unauthorized_client",
        700016,
    )
    .await;
    assert_refused(
        &emulator,
        &[("grant_type", cc), ("client_id", &client), ("scope", graph)],
        401,
        "invalid_client",
        7000216,
    )
    .await;
    assert_refused(
        &emulator,
        &[
            ("grant_type", cc),
            ("client_id", &client),
            ("client_secret", &secret),
            ("client_assertion", "x.y.z"),
            ("scope", graph),
        ],
        400,
        "invalid_request",
        9002324,
    )
    .await;
    assert_refused(
        &emulator,
        &[
            ("grant_type", cc),
            ("client_id", &client),
            ("client_secret", &secret),
            ("scope", "User.Read"),
        ],
        400,
        "invalid_request",
        1002012,
    )
    .await;
    assert_refused(
        &emulator,
        &[
            ("grant_type", cc),
            ("client_id", &client),
            ("client_secret", &secret),
            ("scope", "https://unknown.example/.default"),
        ],
        400,
        "invalid_resource",
        500011,
    )
    .await;
    assert_refused(
        &emulator,
        &[("grant_type", "password"), ("client_id", &client)],
        400,
        "unsupported_grant_type",
        70003,
    )
    .await;
    assert_refused(
        &emulator,
        &[("client_id", &client)],
        400,
        "invalid_request",
        900144,
    )
    .await;
}

#[tokio::test]
async fn an_unknown_tenant_is_refused() {
    let emulator = start().await;
    let response = common::http()
        .post(format!("{}/other-tenant/oauth2/v2.0/token", emulator.url()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 90002);
}

#[tokio::test]
async fn counters_count_per_endpoint_and_grant_and_reset() {
    let emulator = start().await;
    for _ in 0..3 {
        client_credentials(&emulator, "https://storage.azure.com/.default").await;
    }
    post_token(&emulator, &[("grant_type", "refresh_token")]).await;
    let counters = emulator.counters();
    assert_eq!(counters.endpoint("token"), 4);
    assert_eq!(counters.grant("client_credentials"), 3);
    assert_eq!(counters.grant("refresh_token"), 1);
    let over_http = common::get_json(&format!("{}/admin/counters", emulator.url())).await;
    assert_eq!(over_http["grants"]["client_credentials"], 3);
    let reset = common::http()
        .post(format!("{}/admin/reset", emulator.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(emulator.counters().endpoint("token"), 0);
}

#[tokio::test]
async fn the_clock_moves_token_times_without_sleeping() {
    let emulator = start().await;
    let iat = |body: &Value| {
        let token = body["access_token"].as_str().unwrap();
        let claims = token.split('.').nth(1).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["iat"]
            .as_u64()
            .unwrap()
    };
    let before = iat(
        &client_credentials(&emulator, "https://graph.microsoft.com/.default")
            .await
            .1,
    );
    let moved: Value = common::http()
        .post(format!("{}/admin/clock", emulator.url()))
        .body(r#"{"advance_secs": 7200}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(moved["now"].as_u64().unwrap() >= before + 7200);
    let after = iat(
        &client_credentials(&emulator, "https://graph.microsoft.com/.default")
            .await
            .1,
    );
    assert!(
        (7200..7260).contains(&(after - before)),
        "{before} -> {after}"
    );
}

#[tokio::test]
async fn oversized_bodies_get_413_and_unknown_paths_404() {
    let emulator = start().await;
    let big = "a".repeat(tokenhop_emulator::MAX_BODY_BYTES + 1);
    let response = common::http()
        .post(format!("{}/oauth2/v2.0/token", emulator.authority()))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        common::http()
            .get(format!("{}/nope", emulator.url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_token_requests_all_succeed() {
    let emulator = start().await;
    let client = common::http();
    let (client_id, secret) = secret_app(&emulator);
    let url = format!("{}/oauth2/v2.0/token", emulator.authority());
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (client, url, client_id, secret) = (
                client.clone(),
                url.clone(),
                client_id.clone(),
                secret.clone(),
            );
            tokio::spawn(async move {
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                    ("scope", "https://graph.microsoft.com/.default"),
                ];
                client
                    .post(url)
                    .form(&form)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1000);
    assert_eq!(emulator.counters().grant("client_credentials"), 1000);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let emulator = start().await;
    let url = format!("{}/admin/counters", emulator.url());
    assert!(common::http().get(&url).send().await.is_ok());
    drop(emulator);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(common::http().get(&url).send().await.is_err());
}
