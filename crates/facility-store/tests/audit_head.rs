//! The audit log's head: sealed from the store's creation, and kept outside the database (head file, OS
//! keyring) so that a wiped log, a rolled-back copy or a replaced database does not verify as intact.

use std::path::{Path, PathBuf};

use facility_store::*;
use os_keyring::SecretBytes;
use os_keyring::testing::in_keyutils_session;
use rusqlite::Connection;

const T0: i64 = 1_735_689_600_000;

fn key() -> StaticKeyProvider {
    StaticKeyProvider::new(SecretBytes::new(vec![5; 32]))
}

fn entry(i: i64) -> AuditEntry {
    AuditEntry {
        actor: format!("user{i}"),
        action: "view_medical_info".into(),
        patient_ref: Some("p1".into()),
        ..AuditEntry::default()
    }
}

fn append(store: &Store, n: i64) {
    for i in 0..n {
        store.append_audit(&entry(i), T0 + i).unwrap();
    }
}

fn broken(store: &Store) -> ChainBreak {
    match store.verify_audit_chain().unwrap() {
        ChainVerdict::Broken(b) => b,
        intact => panic!("not detected: {intact:?}"),
    }
}

/// Puts `copy` back in place of the database at `db` (the store must be closed), as someone restoring an
/// old file by hand would.
fn put_back(copy: &Path, db: &Path) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(copy, db).unwrap();
}

fn store_at(dir: &Path) -> (PathBuf, Store) {
    let db = dir.join("facility.sqlite3");
    let store = Store::open(&db, &key()).unwrap();
    store.check_audit_heads().unwrap();
    (db, store)
}

#[test]
fn a_new_store_is_intact_and_a_wiped_log_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = store_at(dir.path());
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 0 }
    );
    append(&store, 3);
    drop(store);
    // Remove every row and the sealed head, as someone with the file and without the key can.
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log; DELETE FROM meta WHERE key = 'audit_head';",
    )
    .unwrap();
    drop(c);
    let store = Store::open(&db, &key()).unwrap();
    let b = broken(&store);
    assert!(b.problem.contains("wiped"), "{b:?}");
    // The same without the external head file: the database alone shows it.
    std::fs::remove_file(store.head_file()).unwrap();
    let b = broken(&store);
    assert!(b.problem.contains("wiped"), "{b:?}");
}

#[test]
fn an_empty_store_from_the_previous_version_gets_its_genesis_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite3");
    drop(Store::open(&db, &key()).unwrap());
    // What version 2 left: no head for an empty log (and none of the later migrations' columns).
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "DELETE FROM meta WHERE key = 'audit_head';
         ALTER TABLE accounts DROP COLUMN totp_last_step;
         DROP TABLE shared_outbox;
         ALTER TABLE check_ins DROP COLUMN visit;
         ALTER TABLE check_ins DROP COLUMN certificate_expiry;
         DROP TABLE unconfirmed;
         DROP TABLE shared_joined;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(c);
    let store = Store::open(&db, &key()).unwrap();
    assert_eq!(
        store.check_audit_heads().unwrap().verdict(),
        ChainVerdict::Intact { rows: 0 }
    );
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 0 }
    );
    assert!(store.head_file().is_file(), "sealed outside at the upgrade");
}

#[test]
fn rows_removed_from_the_end_before_the_next_append_show_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = store_at(dir.path());
    append(&store, 4);
    let c = Connection::open(&db).unwrap();
    c.execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 4;")
        .unwrap();
    drop(c);
    // The next append links to row 3, so every link holds; the id it gets (5) gives the removal away.
    store.append_audit(&entry(9), T0 + 9).unwrap();
    let b = broken(&store);
    assert_eq!(b.row_id, 5, "{b:?}");
    assert!(b.problem.contains("missing before it"), "{b:?}");
}

#[test]
fn an_older_copy_put_back_is_detected_and_an_audited_restore_is_not_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = store_at(dir.path());
    append(&store, 3);
    let copy = dir.path().join("backup.sqlite3");
    backup_database(&db, &copy).unwrap();
    append(&store, 4);
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 7 }
    );
    drop(store);

    put_back(&copy, &db);
    let store = Store::open(&db, &key()).unwrap();
    let b = broken(&store);
    assert!(
        b.problem
            .contains("the database is older than the head file"),
        "{b:?}"
    );
    assert!(b.problem.contains("rolled back"), "{b:?}");
    assert_eq!(b.row_id, 4);
    // The daemon's start check says the same, and does not re-seal the evidence away.
    assert!(matches!(
        store.check_audit_heads().unwrap().verdict(),
        ChainVerdict::Broken(_)
    ));
    // Nor does an ordinary append.
    store.append_audit(&entry(99), T0 + 99).unwrap();
    assert!(broken(&store).problem.contains("older than the head file"));
    drop(store);

    // The explicit, audited restore of the same copy.
    put_back(&copy, &db);
    let store = Store::open(&db, &key()).unwrap();
    let id = store
        .record_restore("backup.sqlite3", "oqs store restore", T0 + 100)
        .unwrap();
    assert_eq!(id, 4);
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 4 }
    );
    let rows = store.audit_records(3, 10).unwrap();
    assert_eq!(rows[0].entry.action, "store_restored");
    assert_eq!(
        rows[0].entry.detail.as_deref(),
        Some("store restored from backup backup.sqlite3, head was 7 now 3")
    );
}

#[test]
fn a_lagging_head_file_is_harmless_and_a_missing_one_is_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, store) = store_at(dir.path());
    append(&store, 2);
    let lagging = std::fs::read(store.head_file()).unwrap();
    append(&store, 1);
    // A crash between the commit and the file write leaves the file one row behind.
    std::fs::write(store.head_file(), &lagging).unwrap();
    let found = store.verify_audit().unwrap();
    assert_eq!(found.verdict(), ChainVerdict::Intact { rows: 3 });
    assert!(found.notes()[0].contains("behind"), "{:?}", found.notes());
    store.check_audit_heads().unwrap();
    assert!(store.verify_audit().unwrap().notes().is_empty());

    std::fs::remove_file(store.head_file()).unwrap();
    let b = broken(&store);
    assert!(b.problem.contains("missing"), "{b:?}");
    // An edited head file (not sealed with the key) is caught too.
    std::fs::write(store.head_file(), "oqs-audit-head v1\n00ff\n").unwrap();
    assert!(broken(&store).problem.contains("not sealed"));
}

#[test]
fn the_keyring_copy_catches_a_rollback_of_both_files() {
    if !in_keyutils_session("the_keyring_copy_catches_a_rollback_of_both_files") {
        return;
    }
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Keyutils).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("facility.sqlite3");
    let store = Store::open(&db, &key())
        .unwrap()
        .with_head_keyring(keyring.clone());
    store.check_audit_heads().unwrap();
    append(&store, 2);
    let copy = dir.path().join("backup.sqlite3");
    backup_database(&db, &copy).unwrap();
    let old_head = std::fs::read(store.head_file()).unwrap();
    append(&store, 2);
    let head_file = store.head_file().to_path_buf();
    drop(store);
    // Both the database and its head file put back: only the keyring remembers.
    put_back(&copy, &db);
    std::fs::write(&head_file, old_head).unwrap();
    let store = Store::open(&db, &key())
        .unwrap()
        .with_head_keyring(keyring.clone());
    let found = store.verify_audit().unwrap();
    let ChainVerdict::Broken(b) = found.verdict() else {
        panic!("not detected: {found:?}");
    };
    assert!(b.problem.contains("OS keyring"), "{b:?}");
    assert!(b.problem.contains("older than"), "{b:?}");
    // A keyring emptied at reboot is no evidence: the copy is written again at the next start.
    keyring
        .delete(match &found.heads[1].place {
            HeadPlace::Keyring(name) => name,
            other => panic!("{other:?}"),
        })
        .unwrap();
    assert!(matches!(
        store.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { .. }
    ));
}

#[test]
fn an_unwritable_head_file_does_not_fail_a_committed_append_but_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, store) = store_at(dir.path());
    append(&store, 1);
    // Something in the way of the head file (here a folder; in the field a wrong owner).
    std::fs::remove_file(store.head_file()).unwrap();
    std::fs::create_dir(store.head_file()).unwrap();
    assert_eq!(store.append_audit(&entry(5), T0 + 5).unwrap(), 2);
    assert_eq!(store.audit_records(0, 10).unwrap().len(), 2);
    let err = store.check_audit_heads().unwrap_err().to_string();
    assert!(err.contains("audit-head"), "{err}");
}

#[test]
fn an_older_copy_put_back_without_its_head_file_is_still_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = store_at(dir.path());
    append(&store, 2);
    let copy = dir.path().join("backup.sqlite3");
    backup_database(&db, &copy).unwrap();
    append(&store, 2);
    let head_file = store.head_file().to_path_buf();
    drop(store);
    // The older copy put back, the head file that would give it away deleted, and every row of `meta` that
    // is not needed to open the store removed as well.
    put_back(&copy, &db);
    std::fs::remove_file(&head_file).unwrap();
    let c = Connection::open(&db).unwrap();
    c.execute(
        "DELETE FROM meta WHERE key NOT IN ('key_check', 'audit_head')",
        [],
    )
    .unwrap();
    drop(c);
    let store = Store::open(&db, &key()).unwrap();
    let b = broken(&store);
    assert!(b.problem.contains("missing"), "{b:?}");
    // The start check refuses, and does not write a new head file over the gap.
    assert!(matches!(
        store.check_audit_heads().unwrap().verdict(),
        ChainVerdict::Broken(_)
    ));
    assert!(!head_file.exists());
}
