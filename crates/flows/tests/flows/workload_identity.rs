//! Workload identity against the emulator: the federated token file (rotating) as the
//! client assertion.

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{Error, Scopes, TokenCredential, TokenRequestOptions};
use tokenhop_emulator::{Emulator, names};
use tokenhop_flows::unverified_claims;
use tokenhop_flows::{HttpClient, HttpConfig};
use tokenhop_flows::{WorkloadIdentityCredential, WorkloadIdentityEnv};

#[tokio::test]
async fn the_token_file_is_read_for_each_request_and_its_subject_must_be_trusted() {
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(
        &file,
        emulator.federated_token(names::WORKLOAD_SUBJECT).unwrap(),
    )
    .unwrap();
    let client_id = emulator
        .config()
        .app(names::WORKLOAD_APP)
        .unwrap()
        .client_id
        .clone();
    let (tenant, host, path) = (
        emulator.tenant_id().to_owned(),
        emulator.url().to_owned(),
        file.clone(),
    );
    let env = WorkloadIdentityEnv::from_lookup(move |name| match name {
        "AZURE_CLIENT_ID" => Some(client_id.clone()),
        "AZURE_TENANT_ID" => Some(tenant.clone()),
        "AZURE_FEDERATED_TOKEN_FILE" => Some(path.display().to_string()),
        "AZURE_AUTHORITY_HOST" => Some(host.clone()),
        _ => None,
    })
    .unwrap();
    let credential = WorkloadIdentityCredential::builder(env)
        .http(HttpClient::new(HttpConfig::default()).unwrap())
        .cache(SharedTokenCache::in_memory())
        .build()
        .unwrap();
    let storage = Scopes::new(["https://storage.azure.com/.default"]).unwrap();
    let token = credential
        .get_token(&storage, &TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(
        claims["appid"],
        emulator
            .config()
            .app(names::WORKLOAD_APP)
            .unwrap()
            .client_id
            .as_str()
    );
    credential
        .get_token(&storage, &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(emulator.counters().grant("client_credentials"), 1, "cached");

    // The platform rotates the file to an untrusted subject: the next request reads it.
    std::fs::write(
        &file,
        emulator
            .federated_token("system:serviceaccount:default:intruder")
            .unwrap(),
    )
    .unwrap();
    let mut force = TokenRequestOptions::default();
    force.force_refresh = true;
    let err = credential.get_token(&storage, &force).await.unwrap_err();
    assert!(
        matches!(&err, Error::TokenExchange { error_codes, .. } if error_codes == &vec![70021]),
        "{err:?}"
    );
}
