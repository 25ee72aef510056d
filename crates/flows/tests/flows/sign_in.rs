//! A signed-in user as a credential: concurrent callers with no account share one
//! sign-in.

use std::sync::Arc;

use tokenhop_core::{Scopes, TokenCredential, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorConfig, names};
use tokenhop_flows::{Authority, PublicClient, SignIn, SignInCredential};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_without_an_account_share_one_device_code_sign_in() {
    let mut config = EmulatorConfig::default();
    config.device_code.interval_secs = 1;
    let emulator = Arc::new(Emulator::builder().config(config).start().await.unwrap());
    let client = PublicClient::builder(
        crate::common::client_id(&emulator, names::PUBLIC_CLIENT),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .build()
    .unwrap();
    let approver = Arc::clone(&emulator);
    let credential = Arc::new(
        SignInCredential::builder(client, SignIn::DeviceCode)
            .show_code(move |info| {
                assert!(approver.approve_device_code(Some(&info.user_code), names::ALICE, 0));
            })
            .build(),
    );
    let scopes = Scopes::new(["User.Read"]).unwrap();
    let outcomes = crate::common::at_once(10, credential, move |credential| {
        let scopes = scopes.clone();
        async move {
            credential
                .get_token(&scopes, &TokenRequestOptions::default())
                .await
        }
    })
    .await;
    let secrets: std::collections::HashSet<String> = outcomes
        .into_iter()
        .map(|token| token.unwrap().secret.expose_secret().to_owned())
        .collect();
    assert_eq!(emulator.counters().endpoint("devicecode"), 1, "one sign-in");
    assert_eq!(secrets.len(), 1, "everyone got its token");
}
