//! The cache crate's integration tests, in one binary: MSAL's fixtures, the document
//! reader against serde_json, persistence with real processes, and round-trip
//! properties.

mod common;
mod json_reader;
mod msal_fixtures;
mod partitions;
mod persistence;
mod properties;
mod pruning;
mod sharing;
