//! `oqs file …`: inspect OQS files.
//!
//! Exit codes of `inspect`: 0 the file is valid (its JSON is on stdout); 1 it could not be parsed or is
//! invalid (one problem per line on stderr: element, code, rule); 2 it could not be read at all.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use oqs_protocol::{Decoded, FileName};
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Parse and validate a file; print it as JSON (exit 0) or its problems (exit 1; 2 if unreadable).
    Inspect {
        /// The file; its name decides the kind (e.g. OQSsiquc01req_0001.xml).
        path: PathBuf,
    },
}

pub fn run(cmd: FileCommand) -> ExitCode {
    match cmd {
        FileCommand::Inspect { path } => inspect(&path),
    }
}

#[derive(Serialize)]
struct Inspection<'a> {
    file: &'a FileName,
    #[serde(flatten)]
    decoded: &'a Decoded,
}

fn inspect(path: &Path) -> ExitCode {
    let name = match path.file_name().and_then(|n| n.to_str()) {
        Some(name) => name,
        None => {
            eprintln!(
                "{}: OQS-E1001 file name is missing or not valid Unicode",
                path.display()
            );
            return ExitCode::from(1);
        }
    };
    let file_name = match FileName::parse(name) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let bytes = match std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::from(2);
        }
    };
    let decoded = match oqs_protocol::read_message(&bytes, file_name.kind(), file_name.direction())
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let issues = decoded.message.validate();
    if !issues.is_empty() {
        for issue in issues {
            eprintln!("{issue}");
        }
        return ExitCode::from(1);
    }
    let out = Inspection {
        file: &file_name,
        decoded: &decoded,
    };
    match serde_json::to_string_pretty(&out) {
        Ok(json) => {
            use std::io::Write;
            // A closed pipe (`oqs file inspect X | head`) is not worth a panic.
            match writeln!(std::io::stdout().lock(), "{json}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(2),
            }
        }
        Err(e) => {
            eprintln!("cannot print JSON: {e}");
            ExitCode::from(2)
        }
    }
}
