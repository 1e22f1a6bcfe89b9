//! The Windows transport: a local named pipe. Not built on the project's Linux machines' own tests; keep it
//! small.
//!
//! Remote clients are rejected by the pipe itself and the first instance is created with
//! `first_pipe_instance`, so another process cannot squat the name before the daemon. Every client is
//! identified by its process's token ([`client_identity`]: the pipe's client process id, then that
//! process's token user and enabled groups) and admitted only when [`crate::SidPolicy`] allows it (the
//! daemon's own user, or a member of `ipc.group`, given as a SID); then it must still present the token from
//! Credential Manager.
//!
//! The token reading is the one place with `unsafe` FFI in this crate. Review notes: every handle opened
//! here is closed by [`Handle`]'s `Drop`; every buffer the API fills is sized by a first call and kept alive
//! while the pointers into it are read; the string the API allocates for a SID is freed with `LocalFree`;
//! nothing is written through a pointer we did not get from the API for that call.
#![allow(unsafe_code)]

use std::os::windows::io::AsRawHandle;

use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{
    GetTokenInformation, PSID, TOKEN_GROUPS, TOKEN_QUERY, TOKEN_USER, TokenGroups, TokenUser,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

use crate::SidIdentity;
use crate::error::IpcError;

/// A group that is on in the token (not only "use for deny").
const SE_GROUP_ENABLED: u32 = 0x0000_0004;
const SE_GROUP_USE_FOR_DENY_ONLY: u32 = 0x0000_0010;

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

/// Why a client or this process could not be identified.
fn identity_error(what: &str) -> std::io::Error {
    let os = std::io::Error::last_os_error();
    std::io::Error::new(os.kind(), format!("{what}: {os}"))
}

/// A handle closed when dropped.
struct Handle(HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the handle came from OpenProcess / OpenProcessToken and is closed once, here.
            unsafe { CloseHandle(self.0) };
        }
    }
}

/// The connected client of `pipe`: its process id, and its token's user and enabled groups.
pub fn client_identity(pipe: &NamedPipeServer) -> std::io::Result<SidIdentity> {
    let mut pid = 0u32;
    // SAFETY: the pipe handle is valid while `pipe` is borrowed; `pid` is a live u32.
    let ok = unsafe { GetNamedPipeClientProcessId(pipe.as_raw_handle() as HANDLE, &mut pid) };
    if ok == 0 {
        return Err(identity_error("GetNamedPipeClientProcessId"));
    }
    // SAFETY: plain call; the result is checked for null and owned by `Handle`.
    let process = Handle(unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) });
    if process.0.is_null() {
        return Err(identity_error("OpenProcess"));
    }
    let token = open_token(process.0)?;
    Ok(SidIdentity {
        user: token_user(&token)?,
        groups: token_groups(&token)?,
        pid,
    })
}

/// This process's user SID (the daemon's own user, admitted by default).
pub fn current_user_sid() -> std::io::Result<String> {
    // SAFETY: the current process's pseudo-handle, which needs no closing.
    let current = unsafe { GetCurrentProcess() };
    token_user(&open_token(current)?)
}

/// The token of `process` (an open handle), for queries.
fn open_token(process: HANDLE) -> std::io::Result<Handle> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `process` is an open process handle; `token` is a live out-pointer, owned by `Handle`.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return Err(identity_error("OpenProcessToken"));
    }
    Ok(Handle(token))
}

/// The token's user SID.
fn token_user(token: &Handle) -> std::io::Result<String> {
    let buf = token_information(token, TokenUser)?;
    // SAFETY: the buffer holds a TOKEN_USER written by GetTokenInformation, aligned to 8 bytes.
    let user = unsafe { &*(buf.as_ptr().cast::<TOKEN_USER>()) };
    sid_string(user.User.Sid)
}

/// The SIDs of the groups enabled in the token.
fn token_groups(token: &Handle) -> std::io::Result<Vec<String>> {
    let buf = token_information(token, TokenGroups)?;
    // SAFETY: the buffer holds a TOKEN_GROUPS whose `Groups` array has `GroupCount` entries, all within
    // the buffer (GetTokenInformation sized it).
    let groups = unsafe {
        let header = &*(buf.as_ptr().cast::<TOKEN_GROUPS>());
        std::slice::from_raw_parts(header.Groups.as_ptr(), header.GroupCount as usize)
    };
    let mut enabled = Vec::new();
    for g in groups {
        if g.Attributes & SE_GROUP_ENABLED != 0 && g.Attributes & SE_GROUP_USE_FOR_DENY_ONLY == 0 {
            enabled.push(sid_string(g.Sid)?);
        }
    }
    Ok(enabled)
}

/// One class of token information, in a buffer of u64 (so the structures in it are aligned).
fn token_information(token: &Handle, class: i32) -> std::io::Result<Vec<u64>> {
    let mut needed = 0u32;
    // SAFETY: a first call with no buffer only reports the size needed.
    unsafe { GetTokenInformation(token.0, class, std::ptr::null_mut(), 0, &mut needed) };
    if needed == 0 {
        return Err(identity_error("GetTokenInformation (size)"));
    }
    let mut buf = vec![0u64; (needed as usize).div_ceil(8)];
    // SAFETY: the buffer is at least `needed` bytes long and lives until the caller drops it.
    let ok = unsafe {
        GetTokenInformation(
            token.0,
            class,
            buf.as_mut_ptr().cast(),
            (buf.len() * 8) as u32,
            &mut needed,
        )
    };
    if ok == 0 {
        return Err(identity_error("GetTokenInformation"));
    }
    Ok(buf)
}

/// The string form of `sid` (`S-1-5-…`).
fn sid_string(sid: PSID) -> std::io::Result<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` points into a token buffer that outlives this call; `text` receives a string the API
    // allocates with LocalAlloc, freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
        return Err(identity_error("ConvertSidToStringSidW"));
    }
    // SAFETY: the API wrote a NUL-terminated UTF-16 string at `text`.
    let out = unsafe {
        let mut len = 0usize;
        while *text.add(len) != 0 {
            len += 1;
        }
        String::from_utf16_lossy(std::slice::from_raw_parts(text, len))
    };
    // SAFETY: `text` was allocated by ConvertSidToStringSidW and is freed once.
    unsafe { LocalFree(text.cast()) };
    Ok(out)
}
