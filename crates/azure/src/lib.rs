//! tokenhop and the Azure SDK for Rust, both ways.
//!
//! Every Azure SDK client (`azure_storage_blob`, `azure_security_keyvault_secrets`, …)
//! takes an `Arc<dyn azure_core::credentials::TokenCredential>`. [`AzureCredential`]
//! makes any tokenhop credential one: device code, interactive sign-in, on-behalf-of,
//! the Entra Agent ID chains, certificates whose key stays in an HSM, and tokens shared
//! with MSAL and the Azure CLI through the MSAL token cache — flows `azure_identity`
//! does not have — for any Azure service. [`FromAzureCredential`] goes the other way:
//! an `azure_identity` credential (or any `azure_core` one) used by tokenhop's bearer
//! client and providers, behind tokenhop's single-flight cache
//! ([`tokenhop_core::CachingCredential`]).
//!
//! This crate depends on `tokenhop-core` and `azure_core` (without its default
//! features) only: it brings no flows, no cache and no HTTP stack, so a library that
//! receives a credential and hands it to an Azure SDK client stays light.
//!
//! # Example: a blob client with a tokenhop credential
//!
//! ```no_run
//! use azure_core::http::Url;
//! use azure_storage_blob::BlobServiceClient;
//! use tokenhop_azure::AzureCredential;
//! use tokenhop_core::ClientId;
//! use tokenhop_flows::{Authority, ClientCredential, ConfidentialClient, HttpClient, HttpConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let daemon = ConfidentialClient::builder(
//!     ClientId::new("00000000-0000-0000-0000-000000000001")?,
//!     Authority::parse("https://login.microsoftonline.com/contoso.onmicrosoft.com")?,
//!     ClientCredential::secret(std::env::var("APP_SECRET")?),
//! )
//! .http(HttpClient::new(HttpConfig::default())?)
//! .build()?;
//! let service = BlobServiceClient::new(
//!     Url::parse("https://contoso.blob.core.windows.net/")?,
//!     Some(AzureCredential::new(daemon)),
//!     None,
//! )?;
//! let report = service.blob_client("reports", "2026-12.csv");
//! let bytes = report.download(None).await?.body.collect().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod from_azure;
mod to_azure;

pub use from_azure::FromAzureCredential;
pub use to_azure::AzureCredential;
