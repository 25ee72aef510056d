//! Process A signs a user out while daemon B, which loaded the cache before, keeps
//! refreshing: B's next silent call needs interaction, and the account never comes
//! back into the file.

use std::path::Path;
use std::time::Duration;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Scopes};
use tokenhop_emulator::names;
use tokenhop_flows::Authority;
use tokenhop_flows::PublicClient;

use crate::common::{PROMPTLY, Peer, emulator};

/// The accounts in the cache file's `Account` section (their home account ids).
fn accounts_in_file(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let document: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    document["Account"]
        .as_object()
        .map(|accounts| {
            accounts
                .values()
                .filter_map(|a| a["home_account_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_sticks_against_a_running_daemon() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let app = emulator.config().app(names::PUBLIC_CLIENT).unwrap();
    let client = PublicClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
    )
    .cache(SharedTokenCache::file(&path))
    .build()
    .unwrap();
    client
        .acquire_token_by_device_code(&Scopes::new(["User.Read"]).unwrap(), |info| {
            assert!(emulator.approve_device_code(Some(&info.user_code), names::ALICE, 0));
        })
        .await
        .unwrap();
    let account = client.accounts().await.unwrap().remove(0);
    assert_eq!(
        accounts_in_file(&path),
        vec![account.home_account_id.clone()]
    );

    let mut daemon = Peer::start_with_app("silent-daemon", &path, &emulator, names::PUBLIC_CLIENT);
    assert_eq!(
        daemon.wait_for(PROMPTLY, |line| line == "ok").as_deref(),
        Some("ok"),
        "the daemon refreshes the signed-in user's token"
    );

    assert!(client.remove_account(&account).await.unwrap() > 0);
    assert!(accounts_in_file(&path).is_empty());
    // A refresh in flight when the account went may still succeed; the next one must not.
    let first = daemon.wait_for(Duration::from_secs(5), |line| line != "ok");
    assert_eq!(
        first.as_deref(),
        Some("interaction"),
        "after the sign-out the daemon's silent call needs interaction"
    );
    for _ in 0..20 {
        let line = daemon.next_line(Duration::from_secs(5));
        assert_eq!(line.as_deref(), Some("interaction"));
        assert!(
            accounts_in_file(&path).is_empty(),
            "the daemon wrote the signed-out account back: {:?}",
            accounts_in_file(&path)
        );
    }
    daemon.kill();
    assert!(accounts_in_file(&path).is_empty());
}
