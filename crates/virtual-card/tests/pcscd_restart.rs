//! pcscd going away and coming back: the monitor reports it and recovers, a session gets a typed error.
//! Runs with exclusive use of pcscd (the harness's users lock) and in its own nextest test group.

mod common;

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::*;
use myna_card::{CardError, CardSession, PcscTransport, ReaderEvent, ReaderMonitor};
use virtual_card::{Faults, Variant, VpcdCard};

fn expect(
    rx: &Receiver<ReaderEvent>,
    within: Duration,
    want: impl Fn(&ReaderEvent) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let left = within
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("expected event not seen within {within:?}"));
        match rx.recv_timeout(left) {
            Ok(ev) if want(&ev) => return start.elapsed(),
            Ok(_) => {}
            Err(e) => panic!("expected event not seen within {within:?}: {e}"),
        }
    }
}

#[test]
fn monitor_and_session_survive_a_pcscd_restart() {
    let ex = pcsc_harness::exclusive();
    let readers = ex.start();
    let (reader, port) = readers[0].clone();
    let ca = ca();
    let p = profile(&ca, Variant::Normal);

    let (monitor, rx) = ReaderMonitor::start().unwrap();
    let r = reader.clone();
    expect(
        &rx,
        Duration::from_secs(5),
        |e| matches!(e, ReaderEvent::ReaderAdded { reader } if *reader == r),
    );
    let vpcd = VpcdCard::insert(p.to_card().unwrap(), port, Faults::default()).unwrap();
    expect(&rx, Duration::from_secs(3), |e| {
        matches!(e, ReaderEvent::CardInserted { .. })
    });
    let ctx = context();
    let mut s =
        CardSession::new(PcscTransport::connect(&ctx, &pcsc_harness::cstring(&reader)).unwrap());
    assert_eq!(s.pin_tries_left().unwrap(), 3);

    ex.stop();
    let lost = expect(&rx, Duration::from_secs(5), |e| {
        *e == ReaderEvent::PcscdLost
    });
    eprintln!("PcscdLost reported {lost:?} after pcscd stopped");
    let e = s.pin_tries_left().unwrap_err();
    assert_eq!(e, CardError::ServiceUnavailable, "{e:?}");
    drop(s);
    drop(vpcd);

    ex.start();
    let back = expect(&rx, Duration::from_secs(5), |e| {
        *e == ReaderEvent::PcscdBack
    });
    eprintln!("PcscdBack reported {back:?} after pcscd was ready");
    let r = reader.clone();
    expect(
        &rx,
        Duration::from_secs(5),
        |e| matches!(e, ReaderEvent::ReaderAdded { reader } if *reader == r),
    );
    let vpcd = VpcdCard::insert(p.to_card().unwrap(), port, Faults::default()).unwrap();
    expect(&rx, Duration::from_secs(3), |e| {
        matches!(e, ReaderEvent::CardInserted { .. })
    });
    let ctx = context();
    let mut s =
        CardSession::new(PcscTransport::connect(&ctx, &pcsc_harness::cstring(&reader)).unwrap());
    assert_eq!(s.pin_tries_left().unwrap(), 3);
    drop(s);
    vpcd.remove();
    let t = Instant::now();
    monitor.stop();
    // stop() must cancel the monitor's blocking wait rather than sit out its timeout: a generous bound, so a
    // loaded machine cannot fail it, that still catches a wait that is never cancelled.
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}
