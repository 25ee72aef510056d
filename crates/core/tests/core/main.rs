//! tokenhop-core's integration tests: closures as providers, the sync/async adapters,
//! CachingCredential on a manual clock, and redaction of every secret-bearing type.

mod caching;
mod common;
mod providers;
mod redaction;
