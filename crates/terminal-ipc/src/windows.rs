//! The Windows transport: a local named pipe. Not built on the project's Linux machines; keep it small.
//!
//! Remote clients are rejected by the pipe itself and the first instance is created with
//! `first_pipe_instance`, so another process cannot squat the name before the daemon. The pipe keeps the
//! default DACL (full control for the owner, SYSTEM and administrators; read-only for others, who then cannot
//! send a hello), and every connection must present the token from Credential Manager. Checking the client's
//! SID (GetNamedPipeClientProcessId + token) is not done yet: it needs `unsafe` FFI and a review.

use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};

use crate::error::IpcError;

/// `\\.\pipe\oqs-terminal-readerd-<user>`, as a path so callers use one type on every platform.
pub fn default_socket_path() -> std::path::PathBuf {
    let user = std::env::var("USERNAME").unwrap_or_default();
    format!(r"\\.\pipe\oqs-terminal-readerd-{user}").into()
}

pub fn create_first(name: &str) -> Result<NamedPipeServer, IpcError> {
    ServerOptions::new()
        .first_pipe_instance(true)
        .reject_remote_clients(true)
        .create(name)
        .map_err(|e| IpcError::SocketPath {
            path: name.to_string(),
            reason: e.to_string(),
        })
}

pub fn create_next(name: &str) -> Result<NamedPipeServer, IpcError> {
    ServerOptions::new()
        .reject_remote_clients(true)
        .create(name)
        .map_err(|e| IpcError::SocketPath {
            path: name.to_string(),
            reason: e.to_string(),
        })
}

pub fn connect(name: &str) -> Result<NamedPipeClient, IpcError> {
    ClientOptions::new()
        .open(name)
        .map_err(|source| IpcError::Connect {
            path: name.to_string(),
            source,
        })
}
