//! My Number Card (マイナンバーカード) access for the facility terminal.
//!
//! Layers, from bytes up:
//! - [`apdu`]: command APDUs ([`Apdu`], [`Ins`]) and status words ([`StatusWords`]: `63Cx` tries left,
//!   `63C0`/`6984` blocked, `6A82` not found …). Responses and PINs zeroize on drop and never print.
//! - [`Transport`]: one trait for "send an APDU, get the answer", with a transaction hook. [`PcscTransport`]
//!   implements it over pcscd (shared mode, one PC/SC transaction per operation); the `virtual-card` crate
//!   implements it in-process for tests.
//! - [`CardSession`]: the operations the daemon needs — `identify`, `auth_certificate`, `pin_tries_left`,
//!   `verify_pin`, `sign_challenge`, `read_face_photo`, `four_facts` — over the JPKI AP, the face AP
//!   (unlocked with 照合番号B) and the card-info AP.
//! - [`ReaderMonitor`]: reader and card events from `SCardGetStatusChange` with the PnP pseudo-reader,
//!   including pcscd going away and coming back; stopped with `Context::cancel`.
//!
//! Rules this crate keeps (DESIGN.md §5): it has no function that reads the 個人番号 (EF 0001 of the
//! card-info AP) and no constant naming it; PINs are sent only to the card, after reading the retry counter,
//! and never retried automatically; a blocked PIN is reported without another VERIFY.
//!
//! Cards with no PIN (顔認証マイナンバーカード): how a real one answers VERIFY on EF 0018 is not public.
//! This crate treats `6A88` (referenced data not found) as "no PIN set" ([`CardError::NoPinSet`]), which is
//! what the virtual card answers; a real card answering `6984` would be reported as blocked, which leads to
//! the same fallback (face or staff visual check).

pub mod apdu;
pub mod ber;
pub mod certificate;
mod error;
pub mod monitor;
mod pcsc_transport;
mod secret;
pub mod session;
mod transport;

pub use apdu::{Apdu, Ins, Response, StatusWords};
pub use error::CardError;
pub use monitor::{ReaderEvent, ReaderMonitor};
pub use pcsc_transport::PcscTransport;
pub use secret::{Pin, VerificationCodeB};
pub use session::{CardIdentity, CardSession, FacePhoto, FourFacts, PinState, Sex, TokenKind};
pub use transport::Transport;
