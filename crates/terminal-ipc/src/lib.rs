//! The local protocol between the reader daemon (`oqs-readerd`) and its clients: the terminal app's windows
//! and the `oqs` tool.
//!
//! - **Framing** ([`frame`]): a big-endian `u32` length, then JSON; frames over [`MAX_FRAME_LEN`] are refused
//!   before anything is allocated.
//! - **Messages** ([`message`]): serde-tagged enums shared by both sides: the frozen [`Hello`] /
//!   [`HandshakeReply`] pair, [`Request`]s with ids and their [`Response`]s or typed [`ErrorBody`]s, and
//!   [`Event`]s for subscribers (readers, kiosk screen, new check-in, outbox, central link).
//! - **Authentication**: a Unix socket (0600) inside a private directory (0700); the peer's uid (or a
//!   configured group) checked with `SO_PEERCRED`; a token ([`IpcToken`]) from the OS keyring in the hello;
//!   the protocol version checked. Every refusal is a [`Refusal`] frame with a reason any version can read.
//! - **Scopes** ([`Scope`]): the hello declares what the connection may ask (staff, or a kiosk for the patient's
//!   screen); the server refuses anything else with `forbidden` before the handler sees it.
//! - **Trust in the socket**: before sending the token the client checks the socket, its folder and the
//!   listening process's uid (root, this user or the daemon's user), so a planted socket gets nothing.
//! - **Server** ([`IpcServer`] + your [`Handler`], events through an [`EventPublisher`]) and **client**
//!   ([`IpcClient::connect`], [`IpcClient::request`], [`IpcClient::subscribe`]), both on tokio.
//!
//! Patient identifiers and secrets inside messages are [`Sensitive`], [`Secret`] or [`Pin`], whose `Debug`
//! never shows the value.
//!
//! ```no_run
//! # async fn demo() -> Result<(), terminal_ipc::IpcError> {
//! use terminal_ipc::{IpcClient, IpcToken, Request, Topic};
//! let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto)?;
//! let token = IpcToken::load(&keyring)?;
//! let client = IpcClient::connect(terminal_ipc::default_socket_path(), &token).await?;
//! let status = client.request(Request::Status).await?;
//! let mut events = client.subscribe(&[Topic::CheckIn]).await?;
//! while let Some(event) = events.next().await { println!("{event:?} after {status:?}"); }
//! # Ok(()) }
//! ```

pub mod auth;
mod client;
mod error;
pub mod frame;
pub mod message;
pub mod sensitive;
mod server;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

pub use auth::{
    IpcToken, PeerIdentity, PeerPolicy, SidIdentity, SidPolicy, TOKEN_KEYRING_NAME, is_sid,
};
pub use client::{ClientOptions, EventStream, IpcClient};
pub use error::IpcError;
pub use frame::{FrameError, MAX_FRAME_LEN};
pub use message::*;
pub use sensitive::{Pin, PinFormatError, Secret, Sensitive};
pub use server::{EventPublisher, Handler, IpcServer, PeerInfo, ServerConfig};
#[cfg(unix)]
pub use unix::{default_socket_path, prepare_runtime_dir};
#[cfg(windows)]
pub use windows::default_socket_path;
