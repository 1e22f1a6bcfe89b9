//! `oqs`: the command-line tool of the facility terminal.
//!
//! Today it has `oqs file inspect PATH`; the tree is laid out for the subcommands to come
//! (status, watch, kiosk, doctor, audit, face), each a variant of [`Command`].

mod file;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Facility terminal for オンライン資格確認 (online eligibility confirmation).
#[derive(Debug, Parser)]
#[command(name = "oqs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with OQS request/result files (req/, res/, face/).
    #[command(subcommand)]
    File(file::FileCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::File(cmd) => file::run(cmd),
    }
}
