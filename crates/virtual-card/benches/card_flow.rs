//! Benchmark: card inserted → certificate read → PIN verified → challenge signed, through the real pcscd
//! and the vpcd driver. Prints median and p95 of the whole flow and of its parts.
//!
//! `cargo bench -p virtual-card --bench card_flow` (starts the harness pcscd if needed).
//! `ITERATIONS` overrides the number of rounds (default 30).

use std::ffi::CString;
use std::time::{Duration, Instant, SystemTime};

use mock_jpki::MockJpkiCa;
use myna_card::{CardSession, PcscTransport, Pin};
use pcsc::{Context, ReaderState, Scope, State};
use virtual_card::{Faults, IssueOptions, Variant, VpcdCard, issue};

fn wait(ctx: &Context, reader: &CString, present: bool) {
    let mut rs = [ReaderState::new(reader.clone(), State::UNAWARE)];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("card state not reached within 5 s");
        ctx.get_status_change(Some(left), &mut rs)
            .expect("get_status_change");
        let ev = rs[0].event_state();
        if ev.contains(State::PRESENT) == present && (present || ev.contains(State::EMPTY)) {
            return;
        }
        rs[0].sync_current_state();
    }
}

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let pick = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<32} median {:>8.1} ms   p95 {:>8.1} ms   min {:>8.1} ms   max {:>8.1} ms",
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.95).as_secs_f64() * 1e3,
        v[0].as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3,
    );
}

fn main() {
    let iterations: usize = std::env::var("ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let lease = pcsc_harness::reader();
    let reader = pcsc_harness::cstring(&lease.reader);
    let ca = MockJpkiCa::generate(7).unwrap();
    let profile = issue(
        &ca,
        &IssueOptions {
            seed: 7,
            index: 1,
            variant: Variant::Normal,
            issued_at: SystemTime::now(),
            photo_jp2: None,
        },
    )
    .unwrap();
    let card = profile.to_card().unwrap();
    let pin = Pin::new(profile.auth_pin.as_deref().unwrap()).unwrap();
    let ctx = Context::establish(Scope::User).expect("pcscd");

    let (mut total, mut detect, mut cert_t, mut verify_t, mut sign_t) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..iterations {
        let t0 = Instant::now();
        let vpcd = VpcdCard::insert(card.clone(), lease.port, Faults::default()).unwrap();
        wait(&ctx, &reader, true);
        let t1 = Instant::now();
        let mut s = CardSession::new(PcscTransport::connect(&ctx, &reader).unwrap());
        s.identify().unwrap();
        let cert = s.auth_certificate().unwrap();
        let t2 = Instant::now();
        s.verify_pin(&pin).unwrap();
        let t3 = Instant::now();
        let challenge = format!("challenge {i}");
        let sig = s.sign_challenge(challenge.as_bytes()).unwrap();
        let t4 = Instant::now();
        mock_jpki::verify_pkcs1_sha256(&cert, challenge.as_bytes(), &sig).unwrap();
        total.push(t4 - t0);
        detect.push(t1 - t0);
        cert_t.push(t2 - t1);
        verify_t.push(t3 - t2);
        sign_t.push(t4 - t3);
        drop(s);
        vpcd.remove();
        wait(&ctx, &reader, false);
    }
    println!("card flow through pcscd + vpcd, {iterations} rounds");
    stats("inserted → challenge signed", total);
    stats("  inserted → seen by pcscd", detect);
    stats("  identify + certificate read", cert_t);
    stats("  PIN verified", verify_t);
    stats("  challenge signed", sign_t);
}
