//! `--flow azure-cli`, `--flow environment`, `--flow default` and `accounts --azure-cli`
//! against a directory laid out as `az login` leaves it, and a stub `az` on `PATH`.

use std::path::Path;

use serde_json::json;
use tokenhop_emulator::names;

use crate::common::{TestEnv, approving, jwt_part, ok, run};

const ARM: &str = "https://management.core.windows.net//.default";
const ALICE: &str = "alice@contoso.onmicrosoft.com";

fn subscription(id: &str, name: &str, tenant: &str, default: bool) -> serde_json::Value {
    json!({"id": id, "name": name, "state": "Enabled", "isDefault": default, "tenantId": tenant,
           "environmentName": "Emulator", "homeTenantId": tenant, "managedByTenants": [],
           "user": {"name": ALICE, "type": "user"}})
}

/// `azureProfile.json` (with the CLI's BOM) and `clouds.config` naming the emulator.
fn write_profile(env: &TestEnv, dir: &Path, subscriptions: serde_json::Value) {
    std::fs::create_dir_all(dir).unwrap();
    let profile = json!({"installationId": "x", "subscriptions": subscriptions}).to_string();
    std::fs::write(
        dir.join("azureProfile.json"),
        [b"\xEF\xBB\xBF".as_slice(), profile.as_bytes()].concat(),
    )
    .unwrap();
    std::fs::write(
        dir.join("clouds.config"),
        format!(
            "[Emulator]\nendpoint_active_directory = {}\n",
            env.emulator.url()
        ),
    )
    .unwrap();
}

/// Alice signed in as the Azure CLI (its client id, device code, Resource Manager), in
/// two subscriptions of two tenants.
fn az_login(env: &TestEnv) -> std::path::PathBuf {
    let dir = env.dir.path().join("azure");
    std::fs::create_dir_all(&dir).unwrap();
    let mut login = assert_cmd::Command::new(env!("CARGO_BIN_EXE_tokenhop"));
    login
        .env_clear()
        .env("TOKENHOP_AUTHORITY", env.emulator.authority())
        .env("TOKENHOP_CLIENT_ID", env.client_id(names::FAMILY_CLIENT))
        .arg("--cache")
        .arg(dir.join("msal_token_cache.json"))
        .args(["login", "--device-code", "--scope", ARM]);
    let out = approving(env, names::ALICE, login);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let other = env.emulator.config().other_tenants[0].tenant_id.clone();
    write_profile(
        env,
        &dir,
        json!([
            subscription(
                "11111111-0000-4000-8000-000000000001",
                "Contoso Dev",
                env.emulator.tenant_id(),
                true
            ),
            subscription(
                "22222222-0000-4000-8000-000000000002",
                "Northwind Prod",
                &other,
                false
            ),
        ]),
    );
    dir
}

fn json_token(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    serde_json::from_str(&ok(cmd).stdout).unwrap()
}

#[test]
fn azure_cli_reuses_az_login_from_the_cache_and_by_subscription() {
    let env = TestEnv::start();
    assert_eq!(
        env.client_id(names::FAMILY_CLIENT),
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "the CLI's client id"
    );
    let dir = az_login(&env);
    env.emulator.reset_counters();
    let cli = || {
        let mut cmd = env.cmd();
        cmd.env("AZURE_CONFIG_DIR", &dir).args([
            "--json",
            "token",
            "--flow",
            "azure-cli",
            "--scope",
            ARM,
        ]);
        cmd
    };
    let hit = json_token(&mut cli());
    assert_eq!(hit["source"], "cache", "{hit}");
    assert_eq!(env.token_requests(), 0);

    let other = env.emulator.config().other_tenants[0].tenant_id.clone();
    let northwind = json_token(cli().args(["--subscription", "Northwind Prod"]));
    assert_eq!(northwind["source"], "network");
    assert_eq!(
        jwt_part(northwind["access_token"].as_str().unwrap(), 1)["tid"],
        other.as_str()
    );
    let again = json_token(cli().args(["--tenant", &other]));
    assert_eq!(again["source"], "cache", "written back to the CLI's cache");
    assert_eq!(env.emulator.counters().grant("refresh_token"), 1);

    let both = run(cli().args(["--tenant", "t", "--subscription", "s"]));
    assert_eq!(both.code, 6, "{}", both.stderr);
    assert!(both.stderr.contains("not both"), "{}", both.stderr);
    let misplaced = run(env
        .secret_cmd()
        .args(["token", "--scope", ARM, "--subscription", "s"]));
    assert_eq!(misplaced.code, 6, "{}", misplaced.stderr);
    assert!(
        misplaced.stderr.contains("for --flow azure-cli"),
        "{}",
        misplaced.stderr
    );

    let accounts: serde_json::Value = serde_json::from_str(
        &ok(env
            .cmd()
            .env("AZURE_CONFIG_DIR", &dir)
            .args(["--json", "accounts", "--azure-cli"]))
        .stdout,
    )
    .unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 2, "{accounts}");
    assert_eq!(accounts[0]["default"], true);
    assert_eq!(accounts[1]["tenant"], other.as_str());
    assert_eq!(accounts[0]["in_token_cache"], true);
    let table = ok(env
        .cmd()
        .env("AZURE_CONFIG_DIR", &dir)
        .args(["accounts", "--azure-cli"]))
    .stdout;
    assert!(
        table.contains("Northwind Prod") && table.contains(ALICE),
        "{table}"
    );
}

#[test]
fn azure_cli_runs_az_on_path_when_the_cache_is_encrypted_and_says_what_to_run_when_nobody_signed_in()
 {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::start();
    let dir = env.dir.path().join("azure");
    write_profile(
        &env,
        &dir,
        json!([subscription("s", "S", env.emulator.tenant_id(), true)]),
    );
    std::fs::write(dir.join("msal_token_cache.bin"), b"\x01encrypted").unwrap();
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = bin.join("az.log");
    std::fs::write(
        bin.join("az"),
        format!("#!/bin/sh\necho \"$@\" > '{}'\necho '{{\"accessToken\": \"token-from-az\", \"expires_on\": 4102444800, \"tokenType\": \"Bearer\"}}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("az"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = ok(env
        .cmd()
        .env("AZURE_CONFIG_DIR", &dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .args([
            "token",
            "--flow",
            "azure-cli",
            "--subscription",
            "S",
            "--scope",
            ARM,
        ]));
    assert_eq!(out.stdout.trim(), "token-from-az");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("account get-access-token --output json --scope {ARM} --subscription S\n")
    );

    let empty = env.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(env.cmd().env("AZURE_CONFIG_DIR", &empty).args([
        "token",
        "--flow",
        "azure-cli",
        "--scope",
        ARM,
    ]));
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("nobody is signed in to the Azure CLI")
            && out.stderr.contains("`az login`"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn environment_and_the_default_chain_from_the_command_line() {
    let env = TestEnv::start();
    let storage = "https://storage.azure.com/.default";
    let app = |cmd: &mut assert_cmd::Command| {
        cmd.env("AZURE_TENANT_ID", env.emulator.tenant_id())
            .env("AZURE_CLIENT_ID", env.client_id(names::CONFIDENTIAL_SECRET))
            .env("AZURE_CLIENT_SECRET", env.secret())
            .env("AZURE_AUTHORITY_HOST", env.emulator.url());
    };
    let mut cmd = env.cmd();
    app(&mut cmd);
    let token = ok(cmd.args(["token", "--flow", "environment", "--scope", storage])).stdout;
    assert_eq!(
        jwt_part(token.trim(), 1)["appid"],
        env.client_id(names::CONFIDENTIAL_SECRET).as_str()
    );

    let mut cmd = env.cmd();
    app(&mut cmd);
    let out = ok(cmd.args(["-v", "token", "--flow", "default", "--scope", storage]));
    assert!(
        out.stderr
            .contains("the default chain uses this credential")
            && out.stderr.contains("environment"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&env.secret()));

    let out = run(env
        .cmd()
        .env("AZURE_CONFIG_DIR", env.dir.path().join("nothing"))
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
        .args(["token", "--flow", "default", "--scope", storage]));
    assert_eq!(out.code, 6, "nothing set up is a configuration error");
    for link in [
        "environment: not configured",
        "workload-identity: not configured",
        "managed-identity: not configured",
        "azure-cli: not configured",
    ] {
        assert!(out.stderr.contains(link), "{link}: {}", out.stderr);
    }
}

/// The flows whose authority comes from elsewhere refuse the options that would name
/// one, instead of ignoring them.
#[test]
fn flows_with_their_own_authority_refuse_authority_options() {
    let env = TestEnv::start();
    for (flow, option) in [
        (
            "azure-cli",
            ["--authority", "https://login.microsoftonline.com/t"],
        ),
        ("azure-cli", ["--cloud", "china"]),
        ("environment", ["--tenant", "contoso.onmicrosoft.com"]),
        ("default", ["--issuer", "https://idp.example"]),
        (
            "environment",
            ["--client-id", "11111111-2222-3333-4444-555555555555"],
        ),
        ("azure-cli", ["--client-secret-file", "/nonexistent/secret"]),
    ] {
        let out = run(env.cmd().args(option).args([
            "token",
            "--flow",
            flow,
            "--scope",
            "https://storage.azure.com/.default",
        ]));
        assert_eq!(out.code, 6, "{flow} {option:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(option[0]) && out.stderr.contains("is not used by --flow"),
            "{flow}: {}",
            out.stderr
        );
    }
}
