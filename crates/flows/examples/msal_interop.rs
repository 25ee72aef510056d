//! The Rust half of the flows/MSAL cache interop, against a running emulator.
//!
//! - `msal_interop write READY_JSON CONFIG_JSON CACHE_FILE TOKENS_JSON` writes a token
//!   cache file with tokenhop's flows (app tokens, the Agent ID chain, a user signed in
//!   by device code) and the access tokens it got (by name), for MSAL to find silently.
//! - `msal_interop read-msal READY_JSON CONFIG_JSON CACHE_FILE TOKENS_JSON` reads a
//!   cache MSAL wrote and checks tokenhop finds MSAL's token for the signed-in user
//!   without a request, then refreshes with MSAL's refresh token.
//!
//! READY_JSON is the line `tokenhop-emulator serve --tls` printed, CONFIG_JSON its
//! configuration.

use std::collections::BTreeMap;

use serde_json::Value;
use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Scopes, TokenRequestOptions};
use tokenhop_flows::Authority;
use tokenhop_flows::CertificateAssertions;
use tokenhop_flows::ClientCredential;
use tokenhop_flows::ConfidentialClient;
use tokenhop_flows::PublicClient;
use tokenhop_flows::{AgentIdSettings, AgentResource, AgentUserCredential};
use tokenhop_flows::{HttpClient, HttpConfig};

type Failure = Box<dyn std::error::Error>;

fn field<'v>(value: &'v Value, path: &[&str]) -> Result<&'v str, Failure> {
    let mut current = value;
    for name in path {
        current = &current[*name];
    }
    current
        .as_str()
        .ok_or_else(|| format!("no {} in the configuration", path.join(".")).into())
}

fn named<'v>(config: &'v Value, list: &str, name: &str) -> Result<&'v Value, Failure> {
    config[list]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["name"] == name))
        .ok_or_else(|| format!("no {name} in {list}").into())
}

/// What both modes share: the emulator's coordinates and a client that trusts its CA.
struct Context {
    config: Value,
    state_dir: std::path::PathBuf,
    url: String,
    tenant: String,
    http: HttpClient,
    /// The same connections, for the emulator's admin API.
    admin: reqwest::Client,
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, ready, config, cache_file, tokens_file] = args.as_slice() else {
        return Err(
            "usage: msal_interop write|read-msal READY_JSON CONFIG_JSON CACHE_FILE TOKENS_JSON"
                .into(),
        );
    };
    let ready: Value = serde_json::from_str(ready)?;
    let admin = emulator_client(&ready)?;
    let context = Context {
        config: serde_json::from_str(&std::fs::read_to_string(config)?)?,
        state_dir: field(&ready, &["state_dir"])?.into(),
        url: field(&ready, &["url"])?.to_owned(),
        tenant: field(&ready, &["tenant_id"])?.to_owned(),
        http: HttpClient::new(HttpConfig::default().with_reqwest_client(admin.clone()))?,
        admin,
    };
    match mode.as_str() {
        "write" => write(&context, cache_file, tokens_file).await,
        "read-msal" => read_msal(&context, cache_file, tokens_file).await,
        other => Err(format!("unknown mode {other}").into()),
    }
}

async fn write(context: &Context, cache_file: &str, tokens_file: &str) -> Result<(), Failure> {
    let Context {
        config,
        state_dir,
        url,
        tenant,
        http,
        ..
    } = context;
    let (url, tenant) = (url.as_str(), tenant.as_str());
    let cache = SharedTokenCache::file(cache_file);
    let authority = Authority::parse(&format!("{url}/{tenant}"))?;
    let options = TokenRequestOptions::default();
    let mut tokens = BTreeMap::new();

    let secret_app = named(config, "apps", "confidential-secret")?;
    let client = ConfidentialClient::builder(
        ClientId::new(field(secret_app, &["client_id"])?)?,
        authority.clone(),
        ClientCredential::secret(field(secret_app, &["secret"])?.to_owned()),
    )
    .http(http.clone())
    .cache(cache.clone())
    .build()?;
    let graph = Scopes::new(["https://graph.microsoft.com/.default"])?;
    let token = client.acquire_token_for_client(&graph, &options).await?;
    tokens.insert("secret", token.secret.expose_secret().to_owned());

    let certificate = |name: &str| -> Result<tokenhop_cert::ClientCertificate, Failure> {
        let pem = format!(
            "{}{}",
            std::fs::read_to_string(state_dir.join(format!("{name}.cert.pem")))?,
            std::fs::read_to_string(state_dir.join(format!("{name}.key.pem")))?
        );
        Ok(tokenhop_cert::ClientCertificate::from_pem(
            pem.as_bytes(),
            None,
        )?)
    };
    let cert_app = named(config, "apps", "confidential-cert")?;
    let client = ConfidentialClient::builder(
        ClientId::new(field(cert_app, &["client_id"])?)?,
        authority,
        CertificateAssertions::new(certificate("confidential-cert")?).into_credential(),
    )
    .http(http.clone())
    .cache(cache.clone())
    .build()?;
    let storage = Scopes::new(["https://storage.azure.com/.default"])?;
    let token = client.acquire_token_for_client(&storage, &options).await?;
    tokens.insert("certificate", token.secret.expose_secret().to_owned());

    let agent = named(config, "agent_identities", "agent-identity")?;
    let agent_user = named(config, "users", field(agent, &["agent_user"])?)?;
    let mut settings = AgentIdSettings::default();
    settings.tenant_id = Some(tenant.to_owned());
    settings.blueprint_id =
        Some(field(named(config, "apps", "agent-blueprint")?, &["client_id"])?.to_owned());
    settings.agent_id = Some(field(agent, &["client_id"])?.to_owned());
    settings.agent_user_id = Some(field(agent_user, &["object_id"])?.to_owned());
    let chain = AgentUserCredential::builder(settings)
        .authority_host(url)
        .blueprint_credential(
            CertificateAssertions::new(certificate("agent-blueprint")?).into_credential(),
        )
        .resource(AgentResource::Graph)
        .http(http.clone())
        .cache(cache.clone())
        .build()?;
    let token = chain.token(&options).await?;
    tokens.insert("agent_user", token.secret.expose_secret().to_owned());

    let public = public_client(context, cache)?;
    let token = public
        .acquire_token_by_device_code(&Scopes::new(["User.Read"])?, &Default::default(), |info| {
            approve(context, info.user_code.clone());
        })
        .await?;
    tokens.insert("public", token.token.secret.expose_secret().to_owned());

    std::fs::write(tokens_file, serde_json::to_string(&tokens)?)?;
    Ok(())
}

fn public_client(context: &Context, cache: SharedTokenCache) -> Result<PublicClient, Failure> {
    let app = named(&context.config, "apps", "public-client")?;
    Ok(PublicClient::builder(
        ClientId::new(field(app, &["client_id"])?)?,
        Authority::parse(&format!("{}/{}", context.url, context.tenant))?,
    )
    .http(context.http.clone())
    .cache(cache)
    .build()?)
}

/// Approves the device code as alice through the admin API, as a user at the
/// verification page would (from a task: the callback must not block).
fn approve(context: &Context, user_code: String) {
    let http = context.admin.clone();
    let url = format!("{}/admin/device/approve", context.url);
    tokio::spawn(async move {
        let body = serde_json::json!({"user_code": user_code, "user": "alice"}).to_string();
        let _ = http
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
    });
}

async fn token_requests(context: &Context) -> Result<u64, Failure> {
    let url = format!("{}/admin/counters", context.url);
    let counters: Value =
        serde_json::from_slice(&context.admin.get(url).send().await?.bytes().await?)?;
    Ok(counters["endpoints"]["token"].as_u64().unwrap_or(0))
}

/// tokenhop reads MSAL's cache: MSAL's token for alice, silently, with no request; then
/// a forced refresh redeems MSAL's refresh token.
async fn read_msal(context: &Context, cache_file: &str, tokens_file: &str) -> Result<(), Failure> {
    let msal_tokens: Value = serde_json::from_str(&std::fs::read_to_string(tokens_file)?)?;
    let public = public_client(context, SharedTokenCache::file(cache_file))?;
    let accounts = public.accounts().await?;
    let alice = accounts
        .iter()
        .find(|a| a.username.starts_with("alice@"))
        .ok_or("tokenhop found no alice account in MSAL's cache")?;
    let before = token_requests(context).await?;
    let scopes = Scopes::new(["User.Read"])?;
    let token = public
        .acquire_token_silent(&scopes, alice, &TokenRequestOptions::default())
        .await?;
    if Some(token.secret.expose_secret()) != msal_tokens["public"].as_str() {
        return Err("tokenhop's silent token is not the one MSAL cached".into());
    }
    if token_requests(context).await? != before {
        return Err("tokenhop made a request for a token MSAL had cached".into());
    }
    let mut force = TokenRequestOptions::default();
    force.force_refresh = true;
    public.acquire_token_silent(&scopes, alice, &force).await?;
    if token_requests(context).await? != before + 1 {
        return Err("a forced refresh should make exactly one request".into());
    }
    println!("ok   tokenhop finds MSAL's cached token for alice without a request");
    println!("ok   tokenhop refreshes with MSAL's refresh token");
    Ok(())
}

/// A client that trusts the emulator's CA (the ready line names it): the one
/// `reqwest::Client` this example sends everything through.
fn emulator_client(ready: &Value) -> Result<reqwest::Client, Failure> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = std::fs::read(field(ready, &["ca_cert"])?)?;
    Ok(reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca)?)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}
