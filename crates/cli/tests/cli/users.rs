//! User flows from the command line: device code, silent from the cache, accounts and
//! logout, login; the Agent ID three-hop chain and `get`; on-behalf-of; workload
//! identity; a configuration file.

use tokenhop_emulator::{EmulatorConfig, names};

use crate::common::{GRAPH, TestEnv, approving, jwt_part, ok, run};

fn fast_device_codes() -> TestEnv {
    let mut config = EmulatorConfig::default();
    config.device_code.interval_secs = 1;
    TestEnv::start_with(config)
}

/// `tokenhop` as the public client.
fn public_cmd(env: &TestEnv) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .env("TOKENHOP_CLIENT_ID", env.client_id(names::PUBLIC_CLIENT));
    cmd
}

#[test]
fn device_code_then_silent_from_the_cache_then_logout_needs_interaction() {
    let env = fast_device_codes();
    let mut cmd = public_cmd(&env);
    cmd.args([
        "--json",
        "token",
        "--flow",
        "device-code",
        "--scope",
        "User.Read",
    ]);
    let out = approving(&env, names::ALICE, cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("devicelogin"),
        "the message goes to stderr: {}",
        out.stderr
    );
    let token: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(token["source"], "network");

    let before = env.token_requests();
    let out = ok(public_cmd(&env).args(["--json", "token", "--scope", "User.Read"]));
    let silent: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(silent["source"], "cache");
    assert_eq!(silent["access_token"], token["access_token"]);
    assert_eq!(env.token_requests(), before, "a cache hit makes no request");

    let out = ok(public_cmd(&env).args(["accounts"]));
    assert!(
        out.stdout.contains("alice@contoso.onmicrosoft.com"),
        "{}",
        out.stdout
    );
    ok(public_cmd(&env).args(["logout", "--account", "alice@contoso.onmicrosoft.com"]));
    let out = run(public_cmd(&env).args(["token", "--scope", "User.Read"]));
    assert_eq!(out.code, 3, "interaction required: {}", out.stderr);
}

#[test]
fn login_by_device_code_caches_the_account() {
    let env = fast_device_codes();
    let mut cmd = public_cmd(&env);
    cmd.args(["login", "--device-code", "--scope", "User.Read"]);
    let out = approving(&env, names::BOB, cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = ok(public_cmd(&env).args(["--json", "accounts"]));
    assert!(
        out.stdout.contains("bob@contoso.onmicrosoft.com"),
        "{}",
        out.stdout
    );
}

fn agent_args(env: &TestEnv) -> Vec<String> {
    let config = env.emulator.config();
    vec![
        "--blueprint-id".into(),
        config
            .app(names::AGENT_BLUEPRINT)
            .unwrap()
            .client_id
            .clone(),
        "--blueprint-certificate".into(),
        env.certificate_file(names::AGENT_BLUEPRINT)
            .display()
            .to_string(),
        "--agent-id".into(),
        config
            .agent_identity(names::AGENT_IDENTITY)
            .unwrap()
            .client_id
            .clone(),
        "--agent-user-upn".into(),
        config.user(names::AGENT_USER).unwrap().upn.clone(),
    ]
}

#[test]
fn the_agent_user_chain_gets_a_delegated_token_and_get_reaches_me() {
    let env = TestEnv::start();
    let mut cmd = env.cmd();
    cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .args(["token", "--resource", "graph"])
        .args(agent_args(&env));
    let out = ok(&mut cmd);
    let claims = jwt_part(out.stdout.trim(), 1);
    assert_eq!(claims["idtyp"], "user");
    assert_eq!(claims["xms_sub_fct"], "13");

    let mut cmd = env.cmd();
    cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .args([
            "get",
            &format!("{}/v1.0/me", env.emulator.url()),
            "--scope",
            GRAPH,
        ])
        .args(agent_args(&env));
    let out = ok(&mut cmd);
    assert!(
        out.stdout.contains("agent-user@contoso.onmicrosoft.com"),
        "{}",
        out.stdout
    );
    assert_eq!(
        env.emulator.counters().grant("user_fic"),
        1,
        "the cached token served get"
    );
}

#[test]
fn on_behalf_of_workload_identity_and_a_config_file() {
    let env = fast_device_codes();
    let middle = env.client_id(names::CONFIDENTIAL_SECRET);
    let mut cmd = public_cmd(&env);
    cmd.args([
        "token",
        "--flow",
        "device-code",
        "--scope",
        &format!("api://{middle}/access_as_user"),
    ]);
    let out = approving(&env, names::ALICE, cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let incoming = env.dir.path().join("incoming");
    std::fs::write(&incoming, out.stdout.trim()).unwrap();
    let out = ok(env
        .secret_cmd()
        .args(["token", "--flow", "on-behalf-of", "--assertion-file"])
        .arg(&incoming)
        .args(["--scope", "https://graph.microsoft.com/User.Read"]));
    let claims = jwt_part(out.stdout.trim(), 1);
    assert_eq!(claims["appid"], middle.as_str());
    assert_eq!(claims["upn"], "alice@contoso.onmicrosoft.com");

    let token_file = env.dir.path().join("federated");
    std::fs::write(
        &token_file,
        env.emulator
            .federated_token(names::WORKLOAD_SUBJECT)
            .unwrap(),
    )
    .unwrap();
    let out = ok(env
        .cmd()
        .env("AZURE_CLIENT_ID", env.client_id(names::WORKLOAD_APP))
        .env("AZURE_TENANT_ID", env.emulator.tenant_id())
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file)
        .env("AZURE_AUTHORITY_HOST", env.emulator.url())
        .args(["token", "--flow", "workload-identity", "--scope", GRAPH]));
    assert_eq!(
        jwt_part(out.stdout.trim(), 1)["appid"],
        env.client_id(names::WORKLOAD_APP).as_str()
    );

    let config = env.secret_config("https://storage.azure.com/.default", "");
    let (out, token) = env.config_token(&config);
    assert_eq!(
        jwt_part(token["access_token"].as_str().unwrap(), 1)["aud"],
        "https://storage.azure.com"
    );
    assert!(!out.stderr.contains(&env.secret()));
}

#[test]
fn get_with_cp1_meets_a_cae_challenge_asks_with_the_claims_and_says_so() {
    let env = TestEnv::start();
    let agent = |args: &[&str]| {
        let mut cmd = env.cmd();
        cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
            .args(["--client-capability", "cp1"])
            .args(args)
            .args(agent_args(&env));
        cmd
    };
    let out = ok(&mut agent(&["token", "--resource", "graph"]));
    let claims = jwt_part(out.stdout.trim(), 1);
    assert_eq!(claims["xms_cc"], serde_json::json!(["cp1"]), "a CAE token");

    let revocation =
        serde_json::from_value(serde_json::json!({"user": names::AGENT_USER, "cae": true}))
            .unwrap();
    assert_eq!(env.emulator.revoke(&revocation).unwrap(), 1);
    env.emulator.reset_counters();
    let me = format!("{}/v1.0/me", env.emulator.url());
    let out = ok(&mut agent(&["-v", "get", &me, "--scope", GRAPH]));
    assert!(
        out.stdout.contains("agent-user@contoso.onmicrosoft.com"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("claims challenge (insufficient_claims)"),
        "-v says what happened: {}",
        out.stderr
    );
    let counters = env.emulator.counters();
    assert_eq!(
        (counters.endpoint("me"), counters.grant("user_fic")),
        (2, 1)
    );
}
