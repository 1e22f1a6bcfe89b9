//! 要再確認 end to end (issue 17 item 4): a patient whose qualification has not reached the central service yet
//! (the insurer has not registered it) checks in with the card and gets 該当資格なし; reception takes the 申立書 path
//! of 保発0710第1号 with the share claimed and the new insurer's numbers; the daemon's check at once still finds
//! nothing, so the visit stays in the 要再確認 list. The insurer registers the qualification at the mock
//! central service, and the daemon's scheduled re-check (made when the daemon starts after the set time, as a
//! terminal switched on late does) confirms it with no one asking. Real daemon, pcscd + vpcd, mock central over
//! mutual TLS; the list is exported as CSV through `oqs`.

use std::time::Duration;

use e2e::central::{
    Qualification, load_qualifications, qualification_numbers, withhold_qualifications,
};
use e2e::kiosk::{Cards, InsertedCard, Oqs};
use e2e::staff::{ADMIN_PW, audit_rows, connect, create_admin, login, refused, rt};
use e2e::{Daemon, MockCentral, clock, in_keyutils_session, wait_for};
use terminal_ipc::{
    ClaimedNumbers, ErrorCode, FallbackPath, Request, Response, Sensitive, UnconfirmedReason,
    UnconfirmedView,
};

/// `population::fixtures::VALID`, whose only qualification the test withholds until the insurer registers it.
const NEW_MEMBER: u32 = 1;

fn list(daemon: &Daemon) -> (Vec<UnconfirmedView>, Option<terminal_ipc::RecheckRunView>) {
    rt().block_on(async {
        let client = connect(daemon).await;
        match client
            .request(Request::UnconfirmedList { days: None })
            .await
            .expect("unconfirmed list")
        {
            Response::UnconfirmedList { entries, last_run } => (entries, last_run),
            other => panic!("{other:?}"),
        }
    })
}

#[test]
fn a_declaration_is_kept_until_the_scheduled_recheck_confirms_it() {
    if !in_keyutils_session("a_declaration_is_kept_until_the_scheduled_recheck_confirms_it") {
        return;
    }
    let cards = Cards::issue_for_people(NEW_MEMBER, 1, "normal");
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    withhold_qualifications(&central, i64::from(NEW_MEMBER));
    // The re-check runs at a set time two minutes from now (Japan time); the test moves the calendar past it.
    let at = oqs_clock::to_jst(clock().now() + Duration::from_secs(120));
    let mut daemon = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n\
             [recheck]\nat = \"{:02}:{:02}\"\nreceipt_day = 28\n",
            lease.reader,
            at.hour(),
            at.minute()
        ),
    );
    let oqs = Oqs::new(&daemon.root);
    create_admin(&daemon);

    // The card check-in: 該当資格なし.
    let card = InsertedCard::insert(&cards, NEW_MEMBER, lease.port, &daemon.root);
    e2e::kiosk::pin_checkin_answering(&oqs, &cards, NEW_MEMBER, "no");
    let result = oqs.wait_screen("result");
    card.remove();
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    let check_in = &today["check_ins"][0];
    assert_eq!(
        check_in["outcome"], "no_qualification",
        "{check_in} {result}"
    );
    let reason = UnconfirmedReason::NoQualification;
    let check_in_id = check_in["check_in_id"].as_str().expect("id").to_owned();

    let [insurer, symbol, number, branch, birth] =
        qualification_numbers(&central, i64::from(NEW_MEMBER), Qualification::Pending);
    let claim = ClaimedNumbers {
        insurer_number: Sensitive::new(insurer.clone()),
        symbol: Sensitive::new(symbol),
        number: Sensitive::new(number.clone()),
        branch: Sensitive::new(branch),
        birth_date: Sensitive::new(birth),
        insurer_name: Sensitive::new("新しい勤務先の健康保険組合"),
        name: Sensitive::new(""),
    };
    let entry = rt().block_on(async {
        let client = connect(&daemon).await;
        // A 申立書 records the share claimed; a path with numbers needs numbers.
        let (code, message) = refused(
            &client,
            Request::OpenUnconfirmed {
                check_in_id: Some(check_in_id.clone()),
                reason,
                path: FallbackPath::Declaration,
                share: None,
                claim: claim.clone(),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest, "{message}");
        assert!(message.contains("負担割合"), "{message}");
        let (code, message) = refused(
            &client,
            Request::OpenUnconfirmed {
                check_in_id: Some(check_in_id.clone()),
                reason,
                path: FallbackPath::Mynaportal,
                share: Some(3),
                claim: ClaimedNumbers::default(),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest, "{message}");

        match client
            .request(Request::OpenUnconfirmed {
                check_in_id: Some(check_in_id.clone()),
                reason,
                path: FallbackPath::Declaration,
                share: Some(3),
                claim: claim.clone(),
            })
            .await
            .expect("open the entry")
        {
            Response::Unconfirmed { entry } => entry,
            other => panic!("{other:?}"),
        }
    });
    // Checked at once: the qualification has not reached the service yet, so the visit stays 要再確認.
    assert_eq!(entry.state, "open", "{entry:?}");
    assert_eq!(entry.checks, 1);
    assert_eq!(entry.share, Some(3));
    assert_eq!(entry.check_in_id.as_deref(), Some(check_in_id.as_str()));
    assert_ne!(entry.last_outcome.as_deref(), Some("valid"));
    let (open, _) = list(&daemon);
    assert_eq!(open.len(), 1, "{open:?}");

    // The insurer registers the new qualification. Nothing asks the daemon; the terminal is switched off
    // and on again after the set time, and its scheduled run catches up.
    load_qualifications(&central, i64::from(NEW_MEMBER));
    daemon.stop();
    clock().advance(Duration::from_secs(180));
    daemon.restart();
    // The run records itself after it has updated the entries: a list read in between shows the entry
    // confirmed and no run yet, so wait for both.
    let (entries, last_run) = wait_for("the scheduled re-check", Duration::from_secs(90), || {
        let (entries, last_run) = list(&daemon);
        (entries.first().is_some_and(|e| e.state == "confirmed") && last_run.is_some())
            .then_some((entries, last_run))
    });
    let confirmed = &entries[0];
    assert_eq!(confirmed.resolved_by.as_deref(), Some("recheck"));
    assert_eq!(confirmed.last_outcome.as_deref(), Some("valid"));
    assert_eq!(confirmed.checks, 2, "{confirmed:?}");
    assert!(
        confirmed.outcome_text.expose().contains(&number),
        "the outcome names the qualification found"
    );
    let run = last_run.expect("the run is recorded");
    assert!(
        run.kind == "daily" || run.kind == "before_receipt",
        "{run:?}"
    );
    // The confirming run, or, where two scheduled runs were due at once (the daily one and the one before
    // the month's レセプト run, e.g. at 23:50 on a month's last day), the second one finding nothing left.
    assert!(
        matches!(
            (run.checked, run.confirmed, run.still_open),
            (1, 1, 0) | (0, 0, 0)
        ),
        "{run:?}"
    );
    // Nothing is left open; a manual re-check now finds nothing to check.
    let run = rt().block_on(async {
        let client = connect(&daemon).await;
        match client
            .request(Request::RecheckUnconfirmed)
            .await
            .expect("recheck")
        {
            Response::RecheckRun { run } => run,
            other => panic!("{other:?}"),
        }
    });
    assert_eq!((run.kind.as_str(), run.checked), ("manual", 0));

    // A staff member cannot close what the re-check confirmed.
    rt().block_on(async {
        let client = connect(&daemon).await;
        let session = login(&client, "admin", ADMIN_PW, None).await;
        let (code, message) = refused(
            &client,
            Request::CloseUnconfirmed {
                session,
                id: confirmed.id,
                resolution: "電話で確認".into(),
            },
        )
        .await;
        assert_eq!(code, ErrorCode::BadRequest, "{message}");
    });

    // The list as CSV for the レセプト check: BOM, header, the entry with its outcome.
    let out = daemon.root.join("unconfirmed.csv");
    oqs.ok(
        &[
            "unconfirmed",
            "export",
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
        None,
    );
    let csv = std::fs::read_to_string(&out).expect("the CSV");
    assert!(csv.starts_with('\u{feff}'), "BOM for Excel");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[0].contains("確認方法") && lines[0].contains("解決者"),
        "{csv}"
    );
    assert!(
        lines[1].contains("被保険者資格申立書")
            && lines[1].contains("3割")
            && lines[1].contains("確認済")
            && lines[1].contains("recheck")
            && lines[1].contains(&insurer),
        "{csv}"
    );

    // Every step is in the audit log, and no row holds the numbers in the clear.
    let rows = audit_rows(&daemon);
    let actions: Vec<&str> = rows.iter().map(|r| r.entry.action.as_str()).collect();
    for action in [
        "unconfirmed_opened",
        "unconfirmed_rechecked",
        "unconfirmed_recheck_run",
    ] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "unconfirmed_rechecked")
            .count(),
        2
    );
    // The 保険者番号 (8 digits) and the birth date stand for the claim: neither is in an audit row or the log.
    let compact_birth = claim.birth_date.expose().replace('-', "");
    let logs = daemon.logs();
    for secret in [insurer.as_str(), compact_birth.as_str()] {
        for r in &rows {
            let text = format!("{:?}", r.entry);
            assert!(
                !text.contains(secret),
                "an audit row holds the claim: {text}"
            );
        }
        assert!(!logs.contains(secret), "the daemon's log holds the claim");
    }
}
