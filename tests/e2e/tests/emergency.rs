//! Emergency and disaster viewing end to end: the real `oqs-readerd` over its socket, the real mock central
//! service over mutual TLS, real SQLite files, and (for the card) real pcscd with a vpcd reader and a
//! virtual My Number Card. Accounts are set up as a facility would: the first administrator with
//! `oqs-readerd --create-admin`, the rest over the socket, TOTP enrolled from the QR code's secret.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e::central::portal_entries;
use e2e::kiosk::{Cards, InsertedCard, NORMAL, Oqs, start_kiosk};
use e2e::staff::{
    DR_PW, NS_PW, audit_rows, connect, grant, login, refused, rt, set_up_accounts, store_path,
    unix_now,
};
use e2e::{Daemon, MockCentral, bin, in_keyutils_session};
use terminal_ipc::{
    DisasterConsent, ErrorCode, InsuranceNumbers, MedicalView, PatientLookup, Request, Response,
    Secret, Sensitive, Sex, SummaryOrder, ViewMode,
};

fn four(name: &str, birth: &str, sex: Sex, fourth: &str) -> PatientLookup {
    PatientLookup::FourFacts {
        name: Sensitive::new(name),
        birth_date: Sensitive::new(birth),
        sex,
        insurer_or_address: Sensitive::new(fourth),
    }
}

fn view(response: Response) -> MedicalView {
    match response {
        Response::MedicalView(v) => *v,
        other => panic!("expected a medical view, got {other:?}"),
    }
}

fn emergency(session: &Secret, patient: PatientLookup) -> Request {
    Request::EmergencyLookup {
        session: session.clone(),
        reason: "意識障害で救急搬送".into(),
        patient,
    }
}

/// Every audit row of the store, read with the data key from the test's keyring session.
fn oqs_audit_verify(store: &Path) -> (bool, String) {
    let out = Command::new(bin("oqs"))
        .args(["audit", "verify", "--store"])
        .arg(store)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "oqs audit verify failed to run: {text}"
    );
    (out.status.success(), text)
}

/// (central time, items, method) of every row of the report CSV.
fn report_entries(csv: &str) -> Vec<(String, String, String)> {
    csv.trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f[1].to_owned(), f[6].to_owned(), f[5].to_owned())
        })
        .collect()
}

#[test]
fn emergency_and_disaster_viewing_through_the_daemon() {
    if !in_keyutils_session("emergency_and_disaster_viewing_through_the_daemon") {
        return;
    }
    let central = MockCentral::start(100, None);
    let mut daemon = Daemon::start(&central, "[accounts]\nmax_failures = 3\n");
    let runtime = rt();
    let target_numbers = runtime.block_on(async {
        let (admin, admin_session, totp) = set_up_accounts(&daemon).await;

        // A password-only session of the doctor (for the second-factor check below).
        let one_factor = connect(&daemon).await;
        let dr_pw_only = login(&one_factor, "dr-tanaka", DR_PW, None).await;

        // Wrong one-time code: refused and counted towards the lockout.
        let wrong = connect(&daemon).await;
        let now_code = totp.generate(unix_now());
        let bad = if now_code == "000000" {
            "111111"
        } else {
            "000000"
        };
        let (code, message) = refused(
            &wrong,
            Request::Login {
                account: "dr-tanaka".into(),
                password: Secret::new(DR_PW),
                totp: Some(Secret::new(bad)),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::Unauthenticated, "{message}");
        let Response::Accounts { accounts } = admin
            .request(Request::ListAccounts {
                session: admin_session.clone(),
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        let dr = accounts.iter().find(|a| a.account == "dr-tanaka").unwrap();
        assert_eq!(dr.failed_attempts, 1, "the wrong code was counted");

        // Both factors (the next step's code: the enrolment used this step's), no permission yet.
        let doctor = connect(&daemon).await;
        let dr_session = login(
            &doctor,
            "dr-tanaka",
            DR_PW,
            Some(totp.generate(unix_now() + 30)),
        )
        .await;
        let target = four("石川　蓮", "1975-10-10", Sex::Male, "珠洲");
        let (code, _) = refused(&doctor, emergency(&dr_session, target.clone())).await;
        assert_eq!(code, ErrorCode::Forbidden, "no permission → refused");

        grant(&admin, &admin_session, true).await;
        // Permission, but the session has the password only.
        let (code, _) = refused(&one_factor, emergency(&dr_pw_only, target.clone())).await;
        assert_eq!(code, ErrorCode::SecondFactorRequired);
        // The session is bound to its connection.
        let (code, _) = refused(&wrong, emergency(&dr_session, target.clone())).await;
        assert_eq!(code, ErrorCode::Unauthenticated);
        // Three facts, and no reason.
        let (code, _) = refused(
            &doctor,
            emergency(&dr_session, four("石川　蓮", "1975-10-10", Sex::Male, "")),
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest, "three facts → refused");
        let (code, _) = refused(
            &doctor,
            Request::EmergencyLookup {
                session: dr_session.clone(),
                reason: "  ".into(),
                patient: target.clone(),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest, "a reason is required");
        // Several people match: more facts are asked for, nobody is listed.
        let (code, message) = refused(
            &doctor,
            emergency(
                &dr_session,
                four("山本　陽菜", "2010-01-01", Sex::Female, "輪島"),
            ),
        )
        .await;
        assert_eq!(code, ErrorCode::MoreFactsNeeded, "{message}");
        assert!(!message.contains("河井町"));
        // A partial address narrows it to one.
        let narrowed = view(
            doctor
                .request(emergency(
                    &dr_session,
                    four("山本陽菜", "2010-01-01", Sex::Female, "河井町"),
                ))
                .await
                .unwrap(),
        );
        assert_eq!(narrowed.patient.name.expose().replace('　', ""), "山本陽菜");

        // The emergency view of the target.
        let seen = view(
            doctor
                .request(emergency(&dr_session, target.clone()))
                .await
                .unwrap(),
        );
        assert_eq!(seen.mode, ViewMode::Emergency);
        assert!(
            seen.notice.contains("救急時医療情報閲覧"),
            "{}",
            seen.notice
        );
        assert!(seen.viewer.contains("dr-tanaka") && seen.viewer.contains("田中"));
        assert_eq!(seen.patient.name.expose(), "石川　蓮");
        assert!(
            seen.items.iter().any(|i| i == "薬剤情報"),
            "{:?}",
            seen.items
        );
        assert!(!seen.summary.medications.is_empty() || !seen.summary.visits.is_empty());
        let p = &seen.patient;
        let numbers = (
            p.insurer_number.expose().to_owned(),
            p.symbol.expose().to_owned(),
            p.number.expose().to_owned(),
            p.birth_date.expose().replace('-', ""),
        );

        // Disaster mode: refused while no window is open for the facility's prefecture.
        let Response::DisasterStatus(status) =
            doctor.request(Request::DisasterStatus).await.unwrap()
        else {
            panic!()
        };
        assert!(!status.open);
        let by_numbers = PatientLookup::InsuranceNumbers {
            numbers: InsuranceNumbers {
                insurer_number: Sensitive::new(numbers.0.clone()),
                symbol: Sensitive::new(numbers.1.clone()),
                number: Sensitive::new(numbers.2.clone()),
                branch: Sensitive::new(""),
                birth_date: Sensitive::new(p.birth_date.expose()),
            },
        };
        // Emergency viewing by the numbers of a 資格確認書 (issue 14 item 4), named so in the access history.
        let by_certificate = view(
            doctor
                .request(emergency(&dr_session, by_numbers.clone()))
                .await
                .unwrap(),
        );
        assert_eq!(by_certificate.mode, ViewMode::Emergency);
        assert_eq!(by_certificate.patient.name.expose(), "石川　蓮");
        assert_eq!(by_certificate.method, "insurance_numbers");

        // 救急専用端末: once the facility lists its emergency terminals, any other is refused with the reason.
        let set_terminals = |value: &str| Request::ChangeSetting {
            session: admin_session.clone(),
            key: "emergency_terminals".into(),
            value: value.into(),
        };
        admin
            .request(set_terminals("er-terminal-1, er-terminal-2"))
            .await
            .unwrap();
        let (code, message) = refused(&doctor, emergency(&dr_session, target.clone())).await;
        assert_eq!(code, ErrorCode::Forbidden);
        assert!(
            message.contains("救急専用端末") && message.contains("er-terminal-1"),
            "{message}"
        );
        let here = reader_daemon::emergency::terminal_name();
        admin
            .request(set_terminals(&format!("er-terminal-1,{here}")))
            .await
            .unwrap();
        view(
            doctor
                .request(emergency(&dr_session, target.clone()))
                .await
                .unwrap(),
        );
        admin.request(set_terminals("")).await.unwrap();
        let disaster = |patient: PatientLookup| Request::DisasterLookup {
            session: dr_session.clone(),
            consent: DisasterConsent::Oral,
            reason: Some("避難所で常用薬の確認".into()),
            patient,
        };
        let (code, _) = refused(&doctor, disaster(by_numbers.clone())).await;
        assert_eq!(code, ErrorCode::DisasterModeClosed);
        let out = Command::new(bin("oqs-mock-central"))
            .args(["disaster", "open", "--dir"])
            .arg(&central.dir)
            .args(["--pref", &status.prefecture.to_string()])
            .args(["--from", "20000101000000", "--to", "20991231235959"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let Response::DisasterStatus(status) =
            doctor.request(Request::DisasterStatus).await.unwrap()
        else {
            panic!()
        };
        assert!(status.open);
        // The card without a PIN belongs to emergency mode only.
        let (code, _) = refused(
            &doctor,
            disaster(PatientLookup::Card {
                reader: String::new(),
            }),
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest);
        let in_window = view(doctor.request(disaster(by_numbers)).await.unwrap());
        assert_eq!(in_window.mode, ViewMode::Disaster);
        assert!(in_window.notice.contains("災害"), "{}", in_window.notice);
        // Headless, as `oqs` does it: password on stdin, four facts on the command line.
        let oqs = Oqs::new(&daemon.root);
        let status = oqs.ok(&["disaster", "status"], None);
        assert!(status.contains("\"open\": true"), "{status}");
        let printed = oqs.ok(
            &[
                "disaster",
                "lookup",
                "--account",
                "dr-tanaka",
                "--consent",
                "unobtainable",
                "--name",
                "石川　蓮",
                "--birth-date",
                "1975-10-10",
                "--sex",
                "male",
                "--insurer-or-address",
                "珠洲",
            ],
            Some(&format!("{DR_PW}\n")),
        );
        assert!(printed.contains("\"mode\": \"disaster\""), "{printed}");
        // Four facts work in disaster mode too; staff without the role cannot.
        view(doctor.request(disaster(target.clone())).await.unwrap());
        let nurse = connect(&daemon).await;
        let ns = login(&nurse, "ns-sato", NS_PW, None).await;
        let (code, _) = refused(
            &nurse,
            Request::DisasterLookup {
                session: ns,
                consent: DisasterConsent::Oral,
                reason: None,
                patient: target.clone(),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::Forbidden);

        // Lockout after repeated failures (max_failures = 3 here), lifted by the administrator.
        let locker = connect(&daemon).await;
        let wrong_pw = |pw: &str| Request::Login {
            account: "ns-sato".into(),
            password: Secret::new(pw),
            totp: None,
        };
        for _ in 0..2 {
            let (code, _) = refused(&locker, wrong_pw("not-the-password")).await;
            assert_eq!(code, ErrorCode::Unauthenticated);
        }
        let wrong_answer = refused(&locker, wrong_pw("not-the-password")).await;
        assert_eq!(wrong_answer.0, ErrorCode::Unauthenticated);
        // Locked, even with the right password; the answer is the one of a wrong password (no enumeration).
        let locked_answer = refused(&locker, wrong_pw(NS_PW)).await;
        assert_eq!(
            locked_answer, wrong_answer,
            "locked even with the right password, and says no more than a wrong password"
        );
        admin
            .request(Request::UnlockAccount {
                session: admin_session.clone(),
                account: "ns-sato".into(),
            })
            .await
            .unwrap();
        login(&locker, "ns-sato", NS_PW, None).await;

        // Revoking takes effect on the open session.
        grant(&admin, &admin_session, false).await;
        let (code, _) = refused(&doctor, emergency(&dr_session, target)).await;
        assert_eq!(code, ErrorCode::Forbidden);

        // The daemon's own check of the chain.
        let Response::AuditVerdict(verdict) = admin
            .request(Request::VerifyAudit {
                session: admin_session.clone(),
            })
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(verdict.intact, "{verdict:?}");
        numbers
    });

    // Every action is in the audit log, with actor, method, reason and items.
    let rows = audit_rows(&daemon);
    let actions: BTreeSet<&str> = rows.iter().map(|r| r.entry.action.as_str()).collect();
    for action in [
        "account_created",
        "account_unlocked",
        "login",
        "login_failed",
        "totp_enrolled",
        "permission_granted",
        "permission_revoked",
        "emergency_lookup",
        "emergency_lookup_refused",
        "disaster_lookup",
        "disaster_lookup_refused",
    ] {
        assert!(actions.contains(action), "no `{action}` row in {actions:?}");
    }
    let lookup = rows
        .iter()
        .find(|r| r.entry.action == "emergency_lookup")
        .unwrap();
    assert_eq!(lookup.entry.actor, "dr-tanaka");
    assert_eq!(lookup.entry.method.as_deref(), Some("four_facts"));
    assert_eq!(lookup.entry.reason.as_deref(), Some("意識障害で救急搬送"));
    assert!(
        lookup
            .entry
            .patient_ref
            .as_deref()
            .is_some_and(|r| r.len() == 64)
    );
    assert!(!lookup.entry.items.is_empty());
    let failed_totp = rows.iter().any(|r| {
        r.entry.action == "login_failed"
            && r.entry
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("totp"))
    });
    assert!(failed_totp, "the wrong one-time code is logged");
    // No patient identifier in any audit row.
    let all = format!("{rows:?}");
    for secret in ["石川", "珠洲", numbers_str(&target_numbers).as_str()] {
        assert!(!all.contains(secret), "the audit log shows {secret}");
    }

    // The patient's report lists exactly what the central service shows the patient for this facility.
    let out_dir = daemon.root.join("report");
    let patient = format!(
        "{}:{}:{}:{}",
        target_numbers.0, target_numbers.1, target_numbers.2, target_numbers.3
    );
    let out = Command::new(bin("oqs"))
        .args(["audit", "report", "--store"])
        .arg(store_path(&daemon))
        .args(["--patient", &patient, "--facility", "テスト医院", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(out_dir.join("access-report.csv")).unwrap();
    let mut reported = report_entries(&csv);
    let mut portal = portal_entries(&central, &target_numbers, None);
    reported.sort();
    portal.sort();
    assert_eq!(
        portal.len(),
        6,
        "three emergency views (four facts, 資格確認書 numbers, from a listed 救急専用端末) and three disaster \
         views: {portal:?}"
    );
    assert_eq!(reported, portal, "report:\n{csv}");
    let pdf = std::fs::read(out_dir.join("access-report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF") && pdf.windows(9).any(|w| w == b"/FontFile"));

    // Tampering: change or delete any row of the SQLite file and `oqs audit verify` names it.
    let (ok, text) = oqs_audit_verify(&store_path(&daemon));
    assert!(ok, "{text}");
    daemon.stop();
    let pristine = daemon.root.join("pristine.sqlite3");
    {
        let conn = rusqlite::Connection::open(store_path(&daemon)).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        conn.execute("VACUUM INTO ?1", [pristine.to_str().unwrap()])
            .unwrap();
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let last = *ids.last().unwrap();
    for &id in &ids {
        for tamper in ["edit", "delete"] {
            let copy = daemon.root.join(format!("tampered-{tamper}-{id}.sqlite3"));
            std::fs::copy(&pristine, &copy).unwrap();
            let conn = rusqlite::Connection::open(&copy).unwrap();
            let triggers: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for t in triggers {
                conn.execute_batch(&format!("DROP TRIGGER \"{t}\";"))
                    .unwrap();
            }
            let sql = if tamper == "edit" {
                "UPDATE audit_log SET actor = actor || 'x' WHERE id = ?1"
            } else {
                "DELETE FROM audit_log WHERE id = ?1"
            };
            assert_eq!(conn.execute(sql, [id]).unwrap(), 1);
            drop(conn);
            let (ok, text) = oqs_audit_verify(&copy);
            assert!(!ok, "{tamper} of row {id} went unnoticed: {text}");
            // A deleted row shows at the row after it (whose link no longer holds), or at itself when it
            // was the newest.
            let named = if tamper == "edit" || id == last {
                id
            } else {
                id + 1
            };
            assert!(
                text.contains(&format!("row {named}:")),
                "{tamper} of row {id}: {text}"
            );
            std::fs::remove_file(&copy).unwrap();
        }
    }
}

fn numbers_str(n: &(String, String, String, String)) -> String {
    // The 番号 alone can be short; the insurer number with it is distinctive.
    format!("{}{}", n.0, n.2)
}

#[test]
fn card_lookup_without_pin_only_in_emergency_mode() {
    if !in_keyutils_session("card_lookup_without_pin_only_in_emergency_mode") {
        return;
    }
    let cards = Cards::issue(7);
    let lease = pcsc_harness::reader();
    let (_central, daemon, oqs) = start_kiosk(&cards, &lease);
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    let (holder, _, birth) = cards.holder(NORMAL);
    rt().block_on(async {
        let (admin, admin_session, totp) = set_up_accounts(&daemon).await;
        grant(&admin, &admin_session, true).await;
        let by_card = PatientLookup::Card {
            reader: lease.reader.clone(),
        };
        // Password only: not emergency mode, so no card lookup without a PIN.
        let one_factor = connect(&daemon).await;
        let pw_only = login(&one_factor, "dr-tanaka", DR_PW, None).await;
        let (code, _) = refused(&one_factor, emergency(&pw_only, by_card.clone())).await;
        assert_eq!(code, ErrorCode::SecondFactorRequired);
        // Disaster mode never reads the card.
        let (code, _) = refused(
            &one_factor,
            Request::DisasterLookup {
                session: pw_only,
                consent: DisasterConsent::Unobtainable,
                reason: None,
                patient: by_card.clone(),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest);
        // Emergency mode: the certificate identifies the holder; no PIN is asked.
        let doctor = connect(&daemon).await;
        let session = login(
            &doctor,
            "dr-tanaka",
            DR_PW,
            Some(totp.generate(unix_now() + 30)),
        )
        .await;
        let seen = view(doctor.request(emergency(&session, by_card)).await.unwrap());
        assert_eq!(seen.method, "card");
        assert_eq!(seen.patient.name.expose(), holder);
        assert_eq!(seen.patient.birth_date.expose(), birth);
    });
    // The kiosk was not touched: still waiting for the patient's choice, no PIN entered.
    assert_eq!(oqs.screen()["screen"], "method_choice");
    card.remove();
    let rows = audit_rows(&daemon);
    assert!(
        rows.iter()
            .any(|r| r.entry.action == "emergency_lookup"
                && r.entry.method.as_deref() == Some("card"))
    );
}

/// The facility's order and period of the emergency summary (seed 000: 項目表示順・表示対象とする期間), set by an
/// administrator with `oqs settings set`: each change is audited with its old and new value, and the next
/// emergency view follows them (oldest first, one month of 薬剤 instead of the national three). The
/// 救急専用端末 are set the same way. Values a setting does not take, and settings that are the daemon's own,
/// are refused.
#[test]
fn the_summary_order_and_period_are_the_facility_s_settings() {
    if !in_keyutils_session("the_summary_order_and_period_are_the_facility_s_settings") {
        return;
    }
    let central = MockCentral::start(100, None);
    let daemon = Daemon::start(&central, "");
    let oqs = Oqs::new(&daemon.root);
    let admin_pw = format!("{}\n", e2e::staff::ADMIN_PW);
    rt().block_on(async {
        let (admin, admin_session, totp) = set_up_accounts(&daemon).await;
        grant(&admin, &admin_session, true).await;
        let doctor = connect(&daemon).await;
        let dr = login(
            &doctor,
            "dr-tanaka",
            DR_PW,
            Some(totp.generate(unix_now() + 30)),
        )
        .await;
        let target = four("石川　蓮", "1975-10-10", Sex::Male, "珠洲");
        let dates = |items: &[terminal_ipc::SummaryItem]| -> Vec<String> {
            items.iter().map(|i| i.date.clone()).collect()
        };

        // The defaults: newest first, the national three months.
        let before = view(
            doctor
                .request(emergency(&dr, target.clone()))
                .await
                .unwrap(),
        );
        assert_eq!(before.summary_order, SummaryOrder::NewestFirst);
        assert_eq!(before.summary_months, 3);
        let meds = dates(&before.summary.medications);
        assert!(
            meds.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {meds:?}"
        );
        let months: BTreeSet<&str> = meds.iter().map(|d| &d[..6]).collect();
        assert!(
            months.len() >= 2,
            "the test patient has 薬剤 in more than one month: {meds:?}"
        );

        // The administrator chooses oldest first and one month, from a terminal.
        let shown = oqs.ok(
            &[
                "settings",
                "set",
                "--as",
                "admin",
                "--summary-order",
                "oldest-first",
                "--summary-months",
                "1",
            ],
            Some(&admin_pw),
        );
        assert!(
            shown.contains("古い順") && shown.contains("直近1ヵ月"),
            "{shown}"
        );
        let json = oqs.ok(
            &["settings", "show", "--as", "admin", "--json"],
            Some(&admin_pw),
        );
        let options: terminal_ipc::FacilityOptionsView =
            serde_json::from_str(&json).expect("settings as JSON");
        assert_eq!(options.summary_order, SummaryOrder::OldestFirst);
        assert_eq!(options.summary_months, 1);

        let after = view(
            doctor
                .request(emergency(&dr, target.clone()))
                .await
                .unwrap(),
        );
        assert_eq!(after.summary_order, SummaryOrder::OldestFirst);
        assert_eq!(after.summary_months, 1);
        let recent = dates(&after.summary.medications);
        assert!(
            recent.windows(2).all(|w| w[0] <= w[1]),
            "oldest first: {recent:?}"
        );
        // Only the last month's lines remain, and they are the newest of the three months.
        assert!(recent.len() < meds.len(), "{recent:?} of {meds:?}");
        let dropped: Vec<&String> = meds.iter().filter(|d| !recent.contains(d)).collect();
        assert!(
            recent.iter().all(|r| dropped.iter().all(|d| *d < r)),
            "the older lines went: kept {recent:?}, dropped {dropped:?}"
        );
        let span = |d: &str| -> i64 {
            let n = |r: std::ops::Range<usize>| d[r].parse::<i64>().expect("a date");
            n(0..4) * 12 + n(4..6)
        };
        if let (Some(first), Some(last)) = (recent.first(), meds.first()) {
            assert!(span(last) - span(first) <= 1, "{first} .. {last}");
        }

        // Values a setting does not take and the daemon's own settings are refused, by the daemon.
        for (key, value) in [
            ("emergency_summary_months", "6"),
            ("emergency_summary_order", "random"),
            ("kiosk.consent_screens", "[]"),
        ] {
            let (code, message) = refused(
                &admin,
                Request::ChangeSetting {
                    session: admin_session.clone(),
                    key: key.into(),
                    value: value.into(),
                },
            )
            .await;
            assert_eq!(code, ErrorCode::BadRequest, "{key}={value}: {message}");
        }
        // 救急専用端末 from a terminal too: a doctor on a terminal not listed is refused with the reason; once
        // this terminal is listed (its name as `oqs settings show` prints it), the lookup goes through.
        let set_terminals = |names: &str| {
            oqs.ok(
                &[
                    "settings",
                    "set",
                    "--as",
                    "admin",
                    "--emergency-terminals",
                    names,
                ],
                Some(&admin_pw),
            )
        };
        let listed = set_terminals("er-terminal-1, er-terminal-2");
        assert!(listed.contains("er-terminal-1,er-terminal-2"), "{listed}");
        let here = options.this_terminal.clone();
        assert!(listed.contains(&format!("この端末\t{here}")), "{listed}");
        let (code, message) = refused(&doctor, emergency(&dr, target.clone())).await;
        assert_eq!(code, ErrorCode::Forbidden);
        assert!(
            message.contains("救急専用端末") && message.contains("er-terminal-1"),
            "{message}"
        );
        set_terminals(&format!("er-terminal-1,{here}"));
        view(
            doctor
                .request(emergency(&dr, target.clone()))
                .await
                .unwrap(),
        );
        let every = set_terminals("");
        assert!(every.contains("指定なし"), "{every}");
        view(
            doctor
                .request(emergency(&dr, target.clone()))
                .await
                .unwrap(),
        );

        // A doctor cannot read or change them.
        let (code, _) = refused(
            &doctor,
            Request::FacilityOptions {
                session: dr.clone(),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::Forbidden);
    });

    let rows = audit_rows(&daemon);
    let changed: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| r.entry.action == "setting_changed" && r.entry.actor == "admin")
        .filter_map(|r| serde_json::from_str(r.entry.detail.as_deref()?).ok())
        .collect();
    for (key, new) in [
        ("emergency_summary_order", "oldest_first"),
        ("emergency_summary_months", "1"),
        ("emergency_terminals", "er-terminal-1,er-terminal-2"),
        ("emergency_terminals", ""),
    ] {
        assert!(
            changed.iter().any(|d| d["key"] == key && d["new"] == new),
            "no audit row of {key} = {new} in {changed:?}"
        );
    }
}

/// The daemon dies after the central service answered an emergency lookup (so the central has recorded the
/// access) and before its own outcome row: the log still shows who looked, how and why, from the row written
/// before the lookup was sent, and the chain verifies.
#[test]
fn a_crash_after_the_central_answer_leaves_the_attempt_in_the_log() {
    if !in_keyutils_session("a_crash_after_the_central_answer_leaves_the_attempt_in_the_log") {
        return;
    }
    let central = MockCentral::start(100, None);
    let mut daemon = Daemon::start(&central, "");
    let totp = rt().block_on(async {
        let (admin, admin_session, totp) = set_up_accounts(&daemon).await;
        grant(&admin, &admin_session, true).await;
        totp
    });
    daemon.stop();
    assert!(daemon.restart_with_env(&[("FAILPOINTS", "emergency::answered=return")]));
    rt().block_on(async {
        let doctor = connect(&daemon).await;
        let dr = login(
            &doctor,
            "dr-tanaka",
            DR_PW,
            Some(totp.generate(unix_now() + 30)),
        )
        .await;
        let answer = doctor
            .request(emergency(
                &dr,
                four("石川　蓮", "1975-10-10", Sex::Male, "珠洲"),
            ))
            .await;
        assert!(answer.is_err(), "the daemon answered: {answer:?}");
    });
    assert!(
        daemon.wait_exit(Duration::from_secs(30)),
        "the daemon did not crash at emergency::answered"
    );
    daemon.restart();

    let rows = audit_rows(&daemon);
    let started: Vec<_> = rows
        .iter()
        .filter(|r| r.entry.action == "emergency_lookup_started")
        .collect();
    assert_eq!(started.len(), 1, "{rows:?}");
    let s = &started[0].entry;
    assert_eq!(s.actor, "dr-tanaka");
    assert_eq!(s.method.as_deref(), Some("four_facts"));
    assert_eq!(s.reason.as_deref(), Some("意識障害で救急搬送"));
    assert!(
        !rows.iter().any(|r| r.entry.action == "emergency_lookup"),
        "an outcome row after the crash: {rows:?}"
    );
    let (intact, text) = oqs_audit_verify(&store_path(&daemon));
    assert!(intact, "{text}");
    // The regular review lists the lookup whose outcome was never recorded, with who looked and why.
    let table =
        Oqs::new(&daemon.root).emergency_review(&daemon.config, "2000-01-01", "2099-12-31", None);
    let line = table
        .lines()
        .find(|l| l.contains("結果の記録なし"))
        .unwrap_or_else(|| panic!("the unfinished lookup is not in the review:\n{table}"));
    assert!(
        line.contains("dr-tanaka") && line.contains("意識障害で救急搬送"),
        "{line}"
    );
}
