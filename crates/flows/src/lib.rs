//! OAuth2 flows for Microsoft Entra ID and OpenID Connect providers.
//!
//! This crate turns an authority (an Entra tenant, a B2C policy, a CIAM tenant or any
//! OIDC issuer) and a client's credentials into access tokens: it validates the
//! authority (`https://` only, `http://` just for loopback hosts), discovers its
//! endpoints once, sends token requests through one pooled HTTP client with timeouts,
//! a response size cap and retries that honour `Retry-After`, and reads every answer
//! for an OAuth `error` before it looks for a token. Secrets in forms, headers and
//! responses never reach logs or errors.
//!
//! Every credential is a [`tokenhop_core::TokenCredential`], built the same way —
//! `X::builder(..).http(h).cache(c).clock(k).build()` — and every flow can also be
//! described as data ([`FlowConfig`], what a configuration file, the CLI and
//! [`GraphAuth`] use) and built by [`FlowConfig::credential`].
//!
//! # Example
//!
//! ```no_run
//! use tokenhop_core::{ClientId, Scopes, TokenCredentialExt, TokenProvider};
//! use tokenhop_flows::{Authority, ClientCredential, ConfidentialClient, HttpClient, HttpConfig};
//!
//! # async fn run() -> tokenhop_core::Result<()> {
//! let client = ConfidentialClient::builder(
//!     ClientId::new("00000000-0000-0000-0000-000000000001")?,
//!     Authority::parse("https://login.microsoftonline.com/contoso.onmicrosoft.com")?,
//!     ClientCredential::secret(std::env::var("APP_SECRET").unwrap_or_default()),
//! )
//! .http(HttpClient::new(HttpConfig::default())?)
//! .build()?;
//! let provider = client.into_provider(Scopes::new(["https://graph.microsoft.com/.default"])?);
//! let token = provider.token().await?; // cached, refreshed ahead of expiry
//! # Ok(()) }
//! ```
//!
//! Authorities are validated as they are parsed:
//!
//! ```
//! use tokenhop_flows::{Authority, AuthorityKind};
//!
//! let authority = Authority::parse("https://contoso.b2clogin.com/tfp/contoso.onmicrosoft.com/B2C_1_signin")?;
//! assert_eq!(authority.kind(), AuthorityKind::B2c);
//! assert_eq!(authority.realm(), "contoso.onmicrosoft.com");
//!
//! // Plain http is only for loopback hosts such as the emulator.
//! assert!(Authority::parse("http://login.example.com/tenant").is_err());
//! assert!(Authority::parse("http://127.0.0.1:8443/tenant").is_ok());
//! # Ok::<(), tokenhop_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod agent_id;
mod agent_user;
mod authority;
mod azure_cli;
mod bearer;
mod cache_location;
mod cache_slot;
mod certificate;
mod claims;
mod client_auth;
mod cloud;
mod confidential;
#[cfg(feature = "config")]
mod config;
mod default_chain;
mod device_code;
mod endpoint;
mod environment;
mod flow;
mod graph_auth;
mod http;
#[cfg(feature = "interactive")]
mod interactive;
#[cfg(feature = "interactive")]
mod loopback;
mod managed_identity;
mod oidc_scopes;
mod on_behalf_of;
#[cfg(feature = "interactive")]
mod pkce;
mod pkcs11_key;
mod public_client;
mod response;
mod sign_in;
mod tenants;
mod token_factory;
mod unverified_jwt;
mod validation;
mod workload_identity;

pub use agent_id::{
    AgentChain, AgentIdBuilder, AgentIdSettings, AgentIdentityCredential, AgentResource,
};
pub use agent_user::AgentUserCredential;
pub use authority::{Authority, AuthorityKind};
pub use azure_cli::{
    AZ_TIMEOUT, AZURE_CLI_CLIENT_ID, AzureCliCredential, AzureCliCredentialBuilder,
    AzureCliProfile, AzureSubscription, AzureUser,
};
pub use bearer::{BearerClient, BearerClientBuilder, BearerResponse};
pub use cache_location::CacheLocation;
pub use certificate::{CertificateAssertions, cert_error};
pub use client_auth::{AssertionContext, AssertionSource, ClientCredential};
pub use cloud::Cloud;
pub use confidential::{ConfidentialClient, ConfidentialClientBuilder};
#[cfg(feature = "config")]
pub use config::{AuthConfig, BuiltAuth, CacheConfig, RedisCacheConfig};
pub use default_chain::{DefaultCredential, DefaultCredentialBuilder, DefaultStep};
pub use device_code::{DeviceCodeInfo, PollWait};
pub use environment::{
    EnvironmentCredential, EnvironmentCredentialBuilder, EnvironmentKey, EnvironmentSettings,
};
pub use flow::{
    AgentConfig, AzureCliConfig, CertificateSource, ClientCertificateConfig, ClientSecretConfig,
    DefaultChainConfig, DynCredential, EnvironmentConfig, FlowConfig, FlowCredentialBuilder,
    FlowKind, ManagedIdentityConfig, OnBehalfOfConfig, PUBLIC_CLOUD, SecretSource, UserConfig,
    WorkloadIdentityConfig,
};
pub use graph_auth::{GRAPH_DEFAULT_SCOPE, GraphAuth, GraphProvider};
pub use http::{AuthorityValidation, HttpClient, HttpConfig, ProxyConfig, RetryPolicy};
#[cfg(feature = "interactive")]
pub use interactive::{BrowserOpener, InteractiveOptions, SystemBrowser};
pub use managed_identity::{
    ManagedIdentityCredential, ManagedIdentityCredentialBuilder, ManagedIdentityHost,
    ManagedIdentityId, ManagedIdentityRetry, ManagedIdentitySource, PROBE_CONNECT_TIMEOUT,
    ProbeOutcome,
};
pub use on_behalf_of::{OnBehalfOfCredential, OnBehalfOfCredentialBuilder};
pub use pkcs11_key::{Pkcs11Key, Pkcs11Pin};
pub use public_client::{PublicClient, PublicClientBuilder, UserToken};
pub use sign_in::{SignIn, SignInCredential, SignInCredentialBuilder};
pub use token_factory::{CachedTokenFactory, CachedTokenFactoryBuilder};
#[cfg(feature = "redis")]
pub use tokenhop_redis::{EncryptionKey, RedisSettings};
pub use unverified_jwt::unverified_claims;
pub use workload_identity::{
    FederatedTokenFile, WorkloadIdentityCredential, WorkloadIdentityCredentialBuilder,
    WorkloadIdentityEnv,
};
