//! tokenhop-flows against the emulator: every flow, the bearer client, the configuration
//! loader, faults, and that no secret reaches a log.

mod agent_id;
mod agent_user;
mod authority_validation;
mod azure_cli;
mod bearer;
#[cfg(feature = "interactive")]
mod chromium;
mod claims;
mod client_credentials;
mod common;
#[cfg(feature = "config")]
mod config;
#[cfg(feature = "config")]
mod config_network;
mod default_chain;
mod faults;
mod https_only;
mod managed_identity;
mod no_secrets_in_logs;
mod offline_hits;
mod oidc_provider;
mod on_behalf_of;
mod outages;
mod proxy;
mod public_client;
mod resource_calls;
mod sign_in;
mod tenants;
mod throttling;
mod token_factory;
mod workload_identity;
