//! `--cache redis://…`: `tokenhop token` processes that share one real `redis-server`
//! (started by the test on an ephemeral port) make one token request between them,
//! keep MSAL's JSON under MSAL.NET's key, seal it with TOKENHOP_REDIS_ENCRYPTION_KEY,
//! and never show the secret, the token or the key; a wrong key is a clear error;
//! `logout` signs a user out for every process.

use std::process::{Command, Stdio};

use tokenhop_emulator::{EmulatorConfig, names};
use tokenhop_test_redis::RedisServer;

use crate::common::{GRAPH, TestEnv, approving, ok, run};

const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

/// The Redis key of the secret app's token partition.
fn app_partition(env: &TestEnv) -> String {
    let tenant = env
        .emulator
        .authority()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    format!(
        "tokenhop:{{{}_{tenant}_AppTokenCache}}",
        env.client_id(names::CONFIDENTIAL_SECRET)
    )
}

#[test]
fn processes_on_one_redis_make_one_request_and_keep_msal_json_under_msal_dotnets_key() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let env = TestEnv::start();
    // Four `tokenhop token` processes at once, on a cold cache.
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenhop"));
            cmd.env_clear()
                .arg("--cache")
                .arg(redis.url())
                .args(["token", "--flow", "client-secret", "--scope", GRAPH])
                .env("TOKENHOP_AUTHORITY", env.emulator.authority())
                .env(
                    "TOKENHOP_CLIENT_ID",
                    env.client_id(names::CONFIDENTIAL_SECRET),
                )
                .env("TOKENHOP_CLIENT_SECRET", env.secret())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let (mut tokens, mut logged) = (Vec::new(), String::new());
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        tokens.push(String::from_utf8(out.stdout).unwrap());
        logged.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "one token for all; they logged: {logged}"
    );
    assert_eq!(env.token_requests(), 1, "four processes, one request");

    let stored: serde_json::Value =
        serde_json::from_str(&redis.cli(&["GET", &app_partition(&env)])).unwrap();
    assert!(
        stored["AccessToken"].to_string().contains(tokens[0].trim()),
        "MSAL's JSON, readable by other MSAL-format consumers"
    );
    let again = ok(env
        .secret_cmd_on(redis.url())
        .args(["--json", "token", "--scope", GRAPH]));
    assert!(
        again.stdout.contains(r#""source": "cache""#),
        "{}",
        again.stdout
    );
    assert_eq!(env.token_requests(), 1);
}

#[test]
fn a_sealed_cache_shows_no_token_and_a_wrong_key_is_a_clear_error() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let env = TestEnv::start();
    let first = ok(env
        .secret_cmd_on(redis.url())
        .env("TOKENHOP_REDIS_ENCRYPTION_KEY", KEY)
        .args(["-v", "token", "--scope", GRAPH]));
    let token = first.stdout.trim();
    let stored = redis.cli(&["GET", &app_partition(&env)]);
    assert!(serde_json::from_str::<serde_json::Value>(&stored).is_err());
    assert!(!stored.contains(token) && !stored.contains("AccessToken"));
    for secret in [token, env.secret().as_str(), KEY] {
        assert!(!first.stderr.contains(secret), "{}", first.stderr);
    }

    let wrong = run(env
        .secret_cmd_on(redis.url())
        .env("TOKENHOP_REDIS_ENCRYPTION_KEY", "02".repeat(32))
        .args(["token", "--scope", GRAPH]));
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("encrypted with the key whose id is")
            && wrong.stderr.contains("encryption_key"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("panicked"), "{}", wrong.stderr);
    assert!(!wrong.stderr.contains(token) && !wrong.stderr.contains(KEY));
    assert_eq!(env.token_requests(), 1, "a wrong key asks for nothing");

    let short = run(env
        .secret_cmd_on(redis.url())
        .env("TOKENHOP_REDIS_ENCRYPTION_KEY", "too-short")
        .args(["token", "--scope", GRAPH]));
    assert_eq!(short.code, 6, "{}", short.stderr);
    assert!(short.stderr.contains("32 bytes"), "{}", short.stderr);
}

#[test]
fn a_key_without_a_redis_cache_and_file_commands_on_redis_are_configuration_errors() {
    let env = TestEnv::start();
    let key_for_a_file = run(env
        .secret_cmd()
        .env("TOKENHOP_REDIS_ENCRYPTION_KEY", KEY)
        .args(["token", "--scope", GRAPH]));
    assert_eq!(key_for_a_file.code, 6, "{}", key_for_a_file.stderr);
    assert!(
        key_for_a_file
            .stderr
            .contains("TOKENHOP_REDIS_ENCRYPTION_KEY is set"),
        "{}",
        key_for_a_file.stderr
    );
    let path = run(env.cmd_on("redis://127.0.0.1:1/0").args(["cache", "path"]));
    assert_eq!(path.code, 6, "{}", path.stderr);
    assert!(path.stderr.contains("redis-cli"), "{}", path.stderr);
    assert_eq!(env.token_requests(), 0);
}

/// `logout` on a Redis cache signs the user out for every process of the fleet: the
/// account leaves the directory and no partition keeps a token or refresh token of it.
#[test]
fn logout_on_redis_signs_the_user_out_for_the_whole_fleet() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut config = EmulatorConfig::default();
    config.device_code.interval_secs = 1;
    let env = TestEnv::start_with(config);
    let public = || {
        let mut cmd = env.cmd_on(redis.url());
        cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
            .env("TOKENHOP_CLIENT_ID", env.client_id(names::PUBLIC_CLIENT));
        cmd
    };
    let mut sign_in = public();
    sign_in.args(["token", "--flow", "device-code", "--scope", "User.Read"]);
    let signed_in = approving(&env, names::ALICE, sign_in);
    assert_eq!(signed_in.code, 0, "{}", signed_in.stderr);
    let before = env.token_requests();
    let silent = ok(public().args(["--json", "token", "--scope", "User.Read"]));
    assert!(
        silent.stdout.contains(r#""source": "cache""#),
        "{}",
        silent.stdout
    );
    assert_eq!(
        env.token_requests(),
        before,
        "another process finds it in Redis"
    );
    let stored = || -> String {
        redis
            .cli(&["KEYS", "tokenhop:*"])
            .lines()
            .filter(|key| !key.trim().is_empty())
            .map(|key| redis.cli(&["GET", key.trim()]))
            .collect()
    };
    let token = signed_in.stdout.trim();
    assert!(stored().contains(token), "the user's token is in Redis");
    let holds_a_refresh_token = |stored: &str| {
        stored.contains(r#""credential_type":"RefreshToken""#)
            || stored.contains(r#""credential_type": "RefreshToken""#)
    };
    assert!(holds_a_refresh_token(&stored()), "and its refresh token");

    let out = ok(public().args(["logout", "--account", "alice@contoso.onmicrosoft.com"]));
    assert!(out.stdout.contains("signed out alice@"), "{}", out.stdout);
    let accounts = ok(public().args(["accounts"]));
    assert!(!accounts.stdout.contains("alice@"), "{}", accounts.stdout);
    let after = stored();
    assert!(
        !after.contains(token),
        "no access token of alice is left: {after}"
    );
    assert!(
        !holds_a_refresh_token(&after),
        "no refresh token is left: {after}"
    );
    let silent = run(public().args(["token", "--scope", "User.Read"]));
    assert_eq!(silent.code, 3, "interaction required: {}", silent.stderr);
}
