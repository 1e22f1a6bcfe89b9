//! Tracing set-up for the daemon.
//!
//! Logs go to stderr (journald picks them up under systemd); a Windows service, whose stderr goes nowhere,
//! writes them to a file instead ([`init_file`]). The level comes from `OQS_LOG` (an
//! `EnvFilter` string, default `info`). Patient identifiers never reach a log line: the types that hold
//! them (`oqs_protocol::Pii`, the store's records, PINs) redact themselves in `Debug`, and spans carry
//! file names and ids only.

use tracing_subscriber::EnvFilter;

/// Above this size the log file is moved to `<name>.old` (replacing the previous one) when the daemon
/// starts, so a service that runs for years keeps at most two files of this size.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

/// Logs to the file `path` (appended; its folder is created), for a Windows service. The folder takes the
/// ACL of the data folder (SYSTEM, Administrators and the service only).
pub fn init_file(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FILE_BYTES) {
        std::fs::rename(path, path.with_extension("log.old"))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let filter = EnvFilter::try_from_env("OQS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .try_init();
    Ok(())
}

pub fn init() {
    let filter = EnvFilter::try_from_env("OQS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
