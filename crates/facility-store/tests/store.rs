//! The store on real SQLite files: migrations, file modes, keys, encryption at rest, the outbox state machine
//! and its crash safety, the audit chain under tampering, accounts and lockout, consents, settings.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use facility_store::*;
use os_keyring::SecretBytes;
use os_keyring::testing::in_keyutils_session;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

fn key(byte: u8) -> StaticKeyProvider {
    StaticKeyProvider::new(SecretBytes::new(vec![byte; 32]))
}

struct NoKey;
impl KeyProvider for NoKey {
    fn load(&self) -> Result<Option<SecretBytes>, StoreError> {
        Ok(None)
    }
    fn create(&self) -> Result<SecretBytes, StoreError> {
        panic!("must not create a key for an existing database")
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn patient() -> PatientIdentity {
    PatientIdentity {
        name: "山田太郎".into(),
        kana: "ヤマダタロウ".into(),
        sex: "1".into(),
        birth_date: "19800417".into(),
        insurer_number: "06139876".into(),
        symbol: "記号ＡＢ".into(),
        number: "87654321".into(),
        branch: "03".into(),
    }
}

#[test]
fn migrates_from_empty_with_private_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facility.db");
    let store = Store::open(&path, &key(1)).unwrap();
    store.integrity_check().unwrap();
    store
        .append_audit(
            &AuditEntry {
                actor: "t".into(),
                action: "a".into(),
                ..Default::default()
            },
            T0,
        )
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let p = dir.path().join(format!("facility.db{suffix}"));
        assert!(p.exists(), "{} exists (WAL mode)", p.display());
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    drop(store);

    let raw = Connection::open(&path).unwrap();
    let version: i64 = raw
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let journal: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    drop(raw);

    // Reopening runs no migration twice, and an existing file with loose permissions is tightened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(&path, &key(1)).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 1 }
    );
    drop(store);

    // A database written by a newer build is refused, not downgraded.
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    assert!(matches!(
        Store::open(&path, &key(1)),
        Err(StoreError::NewerSchema { .. })
    ));
}

#[test]
fn the_data_key_must_be_the_databases_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facility.db");
    drop(Store::open(&path, &key(1)).unwrap());
    assert!(matches!(
        Store::open(&path, &NoKey),
        Err(StoreError::KeyMissing)
    ));
    assert!(matches!(
        Store::open(&path, &key(2)),
        Err(StoreError::KeyMismatch)
    ));
    Store::open(&path, &key(1)).unwrap();
}

#[test]
fn data_key_lives_in_the_os_keyring() {
    if !in_keyutils_session("data_key_lives_in_the_os_keyring") {
        return;
    }
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Keyutils).unwrap();
    let provider = KeyringKeyProvider::new(keyring.clone(), DEFAULT_KEY_NAME);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facility.db");
    let store = Store::open(&path, &provider).unwrap();
    let mut check_in = sample_check_in("k1");
    check_in.patient = Some(patient());
    store.insert_check_in(&check_in).unwrap();
    drop(store);
    assert_eq!(
        keyring
            .get(DEFAULT_KEY_NAME)
            .unwrap()
            .unwrap()
            .expose()
            .len(),
        32
    );
    let store = Store::open(&path, &provider).unwrap();
    assert_eq!(
        store.check_in("k1").unwrap().unwrap().patient,
        Some(patient())
    );
    drop(store);
    // Lost key (e.g. keyutils after a reboot): a clear error, and no new key silently replacing it.
    keyring.delete(DEFAULT_KEY_NAME).unwrap();
    assert!(matches!(
        Store::open(&path, &provider),
        Err(StoreError::KeyMissing)
    ));
    assert!(keyring.get(DEFAULT_KEY_NAME).unwrap().is_none());
}

fn sample_check_in(id: &str) -> CheckIn {
    CheckIn {
        check_in_id: id.into(),
        at: T0,
        reader: "reader-1".into(),
        method: "pin".into(),
        status: CheckInStatus::PendingOutage,
        patient: None,
        result_document: None,
        updated_at: T0,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn identifiers_are_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facility.db");
    let store = Store::open(&path, &key(9)).unwrap();
    let p = patient();
    let document = format!(
        "<Name>{}</Name><Birth>{}</Birth><InsuredNumber>{}</InsuredNumber>",
        p.name, p.birth_date, p.number
    );
    let mut check_in = sample_check_in("c1");
    check_in.patient = Some(p.clone());
    check_in.result_document = Some(document.clone().into_bytes().into());
    store.insert_check_in(&check_in).unwrap();
    store
        .put_query_result(&QueryResult {
            request_name: "OQSsiquc01req_1.xml".into(),
            kind: "OQSsiquc01".into(),
            answered_at: T0,
            status: "ok".into(),
            result_name: Some("OQSsiquc01res_1.xml".into()),
            body: document.clone().into_bytes().into(),
        })
        .unwrap();
    store
        .create_account(
            &NewAccount {
                login: "dr",
                display_name: "Dr",
                role: Role::Staff,
                password: "pw-very-secret",
            },
            "setup",
            T0,
        )
        .unwrap();
    store
        .enrol_first_totp("dr", &SecretBytes::new(b"TOTPSECRETBYTES!".to_vec()), 1, T0)
        .unwrap();

    // Round trip, and lookup by key without decrypting anything else.
    let back = store.check_in("c1").unwrap().unwrap();
    assert_eq!(back.patient.as_ref(), Some(&p));
    assert_eq!(
        back.result_document.as_ref().map(|d| d.as_bytes()),
        Some(document.as_bytes())
    );
    let pk = store.patient_key("０６１３９８７６", "記号AB", "8765-4321", "19800417");
    assert_eq!(
        pk,
        store.patient_key_of(&p),
        "full-width and separators fold to the same key"
    );
    assert_eq!(store.check_ins_of_patient(&pk).unwrap().len(), 1);
    assert_eq!(
        store
            .query_result("OQSsiquc01req_1.xml")
            .unwrap()
            .unwrap()
            .body
            .as_bytes(),
        document.as_bytes()
    );
    assert_eq!(
        store.totp_secret("dr").unwrap().unwrap().expose(),
        b"TOTPSECRETBYTES!"
    );
    let debug = format!("{back:?}");
    assert!(
        !debug.contains("山田")
            && debug.contains("Document(<")
            && !debug.contains("PatientIdentity {"),
        "Debug hides identifiers"
    );
    drop(store);

    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(format!("facility.db{suffix}"))) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 4096);
    for secret in [
        &p.name,
        &p.kana,
        &p.birth_date,
        &p.number,
        &p.insurer_number,
        &p.symbol,
        &"TOTPSECRETBYTES!".to_string(),
        &"pw-very-secret".to_string(),
    ] {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "{secret} must not appear in the database file"
        );
    }
}

#[test]
fn outbox_state_machine() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    let r = store
        .outbox_receive("a.xml", "OQSsiquc01", "/p/a.xml", T0)
        .unwrap();
    assert!(matches!(r, Received::New(_)));
    assert_eq!(r.entry().state, OutboxState::Received);
    assert!(
        matches!(store.outbox_receive("a.xml", "OQSsiquc01", "/p/a.xml", T0 + 1).unwrap(), Received::Existing(e) if e.received_at == T0)
    );
    store
        .outbox_receive("b.xml", "TKKsiquc01", "/p/b.xml", T0 + 5)
        .unwrap();

    // Not due yet: nothing claimed.
    assert!(store.outbox_claim_due(T0 - 1, 10).unwrap().is_empty());
    let claimed = store.outbox_claim_due(T0 + 10, 10).unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|e| e.request_name.as_str())
            .collect::<Vec<_>>(),
        ["a.xml", "b.xml"]
    );
    assert!(
        claimed
            .iter()
            .all(|e| e.state == OutboxState::Sending && e.attempts == 1)
    );
    assert!(
        store.outbox_claim_due(T0 + 10, 10).unwrap().is_empty(),
        "a claimed row is not claimed twice"
    );

    // Central down for a: back to received with a later due time; b answered.
    store
        .outbox_retry_later("a.xml", "central unreachable", T0 + HOUR, T0 + 11)
        .unwrap();
    store
        .outbox_mark_answered("b.xml", "b-res.xml", T0 + 12)
        .unwrap();
    assert!(matches!(
        store.outbox_mark_answered("b.xml", "again.xml", T0 + 13),
        Err(StoreError::InvalidTransition { from, to: "answered", .. }) if from == "answered"
    ));
    assert!(matches!(
        store.outbox_mark_answered("a.xml", "x", T0 + 13),
        Err(StoreError::InvalidTransition { .. })
    ));
    assert!(matches!(
        store.outbox_mark_answered("zzz.xml", "x", T0),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.outbox_next_due().unwrap(), Some(T0 + HOUR));
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            received: 1,
            sending: 0,
            answered: 1,
            failed: 0
        }
    );

    let again = store.outbox_claim_due(T0 + HOUR, 10).unwrap();
    assert_eq!(
        (
            again.len(),
            again[0].attempts,
            again[0].last_error.as_deref()
        ),
        (1, 2, Some("central unreachable"))
    );
    // A crash now leaves it in `sending`; the restart puts it back.
    assert_eq!(store.outbox_recover_in_flight(T0 + 2 * HOUR).unwrap(), 1);
    let a = store.outbox_get("a.xml").unwrap().unwrap();
    assert_eq!(
        (a.state, a.next_attempt_at),
        (OutboxState::Received, T0 + 2 * HOUR)
    );
    store
        .outbox_mark_failed("a.xml", "malformed", Some("a.err"), T0 + 2 * HOUR)
        .unwrap();
    assert!(matches!(
        store.outbox_retry_later("a.xml", "x", 0, 0),
        Err(StoreError::InvalidTransition { .. })
    ));
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            received: 0,
            sending: 0,
            answered: 1,
            failed: 1
        }
    );
}

/// Not a test on its own: the writer process of `outbox_survives_sigkill`, selected by an environment variable.
#[test]
fn crash_writer_child_process() {
    let Ok(path) = std::env::var("OQS_STORE_CRASH_WRITER") else {
        return;
    };
    let store = Store::open(&path, &key(7)).unwrap();
    let start: u64 = std::env::var("OQS_STORE_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let mut out = std::io::stdout().lock();
    for i in start.. {
        let name = format!("req-{i:06}.xml");
        store.outbox_receive(&name, "OQSsiquc01", "/p", T0).unwrap();
        let claimed = store.outbox_claim_due(T0, 1).unwrap();
        assert_eq!(claimed.len(), 1);
        store
            .outbox_mark_answered(&name, &format!("res-{i:06}.xml"), T0)
            .unwrap();
        store
            .append_audit(
                &AuditEntry {
                    actor: "relay".into(),
                    action: "answered".into(),
                    detail: Some(name),
                    ..Default::default()
                },
                T0,
            )
            .unwrap();
        // Report only after the commits: everything reported must survive the kill.
        use std::io::Write;
        writeln!(out, "committed {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn outbox_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facility.db");
    drop(Store::open(&path, &key(7)).unwrap());
    let mut next = 0u64;
    for round in 0..4 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_writer_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("OQS_STORE_CRASH_WRITER", &path)
            .env("OQS_STORE_CRASH_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut last = None;
        let target = 30 + round * 17;
        while let Some(Ok(line)) = lines.next() {
            if let Some(n) = line.strip_prefix("committed ") {
                last = Some(n.parse::<u64>().unwrap());
                // Meanwhile another process (this one) reads the live database.
                if last == Some(next + 10) {
                    let reader = Store::open(&path, &key(7)).unwrap();
                    assert!(reader.outbox_counts().unwrap().answered >= next + 10);
                }
                if last >= Some(next + target) {
                    child.kill().unwrap(); // SIGKILL, mid-stream
                    break;
                }
            }
        }
        child.wait().unwrap();
        let last = last.expect("the writer committed something");
        let store = Store::open(&path, &key(7)).unwrap();
        store.integrity_check().unwrap();
        for i in 0..=last {
            let e = store
                .outbox_get(&format!("req-{i:06}.xml"))
                .unwrap()
                .unwrap_or_else(|| panic!("req {i} lost"));
            assert_eq!(e.state, OutboxState::Answered, "req {i}");
        }
        // Anything after the last report was either fully done or can be recovered and resent.
        store.outbox_recover_in_flight(T0).unwrap();
        for e in store.outbox_claim_due(T0, 100).unwrap() {
            store
                .outbox_mark_answered(&e.request_name, "late.xml", T0)
                .unwrap();
        }
        assert_eq!(
            store.outbox_counts().unwrap().received + store.outbox_counts().unwrap().sending,
            0
        );
        assert!(matches!(
            store.verify_audit_chain().unwrap(),
            ChainVerdict::Intact { .. }
        ));
        next = store.outbox_counts().unwrap().answered;
    }
}

// ---- audit chain ----

fn audit_store(rows: usize) -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = Store::open(&path, &key(3)).unwrap();
    for i in 1..=rows {
        let entry = AuditEntry {
            actor: format!("user{i}"),
            action: "view_medical_info".into(),
            patient_ref: Some(format!("p{}", i % 3)),
            items: vec!["medication".into(), "surgery".into()],
            method: Some("card".into()),
            reason: Some("診察".into()),
            detail: None,
        };
        assert_eq!(store.append_audit(&entry, T0 + i as i64).unwrap(), i as i64);
    }
    (dir, path, store)
}

/// A connection of someone who edits the file directly and has dropped the triggers.
fn tamperer(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
    c
}

fn broken_at(store: &Store) -> i64 {
    match store.verify_audit_chain().unwrap() {
        ChainVerdict::Broken(b) => b.row_id,
        ChainVerdict::Intact { rows } => panic!("tampering not detected ({rows} rows intact)"),
    }
}

#[test]
fn audit_log_is_append_only() {
    let (_dir, path, store) = audit_store(5);
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 5 }
    );
    assert_eq!(
        store
            .audit_records_for_patient("p1")
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [1, 4]
    );
    assert_eq!(
        store.audit_records(3, 10).unwrap()[0].entry.items,
        ["medication", "surgery"]
    );
    let raw = Connection::open(&path).unwrap();
    let e = raw
        .execute("UPDATE audit_log SET actor = 'x' WHERE id = 2", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"));
    assert!(
        raw.execute("DELETE FROM audit_log WHERE id = 2", [])
            .is_err()
    );
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 5 }
    );
}

#[test]
fn audit_edit_is_detected_at_the_row() {
    let (_dir, path, store) = audit_store(8);
    tamperer(&path)
        .execute("UPDATE audit_log SET reason = '興味本位' WHERE id = 4", [])
        .unwrap();
    assert_eq!(broken_at(&store), 4);
}

#[test]
fn audit_delete_is_detected_at_the_next_row() {
    let (_dir, path, store) = audit_store(8);
    tamperer(&path)
        .execute("DELETE FROM audit_log WHERE id = 6", [])
        .unwrap();
    assert_eq!(broken_at(&store), 7);
}

#[test]
fn audit_truncation_at_the_end_is_detected() {
    let (_dir, path, store) = audit_store(8);
    tamperer(&path)
        .execute("DELETE FROM audit_log WHERE id >= 7", [])
        .unwrap();
    assert_eq!(broken_at(&store), 7);
}

fn recompute(c: &Connection, from_id: i64) {
    // The attacker knows the hash layout (it is public) but not the seal key.
    let rows: Vec<(i64, i64, Vec<Option<String>>)> = c
        .prepare("SELECT id, at, actor, action, patient_ref, items, method, reason, detail FROM audit_log WHERE id >= ?1 ORDER BY id")
        .unwrap()
        .query_map([from_id], |r| Ok((r.get(0)?, r.get(1)?, (2..9).map(|i| r.get(i).unwrap()).collect())))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (id, at, texts) in rows {
        let prev: Vec<u8> = c
            .query_row(
                "SELECT hash FROM audit_log WHERE id < ?1 ORDER BY id DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .unwrap_or(vec![0; 32]);
        let mut h = Sha256::new();
        h.update(&prev);
        h.update(id.to_be_bytes());
        h.update(at.to_be_bytes());
        for t in &texts {
            match t {
                None => h.update([0u8]),
                Some(t) => {
                    h.update([1u8]);
                    h.update((t.len() as u64).to_be_bytes());
                    h.update(t.as_bytes());
                }
            }
        }
        let hash: [u8; 32] = h.finalize().into();
        c.execute(
            "UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
            rusqlite::params![id, prev, hash.as_slice()],
        )
        .unwrap();
    }
}

#[test]
fn audit_insert_in_the_middle_is_detected_even_with_recomputed_hashes() {
    let (_dir, path, store) = audit_store(8);
    let c = tamperer(&path);
    for id in (5..=8).rev() {
        c.execute("UPDATE audit_log SET id = id + 1 WHERE id = ?1", [id])
            .unwrap();
    }
    c.execute(
        "INSERT INTO audit_log (id, at, actor, action, prev_hash, hash, seal) VALUES (5, ?1, 'ghost', 'login', x'00', x'00', x'00')",
        [T0 + 5],
    )
    .unwrap();
    recompute(&c, 5);
    assert_eq!(broken_at(&store), 5, "the forged row has no valid seal");
}

#[test]
fn audit_edit_with_recomputed_chain_is_detected_by_the_seal() {
    let (_dir, path, store) = audit_store(8);
    let c = tamperer(&path);
    c.execute(
        "UPDATE audit_log SET actor = 'someone_else' WHERE id = 3",
        [],
    )
    .unwrap();
    recompute(&c, 3);
    assert_eq!(broken_at(&store), 3);
}

// ---- accounts ----

#[test]
fn lockout_after_repeated_failures() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    let admin = store
        .create_account(
            &NewAccount {
                login: "admin",
                display_name: "管理者",
                role: Role::Administrator,
                password: "correct horse",
            },
            "setup",
            T0,
        )
        .unwrap();
    assert_eq!(
        (admin.role, admin.emergency_permission, admin.totp_enrolled),
        (Role::Administrator, false, false)
    );
    assert!(matches!(
        store.create_account(
            &NewAccount {
                login: "admin",
                display_name: "x",
                role: Role::Staff,
                password: "x"
            },
            "setup",
            T0
        ),
        Err(StoreError::AccountExists(_))
    ));
    let hash: String = Connection::open(dir.path().join("f.db"))
        .unwrap()
        .query_row(
            "SELECT password_hash FROM accounts WHERE login = 'admin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    assert!(
        matches!(store.verify_password("admin", "correct horse", T0).unwrap(), LoginOutcome::PasswordAccepted(a) if a.login == "admin")
    );
    for left in (1..=4).rev() {
        assert_eq!(
            store.verify_password("admin", "wrong", T0 + 1).unwrap(),
            LoginOutcome::Rejected {
                attempts_left: left
            }
        );
    }
    let until = T0 + 2 + 15 * 60 * 1000;
    // The fifth failure (here a wrong TOTP code) locks.
    assert_eq!(
        store.record_login_failure("admin", T0 + 2).unwrap(),
        LoginOutcome::LockedOut { until }
    );
    assert_eq!(
        store
            .verify_password("admin", "correct horse", T0 + 3)
            .unwrap(),
        LoginOutcome::LockedOut { until }
    );
    assert_eq!(
        store.account("admin").unwrap().unwrap().locked_until,
        Some(until)
    );
    // After the lock expires the right password works and resets the counter.
    assert!(
        matches!(store.verify_password("admin", "correct horse", until).unwrap(), LoginOutcome::PasswordAccepted(a) if a.failed_attempts == 0)
    );
    assert_eq!(
        store.verify_password("admin", "wrong", until + 1).unwrap(),
        LoginOutcome::Rejected { attempts_left: 4 }
    );
    store.unlock_account("admin", "root", until + 2).unwrap();
    assert_eq!(store.account("admin").unwrap().unwrap().failed_attempts, 0);

    assert_eq!(
        store.verify_password("nobody", "x", T0).unwrap(),
        LoginOutcome::UnknownAccount
    );
    store
        .set_emergency_permission("admin", true, "root", T0)
        .unwrap();
    store
        .enrol_first_totp("admin", &SecretBytes::new(vec![1; 20]), 1, T0)
        .unwrap();
    let a = store.account("admin").unwrap().unwrap();
    assert!(a.emergency_permission && a.totp_enrolled);
    // The facility keeps an administrator: a second one first, then this one can be disabled.
    assert!(matches!(
        store.set_disabled("admin", true, "root", T0),
        Err(StoreError::LastAdministrator)
    ));
    store
        .create_account(
            &NewAccount {
                login: "admin2",
                display_name: "管理者2",
                role: Role::Administrator,
                password: "another long password",
            },
            "root",
            T0,
        )
        .unwrap();
    store.set_disabled("admin", true, "root", T0).unwrap();
    assert_eq!(
        store
            .verify_password("admin", "correct horse", until + 3)
            .unwrap(),
        LoginOutcome::Disabled
    );
    assert!(matches!(
        store.set_role("ghost", Role::Staff, "root", T0),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn first_factor_success_keeps_second_factor_failures() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    let new = NewAccount {
        login: "dr",
        display_name: "医師",
        role: Role::MedicalInformationViewer,
        password: "correct horse",
    };
    store.create_account(&new, "setup", T0).unwrap();
    // Right password, wrong code, four times: the right password must not wipe the count each time.
    for n in 1..=4u32 {
        assert!(matches!(
            store
                .verify_first_factor("dr", "correct horse", T0)
                .unwrap(),
            LoginOutcome::PasswordAccepted(_)
        ));
        assert_eq!(
            store.second_factor_failed("dr", T0).unwrap(),
            LoginOutcome::Rejected {
                attempts_left: 5 - n
            }
        );
    }
    // A password-only login gives its attempt back but keeps the failed codes.
    assert!(matches!(
        store
            .verify_first_factor("dr", "correct horse", T0)
            .unwrap(),
        LoginOutcome::PasswordAccepted(_)
    ));
    store.release_login_attempt("dr", T0).unwrap();
    assert_eq!(store.account("dr").unwrap().unwrap().failed_attempts, 4);
    // The fifth attempt locks as soon as it is counted; a wrong code leaves it locked.
    assert!(matches!(
        store
            .verify_first_factor("dr", "correct horse", T0)
            .unwrap(),
        LoginOutcome::PasswordAccepted(_)
    ));
    assert!(matches!(
        store.second_factor_failed("dr", T0).unwrap(),
        LoginOutcome::LockedOut { .. }
    ));
    assert!(matches!(
        store
            .verify_first_factor("dr", "correct horse", T0)
            .unwrap(),
        LoginOutcome::LockedOut { .. }
    ));
    store.unlock_account("dr", "admin", T0).unwrap();
    store.record_login_failure("dr", T0).unwrap();
    store.record_login_success("dr", T0).unwrap();
    assert_eq!(store.account("dr").unwrap().unwrap().failed_attempts, 0);
}

fn doctor(store: &Store) {
    store
        .create_account(
            &NewAccount {
                login: "dr",
                display_name: "医師",
                role: Role::MedicalInformationViewer,
                password: "correct horse",
            },
            "admin",
            T0,
        )
        .unwrap();
}

/// Issue 13 item 2: the lock was checked before the slow hash and the failure counted after it, so parallel
/// wrong passwords all passed the check. Now each attempt is counted before its hash is checked.
#[test]
fn parallel_wrong_passwords_get_no_more_checks_than_the_policy_allows() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path().join("f.db"), &key(1)).unwrap());
    doctor(&store);
    let before = store.password_verifications();
    let start = std::sync::Arc::new(std::sync::Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                store
                    .verify_password("dr", &format!("guess number {i}"), T0)
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<LoginOutcome> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let checked = store.password_verifications() - before;
    assert!(
        checked <= 5,
        "{checked} of 64 parallel guesses reached the password hash; the policy allows 5"
    );
    assert!(outcomes.iter().all(|o| matches!(
        o,
        LoginOutcome::Rejected { .. } | LoginOutcome::LockedOut { .. }
    )));
    // Locked: the right password is refused without being checked.
    let before = store.password_verifications();
    assert!(matches!(
        store
            .verify_password("dr", "correct horse", T0 + 1)
            .unwrap(),
        LoginOutcome::LockedOut { .. }
    ));
    assert_eq!(store.password_verifications(), before);
}

/// Issue 13 item 1: the store itself refuses to overwrite an enrolled second factor unless asked to replace it.
#[test]
fn an_enrolled_second_factor_is_replaced_only_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    doctor(&store);
    let first = SecretBytes::new(vec![1; 20]);
    let attacker = SecretBytes::new(vec![2; 20]);
    store.enrol_first_totp("dr", &first, 10, T0).unwrap();
    assert!(matches!(
        store.enrol_first_totp("dr", &attacker, 11, T0),
        Err(StoreError::TotpAlreadyEnrolled(_))
    ));
    assert_eq!(
        store.totp_secret("dr").unwrap().unwrap().expose(),
        first.expose()
    );
    assert!(matches!(
        store.enrol_first_totp("ghost", &first, 10, T0),
        Err(StoreError::NotFound(_))
    ));
    store.replace_totp("dr", &attacker, 12, T0).unwrap();
    assert_eq!(
        store.totp_secret("dr").unwrap().unwrap().expose(),
        attacker.expose()
    );
    // After an administrator's reset, a first enrolment is possible again.
    store.reset_totp("dr", "admin", T0).unwrap();
    store.enrol_first_totp("dr", &first, 13, T0).unwrap();
    let actions: Vec<(String, String)> = store
        .audit_records(0, 100)
        .unwrap()
        .into_iter()
        .map(|r| (r.entry.actor, r.entry.action))
        .collect();
    let expected = [
        ("admin", "account_created"),
        ("dr", "totp_enrolled"),
        ("dr", "totp_enrolled"),
        ("admin", "totp_reset"),
        ("dr", "totp_enrolled"),
    ];
    assert_eq!(
        actions,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
}

/// Issue 13 item 3: a code's step is remembered in the store, so it is not accepted again after a restart.
#[test]
fn a_used_totp_step_stays_used_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    {
        let store = Store::open(&path, &key(1)).unwrap();
        doctor(&store);
        store
            .enrol_first_totp("dr", &SecretBytes::new(vec![1; 20]), 100, T0)
            .unwrap();
        assert!(
            !store.claim_totp_step("dr", 100).unwrap(),
            "the enrolment code"
        );
        assert!(store.claim_totp_step("dr", 101).unwrap());
        assert!(!store.claim_totp_step("dr", 101).unwrap());
    }
    let store = Store::open(&path, &key(1)).unwrap();
    assert!(
        !store.claim_totp_step("dr", 101).unwrap(),
        "used before the restart"
    );
    assert!(!store.claim_totp_step("dr", 99).unwrap(), "older steps too");
    assert!(store.claim_totp_step("dr", 102).unwrap());
}

/// Issue 13 item 4: every account change is written with its audit row in one transaction; when the audit
/// row cannot be written, the account is left as it was.
#[test]
fn account_changes_are_undone_when_their_audit_row_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    let store = Store::open(&path, &key(1)).unwrap();
    doctor(&store);
    store
        .enrol_first_totp("dr", &SecretBytes::new(vec![1; 20]), 1, T0)
        .unwrap();
    store.record_login_failure("dr", T0).unwrap();
    let before = store.account("dr").unwrap().unwrap();
    let rows_before = store.audit_records(0, 1000).unwrap().len();
    // Someone (here the test) makes the audit log refuse new rows.
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER audit_log_full BEFORE INSERT ON audit_log
         BEGIN SELECT RAISE(ABORT, 'the audit log refuses rows in this test'); END;",
    )
    .unwrap();
    let t = T0 + 1;
    let attempts: Vec<(&str, Result<(), StoreError>)> = vec![
        (
            "create",
            store
                .create_account(
                    &NewAccount {
                        login: "ns",
                        display_name: "看護師",
                        role: Role::Staff,
                        password: "another password",
                    },
                    "admin",
                    t,
                )
                .map(|_| ()),
        ),
        (
            "role",
            store.set_role("dr", Role::Administrator, "admin", t),
        ),
        ("disable", store.set_disabled("dr", true, "admin", t)),
        ("unlock", store.unlock_account("dr", "admin", t)),
        (
            "password",
            store.set_password("dr", "a new password!", "admin", t),
        ),
        (
            "permission",
            store.set_emergency_permission("dr", true, "admin", t),
        ),
        ("reset totp", store.reset_totp("dr", "admin", t)),
        (
            "replace totp",
            store.replace_totp("dr", &SecretBytes::new(vec![9; 20]), 5, t),
        ),
    ];
    for (what, result) in attempts {
        assert!(result.is_err(), "{what} succeeded without its audit row");
    }
    assert_eq!(store.account("dr").unwrap().unwrap(), before);
    assert_eq!(store.account("ns").unwrap(), None);
    assert_eq!(
        store.totp_secret("dr").unwrap().unwrap().expose(),
        &[1u8; 20][..]
    );
    assert!(matches!(
        store.verify_password("dr", "correct horse", t).unwrap(),
        LoginOutcome::PasswordAccepted(_)
    ));
    raw.execute_batch("DROP TRIGGER audit_log_full").unwrap();
    assert_eq!(store.audit_records(0, 1000).unwrap().len(), rows_before);
    assert!(matches!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { .. }
    ));
}

#[test]
fn consents_expire() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    let pk = store.patient_key_of(&patient());
    let other = store.patient_key("1", "", "2", "20000101");
    let consent = |item: &str, at: i64| Consent {
        patient: pk,
        item: item.into(),
        granted_at: at,
        expires_at: at + 24 * HOUR,
        check_in_id: Some("c1".into()),
    };
    store
        .grant_consent(&consent("medical_and_medication", T0))
        .unwrap();
    store.grant_consent(&consent("surgery", T0 + HOUR)).unwrap();
    assert_eq!(store.valid_consents(&pk, T0 + 23 * HOUR).unwrap().len(), 2);
    assert_eq!(
        store
            .valid_consents(&pk, T0 + 24 * HOUR)
            .unwrap()
            .iter()
            .map(|c| c.item.as_str())
            .collect::<Vec<_>>(),
        ["surgery"]
    );
    assert!(store.valid_consents(&other, T0).unwrap().is_empty());
    assert_eq!(store.all_valid_consents(T0).unwrap().len(), 2);
    assert_eq!(store.purge_expired_consents(T0 + 25 * HOUR).unwrap(), 2);
}

#[test]
fn pending_check_ins_are_completed_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    store.insert_check_in(&sample_check_in("c1")).unwrap();
    let mut c2 = sample_check_in("c2");
    c2.at = T0 + 1;
    c2.status = CheckInStatus::Valid;
    store.insert_check_in(&c2).unwrap();
    assert!(store.insert_check_in(&c2).is_err(), "ids are unique");
    assert_eq!(
        store
            .pending_outage_check_ins()
            .unwrap()
            .iter()
            .map(|c| c.check_in_id.as_str())
            .collect::<Vec<_>>(),
        ["c1"]
    );
    store
        .complete_check_in(
            "c1",
            CheckInStatus::Valid,
            Some(&patient()),
            Some(b"<xml/>"),
            T0 + HOUR,
        )
        .unwrap();
    assert!(store.pending_outage_check_ins().unwrap().is_empty());
    let c1 = store.check_in("c1").unwrap().unwrap();
    assert_eq!(
        (c1.status, c1.updated_at, c1.patient.is_some()),
        (CheckInStatus::Valid, T0 + HOUR, true)
    );
    assert_eq!(
        store
            .check_ins_between(T0, T0 + 2)
            .unwrap()
            .iter()
            .map(|c| c.check_in_id.as_str())
            .collect::<Vec<_>>(),
        ["c2", "c1"]
    );
    assert!(matches!(
        store.complete_check_in("nope", CheckInStatus::Valid, None, None, T0),
        Err(StoreError::NotFound(_))
    ));
}

/// A check-in is answered once: a second answer (another send of the same check-in) changes nothing and is
/// told so, so its `face/` file is not delivered.
#[test]
fn a_check_in_is_answered_only_while_pending() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    store.insert_check_in(&sample_check_in("c1")).unwrap();
    assert!(
        store
            .answer_check_in(
                "c1",
                CheckInStatus::Valid,
                Some(&patient()),
                b"<first/>",
                &[],
                T0 + 1
            )
            .unwrap()
    );
    assert!(
        !store
            .answer_check_in(
                "c1",
                CheckInStatus::Invalid,
                None,
                b"<second/>",
                &[],
                T0 + 2
            )
            .unwrap()
    );
    let c1 = store.check_in("c1").unwrap().unwrap();
    assert_eq!((c1.status, c1.updated_at), (CheckInStatus::Valid, T0 + 1));
    assert_eq!(c1.result_document.unwrap().as_bytes(), b"<first/>");
    assert!(matches!(
        store.answer_check_in("nope", CheckInStatus::Valid, None, b"<x/>", &[], T0),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn setting_changes_are_audited_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    assert_eq!(store.setting("result_encoding").unwrap(), None);
    store
        .set_setting("result_encoding", "shift_jis", "admin", T0)
        .unwrap();
    store
        .set_setting("result_encoding", "utf-8", "admin", T0 + 1)
        .unwrap();
    assert_eq!(
        store.setting("result_encoding").unwrap().as_deref(),
        Some("utf-8")
    );
    assert_eq!(store.settings().unwrap().len(), 1);
    let log = store.audit_records(0, 10).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].entry.action, "setting_changed");
    assert!(
        log[1]
            .entry
            .detail
            .as_deref()
            .unwrap()
            .contains("\"old\":\"shift_jis\"")
    );
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 2 }
    );
}

#[test]
fn a_staged_answer_settles_a_requeued_row_but_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db"), &key(1)).unwrap();
    store
        .outbox_receive("s.xml", "OQSsiquc01", "/p/s.xml", T0)
        .unwrap();
    // Never claimed: a staged answer may settle it (the relay staged it before re-queuing).
    store
        .outbox_mark_staged_answered("s.xml", "s-res.xml", T0 + 1)
        .unwrap();
    let e = store.outbox_get("s.xml").unwrap().unwrap();
    assert_eq!(e.state, OutboxState::Answered);
    assert_eq!(e.result_name.as_deref(), Some("s-res.xml"));
    assert!(matches!(
        store.outbox_mark_staged_answered("s.xml", "again.xml", T0 + 2),
        Err(StoreError::InvalidTransition { .. })
    ));
    store
        .outbox_receive("t.xml", "OQSsiquc01", "/p/t.xml", T0)
        .unwrap();
    store.outbox_claim_due(T0, 10).unwrap();
    assert!(matches!(
        store.outbox_mark_staged_answered("t.xml", "t-res.xml", T0 + 2),
        Err(StoreError::InvalidTransition { .. })
    ));
}

/// Two administrators demote (or disable) each other at the same moment, from two threads: one change wins,
/// the other is refused with `LastAdministrator`, and one enabled administrator is left every time. A facility
/// with no administrator at all (its マスタアカウント administers) can still change roles.
#[test]
fn the_last_administrator_cannot_be_taken_away_even_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path().join("f.db"), &key(1)).unwrap());
    let new = |login: &'static str, role| NewAccount {
        login,
        display_name: login,
        role,
        password: "a long enough password",
    };
    store
        .create_account(&new("nurse", Role::Staff), "master", T0)
        .unwrap();
    store
        .set_role("nurse", Role::MedicalInformationViewer, "master", T0)
        .expect("no administrator exists: nothing to protect");
    for login in ["admin-a", "admin-b"] {
        store
            .create_account(&new(login, Role::Administrator), "master", T0)
            .unwrap();
    }
    let enabled_admins = |store: &Store| {
        store
            .accounts()
            .unwrap()
            .iter()
            .filter(|a| a.role == Role::Administrator && !a.disabled)
            .count()
    };
    for round in 0..20 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let outcomes: Vec<_> = [("admin-a", "admin-b"), ("admin-b", "admin-a")]
            .into_iter()
            .map(|(actor, target)| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    if round % 2 == 0 {
                        store.set_role(target, Role::Staff, actor, T0 + 1)
                    } else {
                        store.set_disabled(target, true, actor, T0 + 1)
                    }
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(StoreError::LastAdministrator)))
            .count();
        assert_eq!(refused, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.iter().any(Result::is_ok),
            "round {round}: {outcomes:?}"
        );
        assert_eq!(enabled_admins(&store), 1, "round {round}");
        // Both administrators again for the next round.
        for login in ["admin-a", "admin-b"] {
            store
                .set_role(login, Role::Administrator, "master", T0 + 2)
                .unwrap();
            store.set_disabled(login, false, "master", T0 + 2).unwrap();
        }
        assert_eq!(enabled_admins(&store), 2);
    }
}
