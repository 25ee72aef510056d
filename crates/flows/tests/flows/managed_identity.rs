//! Managed identity on every host the emulator plays — IMDS, App Service, Service Fabric,
//! Machine Learning, Azure Arc, Cloud Shell — each found the way MSAL finds it, from
//! that host's environment alone; each host's refusals; the Arc key-file rules; the
//! probe.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokenhop_core::{Error, Scopes, TokenCredential, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, Fault, FaultKind, names};
use tokenhop_flows::unverified_claims;
use tokenhop_flows::{
    ManagedIdentityCredential, ManagedIdentityHost, ManagedIdentityId, ManagedIdentityRetry,
    ManagedIdentitySource, ProbeOutcome,
};

fn storage() -> Scopes {
    Scopes::new(["https://storage.azure.com/.default"]).unwrap()
}

/// The source `vars` (and nothing else in the environment) describe.
fn source(vars: &[(&str, String)]) -> ManagedIdentitySource {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    ManagedIdentitySource::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

fn imds(emulator: &EmulatorHandle) -> ManagedIdentitySource {
    source(&[(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        emulator.url().to_owned(),
    )])
}

fn app_service(emulator: &EmulatorHandle, header: &str) -> ManagedIdentitySource {
    source(&[
        ("IDENTITY_ENDPOINT", format!("{}/msi/token", emulator.url())),
        ("IDENTITY_HEADER", header.to_owned()),
    ])
}

fn service_fabric(
    emulator: &EmulatorHandle,
    header: &str,
    thumbprint: &str,
) -> ManagedIdentitySource {
    source(&[
        (
            "IDENTITY_ENDPOINT",
            emulator.service_fabric_endpoint().to_owned(),
        ),
        ("IDENTITY_HEADER", header.to_owned()),
        ("IDENTITY_SERVER_THUMBPRINT", thumbprint.to_owned()),
    ])
}

fn machine_learning(emulator: &EmulatorHandle, secret: &str) -> ManagedIdentitySource {
    source(&[
        ("MSI_ENDPOINT", format!("{}/msi/auth", emulator.url())),
        ("MSI_SECRET", secret.to_owned()),
    ])
}

/// Arc from its variables, with the token directory moved to the emulator's (the real
/// one is `/var/opt/azcmagent/tokens`).
fn arc(emulator: &EmulatorHandle, token_dir: PathBuf) -> ManagedIdentitySource {
    let found = source(&[
        (
            "IDENTITY_ENDPOINT",
            format!("{}/arc/metadata/identity/oauth2/token", emulator.url()),
        ),
        ("IMDS_ENDPOINT", emulator.url().to_owned()),
    ]);
    match found {
        ManagedIdentitySource::AzureArc { endpoint, .. } => ManagedIdentitySource::AzureArc {
            endpoint,
            token_dir,
        },
        other => panic!("not Arc: {other:?}"),
    }
}

fn cloud_shell(emulator: &EmulatorHandle) -> ManagedIdentitySource {
    source(&[(
        "MSI_ENDPOINT",
        format!("{}/cloudshell/oauth2/token", emulator.url()),
    )])
}

fn identity(emulator: &EmulatorHandle, name: &str) -> tokenhop_emulator::ManagedIdentityConfig {
    emulator
        .config()
        .managed_identities
        .iter()
        .find(|i| i.name == name)
        .unwrap()
        .clone()
}

fn system_oid(emulator: &EmulatorHandle) -> String {
    identity(emulator, names::SYSTEM_ASSIGNED_IDENTITY).object_id
}

fn mi(source: ManagedIdentitySource, id: ManagedIdentityId) -> ManagedIdentityCredential {
    ManagedIdentityCredential::builder(source, id)
        .build()
        .unwrap()
}

async fn get(credential: &ManagedIdentityCredential) -> tokenhop_core::Result<String> {
    let token = credential
        .get_token(&storage(), &TokenRequestOptions::default())
        .await?;
    let claims = unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(claims["aud"], "https://storage.azure.com");
    Ok(claims["oid"].as_str().unwrap().to_owned())
}

async fn token_oid(credential: &ManagedIdentityCredential) -> String {
    get(credential).await.unwrap()
}

async fn error_of(credential: &ManagedIdentityCredential) -> Error {
    get(credential).await.unwrap_err()
}

/// IMDS at the emulator, retrying as `retry` says.
fn imds_retrying(
    emulator: &EmulatorHandle,
    id: ManagedIdentityId,
    retry: ManagedIdentityRetry,
) -> ManagedIdentityCredential {
    ManagedIdentityCredential::builder(imds(emulator), id)
        .retry(retry)
        .build()
        .unwrap()
}

/// Waits in milliseconds instead of seconds.
fn fast_retry() -> ManagedIdentityRetry {
    ManagedIdentityRetry {
        delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        gone_delay: Duration::from_millis(5),
        ..ManagedIdentityRetry::default()
    }
}

#[tokio::test]
async fn imds_system_assigned_then_a_cache_hit() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = mi(imds(&emulator), ManagedIdentityId::SystemAssigned);
    assert_eq!(credential.source().host(), ManagedIdentityHost::Imds);
    assert_eq!(token_oid(&credential).await, system_oid(&emulator));
    token_oid(&credential).await;
    assert_eq!(
        emulator.counters().endpoint("imds"),
        1,
        "the second call is a cache hit"
    );
}

#[tokio::test]
async fn imds_user_assigned_by_client_id_object_id_and_resource_id() {
    let emulator = Emulator::builder().start().await.unwrap();
    let user = identity(&emulator, names::USER_ASSIGNED_IDENTITY);
    for id in [
        ManagedIdentityId::ClientId(user.client_id.clone()),
        ManagedIdentityId::ObjectId(user.object_id.clone()),
        ManagedIdentityId::ResourceId(user.resource_id.clone()),
    ] {
        let credential = mi(imds(&emulator), id.clone());
        assert_eq!(token_oid(&credential).await, user.object_id, "{id:?}");
    }
}

#[tokio::test]
async fn imds_refuses_an_unknown_identity_in_its_own_words() {
    let emulator = Emulator::builder().start().await.unwrap();
    let unknown = mi(
        imds(&emulator),
        ManagedIdentityId::ClientId("no-such-identity".into()),
    );
    let err = error_of(&unknown).await.to_string();
    assert!(
        err.contains("IMDS") && err.contains("Identity not found"),
        "{err}"
    );
}

#[tokio::test]
async fn imds_answering_410_three_times_then_200_gives_a_token() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(Fault::new("imds", FaultKind::Status).status(410).times(3));
    let credential = imds_retrying(&emulator, ManagedIdentityId::SystemAssigned, fast_retry());
    assert_eq!(token_oid(&credential).await, system_oid(&emulator));
    assert_eq!(emulator.counters().endpoint("imds"), 4);
}

#[tokio::test]
async fn imds_retries_404_and_5xx_with_backoff_then_gives_up() {
    let emulator = Emulator::builder().start().await.unwrap();
    emulator.inject(Fault::new("imds", FaultKind::Status).status(404).times(1));
    emulator.inject(Fault::new("imds", FaultKind::Status).status(503).times(1));
    let credential = imds_retrying(&emulator, ManagedIdentityId::SystemAssigned, fast_retry());
    token_oid(&credential).await;
    assert_eq!(emulator.counters().endpoint("imds"), 3);

    emulator.inject(Fault::new("imds", FaultKind::Status).status(500));
    let by_object_id = ManagedIdentityId::ObjectId(system_oid(&emulator));
    let stubborn = imds_retrying(&emulator, by_object_id, fast_retry());
    emulator.reset_counters();
    error_of(&stubborn).await;
    assert_eq!(
        emulator.counters().endpoint("imds"),
        4,
        "one try and three retries"
    );
}

#[tokio::test]
async fn imds_during_a_configured_upgrade_answers_410_until_it_is_over() {
    let mut config = tokenhop_emulator::EmulatorConfig::default();
    config.imds_upgrade_secs = 3600;
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let retry = ManagedIdentityRetry {
        gone_retries: 2,
        ..fast_retry()
    };
    let credential = imds_retrying(&emulator, ManagedIdentityId::SystemAssigned, retry);
    let err = error_of(&credential).await.to_string();
    assert!(err.contains("IMDS") && err.contains("410"), "{err}");
    assert_eq!(emulator.counters().endpoint("imds"), 3);
    emulator.advance_clock(3600);
    assert_eq!(token_oid(&credential).await, system_oid(&emulator));
}

#[tokio::test]
async fn app_service_with_its_identity_header() {
    let emulator = Emulator::builder().start().await.unwrap();
    let header = emulator.config().identity_header.clone();
    let credential = mi(
        app_service(&emulator, &header),
        ManagedIdentityId::SystemAssigned,
    );
    assert_eq!(credential.source().host(), ManagedIdentityHost::AppService);
    assert_eq!(token_oid(&credential).await, system_oid(&emulator));
    let user = identity(&emulator, names::USER_ASSIGNED_IDENTITY);
    let by_resource = mi(
        app_service(&emulator, &header),
        ManagedIdentityId::ResourceId(user.resource_id.clone()),
    );
    assert_eq!(token_oid(&by_resource).await, user.object_id);
    assert_eq!(
        (
            emulator.counters().endpoint("app_service"),
            emulator.counters().endpoint("imds")
        ),
        (2, 0)
    );
}

#[tokio::test]
async fn app_service_expires_on_gives_the_expiry_and_long_lived_tokens_refresh_at_half_life() {
    let mut config = tokenhop_emulator::EmulatorConfig::default();
    config.token_lifetime_secs = 7200;
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let header = emulator.config().identity_header.clone();
    let start = std::time::SystemTime::now();
    let clock = std::sync::Arc::new(tokenhop_core::ManualClock::new(start));
    let credential = ManagedIdentityCredential::builder(
        app_service(&emulator, &header),
        ManagedIdentityId::SystemAssigned,
    )
    .clock(clock.clone())
    .build()
    .unwrap();
    let token = credential
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap();
    // App Service sends `expires_on` (epoch seconds as a string) and no `expires_in`.
    let lifetime = token.expires_on.duration_since(start).unwrap().as_secs();
    assert!((7190..=7200).contains(&lifetime), "{lifetime}");
    let refresh = token
        .refresh_on
        .unwrap()
        .duration_since(start)
        .unwrap()
        .as_secs();
    assert!((3590..=3600).contains(&refresh), "{refresh}");

    clock.advance(Duration::from_secs(3000));
    token_oid(&credential).await;
    assert_eq!(
        emulator.counters().endpoint("app_service"),
        1,
        "fresh: from the cache"
    );
    clock.advance(Duration::from_secs(700));
    token_oid(&credential).await;
    assert_eq!(
        emulator.counters().endpoint("app_service"),
        2,
        "past half-life: refreshed"
    );
}

#[tokio::test]
async fn app_service_refuses_a_wrong_identity_header() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = mi(
        app_service(&emulator, "wrong-header-value"),
        ManagedIdentityId::SystemAssigned,
    );
    let err = error_of(&credential).await;
    let text = err.to_string();
    assert!(matches!(err, Error::TokenExchange { .. }), "{err:?}");
    assert!(
        text.contains("App Service") && text.contains("IDENTITY_HEADER"),
        "{text}"
    );
    assert!(!text.contains("wrong-header-value"), "{text}");
}

#[tokio::test]
async fn service_fabric_over_tls_trusting_the_pinned_thumbprint_only() {
    let emulator = Emulator::builder().start().await.unwrap();
    let header = emulator.config().identity_header.clone();
    let thumbprint = emulator.service_fabric_thumbprint().to_owned();
    let credential = mi(
        service_fabric(&emulator, &header, &thumbprint),
        ManagedIdentityId::SystemAssigned,
    );
    assert_eq!(
        credential.source().host(),
        ManagedIdentityHost::ServiceFabric
    );
    assert_eq!(token_oid(&credential).await, system_oid(&emulator));
    // The SHA-256 thumbprint of the same certificate pins it as well.
    let sha256 = sha256_thumbprint(emulator.service_fabric_certificate_pem());
    let by_sha256 = mi(
        service_fabric(&emulator, &header, &sha256),
        ManagedIdentityId::SystemAssigned,
    );
    token_oid(&by_sha256).await;
    assert_eq!(emulator.counters().endpoint("service_fabric"), 2);
}

fn sha256_thumbprint(pem: &str) -> String {
    let chain = tokenhop_cert::Certificate::chain_from_bytes(pem.as_bytes()).unwrap();
    chain[0].sha256_thumbprint().to_hex()
}

#[tokio::test]
async fn service_fabric_refuses_a_wrong_secret_and_a_certificate_with_another_thumbprint() {
    let emulator = Emulator::builder().start().await.unwrap();
    let header = emulator.config().identity_header.clone();
    let thumbprint = emulator.service_fabric_thumbprint().to_owned();
    let wrong_secret = mi(
        service_fabric(&emulator, "wrong-secret-value", &thumbprint),
        ManagedIdentityId::SystemAssigned,
    );
    let text = error_of(&wrong_secret).await.to_string();
    assert!(
        text.contains("Service Fabric") && text.contains("SecretHeaderNotFound"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret-value"), "{text}");

    emulator.reset_counters();
    let other = "00112233445566778899AABBCCDDEEFF00112233";
    let pinned_elsewhere = mi(
        service_fabric(&emulator, &header, other),
        ManagedIdentityId::SystemAssigned,
    );
    let err = error_of(&pinned_elsewhere).await;
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(!err.to_string().contains(&header), "{err}");
    assert_eq!(
        emulator.counters().endpoint("service_fabric"),
        0,
        "the secret never reached a server with another certificate"
    );
}

#[tokio::test]
async fn machine_learning_with_its_secret_and_clientid() {
    let emulator = Emulator::builder().start().await.unwrap();
    let secret = emulator.config().msi_secret.clone();
    let system = mi(
        machine_learning(&emulator, &secret),
        ManagedIdentityId::SystemAssigned,
    );
    assert_eq!(system.source().host(), ManagedIdentityHost::MachineLearning);
    assert_eq!(token_oid(&system).await, system_oid(&emulator));
    let user = identity(&emulator, names::USER_ASSIGNED_IDENTITY);
    let by_client_id = mi(
        machine_learning(&emulator, &secret),
        ManagedIdentityId::ClientId(user.client_id.clone()),
    );
    assert_eq!(token_oid(&by_client_id).await, user.object_id);

    let wrong = mi(
        machine_learning(&emulator, "wrong-msi-secret"),
        ManagedIdentityId::SystemAssigned,
    );
    let text = error_of(&wrong).await.to_string();
    assert!(
        text.contains("Machine Learning") && text.contains("MSI_SECRET"),
        "{text}"
    );
    assert!(!text.contains("wrong-msi-secret"), "{text}");
}

/// An emulator whose Arc key files go under a temporary state directory.
async fn arc_emulator() -> (EmulatorHandle, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let emulator = Emulator::builder()
        .state_dir(state.path())
        .start()
        .await
        .unwrap();
    (emulator, state)
}

#[tokio::test]
async fn azure_arc_answers_the_key_file_challenge() {
    let (emulator, _state) = arc_emulator().await;
    let token_dir = emulator.arc_token_dir().unwrap();
    let credential = mi(arc(&emulator, token_dir), ManagedIdentityId::SystemAssigned);
    assert_eq!(credential.source().host(), ManagedIdentityHost::AzureArc);
    assert_eq!(token_oid(&credential).await, system_oid(&emulator));
    assert_eq!(
        emulator.counters().endpoint("arc"),
        2,
        "the challenge, then the answer"
    );
}

#[tokio::test]
async fn azure_arc_refuses_a_wrong_key_and_has_no_user_assigned_identities() {
    let (emulator, _state) = arc_emulator().await;
    let token_dir = emulator.arc_token_dir().unwrap();
    // A key file the agent never wrote, in the right place: read, sent, refused.
    std::fs::create_dir_all(&token_dir).unwrap();
    let forged = token_dir.join("forged.key");
    std::fs::write(&forged, "not-the-agents-secret").unwrap();
    emulator.set_arc_realm(Some(forged.to_str().unwrap()));
    let credential = mi(
        arc(&emulator, token_dir.clone()),
        ManagedIdentityId::SystemAssigned,
    );
    let text = error_of(&credential).await.to_string();
    assert!(text.contains("Azure Arc"), "{text}");
    assert!(!text.contains("not-the-agents-secret"), "{text}");

    let err = ManagedIdentityCredential::builder(
        arc(&emulator, token_dir),
        ManagedIdentityId::ClientId("some-client".into()),
    )
    .build()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("Azure Arc") && err.contains("system-assigned"),
        "{err}"
    );
}

/// Makes the emulator's Arc challenge name `realm`, asks, and returns the error; the
/// emulator must have seen the challenge request only.
async fn arc_refusal(emulator: &EmulatorHandle, realm: &Path) -> String {
    emulator.set_arc_realm(Some(realm.to_str().unwrap()));
    emulator.reset_counters();
    let credential = mi(
        arc(emulator, emulator.arc_token_dir().unwrap()),
        ManagedIdentityId::SystemAssigned,
    );
    // A fifo blocks whoever opens it for reading: a client that tried would hang here.
    let outcome = tokio::time::timeout(Duration::from_secs(10), error_of(&credential)).await;
    let Ok(err) = outcome else {
        // Let the stuck reader go before failing.
        let _ = std::fs::OpenOptions::new().write(true).open(realm);
        panic!("the client opened {}", realm.display());
    };
    assert_eq!(
        emulator.counters().endpoint("arc"),
        1,
        "no second request carries a secret"
    );
    err.to_string()
}

fn fifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[tokio::test]
async fn azure_arc_refuses_a_realm_outside_the_token_directory_without_reading_it() {
    let (emulator, state) = arc_emulator().await;
    let outside = state.path().join("outside.key");
    fifo(&outside);
    let err = arc_refusal(&emulator, &outside).await;
    assert!(
        err.contains("outside the Arc agent's token directory"),
        "{err}"
    );
    let sneaky = emulator.arc_token_dir().unwrap().join("../../outside.key");
    let err = arc_refusal(&emulator, &sneaky).await;
    assert!(err.contains("without `..`"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn azure_arc_refuses_a_file_that_is_not_a_key_file_without_reading_it() {
    let (emulator, _state) = arc_emulator().await;
    let token_dir = emulator.arc_token_dir().unwrap();
    std::fs::create_dir_all(&token_dir).unwrap();
    let not_a_key = token_dir.join("secrets.txt");
    fifo(&not_a_key);
    let err = arc_refusal(&emulator, &not_a_key).await;
    assert!(err.contains("not a .key file"), "{err}");
    // A .key name on something that is not a regular file is refused too.
    let fifo_key = token_dir.join("pipe.key");
    fifo(&fifo_key);
    let err = arc_refusal(&emulator, &fifo_key).await;
    assert!(err.contains("not a regular file"), "{err}");
}

#[tokio::test]
async fn azure_arc_refuses_a_key_file_over_4_kib() {
    let (emulator, _state) = arc_emulator().await;
    let token_dir = emulator.arc_token_dir().unwrap();
    std::fs::create_dir_all(&token_dir).unwrap();
    let big = token_dir.join("big.key");
    std::fs::write(&big, "k".repeat(4097)).unwrap();
    let err = arc_refusal(&emulator, &big).await;
    assert!(err.contains("4097 bytes, more than 4096"), "{err}");
    assert!(!err.contains("kkkk"), "{err}");
}

#[tokio::test]
async fn cloud_shell_gives_the_signed_in_users_token() {
    let emulator = Emulator::builder().start().await.unwrap();
    let credential = mi(cloud_shell(&emulator), ManagedIdentityId::SystemAssigned);
    assert_eq!(credential.source().host(), ManagedIdentityHost::CloudShell);
    let alice = emulator
        .config()
        .user(names::ALICE)
        .unwrap()
        .object_id
        .clone();
    assert_eq!(token_oid(&credential).await, alice);
    assert_eq!(emulator.counters().endpoint("cloud_shell"), 1);

    let err = ManagedIdentityCredential::builder(
        cloud_shell(&emulator),
        ManagedIdentityId::ObjectId(alice),
    )
    .build()
    .unwrap_err()
    .to_string();
    assert!(err.contains("Cloud Shell"), "{err}");
}

#[tokio::test]
async fn cloud_shell_refuses_when_nobody_is_signed_in() {
    let mut config = tokenhop_emulator::EmulatorConfig::default();
    config.cloud_shell_user = None;
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let credential = mi(cloud_shell(&emulator), ManagedIdentityId::SystemAssigned);
    let text = error_of(&credential).await.to_string();
    assert!(
        text.contains("Cloud Shell") && text.contains("signed in"),
        "{text}"
    );
}

#[tokio::test]
async fn a_probe_finds_the_emulator_and_tells_a_closed_port_at_once() {
    let emulator = Emulator::builder().start().await.unwrap();
    let here = mi(imds(&emulator), ManagedIdentityId::SystemAssigned);
    assert_eq!(here.probe().await.unwrap(), ProbeOutcome::Answered);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let nowhere = mi(
        source(&[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://{closed}"),
        )]),
        ManagedIdentityId::SystemAssigned,
    );
    let started = Instant::now();
    let outcome = nowhere.probe().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    let ProbeOutcome::NoEndpoint { reason } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("no managed identity endpoint"), "{reason}");
}

/// A port whose accept queue is full, so that the kernel drops new connection attempts
/// (as a missing IMDS does): a connect hangs until its timeout.
async fn a_port_that_takes_no_connections() -> (
    tokio::net::TcpListener,
    std::net::SocketAddr,
    Vec<tokio::net::TcpStream>,
) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..8 {
        let attempt = tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        );
        match attempt.await {
            Ok(Ok(stream)) => held.push(stream),
            _ => return (listener, addr, held),
        }
    }
    panic!("the kernel accepted 8 connections on a full backlog; this test needs it to drop them");
}

#[tokio::test]
async fn a_probe_gives_up_on_an_endpoint_that_takes_no_connection_within_about_a_second() {
    let (_listener, addr, _held) = a_port_that_takes_no_connections().await;
    let silent = mi(
        source(&[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://{addr}"),
        )]),
        ManagedIdentityId::SystemAssigned,
    );
    let started = Instant::now();
    let outcome = silent.probe().await.unwrap();
    let took = started.elapsed();
    assert!(
        matches!(&outcome, ProbeOutcome::NoEndpoint { reason } if reason.contains("no managed identity endpoint")),
        "{outcome:?}"
    );
    // The usual connect timeout is 10 s; the probe's is 1 s.
    assert!(took < Duration::from_secs(3), "the probe took {took:?}");
}
