//! The Unix transport: a stream socket with mode 0600 inside a private runtime directory (0700).
//!
//! The directory is the real barrier: the socket is created inside it, so there is no moment in which a
//! socket with the process umask's mode is reachable by others. The socket's own mode and the peer-uid check
//! on every connection are the second and third layers; the token is the fourth.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use crate::auth::PeerIdentity;
use crate::error::IpcError;

const DIR_NAME: &str = "oqs-terminal";
const SOCKET_NAME: &str = "readerd.sock";

/// `$XDG_RUNTIME_DIR/oqs-terminal/readerd.sock`, or `/tmp/oqs-terminal-<uid>/readerd.sock` without one.
pub fn default_socket_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join(DIR_NAME).join(SOCKET_NAME),
        _ => {
            let uid = rustix::process::geteuid().as_raw();
            std::env::temp_dir()
                .join(format!("{DIR_NAME}-{uid}"))
                .join(SOCKET_NAME)
        }
    }
}

fn path_error(path: &Path, reason: impl Into<String>) -> IpcError {
    IpcError::SocketPath {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Creates `dir` (0700, or 0750 owned by `group`) or checks that an existing one is a real directory owned by
/// this user, then enforces the mode. Refuses a directory owned by someone else, which could be a trap laid in
/// a shared `/tmp`.
pub fn prepare_runtime_dir(dir: &Path, group: Option<u32>) -> Result<(), IpcError> {
    let mode = if group.is_some() { 0o750 } else { 0o700 };
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent).map_err(|e| path_error(parent, e.to_string()))?;
            }
            std::fs::DirBuilder::new()
                .mode(mode)
                .create(dir)
                .map_err(|e| path_error(dir, e.to_string()))?;
        }
        Err(e) => return Err(path_error(dir, e.to_string())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| path_error(dir, e.to_string()))?;
    if !meta.file_type().is_dir() {
        return Err(path_error(dir, "it exists and is not a directory"));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(path_error(
            dir,
            format!(
                "it is owned by uid {} instead of this user ({me})",
                meta.uid()
            ),
        ));
    }
    if let Some(gid) = group {
        std::os::unix::fs::chown(dir, None, Some(gid))
            .map_err(|e| path_error(dir, e.to_string()))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| path_error(dir, e.to_string()))?;
    Ok(())
}

/// Binds the daemon's socket at `path`, replacing a stale socket left by a crashed daemon but never a live
/// one nor anything that is not a socket.
pub async fn bind(path: &Path, group: Option<u32>) -> Result<UnixListener, IpcError> {
    let dir = path
        .parent()
        .ok_or_else(|| path_error(path, "it has no parent directory"))?;
    prepare_runtime_dir(dir, group)?;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).await.is_ok() {
                return Err(IpcError::AlreadyRunning(path.display().to_string()));
            }
            std::fs::remove_file(path).map_err(|e| path_error(path, e.to_string()))?;
        }
        Ok(_) => {
            return Err(path_error(
                path,
                "something that is not a socket is in the way",
            ));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(path_error(path, e.to_string())),
    }
    let listener = UnixListener::bind(path).map_err(|e| path_error(path, e.to_string()))?;
    let mode = if group.is_some() { 0o660 } else { 0o600 };
    if let Some(gid) = group {
        std::os::unix::fs::chown(path, None, Some(gid))
            .map_err(|e| path_error(path, e.to_string()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| path_error(path, e.to_string()))?;
    Ok(listener)
}

/// The peer's uid, gid and pid as the kernel reports them (SO_PEERCRED).
pub fn peer_identity(stream: &UnixStream) -> Option<PeerIdentity> {
    let cred = stream.peer_cred().ok()?;
    Some(PeerIdentity {
        uid: Some(cred.uid()),
        gid: Some(cred.gid()),
        pid: cred.pid(),
    })
}

/// Connects to the daemon's socket at `path`, after checking that it is the daemon's and before anything is
/// sent: the folder is owned by a trusted user and writable by nobody else, the socket is a socket owned by a
/// trusted user, and the process listening on it (SO_PEERCRED of the connected stream, which no file trick can
/// fake) runs as a trusted user. Trusted: root, this user, and `also_trusted` (the daemon's service user).
/// Without these checks a socket planted by another user where the client looks would harvest the token.
pub async fn connect(path: &Path, also_trusted: &[u32]) -> Result<UnixStream, IpcError> {
    let me = rustix::process::geteuid().as_raw();
    let trusted = |uid: u32| uid == 0 || uid == me || also_trusted.contains(&uid);
    let untrusted = |reason: String| IpcError::UntrustedSocket {
        path: path.display().to_string(),
        reason,
    };
    let connect_error = |source: std::io::Error| IpcError::Connect {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir_meta = std::fs::metadata(dir).map_err(connect_error)?;
    if !dir_meta.is_dir() {
        return Err(untrusted(format!("{} is not a folder", dir.display())));
    }
    if !trusted(dir_meta.uid()) {
        return Err(untrusted(format!(
            "its folder is owned by uid {}, not by root, this user or the daemon's user",
            dir_meta.uid()
        )));
    }
    if dir_meta.mode() & 0o022 != 0 {
        return Err(untrusted(format!(
            "its folder {} is writable by other users (mode {:o})",
            dir.display(),
            dir_meta.mode() & 0o7777
        )));
    }
    let meta = std::fs::symlink_metadata(path).map_err(connect_error)?;
    if !meta.file_type().is_socket() {
        return Err(untrusted("it is not a socket".into()));
    }
    if !trusted(meta.uid()) {
        return Err(untrusted(format!(
            "it is owned by uid {}, not by root, this user or the daemon's user",
            meta.uid()
        )));
    }
    let stream = UnixStream::connect(path).await.map_err(connect_error)?;
    // The path may have been swapped since the checks above; the kernel's word on the listener is final.
    let listener_uid = stream
        .peer_cred()
        .map_err(|e| untrusted(format!("the listening process cannot be identified ({e})")))?
        .uid();
    if !trusted(listener_uid) {
        return Err(untrusted(format!(
            "the process listening on it runs as uid {listener_uid}, not as root, this user or the daemon's user"
        )));
    }
    Ok(stream)
}
