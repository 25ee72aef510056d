//! Proxies, with a real forwarding proxy: Debian's `tinyproxy`, started on an ephemeral
//! loopback port with its own configuration and log in a temporary directory. Token
//! requests and bearer calls to the TLS emulator go through it (its log shows the
//! `CONNECT`s), `NO_PROXY` bypasses it, and a proxy that is down is a network error that
//! names the proxy but never its credentials. Without tinyproxy the tests are skipped,
//! except under CI (`CI=true`), where that is a failure.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{Error, Scopes, TokenCredentialExt, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::{AgentUserCredential, BearerClient, HttpClient, HttpConfig, ProxyConfig};

const PROXY_USER: &str = "tokenhop";
const PROXY_PASSWORD: &str = "proxy-pass-5c1e";

/// A tinyproxy process on `127.0.0.1`, killed when dropped.
struct Tinyproxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts tinyproxy asking for Basic credentials; `None` when it is not installed
    /// (outside CI).
    fn start() -> Option<Self> {
        let installed = Command::new("tinyproxy")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "tinyproxy is not installed (.ci/run installs Debian's tinyproxy); CI must run the proxy tests"
            );
            eprintln!("skipping: tinyproxy is not installed (apt-get install -y tinyproxy)");
            return None;
        }
        // The port is free when asked; another process may take it before tinyproxy
        // binds, so a failed start is tried again on a new port.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let log = dir.path().join("tinyproxy.log");
            let config = dir.path().join("tinyproxy.conf");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\n\
                     MaxClients 20\nAllow 127.0.0.1\nBasicAuth {PROXY_USER} {PROXY_PASSWORD}\n",
                    log.display()
                ),
            )
            .unwrap();
            let mut child = Command::new("tinyproxy")
                .arg("-d")
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Self {
                        child,
                        port,
                        log,
                        _dir: dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("tinyproxy did not start on a free port");
    }

    /// `http://user:password@127.0.0.1:port`.
    fn url(&self) -> String {
        format!(
            "http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}",
            self.port
        )
    }

    /// The CONNECT requests the proxy logged to `host_port` (each shown on stderr:
    /// the evidence that the proxy carried them).
    fn connects_to(&self, host_port: &str) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let connects: Vec<&str> = log
            .lines()
            .filter(|line| line.contains(&format!("CONNECT {host_port} ")))
            .collect();
        for line in &connects {
            eprintln!("tinyproxy: {line}");
        }
        connects.len()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn tls_emulator() -> EmulatorHandle {
    Emulator::builder().tls(true).start().await.unwrap()
}

/// The variables a proxy environment would set, as a lookup.
fn env(pairs: Vec<(&'static str, String)>) -> ProxyConfig {
    ProxyConfig::from_lookup(move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
}

fn http(emulator: &EmulatorHandle, proxy: ProxyConfig) -> HttpClient {
    HttpClient::new(
        HttpConfig::default()
            .with_extra_ca_pem(emulator.ca_cert_pem().unwrap())
            .with_proxy(proxy),
    )
    .unwrap()
}

fn secret_client(
    emulator: &EmulatorHandle,
    http: HttpClient,
) -> tokenhop_flows::ConfidentialClient {
    crate::common::secret_client(emulator, &emulator.authority(), http)
}

fn storage() -> Scopes {
    Scopes::new(["https://storage.azure.com/.default"]).unwrap()
}

fn host_port(emulator: &EmulatorHandle) -> String {
    emulator.url().trim_start_matches("https://").to_owned()
}

#[tokio::test]
async fn token_requests_and_bearer_calls_travel_through_the_proxy() {
    let Some(proxy) = Tinyproxy::start() else {
        return;
    };
    let emulator = tls_emulator().await;
    let target = host_port(&emulator);
    // The token request: the proxy from the environment's HTTPS_PROXY.
    let from_env = http(&emulator, env(vec![("HTTPS_PROXY", proxy.url())]));
    secret_client(&emulator, from_env)
        .acquire_token_for_client(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap();
    let after_token = proxy.connects_to(&target);
    assert!(
        after_token >= 1,
        "the token request did not go through the proxy"
    );

    // The bearer call: an explicit proxy on the bearer client's own HTTP client.
    let explicit = http(&emulator, ProxyConfig::url(&proxy.url()).unwrap());
    let agent_user = AgentUserCredential::builder(crate::common::agent_settings(
        &emulator,
        names::AGENT_IDENTITY,
        true,
    ))
    .authority_host(emulator.url())
    .blueprint_credential(crate::common::blueprint_credential(&emulator))
    .http(explicit.clone())
    .cache(SharedTokenCache::in_memory())
    .build()
    .unwrap();
    let graph = Scopes::new(["https://graph.microsoft.com/.default"]).unwrap();
    let bearer = BearerClient::builder(agent_user.into_provider(graph))
        .http(explicit)
        .build()
        .unwrap();
    let response = bearer
        .get(&format!("{}/v1.0/me", emulator.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        proxy.connects_to(&target) > after_token,
        "the bearer call did not go through the proxy"
    );
    assert!(emulator.counters().endpoint("me") >= 1);
}

#[tokio::test]
async fn no_proxy_bypasses_the_proxy() {
    let Some(proxy) = Tinyproxy::start() else {
        return;
    };
    let emulator = tls_emulator().await;
    let bypassing = http(
        &emulator,
        env(vec![
            ("HTTPS_PROXY", proxy.url()),
            ("no_proxy", "localhost,127.0.0.1".to_owned()),
        ]),
    );
    secret_client(&emulator, bypassing)
        .acquire_token_for_client(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(proxy.connects_to(&host_port(&emulator)), 0);
    // The same bypass with the proxy gone: nothing needs it.
    drop(proxy);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let bypassing = http(
        &emulator,
        ProxyConfig::url(&dead).unwrap().with_no_proxy("127.0.0.1"),
    );
    secret_client(&emulator, bypassing)
        .acquire_token_for_client(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_proxy_that_is_down_is_a_network_error_naming_it_without_its_credentials() {
    let emulator = tls_emulator().await;
    let port = free_port();
    let dead = format!("http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}");
    let config = HttpConfig::default()
        .with_extra_ca_pem(emulator.ca_cert_pem().unwrap())
        .with_proxy(env(vec![("HTTPS_PROXY", dead)]))
        .with_retry(tokenhop_flows::RetryPolicy::none());
    assert!(!format!("{config:?}").contains(PROXY_PASSWORD));
    let http = HttpClient::new(config).unwrap();
    let error = secret_client(&emulator, http)
        .acquire_token_for_client(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    let mut text = format!("{error} {error:?}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert!(
        text.contains(&format!("proxy http://127.0.0.1:{port}")),
        "{text}"
    );
    assert!(!text.contains(PROXY_PASSWORD), "{text}");
    assert_eq!(emulator.counters().endpoint("discovery"), 0);
}
