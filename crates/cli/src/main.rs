//! `tokenhop`: OAuth2 access tokens from Microsoft Entra ID on the command line.
//!
//! The binary parses arguments and calls the library; it holds no protocol logic of
//! its own. `tokenhop token` prints an access token got through tokenhop-flows
//! (client secret, client certificate, managed identity or Entra Agent ID), kept in the
//! MSAL-compatible token cache file so that the next invocation is answered from the
//! cache without any request. `get` calls a protected resource with the token;
//! `accounts`, `logout` and `cache` look after the cache; `cert` computes thumbprints,
//! signs client assertions and makes self-signed certificates; `decode` shows a JWT's
//! header and claims.
//!
//! Secrets never come from the command line (the client secret is read from
//! `TOKENHOP_CLIENT_SECRET` or `--client-secret-file`, certificate passwords from the
//! variable `--password-env` names, PKCS#11 PINs from the variable `--pin-env` names or
//! `--pin-file`) and never reach stderr: errors and `-v` logs are
//! redacted by the library.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure (the resource answered an HTTP error, a file could not be written, …) |
//! | 2 | usage: the command line is wrong |
//! | 3 | interaction required: a user must sign in ([`tokenhop_core::Error::Authentication`]), or a resource's claims challenge needs a token with those claims ([`tokenhop_core::Error::InsufficientClaims`]) |
//! | 4 | the token endpoint refused the request ([`tokenhop_core::Error::TokenExchange`]) |
//! | 5 | network: no answer or no valid answer ([`tokenhop_core::Error::Transport`], [`tokenhop_core::Error::InvalidResponse`]) |
//! | 6 | configuration: a missing or invalid setting, certificate or file ([`tokenhop_core::Error::Configuration`], [`tokenhop_core::Error::AgentIdNotAvailable`], [`tokenhop_core::Error::CertNotFound`]) |
//! | 7 | throttled: the server asked to wait longer than tokenhop waits ([`tokenhop_core::Error::Throttled`]); try again after the time the message names |
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod accounts;
mod cache_cmd;
mod cert;
mod cli;
mod context;
mod credential;
mod decode;
mod failure;
mod files;
mod get;
mod output;
mod pkcs11;
mod token;
mod user;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::failure::Outcome;

fn main() -> ExitCode {
    // Usage errors exit with 2 here, --help and --version with 0.
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let outcome = run(&cli);
    user::stop_spinner();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            failure.exit()
        }
    }
}

fn run(cli: &Cli) -> Outcome {
    let global = &cli.global;
    match &cli.command {
        Command::Token(args) => token::run(global, args),
        Command::Login(args) => user::login(global, args),
        Command::Get(args) => get::run(global, args),
        Command::Accounts(args) if args.azure_cli => accounts::azure_cli(global),
        Command::Accounts(_) => accounts::list(global),
        Command::Logout(args) => accounts::logout(global, args),
        Command::Cache(command) => cache_cmd::run(global, command),
        Command::Cert(command) => cert::run(global, command),
        Command::Decode(args) => decode::run(global, args),
    }
}

/// Logs of tokenhop's own crates to stderr: warnings by default, `-v` debug, `-vv`
/// trace. Other crates stay silent (their logs are not redacted by tokenhop).
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let directives = [
        "tokenhop",
        "tokenhop_core",
        "tokenhop_cache",
        "tokenhop_cert",
        "tokenhop_flows",
    ]
    .map(|target| format!("{target}={level}"))
    .join(",");
    let filter = EnvFilter::new(format!("off,{directives}"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
