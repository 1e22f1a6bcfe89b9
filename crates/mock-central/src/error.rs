//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the mock central service, worded for the IT vendor running it.
#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database connection pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    CertificateGeneration(#[from] rcgen::Error),
    #[error("TLS configuration is invalid: {0}")]
    Tls(String),
    #[error(
        "the data directory {0} is not initialised; run `oqs-mock-central init --dir DIR` first"
    )]
    NotInitialised(PathBuf),
    #[error("the data directory {0} already holds a population; choose an empty directory")]
    AlreadyInitialised(PathBuf),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a job's outcome cannot be kept: {0}")]
    Outcome(#[from] serde_json::Error),
    #[error("the card profile {path} cannot be used: {reason}")]
    CardProfile { path: PathBuf, reason: String },
}

impl CentralError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CentralError::Io {
            path: path.into(),
            source,
        }
    }
}
