//! A write by process A is seen by daemon B's next lookup, without a restart.

use std::time::Duration;

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Scopes, TokenRequestOptions};
use tokenhop_flows::Authority;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::ConfidentialClient;
use tokenhop_process_tests::digest;

use crate::common::{APP, PROMPTLY, Peer, emulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_seen_by_the_other_process_without_a_restart() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let daemon = Peer::start_with_app("app-daemon", &path, &emulator, APP);
    let first = daemon
        .wait_for(PROMPTLY, |line| line.starts_with("token "))
        .expect("the daemon gets a token");

    let app = emulator.config().app(APP).unwrap();
    let client = ConfidentialClient::builder(
        ClientId::new(app.client_id.clone()).unwrap(),
        Authority::parse(&emulator.authority()).unwrap(),
        ClientCredential::secret(app.secret.clone().unwrap()),
    )
    .cache(SharedTokenCache::file(&path))
    .build()
    .unwrap();
    let mut forced = TokenRequestOptions::default();
    forced.force_refresh = true;
    let ours = client
        .acquire_token_for_client(
            &Scopes::new(["https://graph.microsoft.com/.default"]).unwrap(),
            &forced,
        )
        .await
        .unwrap();
    let wanted = format!("token {}", digest(ours.secret.expose_secret()));
    assert_ne!(first, wanted, "a new token, not the daemon's");
    let mut seen = Vec::new();
    let found = daemon.wait_for(Duration::from_secs(5), |line| {
        seen.push(line.to_owned());
        line == wanted
    });
    assert_eq!(
        found.as_deref(),
        Some(wanted.as_str()),
        "the daemon's lookups never returned the token written by the other process; they returned {:?}",
        seen.iter().collect::<std::collections::BTreeSet<_>>()
    );
}
