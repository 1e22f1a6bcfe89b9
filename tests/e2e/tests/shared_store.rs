//! The facility-wide store with the real binaries: reception terminals `east` and `west` (with virtual
//! readers where a test checks cards in) and a 閲覧用端末 `room-3` on one private PostgreSQL server
//! (`pg-harness`), the real mock central service over
//! mutual TLS, PIN check-ins through pcscd + vpcd. Both daemons run in one keyutils session, so they share the
//! facility data key as terminals set up from one key would.
//!
//! - east and west each have a virtual reader (`pcsc_harness::readers(2)`): a check-in at east reaches west's
//!   event stream (LISTEN/NOTIFY) and is listed by `oqs checkins` at west, one at west reaches east the same
//!   way, and west's 同意取得済み患者一覧 has the patient. A third daemon, room-3, is a 閲覧用端末 (`[terminal]
//!   role = "viewer"`): no folders, east's check-in and patient listed, reception requests refused.
//! - PostgreSQL stopped in the middle of check-ins and relayed requests: both terminals go on serving, say
//!   the facility server is away, and when it returns every check-in is in PostgreSQL once.
//! - east killed (`abort()`, crash point `shared::sent`) after PostgreSQL committed a batch and before the
//!   local outbox forgot it: after the restart the batch is sent again and each row is still there once.
//! - An emergency view at the viewer, by a doctor whose account and second factor were made at east, is in
//!   the patient's access report made at east (`oqs audit report`, with the viewer's terminal id) and in the
//!   administrators' emergency-view review at east (`EmergencyReview`, `oqs emergency review`); `oqs audit
//!   verify --facility` at east checks both chains; with PostgreSQL stopped the report and the review at
//!   east say they cover east only.
//! - Accounts and settings are the facility's: the first administrator is made at east (`oqs-readerd
//!   --create-admin`), creates a doctor (医療情報閲覧者) there, the doctor logs in at west, and a setting changed
//!   at east applies at west; with PostgreSQL stopped the doctor still logs in at west, and a change of an
//!   account or a setting is refused with `shared_store_unavailable`.

use std::process::Command;
use std::time::Duration;

use e2e::central::{Qualification, try_qualification_numbers};
use e2e::kiosk::{Cards, InsertedCard, NORMAL, Oqs, pin_checkin, watched};
use e2e::staff::{
    ADMIN_PW, DR_PW, audit_rows, connect, create_admin, grant, login, refused, rt, set_up_accounts,
    unix_now,
};
use e2e::{
    Daemon, Deliveries, MockCentral, bin, in_keyutils_session, single_check_request, wait_for,
};
use pg_harness::PgServer;
use terminal_ipc::{
    ErrorCode, InsuranceNumbers, PatientLookup, Request, Response, Role, Secret, Sensitive, Sex,
};

const WAIT: Duration = Duration::from_secs(60);

fn store_section(url: &str, terminal_id: &str) -> String {
    format!("[store]\nshared = \"{url}\"\nterminal_id = \"{terminal_id}\"\n")
}

/// east: the leased reader; west: `west_reader`, or none.
fn two_terminals(
    central: &MockCentral,
    lease: &pcsc_harness::ReaderLease,
    west_reader: Option<&pcsc_harness::ReaderLease>,
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
    let west = Daemon::start(
        central,
        &match west_reader {
            Some(lease) => format!(
                "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n{}",
                lease.reader,
                store_section(url, "west")
            ),
            None => store_section(url, "west"),
        },
    );
    let (oqs_east, oqs_west) = (Oqs::new(&east.root), Oqs::new(&west.root));
    (east, oqs_east, west, oqs_west)
}

/// PostgreSQL, the mock central service, and east and west without readers.
fn terminals_without_readers() -> (PgServer, MockCentral, Daemon, Daemon) {
    let pg = PgServer::start();
    let url = pg.create_database("facility");
    let central = MockCentral::start(100, None);
    let east = Daemon::start(&central, &store_section(&url, "east"));
    let west = Daemon::start(&central, &store_section(&url, "west"));
    (pg, central, east, west)
}

/// A 閲覧用端末 (room-3): `role = "viewer"`, no reader.
fn viewer_terminal(central: &MockCentral, url: &str) -> Daemon {
    Daemon::start(
        central,
        &format!(
            "[terminal]\nrole = \"viewer\"\n[readers]\n{}",
            store_section(url, "room-3")
        ),
    )
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
    // Two reception terminals, each with its card reader.
    let (east_lease, west_lease) = pcsc_harness::two_readers();
    let (lease, west_lease) = (&east_lease, &west_lease);
    let central = MockCentral::start(100, Some(&cards.dir));
    let (east, oqs_east, west, oqs_west) = two_terminals(&central, lease, Some(west_lease), &url);
    wait_for("west connected to PostgreSQL", WAIT, || {
        (shared_link(&oqs_west)["reachable"] == true).then_some(())
    });
    let watch_log = west.root.join("watch.jsonl");
    let _watch = oqs_west.watch(&watch_log);

    let id = check_in(&oqs_east, &cards, lease, &east);
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

    // The same the other way: a check-in at west's reader is pushed to east and listed there.
    let east_log = east.root.join("watch.jsonl");
    let _watch_east = oqs_east.watch(&east_log);
    let west_id = check_in(&oqs_west, &cards, west_lease, &west);
    wait_for("west's check-in event at east's watcher", WAIT, || {
        watched(&east_log)
            .iter()
            .any(|e| e["event"] == "check_in" && e["check_in"]["check_in_id"] == west_id.as_str())
            .then_some(())
    });
    let rows = listed(&oqs_east);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r["check_in_id"] == west_id.as_str() && r["outcome"] == "valid"),
        "{rows:?}"
    );

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
    assert_eq!(patients.len(), 1, "one patient, seen at both: {patients:?}");
    assert!(
        pg.query_i64(
            "facility",
            "SELECT count(*) FROM consents WHERE terminal_id = 'east'"
        ) >= 1
    );
    assert!(pg.query_i64("facility", "SELECT count(*) FROM consents") >= 1);

    // A 閲覧用端末 (room-3, `role = "viewer"`): no reader and no folders; it lists east's check-in and its
    // consented patient from PostgreSQL, and refuses reception work whatever the client.
    let viewer = viewer_terminal(&central, &url);
    let oqs_viewer = Oqs::new(&viewer.root);
    let status = oqs_viewer.status();
    assert_eq!(status["role"], "viewer", "{status}");
    assert_eq!(status["readers"], serde_json::json!([]), "{status}");
    for folder in ["req", "res", "face", "work/processing", "work/outgoing"] {
        assert!(
            !viewer.root.join(folder).exists(),
            "the viewer made the folder {folder}"
        );
    }
    wait_for("east's check-in listed at the viewer", WAIT, || {
        listed(&oqs_viewer)
            .into_iter()
            .find(|r| r["check_in_id"] == id.as_str())
    });
    let refused = oqs_viewer.run(&["kiosk", "cancel"], None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("閲覧用端末"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // The administrator made at west (accounts are the facility's) logs in at the viewer.
    rt.block_on(async {
        let client = connect(&viewer).await;
        let session = login(&client, "admin", ADMIN_PW, None).await;
        match client
            .request(Request::ConsentedPatients {
                session: session.clone(),
            })
            .await
            .expect("consented patients at the viewer")
        {
            Response::ConsentedPatients { patients } => assert_eq!(patients.len(), 1),
            other => panic!("{other:?}"),
        }
        // Account administration is a reception terminal's, even for an administrator.
        let err = client
            .request(Request::ListAccounts { session })
            .await
            .expect_err("accounts are not listed at a viewer");
        match err {
            terminal_ipc::IpcError::Remote(body) => {
                assert_eq!(
                    body.code,
                    terminal_ipc::ErrorCode::ViewerTerminal,
                    "{body:?}"
                )
            }
            other => panic!("{other:?}"),
        }
    });
    drop((east, west, viewer));
}

/// `n` checks by numbers at the counter through the daemon's socket, cycling through `people`; each is a
/// check-in (◎) and each must be answered 有効, with PostgreSQL up or not.
fn checks_by_numbers(daemon: &Daemon, people: &[[String; 5]], n: usize) {
    rt().block_on(async {
        let client = connect(daemon).await;
        for i in 0..n {
            let [insurer, symbol, number, branch, birth] = &people[i % people.len()];
            let numbers = InsuranceNumbers {
                insurer_number: Sensitive::new(insurer.as_str()),
                symbol: Sensitive::new(symbol.as_str()),
                number: Sensitive::new(number.as_str()),
                branch: Sensitive::new(branch.as_str()),
                birth_date: Sensitive::new(birth.as_str()),
            };
            let answer = client
                .request(Request::ManualCheck {
                    numbers,
                    session: None,
                    ahead: false,
                })
                .await
                .expect("a check by numbers is answered");
            match answer {
                Response::Eligibility { result } => assert_eq!(
                    serde_json::to_value(result.outcome).expect("outcome"),
                    "valid"
                ),
                other => panic!("{other:?}"),
            }
        }
    });
}

/// `n` single-check requests dropped into the daemon's `req/` at once; the result names to expect.
fn drop_requests(daemon: &Daemon, facility: &str, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let (name, bytes) = single_check_request(facility, &format!("{prefix}{i:04}"));
            daemon.drop_request(&name, &bytes);
            name.replace("req_", "res_")
        })
        .collect()
}

/// The issue's outage run: 200 checks by numbers and 500 relayed requests across east and west (plus card
/// check-ins at east's kiosk), a third before, a third while PostgreSQL is stopped, a third after it returns;
/// west is killed with SIGKILL while it has its outage's rows to send. Every check-in is then in PostgreSQL
/// once and listed at both terminals, every result was delivered once at its terminal, no terminal stopped
/// answering, and the facility-wide audit check passes.
#[test]
fn postgresql_down_in_the_middle_of_check_ins_and_relayed_requests() {
    if !in_keyutils_session("postgresql_down_in_the_middle_of_check_ins_and_relayed_requests") {
        return;
    }
    const CHECKS: [usize; 3] = [33, 34, 33];
    const REQUESTS: [usize; 3] = [84, 83, 83];
    let mut pg = PgServer::start();
    let url = pg.create_database("facility");
    let cards = Cards::issue(7);
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    let people: Vec<[String; 5]> = (1..=100)
        .filter_map(|p| try_qualification_numbers(&central, p, Qualification::Confirmed))
        .take(20)
        .collect();
    assert_eq!(people.len(), 20);
    let (east, oqs_east, mut west, oqs_west) = two_terminals(&central, &lease, None, &url);
    let deliveries = [
        Deliveries::watch(&east.res()),
        Deliveries::watch(&west.res()),
    ];
    let mut results: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let code = central.facility_code.clone();
    let phase = |n: usize, results: &mut [Vec<String>; 2]| {
        for (t, daemon) in [&east, &west].into_iter().enumerate() {
            let prefix = format!("{}p{n}_", ["east", "west"][t]);
            results[t].extend(drop_requests(daemon, &code, &prefix, REQUESTS[n]));
            checks_by_numbers(daemon, &people, CHECKS[n]);
        }
    };

    // Before: PostgreSQL up.
    let mut cards_in = vec![check_in(&oqs_east, &cards, &lease, &east)];
    phase(0, &mut results);
    // During: stopped. Both terminals go on checking and relaying.
    pg.stop();
    phase(1, &mut results);
    for _ in 0..3 {
        cards_in.push(check_in(&oqs_east, &cards, &lease, &east));
    }
    wait_for("east to say the facility server is away", WAIT, || {
        (shared_link(&oqs_east)["reachable"] == false).then_some(())
    });
    assert!(shared_link(&oqs_west)["pending"].as_u64().unwrap_or(0) > 0);
    // After: back, and west killed with its outage's rows still to send, then started again.
    pg.start_again();
    phase(2, &mut results);
    west.kill();
    west.restart();

    let total = CHECKS.iter().sum::<usize>() * 2 + cards_in.len();
    for oqs in [&oqs_east, &oqs_west] {
        wait_for("the terminal in sync", WAIT, || {
            let link = shared_link(oqs);
            (link["reachable"] == true && link["pending"] == 0).then_some(())
        });
    }
    for (t, oqs) in [&oqs_east, &oqs_west].into_iter().enumerate() {
        let listed = wait_for("every check-in listed", WAIT, || {
            let rows = listed(oqs);
            (rows.len() == total).then_some(rows)
        });
        let mut ids: Vec<&str> = listed
            .iter()
            .filter_map(|r| r["check_in_id"].as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), total, "terminal {t} lists a check-in twice");
    }
    assert_eq!(
        pg.query_i64("facility", "SELECT count(*) FROM check_ins"),
        total as i64
    );
    assert_eq!(
        pg.query_i64(
            "facility",
            "SELECT count(DISTINCT (terminal_id, check_in_id)) FROM check_ins"
        ),
        total as i64
    );
    assert_eq!(
        pg.query_i64(
            "facility",
            "SELECT count(*) FROM check_ins WHERE terminal_id = 'west'"
        ),
        CHECKS.iter().sum::<usize>() as i64
    );
    for id in &cards_in {
        assert_eq!(
            pg.query_i64(
                "facility",
                &format!("SELECT count(*) FROM check_ins WHERE check_in_id = '{id}'")
            ),
            1,
            "{id}"
        );
    }
    for (t, d) in deliveries.iter().enumerate() {
        for name in &results[t] {
            d.wait_for(name, WAIT);
        }
        d.assert_exactly_once(&results[t]);
    }
    let (code, text) = oqs_audit(&east, &["verify", "--facility"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("terminal west: intact"), "{text}");
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
    let (mut east, oqs_east, _west, oqs_west) = two_terminals(&central, &lease, None, &url);

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

/// `oqs audit …` against `daemon`'s configuration: (exit code, stdout and stderr).
fn oqs_audit(daemon: &Daemon, args: &[&str]) -> (i32, String) {
    let out = Command::new(bin("oqs"))
        .arg("audit")
        .args(args)
        .arg("--config")
        .arg(&daemon.config)
        .output()
        .expect("running oqs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The patient's access report made at `daemon` into `dir`: the CSV's lines.
fn access_report(daemon: &Daemon, patient_ref: &str, dir: &std::path::Path) -> Vec<String> {
    let out = dir.to_str().expect("a UTF-8 path");
    let (code, text) = oqs_audit(
        daemon,
        &[
            "report",
            "--patient",
            patient_ref,
            "--facility",
            "テスト病院",
            "--out",
            out,
        ],
    );
    assert_eq!(code, 0, "oqs audit report failed: {text}");
    let pdf = std::fs::read(dir.join("access-report.pdf")).expect("the PDF");
    assert!(pdf.starts_with(b"%PDF"));
    std::fs::read_to_string(dir.join("access-report.csv"))
        .expect("the CSV")
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The administrator at `daemon` reviews the emergency views of every day there is: (rows, notice).
async fn review(
    admin: &terminal_ipc::IpcClient,
    session: &Secret,
) -> (Vec<terminal_ipc::EmergencyReviewRow>, Option<String>) {
    match admin
        .request(Request::EmergencyReview {
            session: session.clone(),
            from: "2000-01-01".into(),
            to: "2099-12-31".into(),
            export: false,
        })
        .await
        .expect("the emergency review")
    {
        Response::EmergencyReview { rows, notice, .. } => (rows, notice),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_emergency_view_at_the_viewer_is_in_the_report_and_the_review_made_at_reception() {
    if !in_keyutils_session(
        "an_emergency_view_at_the_viewer_is_in_the_report_and_the_review_made_at_reception",
    ) {
        return;
    }
    let mut pg = PgServer::start();
    let url = pg.create_database("facility");
    let central = MockCentral::start(100, None);
    let east = Daemon::start(&central, &store_section(&url, "east"));
    let viewer = viewer_terminal(&central, &url);
    let oqs_east = Oqs::new(&east.root);

    // The accounts are made at east (reception); the doctor, given the emergency permission and a second
    // factor there, views a patient in an emergency at the 閲覧用端末 of a consultation room.
    let rt = rt();
    let (admin, admin_session) = rt.block_on(async {
        let (admin, admin_session, totp) = set_up_accounts(&east).await;
        grant(&admin, &admin_session, true).await;
        let doctor = connect(&viewer).await;
        let session = login(
            &doctor,
            "dr-tanaka",
            DR_PW,
            Some(totp.generate(unix_now() + 30)),
        )
        .await;
        let seen = doctor
            .request(Request::EmergencyLookup {
                session,
                reason: "意識障害で救急搬送".into(),
                patient: PatientLookup::FourFacts {
                    name: Sensitive::new("石川　蓮"),
                    birth_date: Sensitive::new("1975-10-10"),
                    sex: Sex::Male,
                    insurer_or_address: Sensitive::new("珠洲"),
                },
            })
            .await
            .expect("the emergency lookup at the viewer");
        assert!(matches!(seen, Response::MedicalView(_)), "{seen:?}");
        (admin, admin_session)
    });
    let view = audit_rows(&viewer)
        .into_iter()
        .find(|r| r.entry.action == "emergency_lookup")
        .expect("the viewer logged the emergency view");
    let patient_ref = view.entry.patient_ref.clone().expect("a patient reference");
    // The status line's pending count lags an audit append by up to one drainer round: ask PostgreSQL.
    let in_pg = format!(
        "SELECT count(*) FROM audit_log WHERE terminal_id = 'room-3' AND id = {}",
        view.id
    );
    wait_for("the viewer's view in PostgreSQL", WAIT, || {
        (pg.query_i64("facility", &in_pg) == 1).then_some(())
    });
    wait_for("east connected to PostgreSQL", WAIT, || {
        (shared_link(&oqs_east)["reachable"] == true).then_some(())
    });

    // The patient's report made at east lists the viewer's view, naming the viewer.
    let dir = east.root.join("report");
    let lines = access_report(&east, &patient_ref, &dir);
    assert!(lines[0].starts_with("記録番号,端末,"), "{lines:?}");
    let viewer_row = format!("{},room-3,", view.id);
    let row = lines
        .iter()
        .find(|l| l.starts_with(&viewer_row))
        .unwrap_or_else(|| panic!("no row {viewer_row}… in {lines:?}"));
    assert!(
        row.contains("救急時医療情報閲覧") && row.contains("意識障害で救急搬送"),
        "{row}"
    );
    assert_eq!(
        lines.len(),
        2,
        "the viewer's one view of this patient: {lines:?}"
    );

    // The administrators' regular review at east covers the facility: the view, at room-3.
    let (rows, notice) = rt.block_on(review(&admin, &admin_session));
    assert_eq!(notice, None, "{rows:?}");
    let reviewed = rows
        .iter()
        .find(|r| r.terminal.as_deref() == Some("room-3"))
        .unwrap_or_else(|| panic!("the viewer's view is not in east's review: {rows:?}"));
    assert_eq!(reviewed.audit_id, view.id);
    assert_eq!(reviewed.patient_ref, patient_ref);
    assert_eq!(reviewed.reason, "意識障害で救急搬送");
    assert!(reviewed.viewer.contains("dr-tanaka"), "{reviewed:?}");
    let table = oqs_east.emergency_review(&east.config, "2000-01-01", "2099-12-31", None);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("{}\troom-3\t", view.id))),
        "{table}"
    );

    // Every terminal's chain is checked from east.
    let (code, text) = oqs_audit(&east, &["verify", "--facility"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("terminal east: intact"), "{text}");
    assert!(text.contains("terminal room-3: intact"), "{text}");

    // PostgreSQL away: the report and the review at east say on their face that they cover east only.
    pg.stop();
    let lines = access_report(&east, &patient_ref, &east.root.join("report-alone"));
    assert_eq!(
        lines[0], "院内サーバに接続できなかったため、この端末の記録のみです",
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains(",room-3,")), "{lines:?}");
    let (rows, notice) = rt.block_on(review(&admin, &admin_session));
    assert_eq!(
        notice.as_deref(),
        Some("院内サーバに接続できなかったため、この端末の記録のみです")
    );
    assert!(
        rows.iter().all(|r| r.terminal.as_deref() == Some("east")),
        "{rows:?}"
    );
    let (code, text) = oqs_audit(&east, &["verify", "--facility"]);
    assert_eq!(code, 2, "{text}");
    drop((east, viewer));
}

#[test]
fn a_doctor_account_made_at_one_terminal_logs_in_at_the_other_even_with_postgresql_down() {
    if !in_keyutils_session(
        "a_doctor_account_made_at_one_terminal_logs_in_at_the_other_even_with_postgresql_down",
    ) {
        return;
    }
    let (mut pg, _central, east, west) = terminals_without_readers();
    let (oqs_east, oqs_west) = (Oqs::new(&east.root), Oqs::new(&west.root));
    for oqs in [&oqs_east, &oqs_west] {
        wait_for("both connected to PostgreSQL", WAIT, || {
            (shared_link(oqs)["reachable"] == true).then_some(())
        });
    }
    create_admin(&east);
    let rt = rt();
    let (admin, admin_session) = rt.block_on(async {
        let admin = connect(&east).await;
        let session = login(&admin, "admin", ADMIN_PW, None).await;
        let created = admin
            .request(Request::CreateAccount {
                session: session.clone(),
                account: "dr-tanaka".into(),
                display_name: "田中 医師".into(),
                role: Role::MedicalInformationViewer,
                password: Secret::new(DR_PW),
            })
            .await
            .expect("the doctor's account");
        assert!(matches!(created, Response::Account { .. }), "{created:?}");
        let changed = admin
            .request(Request::ChangeSetting {
                session: session.clone(),
                key: "emergency_summary_months".into(),
                value: "1".into(),
            })
            .await
            .expect("the setting");
        assert_eq!(changed, Response::Accepted);

        // The doctor logs in at west, and west's administrator session sees east's setting.
        let doctor = connect(&west).await;
        login(&doctor, "dr-tanaka", DR_PW, None).await;
        let west_admin = connect(&west).await;
        let session_west = login(&west_admin, "admin", ADMIN_PW, None).await;
        let mut months = 0;
        for _ in 0..100 {
            match west_admin
                .request(Request::FacilityOptions {
                    session: session_west.clone(),
                })
                .await
                .expect("facility options")
            {
                Response::FacilityOptions(view) => months = view.summary_months,
                other => panic!("{other:?}"),
            }
            if months == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(months, 1, "east's setting at west");
        (admin, session)
    });
    // "First" is first in the facility: west cannot make a first administrator of its own.
    let second = Command::new(bin("oqs"))
        .args(["account", "create-admin", "--login", "admin2", "--config"])
        .arg(&west.config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"admin2-password-1\n")?;
            child.wait_with_output()
        })
        .expect("running oqs account create-admin");
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    pg.stop();
    wait_for("west to say the facility server is away", WAIT, || {
        (shared_link(&oqs_west)["reachable"] == false).then_some(())
    });
    rt.block_on(async {
        // Logins go on from west's cache.
        let doctor = connect(&west).await;
        login(&doctor, "dr-tanaka", DR_PW, None).await;
        // Changes are refused, saying why.
        let (code, message) = refused(
            &admin,
            Request::SetAccountRole {
                session: admin_session.clone(),
                account: "dr-tanaka".into(),
                role: Role::Staff,
            },
        )
        .await;
        assert_eq!(code, ErrorCode::SharedStoreUnavailable, "{message}");
        assert!(
            message.contains("院内サーバに接続できないため、アカウントの変更はできません"),
            "{message}"
        );
        let (code, message) = refused(
            &admin,
            Request::ChangeSetting {
                session: admin_session.clone(),
                key: "emergency_summary_months".into(),
                value: "2".into(),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::SharedStoreUnavailable, "{message}");
        assert!(
            message.contains("施設の設定の変更はできません"),
            "{message}"
        );
    });
    assert!(
        !audit_rows(&east)
            .iter()
            .any(|r| r.entry.action == "role_changed"),
        "no audit row of a change not made"
    );
    drop((east, west));
}
