//! The `palaver` command: parse the configuration, start logging, run.

use clap::{Parser, Subcommand};
use palaver::config::{Config, Settings};
use std::path::PathBuf;

/// glibc's allocator showed up as 15% of the server's CPU on the history
/// load (small JSON and row allocations across threads); mimalloc's
/// per-thread free lists make those cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "palaver",
    version,
    about = "A self-hosted realtime chat server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API and the WebSocket protocol.
    Serve {
        /// TOML file with any of the settings below (kebab-case keys)
        #[arg(long, env = "PALAVER_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PALAVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let result = match cli.command {
        Command::Serve { config, settings } => (|| {
            let file = match config {
                Some(path) => Settings::from_toml_file(&path)?,
                None => Settings::default(),
            };
            let config = Config::resolve(settings.or(file))?;
            palaver::server::run_blocking(config)
        })(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
