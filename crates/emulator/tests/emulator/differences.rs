//! Where the emulator differs from Entra, pinned so that the README's list stays true:
//! grants it does not play, fixed lifetimes, parameters it takes and does not act on,
//! no instance discovery, one tenant behind `common`, and its error timestamps.

use serde_json::Value;
use tokenhop_emulator::names;

use crate::common::{self, claims, client_id, codes, post_token, secret_app, start};

#[tokio::test]
async fn grants_entra_has_and_the_emulator_does_not_play_are_unsupported() {
    let emulator = start().await;
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    for grant_type in [
        "password",
        "urn:ietf:params:oauth:grant-type:saml2-bearer",
        "urn:ietf:params:oauth:grant-type:saml1_1-bearer",
    ] {
        let (status, body) = post_token(
            &emulator.authority(),
            &[
                ("grant_type", grant_type),
                ("client_id", client.as_str()),
                ("scope", "User.Read"),
                ("username", "alice@contoso.onmicrosoft.com"),
                ("password", "alice-password"),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type")),
            "{grant_type}"
        );
        assert_eq!(codes(&body), [70003], "{grant_type}");
    }
}

#[tokio::test]
async fn lifetimes_are_fixed_by_the_configuration() {
    let emulator = start().await;
    let (client_id, secret) = secret_app(&emulator);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let lifetime = emulator.config().token_lifetime_secs;
    for _ in 0..3 {
        let (status, body) = post_token(&emulator.authority(), &form).await;
        assert_eq!(status, 200, "{body}");
        // Entra spreads access token lifetimes over 60-90 minutes; the emulator does not.
        assert_eq!(body["expires_in"].as_u64(), Some(lifetime));
        let token = claims(body["access_token"].as_str().unwrap());
        assert_eq!(
            token["exp"].as_u64().unwrap() - token["iat"].as_u64().unwrap(),
            lifetime
        );
    }
}

#[tokio::test]
async fn claims_requests_and_client_capabilities_change_no_token() {
    let emulator = start().await;
    let (client_id, secret) = secret_app(&emulator);
    let (status, body) = post_token(
        &emulator.authority(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
            (
                "claims",
                r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#,
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = claims(body["access_token"].as_str().unwrap());
    assert!(token.get("xms_cc").is_none(), "{token}");
}

#[tokio::test]
async fn prompt_none_without_a_session_shows_the_sign_in_form() {
    let emulator = start().await;
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client.as_str()),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:8400/"),
            ("scope", "User.Read"),
            ("prompt", "none"),
        ])
        .finish();
    // Entra would send the browser back with error=login_required: the emulator keeps
    // no sign-in session, so it asks.
    let response = common::http()
        .get(format!(
            "{}/oauth2/v2.0/authorize?{query}",
            emulator.authority()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("name=\"password\""));
}

#[tokio::test]
async fn instance_discovery_knows_one_host_and_common_is_the_one_tenant() {
    let emulator = start().await;
    let instance = |host: &str| {
        common::http()
            .get(format!(
                "{}/common/discovery/instance?api-version=1.1&authorization_endpoint={host}/common/oauth2/v2.0/authorize",
                emulator.url(),
            ))
            .send()
    };
    // Entra knows every host of its clouds; the emulator knows only itself.
    let own: Value = instance(&emulator.url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        own["tenant_discovery_endpoint"],
        format!(
            "{}/common/v2.0/.well-known/openid-configuration",
            emulator.url()
        )
    );
    let other = instance("https://login.microsoftonline.com").await.unwrap();
    assert_eq!(other.status(), 400);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error"], "invalid_instance");
    assert_eq!(codes(&body), [50049]);
    let discovery = |tenant: &str| {
        format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            emulator.url()
        )
    };
    let common: Value = common::get_json(&discovery("common")).await;
    // Entra's `common` document has the issuer template `{tenantid}`.
    assert_eq!(
        common["issuer"],
        format!("{}/{}/v2.0", emulator.url(), emulator.tenant_id())
    );
    let consumers = common::http()
        .get(discovery("consumers"))
        .send()
        .await
        .unwrap();
    assert_eq!(consumers.status(), 400);
    let body: Value = consumers.json().await.unwrap();
    assert_eq!(codes(&body), [90002]);
}

#[tokio::test]
async fn errors_carry_epoch_seconds() {
    let emulator = start().await;
    let (status, body) = post_token(
        &emulator.authority(),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 400);
    // Entra writes "2026-01-01 10:00:00Z".
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(timestamp.bytes().all(|b| b.is_ascii_digit()), "{timestamp}");
}
