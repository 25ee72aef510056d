//! The command line on a production network: answers from caches MSAL wrote with no
//! network at all (every request would fail: the only proxy is down), the same cache
//! found under another host of the cloud, `--issuer`, `--proxy`/`--no-proxy`,
//! `--no-authority-validation`, `--cloud`, and `get` refusing plain http.

use std::path::PathBuf;

use tokenhop_emulator::names;

use crate::common::{TestEnv, ok, run};

/// The MSAL Python 1.39 caches and MSAL's own answers from them.
fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/msal-1.39")
}

/// A proxy URL where nothing listens, with credentials that must never be shown.
fn dead_proxy() -> (String, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (format!("http://me:cli-proxy-pw@127.0.0.1:{port}"), port)
}

/// `tokenhop` with the fixture `name` as its cache and no way to reach any network.
fn offline(dir: &std::path::Path, name: &str) -> assert_cmd::Command {
    let cache = dir.join(format!("{name}.json"));
    std::fs::copy(fixtures().join(format!("{name}.json")), &cache).unwrap();
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_tokenhop"));
    cmd.env_clear()
        .env("HTTPS_PROXY", dead_proxy().0)
        .env("HTTP_PROXY", dead_proxy().0)
        .arg("--cache")
        .arg(cache);
    cmd
}

/// Every token MSAL answers from its fixture caches (user tokens silently, app tokens
/// by client credentials), `tokenhop token` answers from the same cache with no network.
#[test]
fn msal_fixture_caches_answer_with_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("expectations.json")).unwrap();
    let expectations: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut answered = 0;
    for (name, apps) in expectations["fixtures"].as_object().unwrap() {
        // Some entries are notes, not apps.
        for app in apps.as_array().into_iter().flatten() {
            let username = |home: &str| {
                app["accounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["home_account_id"] == home)
                    .map(|a| a["username"].as_str().unwrap().to_owned())
                    .unwrap()
            };
            // (arguments, whether it is the secret app, MSAL's answer)
            let mut cases: Vec<(Vec<String>, bool, &str)> = Vec::new();
            for case in app["silent"].as_array().into_iter().flatten() {
                let mut args: Vec<String> = vec!["--scope".into()];
                args.extend(
                    case["scopes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_owned()),
                );
                args.extend([
                    "--account".into(),
                    username(case["account"].as_str().unwrap()),
                ]);
                cases.push((args, false, case["result"].as_str().unwrap()));
            }
            for case in app["client_credentials"].as_array().into_iter().flatten() {
                if case["fmi_path"].is_null() {
                    let args = vec![
                        "--flow".into(),
                        "client-secret".into(),
                        "--scope".into(),
                        case["scope"].as_str().unwrap().to_owned(),
                    ];
                    cases.push((args, true, case["result"].as_str().unwrap()));
                }
            }
            for (args, app_token, result) in cases {
                let Some(expected) = result.strip_prefix("cache:") else {
                    continue;
                };
                let mut cmd = offline(dir.path(), name);
                if app_token {
                    cmd.env("TOKENHOP_CLIENT_SECRET", "unused");
                }
                let out = run(cmd
                    .args(["--authority", app["authority"].as_str().unwrap()])
                    .args(["--client-id", app["client_id"].as_str().unwrap()])
                    .args(["--json", "token"])
                    .args(&args));
                assert_eq!(out.code, 0, "{name} {args:?}: {}", out.stderr);
                let token: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
                assert_eq!(token["access_token"], expected, "{name} {args:?}");
                assert_eq!(token["source"], "cache", "{name} {args:?}");
                answered += 1;
            }
        }
    }
    assert!(answered >= 9, "only {answered} cached answers");
}

/// MSAL's environment aliases: a cache written under `login.microsoftonline.com` serves
/// an authority on `login.windows.net`, accounts and tokens alike.
#[test]
fn another_host_of_the_cloud_finds_the_same_cache_entries() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = "7f1c3a8e-2b4d-4e6f-9a0b-1c2d3e4f5a6b";
    let out = ok(offline(dir.path(), "public-two-users")
        .args([
            "--authority",
            &format!("https://login.windows.net/{tenant}"),
        ])
        .args(["--client-id", "51f81489-12ee-4a9e-aaae-a2591f45987d"])
        .args([
            "token",
            "--scope",
            "User.Read",
            "--account",
            "bob@contoso.example",
        ]));
    assert_eq!(out.stdout.trim(), "at-bob-51f81489-User.Read");
}

#[test]
fn issuer_declares_a_generic_provider() {
    let env = TestEnv::start();
    let issuer = format!("{}/{}/v2.0", env.emulator.url(), env.emulator.tenant_id());
    let mut cmd = env.cmd();
    cmd.env("TOKENHOP_CLIENT_SECRET", env.secret())
        .args(["--issuer", &issuer])
        .args(["--client-id", &env.client_id(names::CONFIDENTIAL_SECRET)])
        .args([
            "token",
            "--flow",
            "client-secret",
            "--scope",
            "https://storage.azure.com/.default",
        ]);
    crate::common::assert_jwt(ok(&mut cmd).stdout.trim());
    // An issuer URL where the authority is expected says what to do.
    let out = run(env
        .cmd()
        .args(["--authority", "https://idp.example.com"])
        .args([
            "--client-id",
            "x",
            "token",
            "--flow",
            "silent",
            "--scope",
            "openid",
        ]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr.contains("--issuer") && !out.stderr.contains("Authority::oidc"),
        "{}",
        out.stderr
    );
}

#[test]
fn proxy_options_and_the_environment() {
    let env = TestEnv::start();
    let (proxy, port) = dead_proxy();
    let token = ["token", "--scope", "https://storage.azure.com/.default"];
    // --proxy: every request through it; down, a network error naming it.
    let out = run(env.secret_cmd().args(["--proxy", &proxy]).args(token));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("proxy http://127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("cli-proxy-pw"), "{}", out.stderr);
    // The environment's proxy is used by default...
    let out = run(env.secret_cmd().env("HTTP_PROXY", &proxy).args(token));
    assert_eq!(out.code, 5, "{}", out.stderr);
    // ...NO_PROXY bypasses it, and so does --no-proxy.
    ok(env
        .secret_cmd()
        .env("HTTP_PROXY", &proxy)
        .env("NO_PROXY", "127.0.0.1")
        .args(token)
        .arg("--force-refresh"));
    ok(env
        .secret_cmd()
        .env("http_proxy", &proxy)
        .arg("--no-proxy")
        .args(token)
        .arg("--force-refresh"));
}

#[test]
fn no_authority_validation_trusts_an_authority_validation_refuses() {
    let env = TestEnv::start();
    let elsewhere = env.emulator.authority().replace("127.0.0.1", "localhost");
    let token = ["token", "--scope", "https://storage.azure.com/.default"];
    let out = run(env
        .secret_cmd()
        .env("TOKENHOP_AUTHORITY", &elsewhere)
        .args(token));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(out.stderr.contains("issuer"), "{}", out.stderr);
    assert_eq!(env.token_requests(), 0);
    ok(env
        .secret_cmd()
        .env("TOKENHOP_AUTHORITY", &elsewhere)
        .arg("--no-authority-validation")
        .args(token));
    // The same for a configuration file.
    let config = env.secret_config("https://storage.azure.com/.default", "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1", "localhost");
    std::fs::write(&config, text).unwrap();
    let out = run(env
        .cmd()
        .arg("--config")
        .arg(&config)
        .args(["token", "--force-refresh"]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    ok(env.cmd().arg("--config").arg(&config).args([
        "--no-authority-validation",
        "token",
        "--force-refresh",
    ]));
}

#[test]
fn cloud_and_tenant_make_the_authority() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(offline(dir.path(), "confidential")
        .env("TOKENHOP_CLIENT_SECRET", "s")
        .args([
            "--cloud",
            "usgov",
            "--tenant",
            "contoso.onmicrosoft.us",
            "--client-id",
            "c",
        ])
        .args([
            "token",
            "--flow",
            "client-secret",
            "--scope",
            "https://graph.microsoft.us/.default",
        ]));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("https://login.microsoftonline.us/contoso.onmicrosoft.us/"),
        "{}",
        out.stderr
    );
    let out = run(offline(dir.path(), "confidential").args(["--cloud", "mars", "accounts"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("usgov"), "{}", out.stderr);
}

#[test]
fn get_refuses_plain_http_to_another_host_before_any_token() {
    let env = TestEnv::start();
    let out = run(env.secret_cmd().args([
        "get",
        "http://graph.example.com/v1.0/me",
        "--scope",
        "https://graph.microsoft.com/.default",
    ]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(out.stderr.contains("https://"), "{}", out.stderr);
    assert_eq!(env.token_requests(), 0, "a token was fetched for it");
}
