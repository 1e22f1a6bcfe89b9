//! Benchmark (a): a card placed on the reader → its check-in result file in `face/`.
//!
//! Everything is real: the mock central service over mutual TLS on loopback, `oqs-readerd`, the harness's
//! pcscd with a vpcd reader, and a virtual card inserted in-process (so the moment of insertion is known to
//! the microsecond). A kiosk client on the daemon's socket answers every screen the instant it appears
//! (method PIN, the PIN, yes to every consent), so the figures are machine time only.
//!
//! ```text
//! cargo build --release -p reader-daemon -p mock-central -p virtual-card -p oqs-cli -p e2e --bins
//! target/release/oqs-checkin-bench [ITERATIONS]      # default 30; run inside `keyctl session -`
//! ```
//!
//! Reported per phase (median and p95): insertion seen by the daemon (pcscd polls vpcd about every
//! 400 ms, so this phase is dominated by the poll), card identified (SELECT, token info, PIN state,
//! certificate), PIN counter read, challenge + VERIFY + two signatures, consent screens, central check-in
//! through to the file in `face/`; and the total with and without the insertion phase.
//!
//! Measured (release, 2 shared cores, daemon logging at debug, 30 check-ins, medians / p95 in ms):
//! insertion seen 400.5 / 404.2, identified 8.6 / 12.9, PIN counter 1.2 / 1.4, challenge + VERIFY + 2
//! signatures 15.7 / 24.0, consents 0.6 / 0.8, check-in → face file 13.5 / 29.7; total 442.3 / 458.5, and
//! 41.1 / 57.4 without the insertion detection.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::kiosk::{Cards, NORMAL};
use e2e::{Daemon, MockCentral};
use terminal_ipc::{
    AuthMethod, Event, IpcClient, IpcToken, KioskAction, KioskScreen, Pin, ReaderChange, Request,
    Topic,
};
use virtual_card::{CardProfile, Faults, VpcdCard};

/// Picks one phase out of a sample.
type Phase = fn(&Sample) -> Duration;

#[derive(Default, Clone)]
struct Sample {
    detect: Duration,
    identify: Duration,
    pin_counter: Duration,
    verify_sign: Duration,
    consents: Duration,
    checkin_to_file: Duration,
    total: Duration,
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn next_screen(events: &mut terminal_ipc::EventStream) -> (KioskScreen, Instant) {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.next()).await {
            Ok(Some(Event::Kiosk { screen, .. })) => return (screen, Instant::now()),
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the daemon closed the event stream"),
            Err(_) => panic!("no kiosk screen within 30 s"),
        }
    }
}

async fn wait_inserted(events: &mut terminal_ipc::EventStream) -> Instant {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.next()).await {
            Ok(Some(Event::Reader {
                change: ReaderChange::CardInserted,
                ..
            })) => return Instant::now(),
            Ok(Some(_)) => continue,
            other => panic!("no card-inserted event: {other:?}"),
        }
    }
}

fn wait_file(path: &Path) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if path.exists() {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

async fn one(
    client: &IpcClient,
    events: &mut terminal_ipc::EventStream,
    profile: &CardProfile,
    pin: &str,
    port: u16,
    face: &Path,
) -> Sample {
    let card = profile.to_card().expect("virtual card");
    let t0 = Instant::now();
    let inserted = VpcdCard::insert(card, port, Faults::default()).expect("insert into vpcd");
    let seen = wait_inserted(events).await;
    let mut s = Sample {
        detect: seen - t0,
        ..Sample::default()
    };
    let kiosk = |action| Request::Kiosk {
        reader: None,
        action,
    };
    let mut consents_started = None;
    let mut last_sent = seen;
    let id = loop {
        let (screen, at) = next_screen(events).await;
        match screen {
            KioskScreen::MethodChoice { .. } => {
                s.identify = at - seen;
                last_sent = Instant::now();
                client
                    .request(kiosk(KioskAction::ChooseMethod {
                        method: AuthMethod::Pin,
                    }))
                    .await
                    .expect("choose PIN");
            }
            KioskScreen::PinEntry { .. } => {
                s.pin_counter = at - last_sent;
                last_sent = Instant::now();
                client
                    .request(kiosk(KioskAction::EnterPin {
                        pin: Pin::new(pin).expect("4 digits"),
                    }))
                    .await
                    .expect("enter PIN");
            }
            KioskScreen::Consent { item } => {
                if consents_started.is_none() {
                    s.verify_sign = at - last_sent;
                    consents_started = Some(at);
                }
                last_sent = Instant::now();
                client
                    .request(kiosk(KioskAction::AnswerConsent { item, agreed: true }))
                    .await
                    .expect("answer consent");
            }
            KioskScreen::Result { check_in_id, .. } => break check_in_id,
            KioskScreen::Notice { notice } => panic!("the kiosk stopped: {notice:?}"),
            _ => {}
        }
    };
    let file_at = wait_file(&face.join(format!("OQSsiquc01res_{id}.xml")));
    s.consents = last_sent - consents_started.unwrap_or(last_sent);
    s.checkin_to_file = file_at - last_sent;
    s.total = file_at - t0;
    inserted.remove();
    loop {
        if let (KioskScreen::Idle, _) = next_screen(events).await {
            break;
        }
    }
    s
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let cards = Cards::issue(1);
    let central = MockCentral::start(1000, Some(&cards.dir));
    let lease = pcsc_harness::reader();
    let daemon = Daemon::start(
        &central,
        &format!("[readers]\nnames = [\"{}\"]\n", lease.reader),
    );
    let profile = CardProfile::load(&cards.profile(NORMAL)).expect("profile");
    let pin = cards.pin(NORMAL);
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let samples = rt.block_on(async {
        let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto).expect("keyring");
        let token = IpcToken::load(&keyring).expect("the daemon's token");
        let client = IpcClient::connect(&socket, &token).await.expect("connect");
        let mut events = client
            .subscribe(&[Topic::Kiosk, Topic::Reader])
            .await
            .expect("subscribe");
        // One warm-up check-in (TLS session, settings cache, page cache).
        one(
            &client,
            &mut events,
            &profile,
            &pin,
            lease.port,
            &daemon.face(),
        )
        .await;
        let mut out = Vec::new();
        for _ in 0..iterations {
            out.push(
                one(
                    &client,
                    &mut events,
                    &profile,
                    &pin,
                    lease.port,
                    &daemon.face(),
                )
                .await,
            );
        }
        out
    });
    println!(
        "card inserted → result file in face/ ({iterations} check-ins, pcscd + vpcd, mutual TLS on loopback)"
    );
    println!("{:<44} {:>10} {:>10}", "phase", "median ms", "p95 ms");
    let phases: [(&str, Phase); 8] = [
        ("insertion seen (pcscd poll of vpcd)", |s| s.detect),
        ("card identified (JPKI AP, PIN state, cert)", |s| s.identify),
        ("PIN counter read", |s| s.pin_counter),
        ("challenge + VERIFY + 2 signatures", |s| s.verify_sign),
        ("consent screens (client answers at once)", |s| s.consents),
        ("central check-in → file in face/", |s| s.checkin_to_file),
        ("TOTAL with insertion detection", |s| s.total),
        ("TOTAL without insertion detection", |s| s.total - s.detect),
    ];
    for (name, f) in phases {
        let v: Vec<Duration> = samples.iter().map(f).collect();
        println!(
            "{:<44} {:>10.1} {:>10.1}",
            name,
            ms(percentile(v.clone(), 0.5)),
            ms(percentile(v, 0.95))
        );
    }
}
