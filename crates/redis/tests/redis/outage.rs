//! Redis going away mid-run: every lookup and write still answers (from memory), one
//! warning per outage; when Redis is back the caches share again.

use std::time::Duration;

use tokenhop_core::{Passage, Wait};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_away_serves_memory_with_one_warning_and_sharing_resumes_when_it_is_back() {
    let logs = logs();
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    let cache = cache(settings(&url, "away").with_timeout(Duration::from_millis(300)));
    add_app_token(&cache, "app1", "before").await;

    server.stop();
    assert_eq!(
        app_secret(&cache, "app1").await.unwrap().as_deref(),
        Some("before")
    );
    for n in 2..6 {
        let client = format!("app{n}");
        add_app_token(&cache, &client, "during").await;
        assert_eq!(
            app_secret(&cache, &client).await.unwrap().as_deref(),
            Some("during")
        );
    }
    let gate = cache.fetch_gate().unwrap();
    let started = std::time::Instant::now();
    let passage = gate.enter("token", Wait::ForHolder { round: 0 }).await;
    assert!(
        matches!(passage, Passage::Fetch(_)),
        "fetch alone: {passage:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "no waiting while Redis is away"
    );
    let warnings = logs.lines_with(&["WARN", "unreachable", &url]);
    assert_eq!(
        warnings.len(),
        1,
        "one warning for the outage: {warnings:#?}"
    );

    server.restart();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    add_app_token(&cache, "app6", "after").await;
    assert_eq!(logs.lines_with(&["reachable again", &url]).len(), 1);
    let other = crate::common::cache(settings(&url, "away"));
    assert_eq!(
        app_secret(&other, "app6").await.unwrap().as_deref(),
        Some("after"),
        "shared again"
    );
    assert_eq!(logs.lines_with(&["WARN", "unreachable", &url]).len(), 1);
}
