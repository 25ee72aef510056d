//! tokenhop-flows against the emulator: every flow, the bearer client, the configuration
//! loader, faults, and that no secret reaches a log.

mod agent_id;
mod agent_user;
mod bearer;
#[cfg(feature = "interactive")]
mod chromium;
mod claims;
mod client_credentials;
mod common;
#[cfg(feature = "config")]
mod config;
mod faults;
mod managed_identity;
mod no_secrets_in_logs;
mod on_behalf_of;
mod outages;
mod public_client;
mod sign_in;
mod tenants;
mod throttling;
mod token_factory;
mod workload_identity;
