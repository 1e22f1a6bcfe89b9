//! `oqs-readerd`, the facility terminal's reader daemon.
//!
//! The daemon wires the crates of the workspace together: it drives the card readers, owns the kiosk
//! check-in, relays request files from the receipt computer to the central service, keeps the facility
//! store, and serves the app and the `oqs` tool over the local socket.
//!
//! - [`relay`]: `req/` → central service → `res/`, exactly once across crashes.
//! - [`kiosk`]: the check-in state machine, without I/O; [`station`]: the task that drives one machine per
//!   reader (events from the cards, the socket and an inactivity timer; effects carried out);
//!   [`card_driver`]: the PC/SC reader monitor and one blocking thread per card session;
//!   [`checkin`]: the central check-in (server challenge, or the offline proof during an outage), the store,
//!   the `face/` result file and the completion of pending check-ins.
//! - [`ipc`]: the local-socket handler (status, kiosk actions, today's check-ins, outbox);
//!   [`reception_list`]: any day's check-ins as the reception list shows them, and the usage figures.
//! - [`accounts`]: staff logins (password + TOTP), sessions bound to a connection, account administration;
//!   [`emergency`]: 救急時 and 災害時医療情報閲覧; [`facility_options`]: the facility's 救急専用端末 and the
//!   emergency summary's order and period; [`audit_hooks`]: audit rows for the staff visual check.
//! - [`charset`]: the facility's 利用文字コード for every file written to `res/` and `face/`.
//! - [`config`], [`logging`].

/// A point where the fault-injection tests may crash the daemon (`--features failpoints` and the
/// `FAILPOINTS` environment variable, see the `fail` crate): the process aborts there, as on a power cut,
/// without unwinding or flushing anything. Without the feature it compiles to nothing.
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        $crate::__fail::fail_point!($name, |_| ::std::process::abort())
    };
}

#[doc(hidden)]
pub use fail as __fail;

pub mod accounts;
pub mod audit_hooks;
pub mod card_driver;
pub mod charset;
pub mod checkin;
pub mod checkup_form;
pub mod config;
pub mod emergency;
pub mod face;
pub mod facility_options;
pub mod ipc;
pub mod kiosk;
pub mod logging;
pub mod reception;
pub mod reception_list;
pub mod relay;
pub mod review;
pub mod station;
#[cfg(feature = "virtual-reader")]
pub mod virtual_reader;
