//! What Microsoft's other libraries send, read from their sources (msal-node 7.2.3,
//! MSAL.NET), accepted as Entra accepts it: the short device code grant name, and the
//! managed identity endpoints with the trailing slash msal-node appends.

use serde_json::Value;
use tokenhop_emulator::names;

use crate::common::{self, claims, client_id, post_token, start};

#[tokio::test]
async fn the_short_device_code_grant_name_is_accepted_as_entra_accepts_it() {
    let emulator = start().await;
    let client = client_id(&emulator, names::PUBLIC_CLIENT);
    let flow: Value = common::http()
        .post(format!("{}/oauth2/v2.0/devicecode", emulator.authority()))
        .form(&[("client_id", client.as_str()), ("scope", "User.Read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(emulator.approve_device_code(flow["user_code"].as_str(), names::ALICE, 0));
    // msal-node's DeviceCodeClient and MSAL.NET's DeviceCodeRequest poll with
    // `grant_type=device_code`, not RFC 8628's URN.
    let (status, body) = post_token(
        &emulator.authority(),
        &[
            ("grant_type", "device_code"),
            ("client_id", client.as_str()),
            ("device_code", flow["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["upn"], "alice@contoso.onmicrosoft.com");
    assert_eq!(access["appid"], client.as_str());
    assert_eq!(emulator.counters().grant("device_code"), 1);
}

#[tokio::test]
async fn managed_identity_endpoints_accept_a_trailing_slash() {
    let emulator = start().await;
    let identity_header = emulator.config().identity_header.clone();
    // msal-node canonicalizes the IMDS URL it builds from AZURE_POD_IDENTITY_AUTHORITY_HOST
    // to end in '/'.
    let imds = common::http()
        .get(format!(
            "{}/metadata/identity/oauth2/token/?resource=https://graph.microsoft.com&api-version=2018-02-01",
            emulator.url()
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(imds.status(), 200);
    let body: Value = imds.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        "https://graph.microsoft.com"
    );
    let app_service = common::http()
        .get(format!(
            "{}/msi/token/?resource=https://storage.azure.com&api-version=2019-08-01",
            emulator.url()
        ))
        .header("X-IDENTITY-HEADER", identity_header)
        .send()
        .await
        .unwrap();
    assert_eq!(app_service.status(), 200);
    let body: Value = app_service.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        "https://storage.azure.com"
    );
    let counters = emulator.counters();
    assert_eq!(
        (counters.endpoint("imds"), counters.endpoint("app_service")),
        (1, 1)
    );
}
