//! Writes a token cache file with tokenhop's flows against a running emulator, for the
//! MSAL interop step: MSAL Python must then find every token silently.
//!
//! `msal_interop READY_JSON CONFIG_JSON CACHE_FILE TOKENS_JSON`: READY_JSON is the line
//! `tokenhop-emulator serve --tls` printed, CONFIG_JSON its configuration; the access
//! tokens obtained go to TOKENS_JSON (by name) so the script can compare.

use std::collections::BTreeMap;

use serde_json::Value;
use tokenhop_cache::SharedTokenCache;
use tokenhop_core::{ClientId, Scopes, TokenRequestOptions};
use tokenhop_flows::agent_id::{AgentIdBuilder, AgentIdSettings, AgentResource};
use tokenhop_flows::authority::Authority;
use tokenhop_flows::certificate::CertificateAssertions;
use tokenhop_flows::client_auth::ClientCredential;
use tokenhop_flows::confidential::ConfidentialClient;
use tokenhop_flows::http::{HttpClient, HttpConfig};

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

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ready, config, cache_file, tokens_file] = args.as_slice() else {
        return Err("usage: msal_interop READY_JSON CONFIG_JSON CACHE_FILE TOKENS_JSON".into());
    };
    let ready: Value = serde_json::from_str(ready)?;
    let config: Value = serde_json::from_str(&std::fs::read_to_string(config)?)?;
    let state_dir = std::path::Path::new(field(&ready, &["state_dir"])?);
    let url = field(&ready, &["url"])?;
    let tenant = field(&ready, &["tenant_id"])?;
    let ca = std::fs::read(field(&ready, &["ca_cert"])?)?;
    let http = HttpClient::new(HttpConfig::default().with_extra_ca_pem(ca))?;
    let cache = SharedTokenCache::file(cache_file);
    let authority = Authority::parse(&format!("{url}/{tenant}"))?;
    let options = TokenRequestOptions::default();
    let mut tokens = BTreeMap::new();

    let secret_app = named(&config, "apps", "confidential-secret")?;
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
    let cert_app = named(&config, "apps", "confidential-cert")?;
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

    let agent = named(&config, "agent_identities", "agent-identity")?;
    let agent_user = named(&config, "users", field(agent, &["agent_user"])?)?;
    let mut settings = AgentIdSettings::default();
    settings.tenant_id = Some(tenant.to_owned());
    settings.blueprint_id =
        Some(field(named(&config, "apps", "agent-blueprint")?, &["client_id"])?.to_owned());
    settings.agent_id = Some(field(agent, &["client_id"])?.to_owned());
    settings.agent_user_id = Some(field(agent_user, &["object_id"])?.to_owned());
    let chain = AgentIdBuilder::new(settings)
        .authority_host(url)
        .blueprint_credential(
            CertificateAssertions::new(certificate("agent-blueprint")?).into_credential(),
        )
        .resource(AgentResource::Graph)
        .http(http)
        .cache(cache)
        .build_user()?;
    let token = chain.token(&options).await?;
    tokens.insert("agent_user", token.secret.expose_secret().to_owned());

    std::fs::write(tokens_file, serde_json::to_string(&tokens)?)?;
    Ok(())
}
