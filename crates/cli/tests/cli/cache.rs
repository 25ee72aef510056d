//! `tokenhop cache …`, `accounts` and `logout`: what they show (never a token), and
//! what they change.

use crate::common::{GRAPH, TestEnv, mode, ok, run};

/// A cache as MSAL writes it, with one signed-in user (alice) and one app token.
fn msal_cache() -> serde_json::Value {
    serde_json::json!({
        "Account": {
            "uid-1.utid-1-login.example.com-utid-1": {
                "home_account_id": "uid-1.utid-1",
                "environment": "login.example.com",
                "realm": "utid-1",
                "local_account_id": "uid-1",
                "username": "alice@contoso.example",
                "authority_type": "MSSTS"
            }
        },
        "RefreshToken": {
            "uid-1.utid-1-login.example.com-refreshtoken-client-1--": {
                "credential_type": "RefreshToken",
                "secret": "rt-value-that-must-not-show",
                "home_account_id": "uid-1.utid-1",
                "environment": "login.example.com",
                "client_id": "client-1",
                "target": "User.Read"
            }
        },
        "AccessToken": {
            "uid-1.utid-1-login.example.com-accesstoken-client-1-utid-1-user.read": {
                "credential_type": "AccessToken",
                "secret": "at-value-that-must-not-show",
                "home_account_id": "uid-1.utid-1",
                "environment": "login.example.com",
                "client_id": "client-1",
                "realm": "utid-1",
                "target": "User.Read",
                "cached_at": "1700000000",
                "expires_on": "4102444800",
                "token_type": "Bearer"
            }
        }
    })
}

fn import_fixture(env: &TestEnv) {
    let file = env.dir.path().join("msal.json");
    std::fs::write(&file, msal_cache().to_string()).unwrap();
    let out = ok(env.cmd().args(["cache", "import"]).arg(&file));
    assert!(out.stdout.contains("imported 3 entries"), "{}", out.stdout);
}

#[test]
fn path_prints_the_cache_file() {
    let env = TestEnv::start();
    let out = ok(env.cmd().args(["cache", "path"]));
    assert_eq!(out.stdout.trim(), env.cache().display().to_string());
    let out = run(env.cmd().args(["--no-cache", "cache", "path"]));
    assert_eq!(
        out.code, 2,
        "--cache and --no-cache conflict: {}",
        out.stderr
    );
}

#[test]
fn list_shows_entries_but_never_a_token_or_the_secret() {
    let env = TestEnv::start();
    let token = ok(env.secret_cmd().args(["token", "--scope", GRAPH]))
        .stdout
        .trim()
        .to_owned();
    import_fixture(&env);
    let client_id = env.client_id(tokenhop_emulator::names::CONFIDENTIAL_SECRET);
    for args in [
        &["cache", "list"][..],
        &["--json", "cache", "list"][..],
        &["-v", "cache", "list"][..],
    ] {
        let out = ok(env.secret_cmd().args(args));
        let shown = format!("{}{}", out.stdout, out.stderr);
        for secret in [token.as_str(), &env.secret(), "rt-value", "at-value"] {
            assert!(!shown.contains(secret), "{args:?} shows {secret}: {shown}");
        }
        assert!(out.stdout.contains(&client_id), "{}", out.stdout);
        assert!(out.stdout.contains(GRAPH), "{}", out.stdout);
        assert!(out.stdout.contains("RefreshToken"), "{}", out.stdout);
    }
    let out = ok(env.cmd().args(["--json", "cache", "list"]));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let app_token = entries
        .iter()
        .find(|e| e["client_id"] == client_id.as_str())
        .unwrap();
    assert_eq!(app_token["kind"], "AccessToken");
    assert_eq!(app_token["target"], GRAPH);
    assert!(app_token["expires_on"].as_u64().unwrap() > 1_700_000_000);
    assert!(app_token.get("secret").is_none());
    let out = ok(env.cmd().args(["cache", "list"]));
    assert!(
        out.stdout.contains("2100-01-01T00:00:00Z"),
        "human expiry: {}",
        out.stdout
    );
}

#[test]
fn export_clear_import_round_trip() {
    let env = TestEnv::start();
    let token = ok(env.secret_cmd().args(["token", "--scope", GRAPH]))
        .stdout
        .trim()
        .to_owned();
    let exported = env.dir.path().join("export.json");
    ok(env.cmd().args(["cache", "export"]).arg(&exported));
    #[cfg(unix)]
    assert_eq!(mode(&exported), 0o600);
    assert!(std::fs::read_to_string(&exported).unwrap().contains(&token));

    let out = ok(env.cmd().args(["cache", "clear"]));
    assert!(out.stdout.contains("removed"), "{}", out.stdout);
    let out = ok(env.cmd().args(["--json", "cache", "list"]));
    assert_eq!(out.stdout.trim(), "[]");

    ok(env.cmd().args(["cache", "import"]).arg(&exported));
    let requests = env.token_requests();
    let out = ok(env.secret_cmd().args(["--json", "token", "--scope", GRAPH]));
    assert!(
        out.stdout.contains(r#""source": "cache""#),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&token));
    assert_eq!(env.token_requests(), requests);
}

#[test]
fn importing_something_else_is_refused_without_quoting_it() {
    let env = TestEnv::start();
    let file = env.dir.path().join("bad.json");
    std::fs::write(&file, r#"{"AccessToken": "secret-looking-value"}"#).unwrap();
    let out = run(env.cmd().args(["cache", "import"]).arg(&file));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        !out.stderr.contains("secret-looking-value"),
        "{}",
        out.stderr
    );
}

#[test]
fn accounts_lists_users_and_logout_removes_one() {
    let env = TestEnv::start();
    let out = ok(env.cmd().arg("accounts"));
    assert!(out.stdout.is_empty());
    import_fixture(&env);

    let out = ok(env.cmd().arg("accounts"));
    for field in [
        "alice@contoso.example",
        "uid-1.utid-1",
        "login.example.com",
        "utid-1",
    ] {
        assert!(out.stdout.contains(field), "{field}: {}", out.stdout);
    }
    let out = ok(env.cmd().args(["--json", "accounts"]));
    let accounts: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(accounts[0]["username"], "alice@contoso.example");
    assert_eq!(accounts[0]["home_account_id"], "uid-1.utid-1");

    let out = run(env
        .cmd()
        .args(["logout", "--account", "bob@contoso.example"]));
    assert_eq!(out.code, 6, "{}", out.stderr);

    let out = ok(env
        .cmd()
        .args(["logout", "--account", "ALICE@contoso.example"]));
    assert!(
        out.stdout.contains("signed out alice@contoso.example"),
        "{}",
        out.stdout
    );
    let out = ok(env.cmd().args(["--json", "accounts"]));
    assert_eq!(out.stdout.trim(), "[]");
    let out = ok(env.cmd().args(["--json", "cache", "list"]));
    assert_eq!(out.stdout.trim(), "[]", "the account's tokens went too");
}
