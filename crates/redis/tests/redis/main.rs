//! tokenhop-redis against a real `redis-server` (started by the tests on an ephemeral
//! port, persistence off): partitions keyed as MSAL.NET keys them, with their TTLs; the
//! fleet's single flight between caches that share nothing but Redis; encryption at
//! rest; values that are not caches; Redis going away and coming back; TLS; a cluster.

mod common;
mod encryption;
mod fleet;
mod outage;
mod partitions;
mod transport;
