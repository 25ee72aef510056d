//! The default chain: each link is chosen when only its settings exist, the chosen one
//! is kept, an excluded link is skipped, and with nothing set up one error says why
//! each link was not used.

use std::collections::HashMap;

use tokenhop_core::{Scopes, TokenCredential, TokenRequestOptions};
use tokenhop_emulator::{Emulator, EmulatorHandle, names};
use tokenhop_flows::{DefaultCredential, DefaultStep};

const SECRET_MARK: &str = "default-chain-secret-value";

fn storage() -> Scopes {
    Scopes::new(["https://storage.azure.com/.default"]).unwrap()
}

/// A loopback port nothing listens on: IMDS "is not there" at once.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Variables in which no link is set up: no app settings, no managed identity endpoint,
/// an empty Azure CLI directory.
fn nothing(cli_dir: &std::path::Path) -> HashMap<&'static str, String> {
    HashMap::from([
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", closed_port_url()),
        ("AZURE_CONFIG_DIR", cli_dir.display().to_string()),
    ])
}

fn chain(vars: HashMap<&'static str, String>) -> tokenhop_flows::DefaultCredentialBuilder {
    DefaultCredential::builder().env(move |name| vars.get(name).cloned())
}

fn client_id(emulator: &EmulatorHandle, app: &str) -> String {
    emulator.config().app(app).unwrap().client_id.clone()
}

fn environment(emulator: &EmulatorHandle, vars: &mut HashMap<&'static str, String>) {
    vars.insert("AZURE_TENANT_ID", emulator.tenant_id().to_owned());
    vars.insert(
        "AZURE_CLIENT_ID",
        client_id(emulator, names::CONFIDENTIAL_SECRET),
    );
    let secret = emulator
        .config()
        .app(names::CONFIDENTIAL_SECRET)
        .unwrap()
        .secret
        .clone();
    vars.insert("AZURE_CLIENT_SECRET", secret.unwrap());
    vars.insert("AZURE_AUTHORITY_HOST", emulator.url().to_owned());
}

async fn chosen(credential: &DefaultCredential) -> DefaultStep {
    let options = TokenRequestOptions::default();
    credential.get_token(&storage(), &options).await.unwrap();
    let step = credential.chosen_step().unwrap();
    credential.get_token(&storage(), &options).await.unwrap();
    assert_eq!(credential.chosen_step(), Some(step), "kept");
    step
}

#[tokio::test]
async fn each_link_is_chosen_when_only_its_settings_exist() {
    let emulator = Emulator::builder().start().await.unwrap();
    let empty = tempfile::tempdir().unwrap();

    let mut vars = nothing(empty.path());
    environment(&emulator, &mut vars);
    assert_eq!(
        chosen(&chain(vars).build().unwrap()).await,
        DefaultStep::Environment
    );

    let token_file = empty.path().join("federated-token");
    std::fs::write(
        &token_file,
        emulator.federated_token(names::WORKLOAD_SUBJECT).unwrap(),
    )
    .unwrap();
    let mut vars = nothing(empty.path());
    vars.insert("AZURE_TENANT_ID", emulator.tenant_id().to_owned());
    vars.insert("AZURE_CLIENT_ID", client_id(&emulator, names::WORKLOAD_APP));
    vars.insert(
        "AZURE_FEDERATED_TOKEN_FILE",
        token_file.display().to_string(),
    );
    vars.insert("AZURE_AUTHORITY_HOST", emulator.url().to_owned());
    assert_eq!(
        chosen(&chain(vars).build().unwrap()).await,
        DefaultStep::WorkloadIdentity
    );

    let mut vars = nothing(empty.path());
    vars.insert(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        emulator.url().to_owned(),
    );
    assert_eq!(
        chosen(&chain(vars).build().unwrap()).await,
        DefaultStep::ManagedIdentity
    );

    let cli = crate::azure_cli::signed_in(&emulator).await;
    let mut vars = nothing(cli.path());
    assert_eq!(
        chosen(&chain(vars.clone()).build().unwrap()).await,
        DefaultStep::AzureCli
    );

    // Excluded, the environment's app is passed over for the Azure CLI's sign-in.
    environment(&emulator, &mut vars);
    let credential = chain(vars)
        .exclude(DefaultStep::Environment)
        .build()
        .unwrap();
    assert_eq!(chosen(&credential).await, DefaultStep::AzureCli);
}

#[tokio::test]
async fn with_nothing_set_up_one_error_says_why_each_link_was_not_used() {
    let emulator = Emulator::builder().start().await.unwrap();
    let empty = tempfile::tempdir().unwrap();
    let error = chain(nothing(empty.path()))
        .build()
        .unwrap()
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    // Nothing to sign in again to: the fix is to set a link up, and the error says so.
    assert!(
        matches!(error, tokenhop_core::Error::Configuration { .. }),
        "{error:?}"
    );
    let err = error.to_string();
    assert!(!err.contains("sign in again"), "{err}");
    assert!(err.contains("az login"), "{err}");
    for expected in [
        "environment: not configured (the environment credential needs AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH",
        "workload-identity: not configured (",
        "AZURE_FEDERATED_TOKEN_FILE",
        "managed-identity: not configured (no managed identity endpoint at http://127.0.0.1:",
        "azure-cli: not configured (nobody is signed in to the Azure CLI",
    ] {
        assert!(err.contains(expected), "{expected:?} in {err}");
    }

    // A link that is set up but fails is reported with its error; no secret is shown.
    let mut vars = nothing(empty.path());
    environment(&emulator, &mut vars);
    vars.insert("AZURE_CLIENT_SECRET", SECRET_MARK.into());
    let err = chain(vars)
        .build()
        .unwrap()
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("environment: failed: the token endpoint refused"),
        "{err}"
    );
    assert!(err.contains("azure-cli: not configured"), "{err}");
    assert!(!err.contains(SECRET_MARK), "{err}");

    let none = DefaultStep::ALL
        .into_iter()
        .fold(DefaultCredential::builder(), |b, s| b.exclude(s));
    let err = none
        .build()
        .unwrap()
        .get_token(&storage(), &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, tokenhop_core::Error::Configuration { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("every link was excluded"), "{err}");
}
