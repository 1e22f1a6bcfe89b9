//! The facility-wide store with the real binaries: two daemons (terminal `east` with a virtual reader, terminal
//! `west` without one) on one private PostgreSQL server (`pg-harness`), the real mock central service over
//! mutual TLS, PIN check-ins through pcscd + vpcd. Both daemons run in one keyutils session, so they share the
//! facility data key as terminals set up from one key would.
//!
//! - A check-in at east reaches west's event stream (LISTEN/NOTIFY), is listed by `oqs checkins` at west,
//!   and west's 同意取得済み患者一覧 has its patient.
//! - PostgreSQL stopped in the middle of check-ins and relayed requests: both terminals go on serving, say
//!   the facility server is away, and when it returns every check-in is in PostgreSQL once.
//! - east killed (`abort()`, crash point `shared::sent`) after PostgreSQL committed a batch and before the
//!   local outbox forgot it: after the restart the batch is sent again and each row is still there once.

use std::time::Duration;

use e2e::kiosk::{Cards, InsertedCard, NORMAL, Oqs, pin_checkin, watched};
use e2e::staff::{ADMIN_PW, connect, create_admin, login, rt};
use e2e::{Daemon, MockCentral, in_keyutils_session, relayed_result_encoding, wait_for};
use pg_harness::PgServer;
use terminal_ipc::{Request, Response};

const WAIT: Duration = Duration::from_secs(60);

fn store_section(url: &str, terminal_id: &str) -> String {
    format!("[store]\nshared = \"{url}\"\nterminal_id = \"{terminal_id}\"\n")
}

/// east: the leased reader; west: no reader.
fn two_terminals(
    central: &MockCentral,
    lease: &pcsc_harness::ReaderLease,
    url: &str,
) -> (Daemon, Oqs, Daemon, Oqs) {
    let east = Daemon::start(
        central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n{}",
            lease.reader,
            store_section(url, "east")
        ),
    );
    let west = Daemon::start(central, &store_section(url, "west"));
    let (oqs_east, oqs_west) = (Oqs::new(&east.root), Oqs::new(&west.root));
    (east, oqs_east, west, oqs_west)
}

/// One PIN check-in at the kiosk; its id.
fn check_in(
    oqs: &Oqs,
    cards: &Cards,
    lease: &pcsc_harness::ReaderLease,
    daemon: &Daemon,
) -> String {
    let card = InsertedCard::insert(cards, NORMAL, lease.port, &daemon.root);
    pin_checkin(oqs, cards, NORMAL);
    let result = oqs.wait_screen("result");
    let id = result["check_in_id"]
        .as_str()
        .expect("check-in id")
        .to_owned();
    card.remove();
    oqs.wait_screen("idle");
    id
}

fn listed(oqs: &Oqs) -> Vec<serde_json::Value> {
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    today["check_ins"].as_array().expect("check_ins").clone()
}

fn shared_link(oqs: &Oqs) -> serde_json::Value {
    oqs.status()["shared_store"].clone()
}

#[test]
fn a_check_in_at_one_terminal_is_listed_and_consented_at_the_other() {
    if !in_keyutils_session("a_check_in_at_one_terminal_is_listed_and_consented_at_the_other") {
        return;
    }
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let cards = Cards::issue(7);
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    let (east, oqs_east, west, oqs_west) = two_terminals(&central, &lease, &url);
    wait_for("west connected to PostgreSQL", WAIT, || {
        (shared_link(&oqs_west)["reachable"] == true).then_some(())
    });
    let watch_log = west.root.join("watch.jsonl");
    let _watch = oqs_west.watch(&watch_log);

    let id = check_in(&oqs_east, &cards, &lease, &east);
    // Pushed to west's subscribers (the reception windows) through LISTEN/NOTIFY, not read by them.
    wait_for("east's check-in event at west's watcher", WAIT, || {
        watched(&watch_log)
            .iter()
            .any(|e| e["event"] == "check_in" && e["check_in"]["check_in_id"] == id.as_str())
            .then_some(())
    });
    let row = wait_for("east's check-in listed at west", WAIT, || {
        listed(&oqs_west)
            .into_iter()
            .find(|r| r["check_in_id"] == id.as_str())
    });
    assert_eq!(row["outcome"], "valid", "{row}");
    assert_eq!(row["method"], "pin", "{row}");
    assert!(
        row["patient"]["name"].is_string(),
        "west decrypts the name: {row}"
    );
    assert_eq!(shared_link(&oqs_west)["reachable"], true);
    assert_eq!(listed(&oqs_east).len(), 1, "east lists its check-in once");

    // west's consented-patient list (an administrator may view) has east's patient.
    create_admin(&west);
    let rt = rt();
    let patients = rt.block_on(async {
        let client = connect(&west).await;
        let session = login(&client, "admin", ADMIN_PW, None).await;
        match client
            .request(Request::ConsentedPatients { session })
            .await
            .expect("consented patients")
        {
            Response::ConsentedPatients { patients } => patients,
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(patients.len(), 1, "{patients:?}");
    assert_eq!(
        pg.query_i64(
            "facility",
            "SELECT count(*) FROM consents WHERE terminal_id = 'east'"
        ),
        pg.query_i64("facility", "SELECT count(*) FROM consents")
    );
    assert!(pg.query_i64("facility", "SELECT count(*) FROM consents") >= 1);
    drop((east, west));
}

#[test]
fn postgresql_down_in_the_middle_of_check_ins_and_relayed_requests() {
    if !in_keyutils_session("postgresql_down_in_the_middle_of_check_ins_and_relayed_requests") {
        return;
    }
    let mut pg = PgServer::start();
    let url = pg.create_database("facility");
    let cards = Cards::issue(7);
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    let (east, oqs_east, west, oqs_west) = two_terminals(&central, &lease, &url);

    let mut ids = vec![check_in(&oqs_east, &cards, &lease, &east)];
    pg.stop();
    for i in 0..3 {
        ids.push(check_in(&oqs_east, &cards, &lease, &east));
        // Both terminals go on relaying the receipt computer's requests.
        for daemon in [&east, &west] {
            relayed_result_encoding(daemon, &central.facility_code, &format!("pgdown{i}"));
        }
    }
    wait_for("east to say the facility server is away", WAIT, || {
        (shared_link(&oqs_east)["reachable"] == false).then_some(())
    });
    assert_eq!(listed(&oqs_east).len(), 4, "east lists its own check-ins");
    assert!(shared_link(&oqs_east)["pending"].as_u64().unwrap_or(0) > 0);

    pg.start_again();
    wait_for("east in sync", WAIT, || {
        let link = shared_link(&oqs_east);
        (link["reachable"] == true && link["pending"] == 0).then_some(())
    });
    wait_for("west to list all four", WAIT, || {
        (listed(&oqs_west).len() == 4).then_some(())
    });
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM check_ins"),
        4
    );
    assert_eq!(
        pg.query_i64(
            "facility",
            "SELECT count(DISTINCT check_in_id) FROM check_ins WHERE terminal_id = 'east'"
        ),
        4
    );
    let mut in_pg: Vec<String> = pg
        .query_strings(
            "facility",
            "SELECT check_in_id FROM check_ins ORDER BY check_in_id",
        )
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    ids.sort();
    in_pg.sort();
    assert_eq!(in_pg, ids);
}

#[test]
fn a_kill_between_postgresql_commit_and_outbox_clear_loses_and_doubles_nothing() {
    if !in_keyutils_session(
        "a_kill_between_postgresql_commit_and_outbox_clear_loses_and_doubles_nothing",
    ) {
        return;
    }
    let mut pg = PgServer::start();
    let url = pg.create_database("facility");
    let cards = Cards::issue(7);
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    let (mut east, oqs_east, _west, oqs_west) = two_terminals(&central, &lease, &url);

    pg.stop();
    let ids = [
        check_in(&oqs_east, &cards, &lease, &east),
        check_in(&oqs_east, &cards, &lease, &east),
    ];
    east.kill();
    pg.start_again();
    // With the crash point, east dies right after PostgreSQL committed the first batch.
    let running = east.restart_with_env(&[("FAILPOINTS", "shared::sent=return")]);
    if running {
        assert!(
            east.wait_exit(WAIT),
            "east did not reach the crash point:\n{}",
            east.logs()
        );
    }
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM check_ins"),
        2
    );
    east.restart();
    wait_for("east in sync after the crash", WAIT, || {
        let link = shared_link(&oqs_east);
        (link["reachable"] == true && link["pending"] == 0).then_some(())
    });
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM check_ins"),
        2
    );
    let consents = pg.query_i64("facility", "SELECT count(*) FROM consents");
    assert_eq!(
        consents,
        pg.query_i64(
            "facility",
            "SELECT count(*) FROM (SELECT DISTINCT terminal_id, local_id FROM consents) d"
        )
    );
    assert!(consents >= 2, "the consents of both check-ins: {consents}");
    wait_for("west to list both", WAIT, || {
        let rows = listed(&oqs_west);
        ids.iter()
            .all(|id| rows.iter().any(|r| r["check_in_id"] == id.as_str()))
            .then_some(())
    });
}
