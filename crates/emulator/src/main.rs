//! `tokenhop-emulator`: a local Entra ID on loopback, for tests and demos.
//!
//! `serve` prints one JSON line when ready (`{"url", "tenant_id", "ca_cert",
//! "state_dir", "service_fabric_endpoint", "service_fabric_thumbprint",
//! "arc_token_dir"}`) and serves until SIGINT or SIGTERM; `print-config` prints the built-in
//! configuration as JSON (a starting point for `--config`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokenhop_emulator::{Emulator, EmulatorConfig, EmulatorError};

#[derive(Parser)]
#[command(
    name = "tokenhop-emulator",
    version,
    about = "A local Microsoft Entra ID for tests and demos"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves until SIGINT/SIGTERM; prints one JSON line when ready.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// A configuration file (JSON, or YAML for .yaml/.yml); the built-in one otherwise.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Serve https with a generated CA, written to the state dir as ca.pem.
        #[arg(long)]
        tls: bool,
        /// Where ca.pem and the apps' certificates and keys go; a new temporary
        /// directory otherwise.
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Prints the built-in configuration as JSON.
    PrintConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::PrintConfig => serde_json::to_string_pretty(&EmulatorConfig::default())
            .map(|json| println!("{json}"))
            .map_err(|e| EmulatorError::Config(e.to_string())),
        Command::Serve {
            addr,
            config,
            tls,
            state_dir,
        } => serve(addr, config, tls, state_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tokenhop-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    addr: SocketAddr,
    config: Option<PathBuf>,
    tls: bool,
    state_dir: Option<PathBuf>,
) -> Result<(), EmulatorError> {
    let config = match config {
        Some(path) => EmulatorConfig::from_file(&path)?,
        None => EmulatorConfig::default(),
    };
    let state_dir = match state_dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("tokenhop-emulator-{}", std::process::id())),
    };
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| EmulatorError::Startup(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let emulator = Emulator::builder()
            .config(config)
            .addr(addr)
            .tls(tls)
            .state_dir(&state_dir)
            .start()
            .await?;
        let ready = serde_json::json!({
            "url": emulator.url(),
            "tenant_id": emulator.tenant_id(),
            "ca_cert": tls.then(|| state_dir.join("ca.pem")),
            "state_dir": state_dir,
            "service_fabric_endpoint": emulator.service_fabric_endpoint(),
            "service_fabric_thumbprint": emulator.service_fabric_thumbprint(),
            "arc_token_dir": emulator.arc_token_dir(),
        });
        println!("{ready}");
        shutdown_signal().await;
        drop(emulator);
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
