//! Tracing set-up for the daemon.
//!
//! Logs go to stderr (journald picks them up under systemd). The level comes from `OQS_LOG` (an
//! `EnvFilter` string, default `info`). Patient identifiers never reach a log line: the types that hold
//! them (`oqs_protocol::Pii`, the store's records, PINs) redact themselves in `Debug`, and spans carry
//! file names and ids only.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("OQS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
