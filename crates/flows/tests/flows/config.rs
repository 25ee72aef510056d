//! The configuration loader: a file for each flow in JSON, YAML and TOML builds a
//! working credential against the emulator; bad files give errors that name the file
//! and the field, and never a secret.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokenhop_core::{Error, TokenProvider};
use tokenhop_emulator::{Emulator, EmulatorConfig, EmulatorHandle, names};
use tokenhop_flows::{
    AuthConfig, CertificateSource, FlowConfig, Pkcs11Key, Pkcs11Pin, SecretSource,
};

fn write(dir: &Path, name: &str, config: &Value) -> Vec<PathBuf> {
    let formats = [
        ("json", serde_json::to_string_pretty(config).unwrap()),
        ("yaml", serde_yaml_ng::to_string(config).unwrap()),
        ("toml", toml::to_string(config).unwrap()),
    ];
    formats
        .into_iter()
        .map(|(extension, text)| {
            let path = dir.join(format!("{name}.{extension}"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// One configuration per flow that can run headless against the emulator.
fn configs(emulator: &EmulatorHandle, dir: &Path) -> Vec<(&'static str, Value)> {
    let config = emulator.config();
    let app = |name: &str| config.app(name).unwrap().client_id.clone();
    let secret_file = dir.join("secret");
    std::fs::write(
        &secret_file,
        config
            .app(names::CONFIDENTIAL_SECRET)
            .unwrap()
            .secret
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    let token_file = dir.join("federated-token");
    std::fs::write(
        &token_file,
        emulator.federated_token(names::WORKLOAD_SUBJECT).unwrap(),
    )
    .unwrap();
    let agent = json!({
        "authority_host": emulator.url(),
        "tenant_id": emulator.tenant_id(),
        "blueprint_id": app(names::AGENT_BLUEPRINT),
        "blueprint_certificate": crate::common::pem_file(emulator, dir, names::AGENT_BLUEPRINT),
        "agent_id": config.agent_identity(names::AGENT_IDENTITY).unwrap().client_id,
        "resource": "storage",
    });
    let mut agent_user = agent.clone();
    agent_user["agent_user_upn"] = json!(config.user(names::AGENT_USER).unwrap().upn);
    agent_user["resource"] = json!("graph");
    let flows = vec![
        (
            "client-secret",
            json!({"type": "client-secret", "authority": emulator.authority(), "client_id": app(names::CONFIDENTIAL_SECRET), "client_secret": {"file": secret_file}}),
        ),
        (
            "client-certificate",
            json!({"type": "client-certificate", "authority": emulator.authority(), "client_id": app(names::CONFIDENTIAL_CERT), "certificate": crate::common::pem_file(emulator, dir, names::CONFIDENTIAL_CERT)}),
        ),
        (
            "device-code",
            json!({"type": "device-code", "authority": emulator.authority(), "client_id": app(names::PUBLIC_CLIENT)}),
        ),
        (
            "managed-identity",
            json!({"type": "managed-identity", "client_id": config.managed_identities[1].client_id, "endpoint": format!("{}/metadata/identity/oauth2/token", emulator.url())}),
        ),
        (
            "workload-identity",
            json!({"type": "workload-identity", "client_id": app(names::WORKLOAD_APP), "tenant_id": emulator.tenant_id(), "token_file": token_file, "authority_host": emulator.url()}),
        ),
        (
            "agent-identity",
            json!({"type": "agent-identity"})
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain(agent.as_object().unwrap().clone())
                .collect(),
        ),
        (
            "agent-user",
            json!({"type": "agent-user"})
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain(agent_user.as_object().unwrap().clone())
                .collect(),
        ),
    ];
    flows
        .into_iter()
        .map(|(name, flow)| {
            let scopes = if name == "device-code" {
                json!(["User.Read"])
            } else {
                json!(["https://storage.azure.com/.default"])
            };
            let scopes = if name == "agent-user" {
                json!(["https://graph.microsoft.com/.default"])
            } else {
                scopes
            };
            (
                name,
                json!({"flow": flow, "scopes": scopes, "cache": {"disabled": true}}),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_flow_in_every_format_builds_a_working_credential() {
    let mut config = EmulatorConfig::default();
    config.device_code.interval_secs = 1;
    let emulator = Emulator::builder().config(config).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, config) in configs(&emulator, dir.path()) {
        for path in write(dir.path(), name, &config) {
            let built =
                AuthConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let provider = built.provider();
            let token = if name == "device-code" {
                // The user approves whatever code is pending, as at the verification page.
                let approver = async {
                    while !emulator.approve_device_code(None, names::ALICE, 0) {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                };
                let (token, ()) = tokio::join!(provider.token(), approver);
                token
            } else {
                provider.token().await
            };
            let token = token.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                token.secret.expose_secret().split('.').count(),
                3,
                "{}",
                path.display()
            );
        }
    }
    let interactive = dir.path().join("interactive.yaml");
    std::fs::write(&interactive, format!("flow:\n  type: interactive\n  authority: {}\n  client_id: x\n  port: 0\ncache:\n  disabled: true\n", emulator.authority())).unwrap();
    AuthConfig::load(&interactive).unwrap();
}

/// Every flow there is can be written in a file, and every file's flow is built by
/// `GraphAuth` (the CLI's side of the same walk is a CLI test).
#[tokio::test]
async fn every_flow_kind_is_a_config_type_that_graph_auth_builds() {
    use tokenhop_flows::{CacheLocation, FlowKind, GraphAuth};
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let public = json!({"authority": emulator.authority(), "client_id": "public-app"});
    let with_type = |kind: &str, settings: &Value| {
        let mut flow = settings.as_object().unwrap().clone();
        flow.insert("type".into(), json!(kind));
        json!({"flow": flow, "cache": {"disabled": true}})
    };
    let mut files: Vec<(String, Value)> = configs(&emulator, dir.path())
        .into_iter()
        .map(|(name, config)| (name.to_owned(), config))
        .collect();
    for kind in ["silent", "interactive"] {
        files.push((kind.to_owned(), with_type(kind, &public)));
    }
    let obo = json!({
        "authority": emulator.authority(),
        "client_id": "middle-tier",
        "client_secret": "${TOKENHOP_TEST_OBO_SECRET_UNSET}",
        "user_assertion": "incoming.user.token",
    });
    files.push(("on-behalf-of".to_owned(), with_type("on-behalf-of", &obo)));
    let cli = json!({"config_dir": dir.path().join("azure"), "subscription": "Dev", "az_timeout_secs": 3});
    files.push(("azure-cli".to_owned(), with_type("azure-cli", &cli)));
    let environment = json!({"authority_host": emulator.url()});
    files.push((
        "environment".to_owned(),
        with_type("environment", &environment),
    ));
    let chain = json!({"exclude": ["managed-identity"]});
    files.push(("default".to_owned(), with_type("default", &chain)));
    let mut seen = Vec::new();
    for (name, config) in files {
        let path = dir.path().join(format!("kind-{name}.json"));
        std::fs::write(&path, config.to_string()).unwrap();
        let loaded = AuthConfig::from_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.flow.kind().name(), name);
        let built = GraphAuth::new()
            .cache(CacheLocation::Disabled)
            .flow(loaded.flow.clone());
        match (name.as_str(), built) {
            // Its secret's variable is not set: the build reads it and says so.
            ("on-behalf-of", Err(e)) => {
                assert!(e.to_string().contains("flow.client_secret"), "{e}")
            }
            // The test process sets no AZURE_* app variables: the build says which.
            ("environment", Err(e)) => {
                assert!(e.to_string().contains("AZURE_TENANT_ID"), "{e}")
            }
            (_, Err(e)) => panic!("{name}: {e}"),
            (_, Ok(_)) => {}
        }
        seen.push(loaded.flow.kind());
    }
    for kind in FlowKind::ALL {
        assert!(seen.contains(&kind), "no config file for {kind}");
    }
}

fn error_for(dir: &Path, file: &str, text: &str) -> String {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    let err = AuthConfig::load(&path).unwrap_err();
    assert!(matches!(err, Error::Configuration { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(file), "names the file: {message}");
    message
}

#[test]
fn bad_files_name_the_file_and_the_field_and_never_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let literal = "literal-s3cret-9f2c";
    let unknown = error_for(
        dir.path(),
        "unknown.yaml",
        &format!(
            "flow:\n  type: client-secret\n  authority: https://login.microsoftonline.com/t\n  client_id: c\n  client_secret: {literal}\n  clientt_id: typo\n"
        ),
    );
    assert!(unknown.contains("clientt_id"), "{unknown}");
    let wrong_type = error_for(
        dir.path(),
        "wrong.json",
        &format!(
            r#"{{"flow": {{"type": "interactive", "authority": "https://login.microsoftonline.com/t", "client_id": "c", "port": "eighty"}}, "scopes": ["{literal}"]}}"#
        ),
    );
    assert!(wrong_type.contains("flow.port"), "{wrong_type}");
    let toml_type = error_for(
        dir.path(),
        "type.toml",
        "scopes = 5\n[flow]\ntype = \"device-code\"\nauthority = \"https://login.microsoftonline.com/t\"\nclient_id = \"c\"\n",
    );
    assert!(toml_type.contains("scopes"), "{toml_type}");
    let missing_var = error_for(
        dir.path(),
        "env.toml",
        "[flow]\ntype = \"client-secret\"\nauthority = \"https://login.microsoftonline.com/t\"\nclient_id = \"c\"\nclient_secret = \"${TOKENHOP_TEST_SURELY_UNSET}\"\n",
    );
    assert!(
        missing_var.contains("TOKENHOP_TEST_SURELY_UNSET")
            && missing_var.contains("flow.client_secret"),
        "{missing_var}"
    );
    let unreadable = error_for(
        dir.path(),
        "file.yaml",
        "flow:\n  type: client-secret\n  authority: https://login.microsoftonline.com/t\n  client_id: c\n  client_secret: { file: /nonexistent/secret }\n",
    );
    assert!(
        unreadable.contains("/nonexistent/secret") && unreadable.contains("flow.client_secret"),
        "{unreadable}"
    );
    let unknown_flow = error_for(
        dir.path(),
        "flow.json",
        r#"{"flow": {"type": "password", "client_id": "c"}}"#,
    );
    assert!(unknown_flow.contains("password"), "{unknown_flow}");
    for message in [
        &unknown,
        &wrong_type,
        &missing_var,
        &unreadable,
        &unknown_flow,
    ] {
        assert!(!message.contains(literal), "no secret in errors: {message}");
    }
    let missing_file = AuthConfig::load(&dir.path().join("absent.yaml"))
        .unwrap_err()
        .to_string();
    assert!(missing_file.contains("absent.yaml"), "{missing_file}");
}

/// `{ pkcs11: { module, uri, pin } }` wherever a certificate goes, in every format; the
/// token itself is the CLI tests' and tokenhop-pkcs11's (SoftHSM2): here the module
/// cannot load, and the error names the field and the module.
#[test]
fn a_pkcs11_key_is_a_certificate_in_every_format_and_errors_name_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let module = "/nonexistent/libvendor-pkcs11.so";
    let uri = "pkcs11:token=prod%20hsm;object=app-key";
    let expected = Pkcs11Key::new(module, uri, Pkcs11Pin::Env("APP_HSM_PIN".into()));
    let files = [
        (
            "hsm.yaml",
            format!(
                "flow:\n  type: client-certificate\n  authority: https://login.microsoftonline.com/t\n  client_id: c\n  certificate:\n    pkcs11: {{ module: {module}, uri: \"{uri}\", pin: {{ env: APP_HSM_PIN }} }}\n"
            ),
            "flow.certificate.pkcs11",
        ),
        (
            "hsm.toml",
            format!(
                "[flow]\ntype = \"on-behalf-of\"\nauthority = \"https://login.microsoftonline.com/t\"\nclient_id = \"c\"\nuser_assertion = \"x\"\n[flow.certificate.pkcs11]\nmodule = \"{module}\"\nuri = \"{uri}\"\npin = {{ env = \"APP_HSM_PIN\" }}\n"
            ),
            "flow.certificate.pkcs11",
        ),
        (
            "hsm.json",
            json!({"flow": {"type": "agent-user", "tenant_id": "t", "blueprint_id": "b", "agent_id": "a", "agent_user_id": "u",
                "blueprint_certificate": {"pkcs11": {"module": module, "uri": uri, "pin": {"env": "APP_HSM_PIN"}}}}})
            .to_string(),
            "flow.blueprint_certificate.pkcs11",
        ),
    ];
    for (name, text, field) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let parsed = AuthConfig::from_file(&path).unwrap();
        let key = match &parsed.flow {
            FlowConfig::ClientCertificate(c) => &c.certificate,
            FlowConfig::OnBehalfOf(c) => c.certificate.as_ref().unwrap(),
            FlowConfig::AgentUser(c) => &c.blueprint_certificate,
            other => panic!("{name}: {other:?}"),
        };
        assert!(
            matches!(key, CertificateSource::Pkcs11(k) if *k == expected),
            "{name}: {key:?}"
        );
        let error = AuthConfig::load(&path).unwrap_err();
        assert!(matches!(error, Error::Configuration { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains(field) && message.contains(module) && message.contains(name),
            "{message}"
        );
    }
    let pin = "4711-the-pin-itself";
    for (file, text, field) in [
        (
            "no-pin.yaml",
            format!("flow:\n  type: client-certificate\n  authority: https://login.microsoftonline.com/t\n  client_id: c\n  certificate: {{ pkcs11: {{ module: m.so, uri: \"{uri}\" }} }}\n"),
            "pin",
        ),
        (
            "inline-pin.yaml",
            format!("flow:\n  type: client-certificate\n  authority: https://login.microsoftonline.com/t\n  client_id: c\n  certificate: {{ pkcs11: {{ module: m.so, uri: \"{uri}\", pin: {pin} }} }}\n"),
            "flow.certificate.pkcs11.pin",
        ),
        (
            "numeric-pin.yaml",
            "flow:\n  type: client-certificate\n  authority: https://login.microsoftonline.com/t\n  client_id: c\n  certificate: { pkcs11: { module: m.so, uri: \"pkcs11:object=k\", pin: 4711 } }\n".into(),
            "never the PIN itself",
        ),
        (
            "pin-value.json",
            json!({"flow": {"type": "client-certificate", "authority": "https://login.microsoftonline.com/t", "client_id": "c",
                "certificate": {"pkcs11": {"module": "m.so", "uri": "pkcs11:token=x?pin-value=4711-the-pin-itself", "pin": {"file": "/p"}}}}}).to_string(),
            "a PIN in the URI is refused",
        ),
        (
            "typo.json",
            json!({"flow": {"type": "client-certificate", "authority": "https://login.microsoftonline.com/t", "client_id": "c",
                "certificate": {"pkcs11": {"modul": "m.so", "uri": uri, "pin": {"env": "P"}}}}}).to_string(),
            "modul",
        ),
        (
            "password.json",
            json!({"flow": {"type": "client-certificate", "authority": "https://login.microsoftonline.com/t", "client_id": "c",
                "password": {"env": "P"}, "certificate": {"pkcs11": {"module": "m.so", "uri": uri, "pin": {"env": "P"}}}}}).to_string(),
            "a password is for a certificate file",
        ),
    ] {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let message = AuthConfig::load(&path).unwrap_err().to_string();
        assert!(message.contains(field), "{file}: {message}");
        assert!(!message.contains(pin) && !message.contains("4711"), "{file}: {message}");
    }
    let debug = format!("{expected:?}");
    assert!(
        debug.contains("prod%20hsm") && debug.contains("APP_HSM_PIN"),
        "{debug}"
    );
}

#[test]
fn secrets_come_from_variables_files_or_the_value_and_debug_hides_values() {
    // Cargo and nextest set CARGO_PKG_NAME for the test process.
    let from_env: SecretSource = serde_json::from_value(json!("${CARGO_PKG_NAME}")).unwrap();
    assert_eq!(
        from_env.resolve("f").unwrap().expose_secret(),
        "tokenhop-flows"
    );
    let from_env: SecretSource = serde_json::from_value(json!({"env": "CARGO_PKG_NAME"})).unwrap();
    assert_eq!(
        from_env.resolve("f").unwrap().expose_secret(),
        "tokenhop-flows"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s"), "from-a-file\n").unwrap();
    let from_file: SecretSource =
        serde_json::from_value(json!({"file": dir.path().join("s")})).unwrap();
    assert_eq!(
        from_file.resolve("f").unwrap().expose_secret(),
        "from-a-file"
    );
    let literal: SecretSource = serde_json::from_value(json!("inline-value")).unwrap();
    assert_eq!(
        literal.resolve("f").unwrap().expose_secret(),
        "inline-value"
    );
    assert!(!format!("{literal:?}").contains("inline-value"));
}

#[tokio::test]
async fn graph_auth_builds_without_io_and_caches_where_told() {
    use tokenhop_flows::{CacheLocation, GraphAuth};
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache_file = dir.path().join("nested").join("token_cache.json");
    let app = emulator.config().app(names::CONFIDENTIAL_SECRET).unwrap();
    let provider = GraphAuth::new()
        .authority_host(emulator.url())
        .cache(CacheLocation::Path(cache_file.clone()))
        .client_secret(
            emulator.tenant_id(),
            &app.client_id,
            app.secret.clone().unwrap().into(),
        )
        .unwrap();
    assert!(!cache_file.exists(), "constructing touches no file");
    assert_eq!(
        emulator.counters().endpoint("token") + emulator.counters().endpoint("discovery"),
        0
    );
    provider.token().await.unwrap();
    assert!(cache_file.exists(), "the token went to the cache file");
    provider.token().await.unwrap();
    assert_eq!(emulator.counters().endpoint("token"), 1);
}

#[test]
fn the_default_chain_names_its_links_when_one_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.yaml");
    std::fs::write(
        &path,
        "flow:\n  type: default\n  exclude: [azure-cli, vscode]\n",
    )
    .unwrap();
    let flow = AuthConfig::from_file(&path).unwrap().flow;
    let err = flow.credential().build().err().unwrap().to_string();
    assert!(err.contains("unknown link \"vscode\"; one of environment, workload-identity, managed-identity, azure-cli"), "{err}");
}

#[test]
fn a_redis_cache_is_read_with_its_secrets_from_variables_or_files() {
    let dir = tempfile::tempdir().unwrap();
    let flow = json!({"type": "client-secret", "authority": "https://login.microsoftonline.com/t",
                      "client_id": "app", "client_secret": "s"});
    let location = |name: &str, cache: Value| {
        let path = &write(dir.path(), name, &json!({"flow": flow, "cache": cache}))[1];
        AuthConfig::from_file(path).unwrap().cache.location()
    };
    let unset = location(
        "unset",
        json!({"redis": {"url": "${TOKENHOP_TEST_UNSET_REDIS_URL}"}}),
    );
    let unset = format!("{:?}", unset.map(|_| ()));
    #[cfg(feature = "redis")]
    assert!(
        unset.contains("TOKENHOP_TEST_UNSET_REDIS_URL"),
        "names the variable: {unset}"
    );
    #[cfg(not(feature = "redis"))]
    assert!(unset.contains("`redis` feature"), "{unset}");

    let both = location(
        "both",
        json!({"path": "/tmp/x", "redis": {"url": "redis://h"}}),
    );
    let both = both.unwrap_err().to_string();
    assert!(both.contains("one of path, disabled or redis"), "{both}");

    #[cfg(feature = "redis")]
    {
        use tokenhop_flows::{CacheLocation, EncryptionKey, RedisSettings};
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let url = "redis://:pw@cache.internal:6380/2";
        std::fs::write(dir.path().join("key"), key).unwrap();
        std::fs::write(dir.path().join("url"), url).unwrap();
        let cache = json!({"redis": {
            "url": {"file": dir.path().join("url")}, "prefix": "svc:",
            "encryption_key": {"file": dir.path().join("key")}, "lease_ms": 2500}});
        let expected = RedisSettings::new(url)
            .with_prefix("svc:")
            .with_encryption_key(EncryptionKey::parse(key).unwrap())
            .with_lease(std::time::Duration::from_millis(2500));
        let parsed = location("redis", cache).unwrap();
        assert_eq!(parsed, CacheLocation::Redis(expected));
        assert!(
            !format!("{parsed:?}").contains("pw@"),
            "the password never shows"
        );
        let short = location(
            "short",
            json!({"redis": {"url": "redis://h", "encryption_key": "c2hvcnQ="}}),
        );
        let short = short.unwrap_err().to_string();
        assert!(
            short.contains("cache.redis.encryption_key") && short.contains("32 bytes"),
            "{short}"
        );
    }
}

/// `client_capabilities` and `additionally_allowed_tenants` from a file reach the flow
/// (a CAE token; another tenant's token), and flows that cannot honour them refuse
/// them by name.
#[tokio::test]
async fn capabilities_and_allowed_tenants_from_a_file_reach_the_flow() {
    use tokenhop_core::{TenantId, TokenRequestOptions};
    let emulator = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, mut secret) = configs(&emulator, dir.path())
        .into_iter()
        .find(|(name, _)| *name == "client-secret")
        .unwrap();
    secret["scopes"] = json!(["https://graph.microsoft.com/.default"]);
    secret["client_capabilities"] = json!(["cp1"]);
    secret["additionally_allowed_tenants"] = json!([names::OTHER_TENANT_DOMAIN]);
    let path = &write(dir.path(), "cae", &secret)[1];
    let built = AuthConfig::load(path).unwrap();
    let other = TokenRequestOptions::default()
        .with_tenant(TenantId::new(names::OTHER_TENANT_DOMAIN).unwrap());
    let token = built
        .credential
        .get_token(&built.scopes, &other)
        .await
        .unwrap();
    let claims = tokenhop_flows::unverified_claims(token.secret.expose_secret()).unwrap();
    assert_eq!(claims["xms_cc"], json!(["cp1"]));
    assert_eq!(
        claims["tid"],
        emulator.config().other_tenants[0].tenant_id.as_str()
    );

    let managed = json!({
        "client_capabilities": ["cp1"],
        "flow": {"type": "managed-identity", "endpoint": format!("{}/metadata/identity/oauth2/token", emulator.url())},
    });
    let err = AuthConfig::load(&write(dir.path(), "mi", &managed)[0]).unwrap_err();
    assert!(err.to_string().contains("client_capabilities"), "{err}");
    let mut agent = configs(&emulator, dir.path())
        .into_iter()
        .find(|(name, _)| *name == "agent-user")
        .unwrap()
        .1;
    agent["additionally_allowed_tenants"] = json!(["*"]);
    let err = AuthConfig::load(&write(dir.path(), "agent", &agent)[0]).unwrap_err();
    assert!(
        err.to_string().contains("additionally_allowed_tenants"),
        "{err}"
    );
}

/// The flows whose clients are built from settings found elsewhere refuse client
/// capabilities and extra tenants rather than ignore them.
#[test]
fn flows_built_from_settings_elsewhere_refuse_capabilities_and_tenants() {
    use tokenhop_flows::{AzureCliConfig, DefaultChainConfig, EnvironmentConfig, FlowConfig};
    for flow in [
        FlowConfig::AzureCli(AzureCliConfig::default()),
        FlowConfig::Environment(EnvironmentConfig::default()),
        FlowConfig::Default(DefaultChainConfig::default()),
    ] {
        let kind = flow.kind();
        let capabilities = flow
            .clone()
            .credential()
            .client_capabilities(["cp1"])
            .build();
        let error = capabilities
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("client_capabilities"), "{kind}: {error}");
        let tenants = flow
            .credential()
            .additionally_allowed_tenants(["*"])
            .build();
        let error = tenants.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.contains("additionally_allowed_tenants"),
            "{kind}: {error}"
        );
    }
}
