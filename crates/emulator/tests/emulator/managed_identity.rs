//! The managed identity hosts from the outside: each on its own path, refusing a wrong
//! api-version or a wrong header in its own error shape; Service Fabric on its own TLS
//! listener; Arc's key-file challenge; IMDS's upgrade window.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::Value;
use tokenhop_emulator::{Emulator, EmulatorConfig, EmulatorHandle, names};

use crate::common::{claims, http};

const STORAGE: &str = "https://storage.azure.com";

/// (status, headers, JSON body) of a GET with `query` and `headers`.
async fn get(
    client: &reqwest::Client,
    url: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = client.get(url).query(query);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

fn system_oid(emulator: &EmulatorHandle) -> String {
    emulator
        .config()
        .managed_identities
        .iter()
        .find(|i| i.name == names::SYSTEM_ASSIGNED_IDENTITY)
        .unwrap()
        .object_id
        .clone()
}

/// Asserts `body` is a token for `resource` as the system-assigned identity.
fn assert_system_token(emulator: &EmulatorHandle, body: &Value) {
    let claims = claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], STORAGE, "{claims}");
    assert_eq!(claims["oid"], system_oid(emulator).as_str(), "{claims}");
}

#[tokio::test]
async fn imds_checks_its_header_and_api_version() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = format!("{}/metadata/identity/oauth2/token", emulator.url());
    let client = http();
    let good = [("api-version", "2018-02-01"), ("resource", STORAGE)];
    let (status, _, body) = get(&client, &url, &good, &[("Metadata", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_system_token(&emulator, &body);
    assert!(
        body["expires_in"].is_string() && body["expires_on"].is_string(),
        "{body}"
    );

    let (status, _, body) = get(&client, &url, &good, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, _, body) = get(
        &client,
        &url,
        &[("api-version", "2019-08-01-preview"), ("resource", STORAGE)],
        &[("Metadata", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("api-version"),
        "{body}"
    );
}

#[tokio::test]
async fn imds_answers_410_while_it_is_upgraded() {
    let mut config = EmulatorConfig::default();
    config.imds_upgrade_secs = 70;
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let url = format!("{}/metadata/identity/oauth2/token", emulator.url());
    let query = [("api-version", "2018-02-01"), ("resource", STORAGE)];
    let (status, _, _) = get(&http(), &url, &query, &[("Metadata", "true")]).await;
    assert_eq!(status, StatusCode::GONE);
    emulator.advance_clock(70);
    let (status, _, _) = get(&http(), &url, &query, &[("Metadata", "true")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn app_service_checks_its_header_and_api_version() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = format!("{}/msi/token", emulator.url());
    let header = emulator.config().identity_header.clone();
    let client = http();
    let good = [("api-version", "2019-08-01"), ("resource", STORAGE)];
    let (status, _, body) = get(&client, &url, &good, &[("X-IDENTITY-HEADER", &header)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_system_token(&emulator, &body);
    assert!(
        body["expires_on"].is_string() && body.get("expires_in").is_none(),
        "{body}"
    );

    let (status, _, body) = get(&client, &url, &good, &[("X-IDENTITY-HEADER", "wrong")]).await;
    assert_eq!(
        (status, body["statusCode"].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(401))
    );
    // IMDS's api-version is not App Service's.
    let (status, _, body) = get(
        &client,
        &url,
        &[("api-version", "2018-02-01"), ("resource", STORAGE)],
        &[("X-IDENTITY-HEADER", &header)],
    )
    .await;
    assert_eq!(
        (status, body["statusCode"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(400))
    );
}

#[tokio::test]
async fn machine_learning_checks_its_secret_api_version_and_clientid() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = format!("{}/msi/auth", emulator.url());
    let secret = emulator.config().msi_secret.clone();
    let client = http();
    let good = [("api-version", "2017-09-01"), ("resource", STORAGE)];
    let (status, _, body) = get(&client, &url, &good, &[("secret", &secret)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_system_token(&emulator, &body);

    let (status, _, body) = get(&client, &url, &good, &[("secret", "wrong")]).await;
    assert_eq!(
        (status, body["statusCode"].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(401))
    );
    let (status, _, _) = get(
        &client,
        &url,
        &[("api-version", "2019-08-01"), ("resource", STORAGE)],
        &[("secret", &secret)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get(
        &client,
        &url,
        &[
            ("api-version", "2017-09-01"),
            ("resource", STORAGE),
            ("clientid", "nobody"),
        ],
        &[("secret", &secret)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn service_fabric_serves_tls_with_the_certificate_its_thumbprint_names() {
    let emulator = Emulator::builder().start().await.unwrap();
    assert!(
        emulator
            .service_fabric_endpoint()
            .starts_with("https://127.0.0.1:")
    );
    assert_ne!(
        emulator.service_fabric_endpoint(),
        format!("{}/servicefabric/token", emulator.url()),
        "a listener of its own"
    );
    let _ = http();
    // This test checks the certificate by its thumbprint itself, below.
    let client = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .unwrap();
    let header = emulator.config().identity_header.clone();
    let good = [("api-version", "2019-07-01-preview"), ("resource", STORAGE)];
    let response = client
        .get(emulator.service_fabric_endpoint())
        .query(&good)
        .header("Secret", &header)
        .send()
        .await
        .unwrap();
    let der = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .unwrap()
        .to_vec();
    assert_eq!(sha1_hex(&der), emulator.service_fabric_thumbprint());
    let body: Value = response.json().await.unwrap();
    assert_system_token(&emulator, &body);
    assert!(body["expires_on"].is_u64(), "{body}");

    let url = emulator.service_fabric_endpoint();
    let (status, _, body) = get(&client, url, &good, &[("Secret", "wrong")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "SecretHeaderNotFound", "{body}");
    let (status, _, body) = get(
        &client,
        url,
        &[("api-version", "2019-08-01"), ("resource", STORAGE)],
        &[("Secret", &header)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("api-version"),
        "{body}"
    );
    let (_, _, body) = get(
        &client,
        url,
        &[("api-version", "2019-07-01-preview")],
        &[("Secret", &header)],
    )
    .await;
    assert_eq!(body["error"]["code"], "ArgumentNullOrEmpty", "{body}");
    assert_eq!(emulator.counters().endpoint("service_fabric"), 4);
}

fn sha1_hex(der: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[tokio::test]
async fn azure_arc_challenges_with_a_key_file_in_the_state_dir() {
    let state = tempfile::tempdir().unwrap();
    let emulator = Emulator::builder()
        .state_dir(state.path())
        .start()
        .await
        .unwrap();
    let url = format!("{}/arc/metadata/identity/oauth2/token", emulator.url());
    let client = http();
    let good = [("api-version", "2020-06-01"), ("resource", STORAGE)];
    let (status, headers, _) = get(&client, &url, &good, &[("Metadata", "true")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    let path = std::path::PathBuf::from(challenge.strip_prefix("Basic realm=").unwrap());
    assert_eq!(path.parent(), emulator.arc_token_dir().as_deref());
    assert_eq!(path.extension().unwrap(), "key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let secret = std::fs::read_to_string(&path).unwrap();
    let authorization = format!("Basic {secret}");
    let headers = [
        ("Metadata", "true"),
        ("Authorization", authorization.as_str()),
    ];
    let (status, _, body) = get(&client, &url, &good, &headers).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_system_token(&emulator, &body);

    let (status, headers_back, _) = get(
        &client,
        &url,
        &good,
        &[("Metadata", "true"), ("Authorization", "Basic forged")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers_back.contains_key("www-authenticate"));
    let (status, _, body) = get(
        &client,
        &url,
        &[("api-version", "2018-02-01"), ("resource", STORAGE)],
        &headers,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_api_version"))
    );
    let (status, _, body) = get(
        &client,
        &url,
        &[
            ("api-version", "2020-06-01"),
            ("resource", STORAGE),
            ("client_id", "x"),
        ],
        &headers,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A test can make it name another file, as a hostile server on the port would.
    let admin = client
        .post(format!("{}/admin/arc/realm", emulator.url()))
        .json(&serde_json::json!({"realm": "/etc/shadow"}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::NO_CONTENT);
    let (_, headers, _) = get(&client, &url, &good, &[("Metadata", "true")]).await;
    assert_eq!(headers["www-authenticate"], "Basic realm=/etc/shadow");
}

#[tokio::test]
async fn azure_arc_without_a_state_dir_says_so() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = format!("{}/arc/metadata/identity/oauth2/token", emulator.url());
    let (status, _, body) = get(
        &http(),
        &url,
        &[("api-version", "2020-06-01"), ("resource", STORAGE)],
        &[("Metadata", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("state dir"),
        "{body}"
    );
}

#[tokio::test]
async fn cloud_shell_posts_a_form_and_gives_the_signed_in_users_token() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = format!("{}/cloudshell/oauth2/token", emulator.url());
    let client = http();
    let form: HashMap<&str, &str> = [("resource", STORAGE)].into();
    let response = client
        .post(&url)
        .header("Metadata", "true")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let claims = claims(body["access_token"].as_str().unwrap());
    let alice = emulator.config().user(names::ALICE).unwrap();
    assert_eq!(
        (claims["oid"].as_str(), claims["idtyp"].as_str()),
        (Some(alice.object_id.as_str()), Some("user"))
    );

    let response = client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadRequest", "{body}");
    let response = client
        .get(&url)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// Azure Resource Manager's app id URI ends in `/`, which the SDKs send as the resource
/// with or without it; the token's audience is the URI as registered, which ARM accepts.
#[tokio::test]
async fn imds_finds_arm_with_or_without_its_trailing_slash() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = format!("{}/metadata/identity/oauth2/token", emulator.url());
    let client = http();
    for resource in [
        "https://management.core.windows.net/",
        "https://management.core.windows.net",
    ] {
        let query = [("api-version", "2018-02-01"), ("resource", resource)];
        let (status, _, body) = get(&client, &url, &query, &[("Metadata", "true")]).await;
        assert_eq!(status, StatusCode::OK, "{resource}: {body}");
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(
            claims(token)["aud"],
            "https://management.core.windows.net/",
            "{resource}"
        );
    }
}
