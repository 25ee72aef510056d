//! tokenhop-cert's integration tests: loading, thumbprints, assertions and generated
//! certificates checked against the real `openssl` CLI and `jsonwebtoken`.

mod arbitrary_input;
mod assertion;
mod common;
mod generated;
mod loading;
mod thumbprints;
