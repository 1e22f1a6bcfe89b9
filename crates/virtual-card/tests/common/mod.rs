//! Shared fixtures for the virtual card tests: a CA, issued profiles, and PC/SC helpers.
#![allow(dead_code)]

use std::ffi::CString;
use std::time::{Duration, Instant, SystemTime};

use mock_jpki::MockJpkiCa;
use myna_card::{Pin, VerificationCodeB};
use pcsc::{Context, ReaderState, Scope, State};
use virtual_card::{CardProfile, IssueOptions, Variant, issue};

pub const SEED: u64 = 42;

pub fn ca() -> MockJpkiCa {
    MockJpkiCa::generate(SEED).expect("CA")
}

pub fn profile(ca: &MockJpkiCa, variant: Variant) -> CardProfile {
    let index = Variant::ALL.iter().position(|v| *v == variant).unwrap() as u32 + 1;
    issue(
        ca,
        &IssueOptions {
            seed: SEED,
            index,
            variant,
            issued_at: SystemTime::now(),
            photo_jp2: None,
        },
    )
    .expect("issue")
}

pub fn auth_pin(p: &CardProfile) -> Pin {
    Pin::new(p.auth_pin.as_deref().expect("profile has a PIN")).unwrap()
}

pub fn info_pin(p: &CardProfile) -> Pin {
    Pin::new(p.card_info_pin.as_deref().expect("profile has a PIN")).unwrap()
}

/// A 4-digit PIN that is not the card's.
pub fn wrong_pin(p: &CardProfile) -> Pin {
    let right = p.auth_pin.as_deref().unwrap_or("0000");
    Pin::new(if right == "9999" { "0000" } else { "9999" }).unwrap()
}

pub fn code_b(p: &CardProfile) -> VerificationCodeB {
    VerificationCodeB::new(&p.code_b).unwrap()
}

/// Waits until the reader shows a card (PRESENT) or is empty, by `get_status_change`, with a deadline.
pub fn wait_card(ctx: &Context, reader: &str, present: bool, timeout: Duration) -> Duration {
    let start = Instant::now();
    let name = CString::new(reader).unwrap();
    let mut rs = [ReaderState::new(name, State::UNAWARE)];
    loop {
        let left = timeout.checked_sub(start.elapsed()).unwrap_or_else(|| {
            panic!("reader {reader}: card present={present} not seen within {timeout:?}")
        });
        match ctx.get_status_change(Some(left), &mut rs) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => continue,
            Err(e) => panic!("get_status_change: {e}"),
        }
        let ev = rs[0].event_state();
        let is_present = ev.contains(State::PRESENT);
        if is_present == present && (present || ev.contains(State::EMPTY)) {
            return start.elapsed();
        }
        rs[0].sync_current_state();
    }
}

pub fn context() -> Context {
    Context::establish(Scope::User).expect("pcscd reachable")
}
