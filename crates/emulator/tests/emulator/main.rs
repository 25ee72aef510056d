//! The emulator from the outside, over HTTP: discovery, JWKS and every grant with its
//! refusals in Entra's shape, certificate assertions, user flows, resources and Agent
//! ID, the managed identity hosts, faults, random input, and the `tokenhop-emulator`
//! binary.

mod cae_and_tenants;
mod certificate_assertions;
mod common;
mod differences;
mod faults;
mod managed_identity;
mod microsoft_clients;
mod random_input;
mod resource_and_agents;
mod serve;
mod token_endpoint;
mod token_versions;
mod user_flows;
