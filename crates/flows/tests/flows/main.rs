//! tokenhop-flows against the emulator: every flow, the bearer client, the configuration
//! loader, faults, and that no secret reaches a log.

mod agent_id;
mod agent_user;
mod azure_cli;
mod bearer;
#[cfg(feature = "interactive")]
mod chromium;
mod client_credentials;
mod common;
#[cfg(feature = "config")]
mod config;
mod default_chain;
mod faults;
mod managed_identity;
mod no_secrets_in_logs;
mod on_behalf_of;
mod public_client;
mod token_factory;
mod workload_identity;
