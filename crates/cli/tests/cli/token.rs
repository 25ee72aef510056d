//! `tokenhop token`: every flow, the cache across invocations, exit codes, redaction.

use tokenhop_emulator::names;

use crate::common::{GRAPH, TestEnv, assert_jwt, jwt_part, ok, run};

#[test]
fn client_secret_prints_the_token_alone() {
    let env = TestEnv::start();
    let out = ok(env
        .secret_cmd()
        .args(["token", "--flow", "client-secret", "--scope", GRAPH]));
    let token = out.stdout.trim_end();
    assert_eq!(
        out.stdout,
        format!("{token}\n"),
        "one line, the token alone"
    );
    assert_jwt(token);
    assert_eq!(
        jwt_part(token, 1)["appid"],
        env.client_id(names::CONFIDENTIAL_SECRET).as_str()
    );
}

#[test]
fn json_says_network_then_the_next_invocation_is_served_from_the_cache_file() {
    let env = TestEnv::start();
    let first = ok(env.secret_cmd().args(["--json", "token", "--scope", GRAPH]));
    let first: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(first["source"], "network");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["scopes"], serde_json::json!([GRAPH]));
    assert!(first["expires_on"].as_u64().unwrap() > 1_700_000_000);
    assert_jwt(first["access_token"].as_str().unwrap());
    assert!(env.cache().exists());

    let requests = env.token_requests();
    let second = ok(env.secret_cmd().args(["--json", "token", "--scope", GRAPH]));
    let second: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(second["source"], "cache");
    assert_eq!(second["access_token"], first["access_token"]);
    assert_eq!(
        env.token_requests(),
        requests,
        "a cache hit makes no request"
    );
    assert_eq!(env.emulator.counters().endpoint("discovery"), 1);
}

#[test]
fn force_refresh_goes_to_the_network() {
    let env = TestEnv::start();
    ok(env.secret_cmd().args(["token", "--scope", GRAPH]));
    let out = ok(env
        .secret_cmd()
        .args(["--json", "token", "--scope", GRAPH, "--force-refresh"]));
    assert!(
        out.stdout.contains(r#""source": "network""#),
        "{}",
        out.stdout
    );
    assert_eq!(env.token_requests(), 2);
}

#[test]
fn no_cache_keeps_nothing_on_disk() {
    let env = TestEnv::start();
    let mut cmd = env.secret_cmd();
    cmd.args(["--no-cache", "token", "--scope", GRAPH]);
    let out = run(&mut cmd);
    // --cache (from TestEnv) and --no-cache conflict: a usage error.
    assert_eq!(out.code, 2, "{}", out.stderr);
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_tokenhop"));
    cmd.env_clear()
        .env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .env(
            "TOKENHOP_CLIENT_ID",
            env.client_id(names::CONFIDENTIAL_SECRET),
        )
        .env("TOKENHOP_CLIENT_SECRET", env.secret())
        .env("HOME", env.dir.path())
        .args(["--no-cache", "token", "--scope", GRAPH]);
    assert_jwt(ok(&mut cmd).stdout.trim());
    assert_eq!(std::fs::read_dir(env.dir.path()).unwrap().count(), 0);
}

#[test]
fn client_secret_from_a_file() {
    let env = TestEnv::start();
    let file = env.dir.path().join("secret.txt");
    std::fs::write(&file, format!("{}\n", env.secret())).unwrap();
    let mut cmd = env.cmd();
    cmd.arg("--authority")
        .arg(env.emulator.authority())
        .args(["--client-id", &env.client_id(names::CONFIDENTIAL_SECRET)])
        .arg("--client-secret-file")
        .arg(&file)
        .args(["token", "--scope", GRAPH]);
    assert_jwt(ok(&mut cmd).stdout.trim());
}

#[test]
fn client_certificate_with_the_emulators_certificate() {
    let env = TestEnv::start();
    let pem = env.certificate_file(names::CONFIDENTIAL_CERT);
    let mut cmd = env.cmd();
    cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .env(
            "TOKENHOP_CLIENT_ID",
            env.client_id(names::CONFIDENTIAL_CERT),
        )
        .args(["token", "--flow", "client-certificate", "--scope", GRAPH])
        .arg("--certificate")
        .arg(&pem);
    let token = ok(&mut cmd).stdout.trim().to_owned();
    assert_jwt(&token);
    assert_eq!(
        jwt_part(&token, 1)["appid"],
        env.client_id(names::CONFIDENTIAL_CERT).as_str()
    );
}

#[test]
fn a_missing_certificate_is_a_configuration_error() {
    let env = TestEnv::start();
    let mut cmd = env.cmd();
    cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .env(
            "TOKENHOP_CLIENT_ID",
            env.client_id(names::CONFIDENTIAL_CERT),
        )
        .args([
            "token",
            "--scope",
            GRAPH,
            "--certificate",
            "/nonexistent/cert.pem",
        ]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr.contains("/nonexistent/cert.pem"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_wrong_secret_exits_4_naming_the_aadsts_code_but_not_the_secret() {
    let env = TestEnv::start();
    let wrong = "wrong-secret-0a1b2c3d4e";
    let out = run(env
        .secret_cmd()
        .env("TOKENHOP_CLIENT_SECRET", wrong)
        .args(["-v", "token", "--scope", GRAPH]));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("AADSTS7000215"), "{}", out.stderr);
    assert!(out.stderr.contains("invalid_client"), "{}", out.stderr);
    assert!(!out.stderr.contains(wrong), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unreachable_authority_exits_5() {
    let env = TestEnv::start();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = run(env
        .secret_cmd()
        .env(
            "TOKENHOP_AUTHORITY",
            format!("http://127.0.0.1:{port}/tenant"),
        )
        .args(["token", "--scope", GRAPH]));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("tokenhop: network error"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&env.secret()));
}

#[test]
fn a_missing_client_id_or_scope_exits_6_and_a_bad_flow_2() {
    let env = TestEnv::start();
    let out = run(env
        .secret_cmd()
        .env_remove("TOKENHOP_CLIENT_ID")
        .args(["token", "--scope", GRAPH]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(out.stderr.contains("TOKENHOP_CLIENT_ID"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);

    // Scopes may come from --config or --resource, so their absence is a setting missing.
    let out = run(env.secret_cmd().args(["token"]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(out.stderr.contains("--scope"), "{}", out.stderr);
    let out = run(env
        .secret_cmd()
        .args(["token", "--scope", GRAPH, "--flow", "nope"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(env.token_requests(), 0);
}

#[test]
fn verbose_logs_go_to_stderr_without_the_secret_or_the_token() {
    let env = TestEnv::start();
    let out = ok(env.secret_cmd().args(["-v", "token", "--scope", GRAPH]));
    let token = out.stdout.trim();
    assert_jwt(token);
    assert!(out.stderr.contains("tokenhop.http"), "{}", out.stderr);
    assert!(out.stderr.contains("client_credentials"), "{}", out.stderr);
    assert!(!out.stderr.contains(&env.secret()), "{}", out.stderr);
    assert!(!out.stderr.contains(token), "{}", out.stderr);
    // The token's signature alone is a giveaway too.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!out.stderr.contains(signature), "{}", out.stderr);
}

#[test]
fn managed_identity_from_the_emulators_imds_then_from_the_cache() {
    let env = TestEnv::start();
    let storage = "https://storage.azure.com/.default";
    let mi = || {
        let mut cmd = env.cmd();
        cmd.env("AZURE_POD_IDENTITY_AUTHORITY_HOST", env.emulator.url())
            .args([
                "--json",
                "token",
                "--flow",
                "managed-identity",
                "--scope",
                storage,
            ]);
        cmd
    };
    let first: serde_json::Value = serde_json::from_str(&ok(&mut mi()).stdout).unwrap();
    assert_eq!(first["source"], "network");
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(jwt_part(token, 1)["aud"], "https://storage.azure.com");
    let second: serde_json::Value = serde_json::from_str(&ok(&mut mi()).stdout).unwrap();
    assert_eq!(second["source"], "cache");
    assert_eq!(env.emulator.counters().endpoint("imds"), 1);

    let user = user_assigned_identity(&env);
    let out = ok(env
        .cmd()
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", env.emulator.url())
        .args([
            "token",
            "--scope",
            storage,
            "--mi-client-id",
            &user.client_id,
        ]));
    assert_eq!(
        jwt_part(out.stdout.trim(), 1)["oid"],
        user.object_id.as_str()
    );
}

fn user_assigned_identity(env: &TestEnv) -> tokenhop_emulator::ManagedIdentityConfig {
    env.emulator
        .config()
        .managed_identities
        .iter()
        .find(|i| i.name == names::USER_ASSIGNED_IDENTITY)
        .unwrap()
        .clone()
}

#[test]
fn managed_identity_by_object_or_resource_id_and_v_says_which_host_and_why() {
    let env = TestEnv::start();
    let storage = "https://storage.azure.com/.default";
    let user = user_assigned_identity(&env);
    let header = env.emulator.config().identity_header.clone();
    let out = ok(env
        .cmd()
        .env(
            "IDENTITY_ENDPOINT",
            format!("{}/msi/token", env.emulator.url()),
        )
        .env("IDENTITY_HEADER", &header)
        .args([
            "-v",
            "token",
            "--scope",
            storage,
            "--mi-object-id",
            &user.object_id,
        ]));
    assert_eq!(
        jwt_part(out.stdout.trim(), 1)["oid"],
        user.object_id.as_str()
    );
    assert!(
        out.stderr.contains("managed identity host found")
            && out.stderr.contains("App Service")
            && out
                .stderr
                .contains("IDENTITY_ENDPOINT and IDENTITY_HEADER are set"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&header), "{}", out.stderr);
    assert_eq!(env.emulator.counters().endpoint("app_service"), 1);

    let out = ok(env
        .cmd()
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", env.emulator.url())
        .args([
            "-v",
            "token",
            "--scope",
            storage,
            "--mi-resource-id",
            &user.resource_id,
        ]));
    assert_eq!(
        jwt_part(out.stdout.trim(), 1)["oid"],
        user.object_id.as_str()
    );
    assert!(out.stderr.contains("IMDS"), "{}", out.stderr);

    let out = run(env.cmd().args([
        "token",
        "--scope",
        storage,
        "--mi-client-id",
        &user.client_id,
        "--mi-object-id",
        &user.object_id,
    ]));
    assert_eq!(out.code, 2, "one identity at a time: {}", out.stderr);
}

#[test]
fn managed_identity_on_a_host_without_user_assigned_identities_names_the_host() {
    let env = TestEnv::start();
    let out = run(env
        .cmd()
        .env(
            "MSI_ENDPOINT",
            format!("{}/cloudshell/oauth2/token", env.emulator.url()),
        )
        .args([
            "token",
            "--scope",
            "https://storage.azure.com/.default",
            "--mi-client-id",
            "someone",
        ]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(out.stderr.contains("Cloud Shell"), "{}", out.stderr);
    assert_eq!(env.emulator.counters().endpoint("cloud_shell"), 0);
}

#[test]
fn agent_identity_two_hops_then_from_the_cache() {
    let env = TestEnv::start();
    let blueprint = env.certificate_file(names::AGENT_BLUEPRINT);
    let agent_id = env
        .emulator
        .config()
        .agent_identity(names::AGENT_IDENTITY)
        .unwrap()
        .client_id
        .clone();
    let agent = || {
        let mut cmd = env.cmd();
        cmd.env("TOKENHOP_AUTHORITY", env.emulator.authority())
            .args([
                "--json",
                "token",
                "--flow",
                "agent-identity",
                "--scope",
                GRAPH,
            ])
            .args(["--blueprint-id", &env.client_id(names::AGENT_BLUEPRINT)])
            .arg("--blueprint-certificate")
            .arg(&blueprint)
            .args(["--agent-id", &agent_id]);
        cmd
    };
    let first: serde_json::Value = serde_json::from_str(&ok(&mut agent()).stdout).unwrap();
    assert_eq!(first["source"], "network");
    let claims = jwt_part(first["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["appid"], agent_id.as_str());
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(env.token_requests(), 2, "two hops");
    let second: serde_json::Value = serde_json::from_str(&ok(&mut agent()).stdout).unwrap();
    assert_eq!(second["source"], "cache");
    assert_eq!(env.token_requests(), 2);
}

#[test]
fn agent_identity_names_every_missing_option() {
    let env = TestEnv::start();
    let out = run(env
        .cmd()
        .args(["token", "--flow", "agent-identity", "--scope", GRAPH]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    for option in [
        "--authority",
        "--blueprint-id",
        "--blueprint-certificate",
        "--agent-id",
    ] {
        assert!(out.stderr.contains(option), "{option}: {}", out.stderr);
    }
}

#[test]
fn with_a_config_file_the_source_is_that_of_the_files_credential_and_cache() {
    let env = TestEnv::start();
    let cache = env.dir.path().join("config-cache.json");
    let config = env.secret_config(GRAPH, &format!("cache:\n  path: {}\n", cache.display()));
    let token = |expected_source: &str| {
        let (out, token) = env.config_token(&config);
        assert_eq!(token["source"], expected_source, "{}", out.stdout);
    };
    token("network");
    let requests = env.token_requests();
    token("cache");
    assert_eq!(env.token_requests(), requests);
    assert!(
        cache.exists() && !env.cache().exists(),
        "the file's cache, not --cache, holds the token"
    );
}

#[test]
fn a_throttle_beyond_the_wait_budget_exits_with_7_naming_the_time() {
    let env = TestEnv::start();
    env.emulator.inject(
        tokenhop_emulator::Fault::new("token", tokenhop_emulator::FaultKind::Status)
            .status(429)
            .retry_after("120"),
    );
    let started = std::time::Instant::now();
    let out = run(env.secret_cmd().args(["token", "--scope", GRAPH]));
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert!(out.stderr.contains("120 s"), "{}", out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(env.token_requests(), 1);
}
