//! Per-request tenants: `TokenRequestOptions::tenant_id` sends the request to that
//! tenant's authority and caches its tokens under that realm, for confidential and
//! public clients; a tenant the credential does not allow is a configuration error that
//! names the setting.

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{Error, Scopes, TenantId, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::unverified_claims;
use tokenhop_flows::{Authority, ConfidentialClient, PublicClient};

fn graph() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}

fn other_tenant(emulator: &EmulatorHandle) -> (TenantId, String) {
    let other = &emulator.config().other_tenants[0];
    (
        TenantId::new(other.domain.clone()).unwrap(),
        other.tenant_id.clone(),
    )
}

fn in_tenant(tenant: &TenantId) -> TokenRequestOptions {
    TokenRequestOptions::default().with_tenant(tenant.clone())
}

fn tid(token: &tokenhop_core::AccessToken) -> String {
    unverified_claims(token.secret.expose_secret()).unwrap()["tid"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn secret_app(emulator: &EmulatorHandle, allowed: &[&str]) -> ConfidentialClient {
    crate::common::secret_builder(emulator, &emulator.authority())
        .additionally_allowed_tenants(allowed.iter().copied())
        .build()
        .unwrap()
}

#[tokio::test]
async fn with_tenant_gets_the_other_tenants_token_and_caches_it_apart() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (other, other_id) = other_tenant(&emulator);
    let client = secret_app(&emulator, &[names::OTHER_TENANT_DOMAIN]);
    let home = client
        .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(tid(&home), emulator.tenant_id());
    let away = client
        .acquire_token_for_client(&graph(), &in_tenant(&other))
        .await
        .unwrap();
    assert_eq!(tid(&away), other_id, "the other tenant's token");
    emulator.reset_counters();
    let (home_again, away_again) = (
        client
            .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
            .await
            .unwrap(),
        client
            .acquire_token_for_client(&graph(), &in_tenant(&other))
            .await
            .unwrap(),
    );
    assert_eq!(
        (home_again.secret, away_again.secret),
        (home.secret, away.secret)
    );
    assert_eq!(
        emulator.counters().endpoint("token"),
        0,
        "each from its own cache entry"
    );
}

#[tokio::test]
async fn a_tenant_the_credential_does_not_allow_is_refused_naming_the_setting() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (other, _) = other_tenant(&emulator);
    for allowed in [&[][..], &["fabrikam.onmicrosoft.com"]] {
        let client = secret_app(&emulator, allowed);
        client
            .acquire_token_for_client(&graph(), &TokenRequestOptions::default())
            .await
            .unwrap();
        emulator.reset_counters();
        let err = client
            .acquire_token_for_client(&graph(), &in_tenant(&other))
            .await
            .expect_err("a tenant that is not allowed");
        assert!(
            matches!(&err, Error::Configuration { message } if message.contains("additionally_allowed_tenants")),
            "{err:?}"
        );
        assert_eq!(
            emulator.counters().endpoint("token"),
            0,
            "refused before any request"
        );
    }
}

#[tokio::test]
async fn a_signed_in_user_gets_the_other_tenants_token_silently() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (other, other_id) = other_tenant(&emulator);
    let client = PublicClient::builder(
        crate::common::client_id(&emulator, names::PUBLIC_CLIENT),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .cache(SharedTokenCache::in_memory())
    .additionally_allowed_tenants(["*"])
    .build()
    .unwrap();
    let scopes = Scopes::new(["User.Read"]).unwrap();
    crate::common::sign_in(&emulator, &client, &scopes, names::ALICE).await;
    let account = client.accounts().await.unwrap().remove(0);
    emulator.reset_counters();
    let away = client
        .acquire_token_silent(&scopes, &account, &in_tenant(&other))
        .await
        .unwrap();
    assert_eq!(tid(&away), other_id);
    assert_eq!(
        emulator.counters().grant("refresh_token"),
        1,
        "the refresh token, at the other tenant"
    );
    let again = client
        .acquire_token_silent(&scopes, &account, &in_tenant(&other))
        .await
        .unwrap();
    assert_eq!(again.secret, away.secret);
    assert_eq!(
        emulator.counters().endpoint("token"),
        1,
        "then from the cache"
    );
}

#[tokio::test]
async fn a_device_code_sign_in_goes_to_the_requested_tenant() {
    use tokenhop_flows::{FlowConfig, UserConfig};
    let mut config = tokenhop_emulator::EmulatorConfig::default();
    config.device_code.interval_secs = 1;
    let emulator = std::sync::Arc::new(Emulator::builder().config(config).start().await.unwrap());
    let (other, other_id) = other_tenant(&emulator);
    let approver = std::sync::Arc::clone(&emulator);
    let credential = FlowConfig::DeviceCode(UserConfig::new(
        Authority::parse(&emulator.authority()).unwrap(),
        crate::common::client_id(&emulator, names::PUBLIC_CLIENT),
    ))
    .credential()
    .show_code(move |info| {
        approver.approve_device_code(Some(&info.user_code), names::BOB, 0);
    })
    .additionally_allowed_tenants([other.as_str()])
    .build()
    .unwrap();
    let token = credential
        .get_token(&Scopes::new(["User.Read"]).unwrap(), &in_tenant(&other))
        .await
        .unwrap();
    assert_eq!(tid(&token), other_id);
}
