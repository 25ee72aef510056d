//! Other ways to reach Redis: TLS (`rediss://` with the server's CA), and a cluster,
//! whose slots the hash-tagged keys pick.

use crate::common::*;
use crate::fleet::burst;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_servers_ca_shares_tokens() {
    let Some(server) = RedisServer::start_tls() else {
        return;
    };
    let ca = server.ca_pem().unwrap().as_bytes().to_vec();
    assert!(server.url().starts_with("rediss://"));
    let writer = cache(settings(&server.url(), "tls").with_ca_cert(ca.clone()));
    add_app_token(&writer, "app", "over-tls").await;
    let reader = cache(settings(&server.url(), "tls").with_ca_cert(ca));
    assert_eq!(
        app_secret(&reader, "app").await.unwrap().as_deref(),
        Some("over-tls")
    );
    assert!(
        server
            .cli(&["GET", &format!("tls:{{{}}}", app_partition("app"))])
            .contains("over-tls")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_trusting_the_server_degrades_instead_of_failing() {
    let logs = logs();
    let Some(server) = RedisServer::start_tls() else {
        return;
    };
    let cache = cache(settings(&server.url(), "untrusted"));
    add_app_token(&cache, "app", "kept-in-memory").await;
    assert_eq!(
        app_secret(&cache, "app").await.unwrap().as_deref(),
        Some("kept-in-memory")
    );
    assert_eq!(
        logs.lines_with(&["WARN", "unreachable", &server.url()])
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_keeps_partitions_and_leases_and_the_fleet_makes_one_request() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let caches: Vec<_> = (0..3)
        .map(|_| cache(settings(&cluster.url(), "cluster").with_cluster(true)))
        .collect();
    let (fetches, tokens) = burst(&caches, 10).await;
    assert_eq!(fetches, 1);
    assert!(tokens.iter().all(|t| t == "token-0"));
    let stored = cluster.cli(&["GET", &format!("cluster:{{{}}}", app_partition("app"))]);
    assert!(stored.contains("token-0"), "{stored}");
}
