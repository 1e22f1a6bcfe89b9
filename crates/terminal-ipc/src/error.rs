//! The crate's error type.

use crate::frame::FrameError;
use crate::message::{ErrorBody, Refusal};

/// Errors of the IPC layer, on either side.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error("the OS keyring failed: {0}")]
    Keyring(#[from] os_keyring::KeyringError),
    #[error(
        "no IPC token in the OS keyring: the reader daemon has not started for this user, or this program runs \
         as another user"
    )]
    NoToken,
    #[error("the socket path {path} cannot be used: {reason}")]
    SocketPath { path: String, reason: String },
    /// The socket (or its folder, or the process behind it) is not the daemon's: the token was not sent.
    #[error(
        "the socket {path} is not trusted, so the token was not sent: {reason} (another user may have placed \
         it; check the daemon's socket setting)"
    )]
    UntrustedSocket { path: String, reason: String },
    /// The daemon did not grant the scope asked for (a daemon from before scopes).
    #[error("the reader daemon did not grant the {0} scope; update the reader daemon")]
    ScopeNotGranted(String),
    #[error("another reader daemon is already listening on {0}")]
    AlreadyRunning(String),
    #[error("cannot connect to the reader daemon at {path}: {source} (is oqs-readerd running?)")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("socket I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("the reader daemon refused the connection ({reason:?}): {message}", reason = .0.reason, message = .0.message)]
    Refused(Refusal),
    #[error("the reader daemon answered with an error: {0}")]
    Remote(ErrorBody),
    #[error("the reader daemon sent something unexpected: {0}")]
    Unexpected(String),
    #[error("the connection to the reader daemon was closed")]
    Disconnected,
    #[error("the reader daemon did not answer within {0:?}")]
    Timeout(std::time::Duration),
}
