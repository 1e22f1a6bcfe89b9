//! The facility-wide store: terminals on their own SQLite files sharing one real PostgreSQL server (started
//! by `pg-harness`): rows of one terminal seen at another, outages of PostgreSQL, idempotent copies, and a
//! terminal with another data key refused.

use std::path::Path;
use std::time::{Duration, Instant};

use facility_store::*;
use os_keyring::SecretBytes;
use pg_harness::PgServer;

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z
const WAIT: Duration = Duration::from_secs(60);

fn key(byte: u8) -> StaticKeyProvider {
    StaticKeyProvider::new(SecretBytes::new(vec![byte; 32]))
}

fn terminal(dir: &Path, id: &str, url: &str, key_byte: u8) -> Store {
    Store::open(dir.join(format!("{id}.sqlite3")), &key(key_byte))
        .unwrap()
        .with_shared(SharedConfig {
            url: url.to_owned(),
            terminal_id: id.to_owned(),
            ca: None,
        })
        .unwrap()
}

fn patient(number: &str) -> PatientIdentity {
    PatientIdentity {
        name: "山田太郎".into(),
        kana: "ヤマダタロウ".into(),
        sex: "1".into(),
        birth_date: "19800417".into(),
        insurer_number: "06139876".into(),
        symbol: "記号".into(),
        number: number.into(),
        branch: "00".into(),
    }
}

fn pending(id: &str, at: i64) -> CheckIn {
    CheckIn {
        check_in_id: id.into(),
        at,
        reader: "reader-1".into(),
        method: "pin".into(),
        status: CheckInStatus::PendingOutage,
        patient: None,
        result_document: None,
        updated_at: at,
    }
}

/// A check-in with its answer and a consent, as the kiosk records it.
fn check_in_with_consent(store: &Store, id: &str, at: i64, number: &str) {
    store.insert_check_in(&pending(id, at)).unwrap();
    let p = patient(number);
    let consent = Consent {
        patient: store.patient_key_of(&p),
        item: "medical_and_medication".into(),
        granted_at: at,
        expires_at: at + 24 * HOUR,
        check_in_id: Some(id.into()),
    };
    assert!(
        store
            .answer_check_in(
                id,
                CheckInStatus::Valid,
                Some(&p),
                b"<xml/>",
                &[consent],
                at
            )
            .unwrap()
    );
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn synced(store: &Store) -> bool {
    store.shared_status()
        == Some(SharedStatus {
            reachable: true,
            pending: 0,
        })
}

#[test]
fn a_check_in_and_its_consent_at_one_terminal_are_seen_at_another() {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 7);
    let b = terminal(dir.path(), "west", &url, 7);
    check_in_with_consent(&a, "face_a1", T0, "111");
    a.set_local_name("face_a1", Some("髙﨑 太郎"), T0 + 1)
        .unwrap();

    // Written ahead, then answered: B may see the pending row first.
    wait_for("the answered check-in at B", || {
        b.check_ins_between(T0, T0 + HOUR)
            .unwrap()
            .first()
            .is_some_and(|c| c.status == CheckInStatus::Valid)
    });
    let seen = b
        .check_in("face_a1")
        .unwrap()
        .expect("B finds A's check-in by id");
    assert_eq!(seen.status, CheckInStatus::Valid);
    assert_eq!(seen.patient.as_ref().unwrap().number, "111");
    assert_eq!(seen.result_document.unwrap().as_bytes(), b"<xml/>");
    // The card certificate's expiry (the renewal slip's date) travels with the check-in.
    a.insert_card_check_in(
        &pending("card_a2", T0 + 2 * HOUR),
        Some(T0 + 90 * 24 * HOUR),
    )
    .unwrap();
    wait_for("the certificate's expiry at B", || {
        b.certificate_expiries(&["card_a2"]).unwrap().get("card_a2") == Some(&(T0 + 90 * 24 * HOUR))
    });
    wait_for("the local name at B", || {
        b.local_names(&["face_a1"])
            .unwrap()
            .get("face_a1")
            .map(String::as_str)
            == Some("髙﨑 太郎")
    });
    let consents = b.all_valid_consents(T0 + HOUR).unwrap();
    assert_eq!(consents.len(), 1, "B lists A's consent once");
    assert_eq!(consents[0].check_in_id.as_deref(), Some("face_a1"));
    assert_eq!(
        b.valid_consents(&b.patient_key_of(&patient("111")), T0 + HOUR)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        b.check_ins_of_patient(&b.patient_key_of(&patient("111")))
            .unwrap()
            .len(),
        1
    );
    // Expired consents are not listed anywhere.
    assert!(b.all_valid_consents(T0 + 25 * HOUR).unwrap().is_empty());

    // B's own check-in is listed beside A's, newest first, and A sees it too.
    check_in_with_consent(&b, "face_b1", T0 + 10, "222");
    let listed: Vec<String> = b
        .check_ins_between(T0, T0 + HOUR)
        .unwrap()
        .into_iter()
        .map(|c| c.check_in_id)
        .collect();
    assert_eq!(listed, ["face_b1", "face_a1"]);
    wait_for("B's check-in at A", || {
        a.check_ins_between(T0, T0 + HOUR).unwrap().len() == 2
    });

    // Withdrawn at A (a pending check-in the central service refused): gone at B too.
    a.insert_check_in(&pending("face_a2", T0 + 20)).unwrap();
    wait_for("the pending check-in at B", || {
        b.check_in("face_a2").unwrap().is_some()
    });
    a.withdraw_check_in("face_a2").unwrap();
    wait_for("the withdrawal at B", || {
        b.check_in("face_a2").unwrap().is_none()
    });

    // The identifiers are in PostgreSQL only as A sealed them.
    let dump = pg.query_strings(
        "facility",
        "SELECT encode(patient_enc, 'escape') FROM check_ins WHERE patient_enc IS NOT NULL",
    );
    assert!(!dump.is_empty());
    assert!(
        dump.iter()
            .flatten()
            .flatten()
            .all(|v| !v.contains("山田") && !v.contains("06139876")),
        "identifiers in clear in PostgreSQL"
    );
}

#[test]
fn check_ins_taken_while_postgresql_is_down_reach_it_once_when_it_returns() {
    let mut pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 9);
    let b = terminal(dir.path(), "west", &url, 9);
    check_in_with_consent(&a, "before", T0, "1");
    wait_for("A in sync", || synced(&a));

    pg.stop();
    for i in 0..30 {
        check_in_with_consent(&a, &format!("during_{i}"), T0 + 1 + i, &format!("{i}"));
    }
    // A keeps serving from its own rows and says the facility server is away.
    assert_eq!(a.check_ins_between(T0, T0 + HOUR).unwrap().len(), 31);
    wait_for("A to see PostgreSQL down", || {
        a.shared_status()
            .is_some_and(|s| !s.reachable && s.pending > 0)
    });
    assert!(a.shared_error().is_some());
    // B lists only its own rows meanwhile (none), without an error.
    wait_for("B to see PostgreSQL down", || {
        b.shared_status().is_some_and(|s| !s.reachable)
    });
    assert!(b.check_ins_between(T0, T0 + HOUR).unwrap().is_empty());

    pg.start_again();
    wait_for("A in sync again", || synced(&a));
    wait_for("B back", || b.shared_status().is_some_and(|s| s.reachable));
    assert_eq!(b.check_ins_between(T0, T0 + HOUR).unwrap().len(), 31);
    assert_eq!(b.all_valid_consents(T0 + HOUR).unwrap().len(), 31);
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM check_ins"),
        31
    );
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM consents"),
        31
    );
    assert_eq!(
        pg.query_i64(
            "facility",
            "SELECT count(*) FROM check_ins WHERE terminal_id = 'east' AND status = 'valid'"
        ),
        31
    );

    // A copy sent twice (as after a crash between PostgreSQL's commit and the local outbox's delete)
    // leaves one row: put every change back into A's outbox.
    drop(a);
    let conn = rusqlite::Connection::open(dir.path().join("east.sqlite3")).unwrap();
    conn.execute_batch(
        "INSERT INTO shared_outbox (kind, row_key) SELECT 'check_in', check_in_id FROM check_ins;
         INSERT INTO shared_outbox (kind, row_key) SELECT 'consent', CAST(id AS TEXT) FROM consents;",
    )
    .unwrap();
    drop(conn);
    let a = terminal(dir.path(), "east", &url, 9);
    wait_for("A in sync after the replay", || synced(&a));
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM check_ins"),
        31
    );
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM consents"),
        31
    );
}

#[test]
fn a_terminal_that_ran_alone_joins_the_facility_with_its_history_once() {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    // A clinic's one PC, before there was a facility server.
    {
        let alone = Store::open(dir.path().join("east.sqlite3"), &key(5)).unwrap();
        check_in_with_consent(&alone, "old_1", T0, "101");
        check_in_with_consent(&alone, "old_2", T0 + 1, "102");
    }
    // It joins: its history reaches PostgreSQL and is read at another terminal.
    let east = terminal(dir.path(), "east", &url, 5);
    let west = terminal(dir.path(), "west", &url, 5);
    wait_for("east's history in PostgreSQL", || {
        synced(&east)
            && pg.query_i64(
                "facility",
                "SELECT count(*) FROM check_ins WHERE terminal_id = 'east'",
            ) == 2
    });
    assert_eq!(
        pg.query_i64(
            "facility",
            "SELECT count(*) FROM consents WHERE terminal_id = 'east'"
        ),
        2
    );
    // West reads it once its own link is up (until then it answers with its own rows only).
    wait_for("east's history at west", || {
        west.check_in("old_2").unwrap().is_some()
    });
    drop(east);
    // Once: a second start as east queues nothing again.
    let _east = terminal(dir.path(), "east", &url, 5);
    let file = rusqlite::Connection::open(dir.path().join("east.sqlite3")).unwrap();
    let queued: i64 = file
        .query_row("SELECT count(*) FROM shared_outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(queued, 0);
}

#[test]
fn a_terminal_with_another_data_key_is_refused_by_the_shared_store() {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 1);
    wait_for("A connected", || synced(&a));
    let stranger = terminal(dir.path(), "west", &url, 2);
    check_in_with_consent(&stranger, "x", T0, "1");
    wait_for("the stranger's error", || {
        stranger
            .shared_error()
            .is_some_and(|e| e.contains("another data key"))
    });
    assert_eq!(stranger.shared_status().map(|s| s.reachable), Some(false));
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM check_ins"),
        0
    );
    assert!(a.check_ins_between(T0, T0 + HOUR).unwrap().is_empty());
}

/// A CA (PEM) and a server certificate it issued for `host`: (CA PEM, certificate PEM, key PEM).
fn facility_ca(name: &str, host: &str) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec![host.to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    (ca_cert.pem(), server.pem(), server_key.serialize_pem())
}

fn terminal_with_ca(dir: &Path, id: &str, url: &str, ca: &Path) -> Store {
    Store::open(dir.join(format!("{id}.sqlite3")), &key(7))
        .unwrap()
        .with_shared(SharedConfig {
            url: url.to_owned(),
            terminal_id: id.to_owned(),
            ca: Some(ca.to_owned()),
        })
        .unwrap()
}

#[test]
fn a_server_on_another_machine_is_reached_over_tls_trusting_the_facility_ca_alone() {
    const HOST: &str = "facility-db.test";
    let (ca, cert, server_key) = facility_ca("テスト病院 院内CA", HOST);
    // Accepts TCP connections over TLS only (hostssl): a terminal that got in spoke TLS.
    let pg = PgServer::start_tls(&cert, &server_key);
    pg.create_database("facility");
    let url = pg.tls_url("facility", HOST);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("facility-ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();

    let east = terminal_with_ca(dir.path(), "east", &url, &ca_file);
    let west = terminal_with_ca(dir.path(), "west", &url, &ca_file);
    check_in_with_consent(&east, "tls_1", T0, "111");
    wait_for("east's check-in at west, over TLS", || {
        west.check_in("tls_1")
            .unwrap()
            .is_some_and(|c| c.status == CheckInStatus::Valid)
    });
    wait_for("both synced", || synced(&east) && synced(&west));
    let tcp = "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
               WHERE a.client_addr IS NOT NULL";
    assert!(
        pg.query_i64("facility", tcp) >= 2,
        "the terminals' connections"
    );
    assert_eq!(
        pg.query_i64("facility", &format!("{tcp} AND NOT s.ssl")),
        0,
        "every TCP connection is TLS"
    );

    // A server whose certificate another CA issued (a public CA, an impostor on the network) is refused,
    // and so is the right CA's certificate presented for another name.
    let (rogue_ca, _, _) = facility_ca("Some other CA", HOST);
    let rogue_file = dir.path().join("rogue-ca.pem");
    std::fs::write(&rogue_file, &rogue_ca).unwrap();
    let fooled = terminal_with_ca(dir.path(), "fooled", &url, &rogue_file);
    check_in_with_consent(&fooled, "tls_rogue", T0, "222");
    let renamed = terminal_with_ca(
        dir.path(),
        "renamed",
        &pg.tls_url("facility", "other-name.test"),
        &ca_file,
    );
    check_in_with_consent(&renamed, "tls_renamed", T0, "333");
    for store in [&fooled, &renamed] {
        wait_for(
            &format!("the certificate refused ({:?})", store.shared_error()),
            || {
                store
                    .shared_error()
                    .is_some_and(|e| e.to_lowercase().contains("certificate"))
            },
        );
        assert_eq!(store.shared_status().map(|s| s.reachable), Some(false));
    }
    assert_eq!(
        pg.query_i64(
            "facility",
            "SELECT count(*) FROM check_ins WHERE terminal_id IN ('fooled', 'renamed')"
        ),
        0
    );
}

#[test]
fn a_remote_server_without_tls_and_a_bad_terminal_id_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let open = |url: &str, id: &str| {
        Store::open(dir.path().join("s.sqlite3"), &key(1))
            .unwrap()
            .with_shared(SharedConfig {
                url: url.into(),
                terminal_id: id.into(),
                ca: None,
            })
            .map(|_| ())
    };
    assert!(matches!(
        open("postgres://oqs@db.clinic.example/oqs", "east"),
        Err(StoreError::SharedConfig(_))
    ));
    assert!(matches!(
        open("host=/run/postgresql dbname=oqs", "east wing"),
        Err(StoreError::SharedConfig(_))
    ));
    assert!(open("host=/run/postgresql dbname=oqs", "east-1").is_ok());

    // With the facility's CA: a remote host is fine; a socket, a missing file or a file without a
    // certificate are refused, saying which.
    let with_ca = |url: &str, ca: &Path| {
        Store::open(dir.path().join("s.sqlite3"), &key(1))
            .unwrap()
            .with_shared(SharedConfig {
                url: url.into(),
                terminal_id: "east".into(),
                ca: Some(ca.to_owned()),
            })
            .map(|_| ())
    };
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, facility_ca("CA", "db.clinic.example").0).unwrap();
    assert!(with_ca("postgres://oqs@db.clinic.example/oqs", &ca).is_ok());
    let refused = |result: Result<(), StoreError>| match result {
        Err(StoreError::SharedConfig(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(refused(with_ca("host=/run/postgresql dbname=oqs", &ca)).contains("Unix socket"),);
    assert!(
        refused(with_ca(
            "host=db.clinic.example",
            &dir.path().join("missing.pem")
        ))
        .contains("missing.pem")
    );
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    assert!(refused(with_ca("host=db.clinic.example", &empty)).contains("no certificate"));
}

fn audit(store: &Store, action: &str, at: i64) {
    store
        .append_audit(
            &AuditEntry {
                actor: "dr-tanaka".into(),
                action: action.into(),
                patient_ref: Some("ab12".into()),
                ..Default::default()
            },
            at,
        )
        .unwrap();
}

fn facility_chains(store: &Store) -> Vec<(String, ChainVerdict)> {
    match store.verify_audit().unwrap().facility {
        Some(Ok(chains)) => chains
            .into_iter()
            .map(|c| (c.terminal_id, c.verdict))
            .collect(),
        other => panic!("the facility chains were not checked: {other:?}"),
    }
}

#[test]
fn each_terminal_keeps_its_own_chain_and_the_facility_wide_check_verifies_every_one() {
    let mut pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 5);
    let b = terminal(dir.path(), "west", &url, 5);
    for i in 0..5 {
        audit(&a, "view_medical_info", T0 + i);
    }
    audit(&b, "emergency_lookup", T0);
    // Connected means migrated: the table exists from then on.
    wait_for("both connected", || {
        [&a, &b]
            .iter()
            .all(|t| t.shared_status().is_some_and(|s| s.reachable))
    });
    wait_for("both chains in PostgreSQL", || {
        pg.query_i64("facility", "SELECT count(*) FROM audit_log") == 6
    });
    // Rows logged while PostgreSQL is down arrive once it is back, each once.
    pg.stop();
    for i in 0..2 {
        audit(&b, "emergency_lookup", T0 + 10 + i);
    }
    wait_for("B to count its waiting rows", || {
        b.shared_status()
            .is_some_and(|s| !s.reachable && s.pending == 2)
    });
    let while_down = a.verify_audit().unwrap();
    assert!(matches!(while_down.facility, Some(Err(_))));
    assert!(
        while_down.notes().iter().any(|n| n.contains("not checked")),
        "{:?}",
        while_down.notes()
    );
    assert_eq!(while_down.verdict(), ChainVerdict::Intact { rows: 5 });
    pg.start_again();
    wait_for("both in sync again", || synced(&a) && synced(&b));
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM audit_log"),
        8
    );
    assert_eq!(
        facility_chains(&a),
        [
            ("east".to_owned(), ChainVerdict::Intact { rows: 5 }),
            ("west".to_owned(), ChainVerdict::Intact { rows: 3 }),
        ]
    );
    assert_eq!(
        a.verify_audit_chain().unwrap(),
        ChainVerdict::Intact { rows: 5 }
    );

    // The shared log is append-only too.
    let refused = pg
        .try_execute(
            "facility",
            "UPDATE audit_log SET actor = 'x' WHERE terminal_id = 'west'",
        )
        .unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
    // Someone who drops the trigger and edits west's row 2 is named, at any terminal.
    pg.execute(
        "facility",
        "DROP TRIGGER audit_log_no_change ON audit_log;
         UPDATE audit_log SET actor = 'someone-else' WHERE terminal_id = 'west' AND id = 2;",
    );
    let chains = facility_chains(&a);
    assert_eq!(chains[0].1, ChainVerdict::Intact { rows: 5 });
    assert!(
        matches!(&chains[1].1, ChainVerdict::Broken(b) if b.row_id == 2),
        "{chains:?}"
    );
    match a.verify_audit_chain().unwrap() {
        ChainVerdict::Broken(b) => assert!(b.problem.contains("terminal west"), "{b:?}"),
        other => panic!("the edit in the facility server went unseen: {other:?}"),
    }
    // A row removed from the middle of east's chain is named too.
    pg.execute(
        "facility",
        "DELETE FROM audit_log WHERE terminal_id = 'east' AND id = 3",
    );
    assert!(matches!(
        &facility_chains(&b)[0].1,
        ChainVerdict::Broken(b) if b.row_id == 4
    ));
}

#[test]
fn another_terminals_check_in_is_announced_without_polling() {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 3);
    let b = terminal(dir.path(), "west", &url, 3);
    let mut feed = b
        .shared_check_ins_feed()
        .expect("a feed with a shared store");
    let mut own = a
        .shared_check_ins_feed()
        .expect("a feed with a shared store");
    wait_for("both connected", || synced(&a) && synced(&b));
    // The listener may connect a moment after the drainer: announce until one arrives.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut n = 0;
    let got = rt.block_on(async {
        loop {
            n += 1;
            a.insert_check_in(&pending(&format!("live_{n}"), T0 + n))
                .unwrap();
            match tokio::time::timeout(Duration::from_secs(2), feed.recv()).await {
                Ok(Ok(id)) => break id,
                Ok(Err(e)) => panic!("the feed closed: {e}"),
                Err(_) => assert!(n < 30, "no notice from PostgreSQL"),
            }
        }
    });
    assert!(got.starts_with("live_"), "{got}");
    assert!(b.check_in(&got).unwrap().is_some());
    // A terminal is not told about its own check-ins.
    assert!(own.try_recv().is_err());
    assert!(
        Store::open(dir.path().join("solo.sqlite3"), &key(3))
            .unwrap()
            .shared_check_ins_feed()
            .is_none()
    );
}

fn viewed(store: &Store, actor: &str, action: &str, patient_ref: &str, at: i64) -> i64 {
    store
        .append_audit(
            &AuditEntry {
                actor: actor.into(),
                action: action.into(),
                patient_ref: Some(patient_ref.into()),
                items: vec!["medication".into()],
                ..Default::default()
            },
            at,
        )
        .unwrap()
}

#[test]
fn a_patients_report_merges_every_terminals_rows_and_says_when_it_covers_this_terminal_only() {
    let mut pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 9);
    let b = terminal(dir.path(), "viewer-1", &url, 9);
    let person = patient("555");
    let patient = a.patient_key_of(&person).to_hex();
    assert_eq!(patient, b.patient_key_of(&person).to_hex());
    viewed(&a, "clerk", "view_medical_info", &patient, T0);
    viewed(&a, "clerk", "view_medical_info", "someone-else", T0 + 1);
    // B's emergency view falls between A's two views of the patient.
    viewed(&b, "dr-sato", "login", "someone-else", T0 + 2);
    let b_row = viewed(&b, "dr-sato", "emergency_lookup", &patient, T0 + 5);
    viewed(&a, "clerk", "view_medical_info", &patient, T0 + 9);
    wait_for("both chains in PostgreSQL", || {
        synced(&a) && synced(&b) && pg.query_i64("facility", "SELECT count(*) FROM audit_log") == 5
    });

    let found = a.patient_audit(&patient).unwrap();
    assert_eq!(found.coverage, AuditCoverage::Facility);
    let rows: Vec<(Option<&str>, i64, &str, &str)> = found
        .rows
        .iter()
        .map(|r| {
            (
                r.terminal_id.as_deref(),
                r.record.id,
                r.record.entry.actor.as_str(),
                r.record.entry.action.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (Some("east"), 1, "clerk", "view_medical_info"),
            (Some("viewer-1"), b_row, "dr-sato", "emergency_lookup"),
            (Some("east"), 3, "clerk", "view_medical_info"),
        ]
    );
    // The same answer at B, and nothing of another patient.
    assert_eq!(b.patient_audit(&patient).unwrap().rows, found.rows);
    assert!(a.patient_audit("nobody").unwrap().rows.is_empty());

    // The emergency-view review at A: every terminal's rows of those actions in the period, and no others.
    let review = a
        .facility_audit_between(&["emergency_lookup", "login"], T0 + 2, T0 + 6)
        .unwrap();
    assert_eq!(review.coverage, AuditCoverage::Facility);
    let reviewed: Vec<(Option<&str>, &str)> = review
        .rows
        .iter()
        .map(|r| (r.terminal_id.as_deref(), r.record.entry.action.as_str()))
        .collect();
    assert_eq!(
        reviewed,
        [
            (Some("viewer-1"), "login"),
            (Some("viewer-1"), "emergency_lookup")
        ]
    );
    assert!(
        a.facility_audit_between(&["emergency_lookup"], T0 + 6, T0 + HOUR)
            .unwrap()
            .rows
            .is_empty()
    );

    // PostgreSQL away: A still answers with its own rows, and says so.
    pg.stop();
    let alone = a.patient_audit(&patient).unwrap();
    assert!(
        matches!(alone.coverage, AuditCoverage::ThisTerminalOnly { .. }),
        "{:?}",
        alone.coverage
    );
    let ids: Vec<(Option<&str>, i64)> = alone
        .rows
        .iter()
        .map(|r| (r.terminal_id.as_deref(), r.record.id))
        .collect();
    assert_eq!(ids, [(Some("east"), 1), (Some("east"), 3)]);
    let review = a
        .facility_audit_between(&["view_medical_info", "emergency_lookup"], T0, T0 + HOUR)
        .unwrap();
    assert!(matches!(
        review.coverage,
        AuditCoverage::ThisTerminalOnly { .. }
    ));
    assert_eq!(review.rows.len(), 3, "east's three views");
    pg.start_again();
    wait_for("A connected again", || synced(&a));
    assert_eq!(
        a.patient_audit(&patient).unwrap().coverage,
        AuditCoverage::Facility
    );

    // A terminal without a facility-wide store answers as before, marked single-terminal.
    let single = Store::open(dir.path().join("single.sqlite3"), &key(9)).unwrap();
    viewed(&single, "clerk", "view_medical_info", &patient, T0);
    let own = single.patient_audit(&patient).unwrap();
    assert_eq!(own.coverage, AuditCoverage::SingleTerminal);
    assert_eq!(own.rows.len(), 1);
    assert_eq!(own.rows[0].terminal_id, None);

    // B's row edited in PostgreSQL: the facility verification names terminal B and the row.
    pg.execute(
        "facility",
        &format!(
            "DROP TRIGGER audit_log_no_change ON audit_log;
             UPDATE audit_log SET reason = 'edited' WHERE terminal_id = 'viewer-1' AND id = {b_row};"
        ),
    );
    let chains = facility_chains(&a);
    assert_eq!(
        chains[0],
        ("east".to_owned(), ChainVerdict::Intact { rows: 3 })
    );
    assert_eq!(chains[1].0, "viewer-1");
    assert!(
        matches!(&chains[1].1, ChainVerdict::Broken(br) if br.row_id == b_row),
        "{chains:?}"
    );
    match a.verify_audit_chain().unwrap() {
        ChainVerdict::Broken(br) => {
            assert_eq!(br.row_id, b_row);
            assert!(br.problem.contains("terminal viewer-1"), "{br:?}");
        }
        other => panic!("the edit of B's row went unseen: {other:?}"),
    }
}

#[test]
fn rows_removed_from_the_end_of_another_terminals_chain_are_found_by_its_sealed_head() {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 4);
    let b = terminal(dir.path(), "west", &url, 4);
    audit(&a, "view_medical_info", T0);
    for i in 0..3 {
        audit(&b, "emergency_lookup", T0 + i);
    }
    // Connected means migrated: the tables exist from then on.
    wait_for("both connected", || {
        [&a, &b]
            .iter()
            .all(|t| t.shared_status().is_some_and(|s| s.reachable))
    });
    wait_for("both chains and heads in PostgreSQL", || {
        pg.query_i64("facility", "SELECT count(*) FROM audit_log") == 4
            && pg.query_i64("facility", "SELECT count(*) FROM audit_heads") == 2
    });
    assert_eq!(
        facility_chains(&a),
        [
            ("east".to_owned(), ChainVerdict::Intact { rows: 1 }),
            ("west".to_owned(), ChainVerdict::Intact { rows: 3 }),
        ]
    );
    // West is switched off (a running west would copy its rows again), then its newest row is deleted.
    drop(b);
    pg.execute(
        "facility",
        "DROP TRIGGER audit_log_no_change ON audit_log;
         DELETE FROM audit_log WHERE terminal_id = 'west' AND id = 3;",
    );
    let chains = facility_chains(&a);
    assert_eq!(
        chains[0],
        ("east".to_owned(), ChainVerdict::Intact { rows: 1 })
    );
    match &chains[1] {
        (t, ChainVerdict::Broken(b)) if t == "west" => {
            assert_eq!(b.row_id, 3);
            assert!(b.problem.contains("removed"), "{b:?}");
        }
        other => panic!("west's removed row went unseen: {other:?}"),
    }
    // Removing the head as well does not hide it.
    pg.execute(
        "facility",
        "DELETE FROM audit_heads WHERE terminal_id = 'west'",
    );
    assert!(
        matches!(&facility_chains(&a)[1].1, ChainVerdict::Broken(b) if b.row_id == 2 && b.problem.contains("head is missing")),
        "{:?}",
        facility_chains(&a)
    );
    // Nor does removing the whole chain while keeping a head of it.
    pg.execute(
        "facility",
        "INSERT INTO audit_heads SELECT 'west', head_id, head FROM audit_heads WHERE terminal_id = 'east';
         DELETE FROM audit_log WHERE terminal_id = 'west';",
    );
    let chains = facility_chains(&a);
    assert!(
        matches!(&chains[1], (t, ChainVerdict::Broken(_)) if t == "west"),
        "{chains:?}"
    );
    match a.verify_audit_chain().unwrap() {
        ChainVerdict::Broken(b) => assert!(b.problem.contains("terminal west"), "{b:?}"),
        other => panic!("{other:?}"),
    }
}

const DR_PW: &str = "doctor-password-1";

fn doctor(store: &Store, login: &str, at: i64) -> Account {
    store
        .create_account(
            &NewAccount {
                login,
                display_name: "田中 医師",
                role: Role::MedicalInformationViewer,
                password: DR_PW,
            },
            "admin",
            at,
        )
        .unwrap()
}

fn accepted(store: &Store, login: &str, password: &str, at: i64) -> bool {
    matches!(
        store.verify_password(login, password, at).unwrap(),
        LoginOutcome::PasswordAccepted(_)
    )
}

fn audit_count(store: &Store) -> usize {
    store.audit_records(0, 10_000).unwrap().len()
}

#[test]
fn an_account_made_at_one_terminal_logs_in_at_another_and_changes_at_either_are_seen_at_both() {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 6);
    let b = terminal(dir.path(), "west", &url, 6);
    wait_for("both connected", || synced(&a) && synced(&b));

    let made = doctor(&a, "dr-tanaka", T0);
    // A login at B reads the facility's accounts: no waiting for B's cache.
    assert!(accepted(&b, "dr-tanaka", DR_PW, T0 + 1));
    assert!(!accepted(&b, "dr-tanaka", "wrong-password", T0 + 2));
    let at_b = b.account("dr-tanaka").unwrap().expect("in B's cache");
    assert_eq!(
        (at_b.id, at_b.role),
        (made.id, Role::MedicalInformationViewer)
    );

    // Changes at B (permission, password, second factor) are seen at A.
    b.set_emergency_permission("dr-tanaka", true, "admin", T0 + 3)
        .unwrap();
    wait_for("the permission in A's cache", || {
        a.account("dr-tanaka")
            .unwrap()
            .is_some_and(|acc| acc.emergency_permission)
    });
    b.set_password("dr-tanaka", "new-password-22", "admin", T0 + 4)
        .unwrap();
    assert!(accepted(&a, "dr-tanaka", "new-password-22", T0 + 5));
    assert!(!accepted(&a, "dr-tanaka", DR_PW, T0 + 6));
    let secret = SecretBytes::new(b"twenty-bytes-secret!".to_vec());
    b.enrol_first_totp("dr-tanaka", &secret, 100, T0 + 7)
        .unwrap();
    wait_for("the second factor at A", || {
        a.totp_secret("dr-tanaka")
            .unwrap()
            .is_some_and(|s| s.expose() == secret.expose())
    });
    // A one-time code used at B is used at A too.
    assert!(b.claim_totp_step("dr-tanaka", 200).unwrap());
    assert!(!a.claim_totp_step("dr-tanaka", 200).unwrap());

    // Failed logins count facility-wide: three at A and two at B lock the account at both.
    b.unlock_account("dr-tanaka", "admin", T0 + 8).unwrap();
    for i in 0..3 {
        assert!(!accepted(&a, "dr-tanaka", "guess", T0 + 10 + i));
    }
    for i in 0..2 {
        assert!(!accepted(&b, "dr-tanaka", "guess", T0 + 20 + i));
    }
    assert!(matches!(
        a.verify_password("dr-tanaka", "new-password-22", T0 + 30)
            .unwrap(),
        LoginOutcome::LockedOut { .. }
    ));

    // Disabled at A: refused at B.
    a.set_disabled("dr-tanaka", true, "admin", T0 + 40).unwrap();
    assert_eq!(
        b.verify_password("dr-tanaka", "new-password-22", T0 + 41)
            .unwrap(),
        LoginOutcome::Disabled
    );

    // PostgreSQL holds hashes and sealed secrets, never the password or the secret in clear.
    let rows = pg.query_strings(
        "facility",
        "SELECT password_hash, encode(totp_secret_enc, 'escape') FROM accounts",
    );
    assert_eq!(rows.len(), 1);
    let hash = rows[0][0].clone().unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!rows[0][1].clone().unwrap().contains("twenty-bytes"));
}

#[test]
fn with_postgresql_down_logins_use_the_cache_and_account_changes_are_refused() {
    let mut pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 8);
    let b = terminal(dir.path(), "west", &url, 8);
    wait_for("both connected", || synced(&a) && synced(&b));
    doctor(&a, "dr-tanaka", T0);
    a.set_facility_setting("emergency_summary_months", "2", "admin", T0)
        .unwrap();
    wait_for("the account and the setting in B's cache", || {
        b.account("dr-tanaka").unwrap().is_some()
            && b.setting("emergency_summary_months").unwrap().as_deref() == Some("2")
    });
    // B has changed an account before (and keeps its connection for changes across the outage).
    b.unlock_account("dr-tanaka", "admin", T0).unwrap();

    pg.stop();
    wait_for("B to see PostgreSQL down", || {
        b.shared_status().is_some_and(|s| !s.reachable)
    });
    // Logins go on from the cache.
    assert!(accepted(&b, "dr-tanaka", DR_PW, T0 + 1));
    assert!(!accepted(&b, "dr-tanaka", "guess", T0 + 2));

    // Every change is refused, and nothing is written at B.
    let accounts_before = b.accounts().unwrap();
    let audit_before = audit_count(&b);
    let refused = [
        b.set_role("dr-tanaka", Role::Staff, "admin", T0 + 3),
        b.set_password("dr-tanaka", "other-password-3", "admin", T0 + 3),
        b.set_disabled("dr-tanaka", true, "admin", T0 + 3),
        b.set_emergency_permission("dr-tanaka", true, "admin", T0 + 3),
        b.unlock_account("dr-tanaka", "admin", T0 + 3),
        b.reset_totp("dr-tanaka", "admin", T0 + 3),
        b.change_own_password("dr-tanaka", "other-password-3", T0 + 3),
        b.create_account(
            &NewAccount {
                login: "ns-sato",
                display_name: "佐藤",
                role: Role::Staff,
                password: "nurse-password-1",
            },
            "admin",
            T0 + 3,
        )
        .map(|_| ()),
        b.set_facility_setting("emergency_summary_months", "1", "admin", T0 + 3),
    ];
    for (i, outcome) in refused.into_iter().enumerate() {
        assert!(
            matches!(outcome, Err(StoreError::SharedUnavailable(_))),
            "change {i}: {outcome:?}"
        );
    }
    assert_eq!(b.accounts().unwrap(), accounts_before);
    assert_eq!(
        audit_count(&b),
        audit_before,
        "no audit row of a change not made"
    );
    assert_eq!(
        b.setting("emergency_summary_months").unwrap().as_deref(),
        Some("2")
    );
    // The terminal's own settings still change.
    b.set_setting(
        "facility.character_code",
        "Shift_JIS",
        "oqs-readerd",
        T0 + 4,
    )
    .unwrap();

    pg.start_again();
    wait_for("B connected again", || synced(&b));
    b.set_role("dr-tanaka", Role::Staff, "admin", T0 + 5)
        .unwrap();
    wait_for("B's change at A", || {
        a.account("dr-tanaka")
            .unwrap()
            .is_some_and(|acc| acc.role == Role::Staff)
    });
    // The failure counted on B's cache during the outage gave way to the facility's count.
    assert_eq!(b.account("dr-tanaka").unwrap().unwrap().failed_attempts, 0);
}

#[test]
fn a_facility_setting_changed_at_one_terminal_is_read_at_another_and_own_settings_stay_local() {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    let a = terminal(dir.path(), "east", &url, 2);
    let b = terminal(dir.path(), "west", &url, 2);
    wait_for("both connected", || synced(&a) && synced(&b));
    a.set_setting("facility.character_code", "Shift_JIS", "oqs-readerd", T0)
        .unwrap();
    a.set_facility_setting("emergency_summary_order", "oldest_first", "admin", T0)
        .unwrap();
    wait_for("the order at B", || {
        b.setting("emergency_summary_order").unwrap().as_deref() == Some("oldest_first")
    });
    b.set_facility_setting("emergency_summary_order", "newest_first", "admin", T0 + 1)
        .unwrap();
    wait_for("B's change at A", || {
        a.setting("emergency_summary_order").unwrap().as_deref() == Some("newest_first")
    });
    // The audit row at B names the facility's old value.
    let row = b
        .audit_records(0, 100)
        .unwrap()
        .into_iter()
        .rfind(|r| r.entry.action == "setting_changed")
        .unwrap();
    assert!(
        row.entry
            .detail
            .as_deref()
            .unwrap()
            .contains(r#""old":"oldest_first""#),
        "{row:?}"
    );
    // A terminal's own setting stays its own.
    assert_eq!(b.setting("facility.character_code").unwrap(), None);
    assert_eq!(
        pg.query_i64(
            "facility",
            "SELECT count(*) FROM settings WHERE key = 'facility.character_code'"
        ),
        0
    );
    // A single terminal sets a facility setting locally, as before.
    let single = Store::open(dir.path().join("single.sqlite3"), &key(2)).unwrap();
    single
        .set_facility_setting("emergency_summary_months", "1", "admin", T0)
        .unwrap();
    assert_eq!(
        single
            .setting("emergency_summary_months")
            .unwrap()
            .as_deref(),
        Some("1")
    );
}

#[test]
fn the_first_terminals_accounts_seed_the_facility_and_the_first_administrator_is_first_in_it() {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let dir = tempfile::tempdir().unwrap();
    // A clinic's single terminal with its administrator, later joined to a facility server.
    let solo = Store::open(dir.path().join("east.sqlite3"), &key(4)).unwrap();
    solo.create_first_administrator("admin", "管理者", "admin-password-1", "setup", T0)
        .unwrap();
    assert!(matches!(
        solo.create_first_administrator("admin2", "x", "admin-password-2", "setup", T0),
        Err(StoreError::AdministratorExists(login)) if login == "admin"
    ));
    drop(solo);
    let a = terminal(dir.path(), "east", &url, 4);
    // Connected means migrated: the table exists from then on.
    wait_for("east connected", || synced(&a));
    wait_for("east's accounts in PostgreSQL", || {
        pg.query_i64("facility", "SELECT count(*) FROM accounts") == 1
    });
    // A second terminal with an account of its own takes the facility's instead.
    let own = Store::open(dir.path().join("west.sqlite3"), &key(4)).unwrap();
    doctor(&own, "dr-local", T0);
    drop(own);
    let b = terminal(dir.path(), "west", &url, 4);
    wait_for("the facility's accounts at west", || {
        let logins: Vec<String> = b.accounts().unwrap().into_iter().map(|a| a.login).collect();
        logins == ["admin"]
    });
    assert!(accepted(&b, "admin", "admin-password-1", T0 + 1));
    // "First" is first in the facility.
    assert!(matches!(
        b.create_first_administrator("admin2", "x", "admin-password-2", "setup", T0 + 2),
        Err(StoreError::AdministratorExists(login)) if login == "admin"
    ));
    assert_eq!(pg.query_i64("facility", "SELECT count(*) FROM accounts"), 1);
    drop(a);
}
