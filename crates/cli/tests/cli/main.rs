//! The `tokenhop` binary against the emulator: every command, its output, its exit
//! codes, and that no secret reaches stdout or stderr where it should not.

mod azure_cli;
mod cache;
mod cert;
mod common;
mod decode;
mod get;
mod network;
mod pkcs11;
mod redis;
mod token;
mod users;
