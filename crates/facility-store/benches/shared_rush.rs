//! A morning rush on the facility-wide store: TERMINALS terminals, each on its own SQLite file and all on one
//! private PostgreSQL server (`pg-harness`), each recording a check-in with its audit row every INTERVAL; one
//! more terminal watches the LISTEN/NOTIFY feed and reads each announced check-in back. Reported: the write
//! (SQLite + outbox) p50/p95 at a terminal, check-in → visible at another terminal p50/p95, and the rows per
//! second that reached PostgreSQL; then the same terminals writing back to back (the rows a second until all
//! are in PostgreSQL: the capacity); next to the same writes on one terminal with SQLite alone (the floor).
//! `cargo bench -p facility-store --bench shared_rush` (release). Plain timing, no harness; each figure is
//! also printed as a `BENCH {json}` line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use facility_store::{
    AuditEntry, CheckIn, CheckInStatus, PatientIdentity, SharedConfig, SharedStatus,
    StaticKeyProvider, Store,
};
use os_keyring::SecretBytes;
use pg_harness::PgServer;

const TERMINALS: usize = 20;
const PER_TERMINAL: usize = 50;
/// One patient per terminal every INTERVAL: 20 terminals × 4/s = 80 check-ins a second, far above a real
/// morning (a 1,000-bed hospital's outpatient peak is a few a minute per terminal).
const INTERVAL: Duration = Duration::from_millis(250);
const DEADLINE: Duration = Duration::from_secs(120);

fn key() -> StaticKeyProvider {
    StaticKeyProvider::new(SecretBytes::new(vec![7; 32]))
}

fn check_in(id: String, at: i64) -> CheckIn {
    let patient = PatientIdentity {
        name: "山田太郎".into(),
        kana: "ヤマダタロウ".into(),
        sex: "1".into(),
        birth_date: "19800417".into(),
        insurer_number: "06139876".into(),
        symbol: "記号".into(),
        number: "1234".into(),
        branch: "00".into(),
    };
    CheckIn {
        check_in_id: id,
        at,
        reader: "reader-1".into(),
        method: "pin".into(),
        status: CheckInStatus::Valid,
        patient: Some(patient),
        result_document: Some(vec![b'x'; 4096].into()),
        updated_at: at,
    }
}

fn entry(id: &str) -> AuditEntry {
    AuditEntry {
        actor: "kiosk".into(),
        action: "check_in".into(),
        detail: Some(id.to_owned()),
        ..Default::default()
    }
}

/// p50 and p95 of `v` in milliseconds.
fn percentiles(v: &mut [Duration]) -> (f64, f64) {
    v.sort_unstable();
    let at = |q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    (at(0.50), at(0.95))
}

fn row(what: &str, n: usize, (p50, p95): (f64, f64), per_s: f64) {
    println!("{what:<52} {n:>6}  p50 {p50:>9.2} ms  p95 {p95:>9.2} ms  {per_s:>8.0} rows/s");
    println!(
        "BENCH {{\"row\":\"{what}\",\"n\":{n},\"p50_ms\":{p50:.3},\"p95_ms\":{p95:.3},\"rows_per_s\":{per_s:.1}}}"
    );
}

fn synced(store: &Store) -> bool {
    store.shared_status()
        == Some(SharedStatus {
            reachable: true,
            pending: 0,
        })
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let pg = PgServer::start();
    let url = pg.create_database("rush");
    let dir = tempfile::tempdir().expect("temp dir");
    let open = |id: &str| {
        Store::open(dir.path().join(format!("{id}.sqlite3")), &key())
            .expect("open")
            .with_shared(SharedConfig {
                url: url.clone(),
                terminal_id: id.to_owned(),
                ca: None,
            })
            .expect("shared")
    };
    let terminals: Vec<Store> = (0..TERMINALS).map(|t| open(&format!("t{t:02}"))).collect();
    let observer = open("viewer");
    let mut feed = observer.shared_check_ins_feed().expect("feed");
    wait("every terminal connected", || {
        terminals.iter().all(synced) && synced(&observer)
    });

    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let total = TERMINALS * PER_TERMINAL;
    let watcher = {
        let sent = sent.clone();
        std::thread::spawn(move || {
            let mut visible = Vec::with_capacity(total);
            let deadline = Instant::now() + DEADLINE;
            while visible.len() < total && Instant::now() < deadline {
                let Ok(id) = feed.blocking_recv() else { break };
                // Visible: the observer's own read of the facility-wide list returns it.
                while observer.check_in(&id).ok().flatten().is_none() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                if let Some(t0) = sent.lock().expect("sent").get(&id) {
                    visible.push(t0.elapsed());
                }
            }
            visible
        })
    };
    let start = Instant::now();
    let writes: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = terminals
            .iter()
            .enumerate()
            .map(|(t, store)| {
                let sent = sent.clone();
                s.spawn(move || {
                    let mut took = Vec::with_capacity(PER_TERMINAL);
                    for i in 0..PER_TERMINAL {
                        let next = Instant::now() + INTERVAL;
                        let id = format!("t{t:02}_{i:04}");
                        let at = 1_735_689_600_000 + i as i64;
                        let t0 = Instant::now();
                        sent.lock().expect("sent").insert(id.clone(), t0);
                        store
                            .insert_check_in_audited(&check_in(id.clone(), at), &entry(&id))
                            .expect("check-in");
                        took.push(t0.elapsed());
                        std::thread::sleep(next.saturating_duration_since(Instant::now()));
                    }
                    took
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("terminal thread"))
            .collect()
    });
    wait("every terminal's rows in PostgreSQL", || {
        terminals.iter().all(synced)
    });
    let all_in = start.elapsed();
    let mut visible = watcher.join().expect("watcher");
    let mut writes = writes;
    println!(
        "facility-wide store, {TERMINALS} terminals × {PER_TERMINAL} check-ins (+ audit row) every {INTERVAL:?}, \
         one PostgreSQL (pg-harness), release={}",
        !cfg!(debug_assertions)
    );
    row(
        "shared: check-in + audit write at a terminal",
        writes.len(),
        percentiles(&mut writes),
        total as f64 / all_in.as_secs_f64(),
    );
    let seen = visible.len();
    row(
        "shared: check-in -> visible at another terminal",
        seen,
        percentiles(&mut visible),
        total as f64 / all_in.as_secs_f64(),
    );
    assert_eq!(seen, total, "every check-in was announced and read back");

    // Capacity: the same terminals writing back to back; rows a second until every one is in PostgreSQL.
    let start = Instant::now();
    let mut burst: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = terminals
            .iter()
            .enumerate()
            .map(|(t, store)| {
                s.spawn(move || {
                    (0..PER_TERMINAL)
                        .map(|i| {
                            let id = format!("b{t:02}_{i:04}");
                            let t0 = Instant::now();
                            store
                                .insert_check_in_audited(
                                    &check_in(id.clone(), i as i64),
                                    &entry(&id),
                                )
                                .expect("check-in");
                            t0.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("terminal thread"))
            .collect()
    });
    wait("the burst's rows in PostgreSQL", || {
        terminals.iter().all(synced)
    });
    row(
        "shared: back-to-back writes -> all in PostgreSQL",
        burst.len(),
        percentiles(&mut burst),
        total as f64 / start.elapsed().as_secs_f64(),
    );

    // The floor: the same writes, back to back, on one terminal with SQLite only.
    let solo = Store::open(dir.path().join("solo.sqlite3"), &key()).expect("open solo");
    let mut took = Vec::with_capacity(total);
    let start = Instant::now();
    for i in 0..total {
        let id = format!("solo_{i:05}");
        let t0 = Instant::now();
        solo.insert_check_in_audited(&check_in(id.clone(), i as i64), &entry(&id))
            .expect("solo check-in");
        took.push(t0.elapsed());
    }
    let per_s = total as f64 / start.elapsed().as_secs_f64();
    row(
        "SQLite alone: check-in + audit write (floor)",
        total,
        percentiles(&mut took),
        per_s,
    );
}
