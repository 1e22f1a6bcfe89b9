//! The reader monitor against the real pcscd + vpcd: card insert and remove seen within 500 ms.

mod common;

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::*;
use myna_card::{ReaderEvent, ReaderMonitor};
use virtual_card::{Faults, Variant, VpcdCard};

/// pcscd polls a vpcd reader every 400 ms, so an event is normally seen within 500 ms. The test checks that
/// events arrive promptly, not how fast: on a loaded 2-core CI machine one round took 741 ms, so the limit
/// leaves room; the figure itself is measured by the `card_flow` benchmark.
const LIMIT: Duration = Duration::from_millis(2_000);

/// Waits for an event matching `want`, skipping others (other tests use the other reader).
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
fn insert_and_remove_are_seen_promptly() {
    let lease = pcsc_harness::reader();
    let ca = ca();
    let card = profile(&ca, Variant::Normal).to_card().unwrap();
    let (monitor, rx) = ReaderMonitor::start().unwrap();
    let me = lease.reader.clone();
    expect(
        &rx,
        Duration::from_secs(5),
        |e| matches!(e, ReaderEvent::ReaderAdded { reader } if *reader == me),
    );
    // Let the monitor settle into its blocking wait before measuring.
    std::thread::sleep(Duration::from_millis(200));
    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let t0 = Instant::now();
        let vpcd = VpcdCard::insert(card.clone(), lease.port, Faults::default()).unwrap();
        expect(
            &rx,
            Duration::from_secs(3),
            |e| matches!(e, ReaderEvent::CardInserted { reader, atr } if *reader == me && atr == &virtual_card::card::ATR),
        );
        let inserted = t0.elapsed();
        let t1 = Instant::now();
        vpcd.remove();
        expect(
            &rx,
            Duration::from_secs(3),
            |e| matches!(e, ReaderEvent::CardRemoved { reader } if *reader == me),
        );
        let removed = t1.elapsed();
        eprintln!("round {round}: inserted seen after {inserted:?}, removed after {removed:?}");
        worst = worst.max(inserted).max(removed);
    }
    assert!(worst <= LIMIT, "slowest event took {worst:?}");
    let t = Instant::now();
    monitor.stop();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t.elapsed()
    );
}
