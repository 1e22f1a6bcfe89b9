//! `oqs-terminal [--kiosk] [--fullscreen] [--reader NAME]`: the facility terminal app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = match oqs_terminal::LaunchOptions::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("oqs-terminal: {problem}\n{}", oqs_terminal::USAGE);
            return ExitCode::from(2);
        }
    };
    let mut target = oqs_terminal::DaemonTarget::from_env();
    if let Some(socket) = &options.socket {
        target.socket = socket.clone();
    }
    if let Some(file) = &options.token_file {
        target.token_file = Some(file.clone());
    }
    match oqs_terminal::run(options, target) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oqs-terminal: {e}");
            ExitCode::FAILURE
        }
    }
}
