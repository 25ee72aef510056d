//! A generic OpenID Connect issuer that nobody here wrote: node-oidc-provider (pinned in
//! `tests/interop/oidc_provider/package.json`, installed by `cargo xtask ci` into
//! `$TOKENHOP_NODE_DIR/oidc_provider` or `~/.cache/tokenhop/node/oidc_provider`), started
//! by the test on an ephemeral loopback port. Client credentials with a secret (by
//! `client_secret_post` or `client_secret_basic`, as its discovery document offers) and
//! with a certificate (`private_key_jwt`, `aud` = its token endpoint), declared from a
//! configuration file's `issuer:`, cached like any other token. Without Node or the
//! package the test is skipped, except under CI (`CI=true`), where that is a failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::json;
use tokenhop_cert::{ClientCertificate, KeySize, generate_self_signed};
use tokenhop_core::ClientId;
use tokenhop_core::{Scopes, TokenProvider, TokenRequestOptions};
use tokenhop_flows::{AuthConfig, Authority, ClientCertificateConfig, FlowConfig};

const SECRET: &str = "oidc-provider-secret-7d2f";

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/oidc_provider")
}

/// The installed `node_modules`, when it holds the pinned version.
fn node_modules() -> Option<PathBuf> {
    let base = std::env::var_os("TOKENHOP_NODE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tokenhop/node"))
        })?;
    let modules = base.join("oidc_provider/node_modules");
    let read = |path: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let pinned = read(project().join("package.json"))?["dependencies"]["oidc-provider"].clone();
    let installed = read(modules.join("oidc-provider/package.json"))?["version"].clone();
    let node = Command::new("node").arg("--version").output();
    (pinned == installed && node.is_ok_and(|o| o.status.success())).then_some(modules)
}

/// node-oidc-provider serving until dropped.
struct OidcProvider {
    child: Child,
    issuer: String,
}

impl OidcProvider {
    /// Starts it offering `methods` for secrets; `None` (a skip) outside CI when it is
    /// not installed.
    fn start(methods: &str, certificate_pem: &std::path::Path) -> Option<Self> {
        let Some(modules) = node_modules() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "node-oidc-provider is not installed: cargo xtask ci installs it (Node and npm needed); CI must run this test"
            );
            eprintln!("skipping: node-oidc-provider is not installed (cargo xtask ci installs it)");
            return None;
        };
        let mut child = Command::new("node")
            .arg(project().join("provider.mjs"))
            .arg(modules)
            .arg(methods)
            .arg(certificate_pem)
            .arg(SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("node-oidc-provider did not start ({e}): {line:?}"));
        let issuer = ready["issuer"].as_str().unwrap().to_owned();
        eprintln!("node-oidc-provider serves {issuer}, offering {methods} for secrets");
        Some(Self { child, issuer })
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn client_credentials_against_a_real_openid_provider_by_secret_and_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate_self_signed("tokenhop-oidc", 1, KeySize::Rsa2048).unwrap();
    let certificate_pem = dir.path().join("certificate.pem");
    std::fs::write(&certificate_pem, &generated.certificate_pem).unwrap();
    let with_key = format!(
        "{}{}",
        generated.certificate_pem,
        generated.private_key_pem.expose_secret()
    );
    let scopes = Scopes::new(["api:read"]).unwrap();
    for methods in ["client_secret_post", "client_secret_basic"] {
        let Some(provider) = OidcProvider::start(methods, &certificate_pem) else {
            return;
        };
        // The secret client, from a configuration file that declares the issuer.
        let path = dir.path().join("oidc.json");
        let config = json!({
            "scopes": ["api:read"],
            "cache": {"path": dir.path().join(format!("{methods}-cache.json"))},
            "flow": {
                "type": "client-secret",
                "issuer": provider.issuer,
                "client_id": "tokenhop-secret",
                "client_secret": SECRET,
            },
        });
        std::fs::write(&path, config.to_string()).unwrap();
        let built = AuthConfig::load(&path).unwrap();
        let token = built
            .provider()
            .token()
            .await
            .unwrap_or_else(|e| panic!("{methods}: {e}"));
        assert!(!token.secret.expose_secret().is_empty());
        let sent = built.http.requests_sent();
        let again = built.provider().token().await.unwrap();
        assert_eq!(again.secret, token.secret, "{methods}: not cached");
        assert_eq!(
            built.http.requests_sent(),
            sent,
            "{methods}: a hit sent a request"
        );

        // The certificate client: private_key_jwt, its audience the token endpoint.
        let certificate = ClientCertificate::from_pem(with_key.as_bytes(), None).unwrap();
        let flow = FlowConfig::ClientCertificate(ClientCertificateConfig::new(
            Authority::oidc(&provider.issuer).unwrap(),
            ClientId::new("tokenhop-cert").unwrap(),
            certificate,
        ));
        let credential = flow.credential().build().unwrap();
        let token = credential
            .get_token(&scopes, &TokenRequestOptions::default())
            .await
            .unwrap_or_else(|e| panic!("private_key_jwt ({methods}): {e}"));
        assert!(!token.secret.expose_secret().is_empty());
    }
}
