//! # mock-central
//!
//! A stand-in for the national オンライン資格確認等システム, so the facility terminal can run and be
//! tested end to end without the real network.
//!
//! - [`init::init`] creates a data directory: a deterministic synthetic population in SQLite
//!   ([`population`]), a mock terminal PKI with CA, server, terminal (valid, revoked, expired)
//!   certificates and CRL ([`pki`]), a registered face-reader key, and the facilities' admin
//!   credentials.
//! - [`server`] serves it over mutual TLS: request files in, result files out
//!   (`POST /v1/messages/{name}`), card check-ins, environment settings, emergency and disaster
//!   lookups, patients' access history, fault injection and `/healthz`.
//!
//! The HTTP interface, the error codes and the files of a data directory are documented in
//! `docs/mock-central.md`.

pub mod cards;
pub mod checkin;
pub mod client;
pub mod dates;
pub mod error;
pub mod history;
pub mod init;
pub mod insurer;
pub mod lookup;
pub mod medical_aid;
pub mod messages;
pub mod names;
pub mod pki;
pub mod population;
pub mod results;
pub mod rng;
pub mod server;
pub mod store;

pub use error::CentralError;
