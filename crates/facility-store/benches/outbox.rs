//! Cost of the store operations on the relay's and the kiosk's hot paths, on a real file with the production
//! settings (WAL, synchronous = FULL). Plain timing, no harness: `cargo bench -p facility-store`.

use std::time::{Duration, Instant};

use facility_store::{
    AuditEntry, CheckIn, CheckInStatus, PatientIdentity, StaticKeyProvider, Store,
};

fn report(what: &str, n: usize, elapsed: Duration) {
    let per = elapsed / n as u32;
    println!(
        "{what:<48} {n:>6} ops  {per:>10.1?}/op  {:>8.0} ops/s",
        n as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(
        dir.path().join("bench.db"),
        &StaticKeyProvider::random().expect("key"),
    )
    .expect("open");
    let n = 2000;

    let start = Instant::now();
    for i in 0..n {
        let name = format!("OQSsiquc01req_{i:08}.xml");
        store
            .outbox_receive(&name, "OQSsiquc01", "/p", 0)
            .expect("receive");
        let claimed = store.outbox_claim_due(0, 1).expect("claim");
        store
            .outbox_mark_answered(&claimed[0].request_name, "res.xml", 0)
            .expect("answer");
    }
    report(
        "outbox receive + claim + answered (3 commits)",
        n,
        start.elapsed(),
    );

    let start = Instant::now();
    for i in 0..n {
        let entry = AuditEntry {
            actor: "relay".into(),
            action: "answered".into(),
            detail: Some(i.to_string()),
            ..Default::default()
        };
        store.append_audit(&entry, 0).expect("audit");
    }
    report("audit append", n, start.elapsed());

    let start = Instant::now();
    let mut patient = PatientIdentity::default();
    patient.name = "山田太郎".into();
    patient.birth_date = "19800417".into();
    for i in 0..n {
        let check_in = CheckIn {
            check_in_id: format!("c{i}"),
            at: i as i64,
            reader: "r".into(),
            method: "pin".into(),
            status: CheckInStatus::Valid,
            patient: Some(patient.clone()),
            result_document: Some(vec![b'x'; 4096].into()),
            updated_at: 0,
        };
        store.insert_check_in(&check_in).expect("check-in");
    }
    report(
        "check-in insert (encrypted identity + 4 KiB doc)",
        n,
        start.elapsed(),
    );

    let start = Instant::now();
    let verdict = store.verify_audit_chain().expect("verify");
    report(
        &format!("verify audit chain ({verdict:?})"),
        1,
        start.elapsed(),
    );
}
