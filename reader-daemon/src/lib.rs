//! `oqs-readerd`, the facility terminal's reader daemon.
//!
//! The daemon wires the crates of the workspace together: it drives the card readers, owns the kiosk
//! check-in ([`kiosk`]), relays request files from the receipt computer to the central service, keeps
//! the facility store, and serves the app and the `oqs` tool over the local socket.

pub mod config;
pub mod kiosk;
pub mod logging;
pub mod relay;
