//! `oqs-readerd`, the facility terminal's reader daemon.
//!
//! The daemon wires the crates of the workspace together: it drives the card readers, owns the kiosk
//! check-in ([`kiosk`]), relays request files from the receipt computer to the central service, keeps
//! the facility store, and serves the app and the `oqs` tool over the local socket.

pub mod card_driver;
pub mod checkin;
pub mod config;
pub mod ipc;
pub mod kiosk;
pub mod logging;
pub mod relay;
pub mod station;
