//! The kiosk check-in end to end: real `oqs-readerd`, real pcscd with a vsmartcard vpcd reader (leased from
//! the harness), a virtual My Number Card served by `oqs-virtual-card`, the real mock central service over
//! mutual TLS, and the `oqs` tool answering the kiosk screen over the daemon's socket.

use std::path::Path;
use std::time::Duration;

use e2e::kiosk::{
    Cards, FACE_ONLY, InsertedCard, NORMAL, PIN_BLOCKED, REVOKED, contains_standalone_digits,
    files, pin_checkin, start_kiosk, watched,
};
use e2e::staff::{ADMIN_PW, create_admin};
use e2e::{in_keyutils_session, wait_for};
use oqs_protocol::{Message, read_file};

/// Reads a face result and returns (ArbitraryFileIdentifier, QualificationValidity code, insurer number,
/// insured identification number).
fn face_result(dir: &Path, name: &str) -> (String, String, String, String) {
    let bytes = std::fs::read(dir.join(name)).expect("face file");
    let Message::SingleCheckResult(r) = read_file(name, &bytes).expect("face file reads").message
    else {
        panic!("{name} is not a single-check result")
    };
    let rec = &r
        .message_body
        .result_list
        .as_ref()
        .expect("result list")
        .result_of_qualification_confirmation[0];
    (
        r.message_header
            .arbitrary_file_identifier
            .clone()
            .unwrap_or_default(),
        r.message_body
            .qualification_validity
            .as_ref()
            .map(|v| v.code().to_owned())
            .unwrap_or_default(),
        rec.insurer_number.clone().unwrap_or_default(),
        rec.insured_identification_number
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default(),
    )
}

/// The log lines without colour codes and without their leading timestamp (whose digits would match
/// any short number).
fn log_bodies(logs: &str) -> String {
    let mut plain = String::with_capacity(logs.len());
    let mut chars = logs.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ … final byte in @..~
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) && d != '[' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn pin_checkin_reaches_face_folder_store_and_watchers() {
    if !in_keyutils_session("pin_checkin_reaches_face_folder_store_and_watchers") {
        return;
    }
    let cards = Cards::issue(7);
    let lease = pcsc_harness::reader();
    let (_central, daemon, oqs) = start_kiosk(&cards, &lease);
    let watch_log = daemon.root.join("watch.jsonl");
    let _watch = oqs.watch(&watch_log);

    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    pin_checkin(&oqs, &cards, NORMAL);
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "{result}");
    let id = result["check_in_id"]
        .as_str()
        .expect("check-in id")
        .to_owned();
    assert!(id.starts_with("face_"), "{id}");

    // face/: one file, named by the convention, in the facility's result encoding.
    let name = format!("OQSsiquc01res_{id}.xml");
    assert_eq!(files(&daemon.face()), vec![name.clone()]);
    let (echoed, validity, insurer, number) = face_result(&daemon.face(), &name);
    assert_eq!(echoed, id);
    assert_eq!(validity, "1");

    // The store: today's check-ins over the socket.
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    let rows = today["check_ins"].as_array().expect("check_ins");
    assert_eq!(rows.len(), 1, "{today}");
    assert_eq!(rows[0]["check_in_id"], id.as_str());
    assert_eq!(rows[0]["method"], "pin");
    assert_eq!(rows[0]["outcome"], "valid");
    assert!(rows[0]["patient"]["name"].is_string(), "{today}");

    // The subscriber saw the card, the screens and the new check-in.
    wait_for(
        "the check-in event at the watcher",
        Duration::from_secs(10),
        || {
            watched(&watch_log)
                .iter()
                .any(|e| e["event"] == "check_in" && e["check_in"]["check_in_id"] == id.as_str())
                .then_some(())
        },
    );
    let events = watched(&watch_log);
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "reader" && e["change"] == "card_inserted")
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "kiosk" && e["screen"]["screen"] == "pin_entry")
    );

    card.remove();
    oqs.wait_screen("idle");

    // Nothing that identifies the patient, and never the PIN, in the daemon's logs.
    let logs = daemon.logs();
    let bodies = log_bodies(&logs);
    let (holder, kana, birth) = cards.holder(NORMAL);
    for (what, secret) in [("name", holder.as_str()), ("kana", kana.as_str())] {
        assert!(!secret.is_empty());
        assert!(!logs.contains(secret), "the daemon's log shows the {what}");
    }
    for (what, digits) in [
        ("birth date", birth.as_str()),
        ("birth date", &birth.replace('-', "")),
        ("insurer number", insurer.as_str()),
        ("insured number", number.as_str()),
        ("PIN", &cards.pin(NORMAL)),
    ] {
        // A number of one to three digits (some synthetic 番号 are that short) would match counters and
        // ids in any log; those are covered by the redaction of the types that carry them.
        if digits.len() < 4 {
            continue;
        }
        let leaking: Vec<String> = bodies
            .lines()
            .filter(|l| contains_standalone_digits(l, digits))
            .map(|l| l.replace(digits, "<here>"))
            .collect();
        assert!(
            leaking.is_empty(),
            "the daemon's log shows the {what}: {leaking:?}"
        );
    }
}

#[test]
fn wrong_pin_locked_face_only_revoked_and_removal_end_cleanly() {
    if !in_keyutils_session("wrong_pin_locked_face_only_revoked_and_removal_end_cleanly") {
        return;
    }
    let cards = Cards::issue(7);
    let lease = pcsc_harness::reader();
    let (_central, daemon, oqs) = start_kiosk(&cards, &lease);
    create_admin(&daemon);
    let watch_log = daemon.root.join("watch.jsonl");
    let _watch = oqs.watch(&watch_log);

    // A wrong PIN: the kiosk asks again with the tries left; removing the card then cancels cleanly.
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "pin"], None);
    oqs.wait_screen("pin_entry");
    let right = cards.pin(NORMAL);
    let wrong = if right == "9999" { "0000" } else { "9999" };
    oqs.ok(&["kiosk", "pin"], Some(&format!("{wrong}\n")));
    wait_for("tries left 2", Duration::from_secs(20), || {
        let s = oqs.screen();
        (s["screen"] == "pin_entry" && s["tries_left"] == 2).then_some(())
    });
    // A PIN on the command line is refused by the tool: only stdin is read.
    let out = oqs.run(&["kiosk", "pin", right.as_str()], None);
    assert!(!out.status.success());
    card.remove();
    oqs.wait_screen("idle");
    wait_for("the card-removed notice", Duration::from_secs(10), || {
        watched(&watch_log)
            .iter()
            .any(|e| e["screen"]["notice"] == "card_removed")
            .then_some(())
    });

    // A locked card: the patient is told so without any VERIFY.
    let card = InsertedCard::insert(&cards, PIN_BLOCKED, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "pin"], None);
    let notice = oqs.wait_screen("notice");
    assert_eq!(notice["notice"], "pin_locked", "{notice}");
    card.remove();
    oqs.wait_screen("idle");

    // A face-only card (no PIN): PIN is not offered, and choosing it anyway is refused with a reason; a
    // staff visual check (目視確認) completes the check-in.
    let card = InsertedCard::insert(&cards, FACE_ONLY, lease.port, &daemon.root);
    let choice = oqs.wait_screen("method_choice");
    assert_eq!(
        choice["methods"],
        serde_json::json!(["staff_visual"]),
        "{choice}"
    );
    let out = oqs.run(&["kiosk", "method", "pin"], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no PIN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    oqs.ok(&["kiosk", "method", "visual"], None);
    oqs.wait_screen("staff_visual_check");
    // Only a logged-in staff member may confirm: a wrong password is refused and the kiosk waits.
    let refused = oqs.run(
        &["kiosk", "staff-confirm", "yes", "--account", "admin"],
        Some("not the password\n"),
    );
    assert!(!refused.status.success());
    oqs.wait_screen("staff_visual_check");
    oqs.ok(
        &["kiosk", "staff-confirm", "yes", "--account", "admin"],
        Some(&format!("{ADMIN_PW}\n")),
    );
    assert!(oqs.answer_consents("no") >= 1);
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "{result}");
    let visual_id = result["check_in_id"].as_str().expect("id").to_owned();
    card.remove();
    oqs.wait_screen("idle");

    // A revoked certificate: PIN and consents go through, the central service refuses, no result file.
    let card = InsertedCard::insert(&cards, REVOKED, lease.port, &daemon.root);
    pin_checkin(&oqs, &cards, REVOKED);
    let notice = oqs.wait_screen("notice");
    assert_eq!(notice["notice"], "certificate_revoked", "{notice}");
    card.remove();
    oqs.wait_screen("idle");

    // Removal in the middle of the consents: back to idle, nothing sent, nothing written.
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "pin"], None);
    oqs.wait_screen("pin_entry");
    oqs.ok(&["kiosk", "pin"], Some(&format!("{right}\n")));
    oqs.wait_screen("consent");
    card.remove();
    oqs.wait_screen("idle");
    // The kiosk refuses answers for a card that is gone.
    let out = oqs.run(&["kiosk", "consent", "yes"], None);
    assert!(!out.status.success());

    // 中止 pressed on the PIN screen: its own notice, nothing sent, back to idle when the card is taken.
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "pin"], None);
    oqs.wait_screen("pin_entry");
    oqs.ok(&["kiosk", "cancel"], None);
    let notice = oqs.wait_screen("notice");
    assert_eq!(notice["notice"], "cancelled", "{notice}");
    card.remove();
    oqs.wait_screen("idle");

    // Only the visual check produced a result.
    assert_eq!(
        files(&daemon.face()),
        vec![format!("OQSsiquc01res_{visual_id}.xml")]
    );
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    let rows = today["check_ins"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{today}");
    assert_eq!(rows[0]["method"], "staff_visual");
}

#[test]
fn central_down_during_20_checkins_then_back_answers_each_once() {
    if !in_keyutils_session("central_down_during_20_checkins_then_back_answers_each_once") {
        return;
    }
    let cards = Cards::issue(7);
    let lease = pcsc_harness::reader();
    let (mut central, daemon, oqs) = start_kiosk(&cards, &lease);
    // The environment settings are fetched once while the service is up (kept in the store).
    wait_for("the link to be up", Duration::from_secs(20), || {
        (oqs.status()["central"]["state"] == "up").then_some(())
    });
    central.stop();

    let mut ids = Vec::new();
    for _ in 0..20 {
        let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
        pin_checkin(&oqs, &cards, NORMAL);
        let result = oqs.wait_screen("result");
        assert_eq!(result["outcome"], "pending_outage", "{result}");
        ids.push(result["check_in_id"].as_str().expect("id").to_owned());
        card.remove();
        oqs.wait_screen("idle");
    }
    assert!(
        files(&daemon.face()).is_empty(),
        "no result while the service is down"
    );
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    let rows = today["check_ins"].as_array().expect("rows");
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter().all(|r| r["outcome"] == "pending_outage"),
        "{today}"
    );

    central.serve();
    wait_for("20 face results", Duration::from_secs(60), || {
        (files(&daemon.face()).len() >= 20).then_some(())
    });
    // Give any duplicate a chance to appear.
    std::thread::sleep(Duration::from_secs(2));
    let names = files(&daemon.face());
    let mut expected: Vec<String> = ids
        .iter()
        .map(|id| format!("OQSsiquc01res_{id}.xml"))
        .collect();
    expected.sort();
    assert_eq!(names, expected, "exactly one result per check-in");
    for (name, id) in names.iter().zip(expected.iter()) {
        let (echoed, validity, _, _) = face_result(&daemon.face(), name);
        assert_eq!(&format!("OQSsiquc01res_{echoed}.xml"), id);
        assert_eq!(validity, "1");
    }
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    let rows = today["check_ins"].as_array().expect("rows");
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r["outcome"] == "valid"), "{today}");
}
