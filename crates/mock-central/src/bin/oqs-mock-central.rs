//! `oqs-mock-central`: initialise a data directory, serve it over mutual TLS, open disaster windows.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "oqs-mock-central",
    version,
    about = "Mock オンライン資格確認 central service (mutual TLS)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory: synthetic population, terminal PKI, credentials.
    Init {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        population: i64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Init {
            dir,
            population,
            seed,
        } => {
            let started = std::time::Instant::now();
            let info = mock_central::init::init(&dir, population, seed)
                .with_context(|| format!("initialising {}", dir.display()))?;
            println!(
                "initialised {} with {} people (seed {}) in {:.1} s; facility {}",
                dir.display(),
                info.population,
                info.seed,
                started.elapsed().as_secs_f64(),
                info.facility_code
            );
        }
    }
    Ok(())
}
