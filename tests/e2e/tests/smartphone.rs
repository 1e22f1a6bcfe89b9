//! スマートフォンのマイナ保険証 at the kiosk (issue 17 item 2), end to end with the real daemon, pcscd + vpcd, the
//! virtual phones and the mock central service over mutual TLS:
//! - an Android phone: the PIN of its スマホ用電子証明書 is entered on the kiosk; the check-in says phone;
//! - an iPhone: the phone authenticated its holder before the tap, so the kiosk asks for no PIN and offers no
//!   choice; a PIN or a method sent anyway is refused; the check-in says phone;
//! - a phone whose certificate expired a month ago: refused at once (a phone has no three-month grace), with
//!   what to do next, and nothing is sent to the central service.

use e2e::kiosk::{Cards, InsertedCard, pin_checkin, start_kiosk};
use std::time::Duration;

use e2e::{clock, in_keyutils_session};

/// Card N is linked to the mock central's person N (population fixtures 1–3 have valid qualifications).
const ANDROID: u32 = 1;
const IPHONE: u32 = 2;
const EXPIRED_ANDROID: u32 = 3;
const DAY: u64 = 86_400;

fn check_in_of(oqs: &e2e::kiosk::Oqs, id: &str) -> serde_json::Value {
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    today["check_ins"]
        .as_array()
        .expect("check-ins")
        .iter()
        .find(|c| c["check_in_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no check-in {id}: {today}"))
}

#[test]
fn android_and_iphone_check_in_and_an_expired_phone_is_refused() {
    if !in_keyutils_session("android_and_iphone_check_in_and_an_expired_phone_is_refused") {
        return;
    }
    let cards = Cards::issue_for_people(ANDROID, 1, "smartphone");
    let now = clock().now_secs();
    cards.issue_more(IPHONE, 1, "iphone", now);
    // Issued four years and a month ago: the certificate expired about a month ago.
    cards.issue_more(EXPIRED_ANDROID, 1, "smartphone", now - (4 * 365 + 30) * DAY);
    let lease = pcsc_harness::reader();
    let (_central, daemon, oqs) = start_kiosk(&cards, &lease);

    // Android: the phone's own PIN on the kiosk; no face offered (a phone has no photo).
    let phone = InsertedCard::insert(&cards, ANDROID, lease.port, &daemon.root);
    let result = pin_checkin(&oqs, &cards, ANDROID);
    let result = if result["screen"] == "result" {
        result
    } else {
        oqs.wait_screen("result")
    };
    assert_eq!(result["outcome"], "valid", "{result}");
    let id = result["check_in_id"].as_str().expect("id").to_owned();
    phone.remove();
    oqs.wait_screen("idle");
    assert_eq!(check_in_of(&oqs, &id)["method"], "smartphone_pin");

    // iPhone: no method choice, no PIN; straight to the consents.
    let phone = InsertedCard::insert(&cards, IPHONE, lease.port, &daemon.root);
    let consent = oqs.wait_screen("consent");
    let refused = oqs.run(&["kiosk", "pin"], Some("1234\n"));
    assert!(!refused.status.success(), "a PIN was taken from an iPhone");
    assert!(consent["item"].is_string(), "{consent}");
    assert!(oqs.answer_consents("yes") >= 1);
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "{result}");
    let id = result["check_in_id"].as_str().expect("id").to_owned();
    phone.remove();
    oqs.wait_screen("idle");
    let record = check_in_of(&oqs, &id);
    assert_eq!(record["method"], "phone", "{record}");
    assert!(
        record["consents"].as_array().is_some_and(|c| !c.is_empty()),
        "{record}"
    );

    // An expired phone certificate: refused at once, whatever a card's grace would allow.
    let before = oqs.ok(&["checkins"], None);
    let phone = InsertedCard::insert(&cards, EXPIRED_ANDROID, lease.port, &daemon.root);
    let notice = oqs.wait_screen("notice");
    assert_eq!(notice["notice"], "phone_certificate_expired", "{notice}");
    phone.remove();
    oqs.wait_screen("idle");
    assert_eq!(
        oqs.ok(&["checkins"], None),
        before,
        "a refused phone made a check-in"
    );
}

/// One patient screen over two readers (`[kiosk.east] readers = [card reader, NFC reader]`): a card on one
/// starts its flow and a phone placed on the other meanwhile is ignored; once the card's check-in is done, the
/// phone placed again is checked in on the same screen. Both check-ins are recorded with their own reader.
#[test]
fn one_kiosk_serves_a_card_and_then_a_phone_on_its_two_readers() {
    if !in_keyutils_session("one_kiosk_serves_a_card_and_then_a_phone_on_its_two_readers") {
        return;
    }
    const CARD: u32 = 1;
    const PHONE: u32 = 2;
    let cards = Cards::issue_for_people(CARD, 1, "normal");
    cards.issue_more(PHONE, 1, "smartphone", clock().now_secs());
    // Both at once: two tests each holding one reader and waiting for another would wait for ever.
    let (card_reader, nfc_reader) = pcsc_harness::two_readers();
    let central = e2e::MockCentral::start(100, Some(&cards.dir));
    let daemon = e2e::Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{a}\", \"{b}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n\
             [kiosk.east]\nreaders = [\"{a}\", \"{b}\"]\n",
            a = card_reader.reader,
            b = nfc_reader.reader
        ),
    );
    let oqs = e2e::kiosk::Oqs::for_kiosk(&daemon.root, "east");
    oqs.wait_screen("idle");
    // The staff status lists both readers and the kiosk; the kiosk's own screen sees only itself.
    let names = |status: &serde_json::Value| -> Vec<String> {
        status["readers"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|r| r["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&oqs.status()).len(), 3, "{}", oqs.status());
    let seen = e2e::staff::rt().block_on(async {
        let kiosk = e2e::staff::connect_kiosk(&daemon, "east").await;
        match kiosk.request(terminal_ipc::Request::Status).await {
            Ok(terminal_ipc::Response::Status(s)) => {
                s.readers.into_iter().map(|r| r.name).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(seen, ["east"]);

    let card = InsertedCard::insert(&cards, CARD, card_reader.port, &daemon.root);
    oqs.wait_screen("method_choice");
    // The phone on the NFC reader while the card's flow runs: ignored, the screen stays the card's.
    let phone = InsertedCard::insert(&cards, PHONE, nfc_reader.port, &daemon.root);
    e2e::wait_for("the phone to be ignored", Duration::from_secs(30), || {
        daemon
            .logs()
            .contains("card ignored: the kiosk is serving the other reader")
            .then_some(())
    });
    assert_eq!(oqs.screen()["screen"], "method_choice");
    let first = pin_checkin(&oqs, &cards, CARD);
    let first = if first["screen"] == "result" {
        first
    } else {
        oqs.wait_screen("result")
    };
    card.remove();
    oqs.wait_screen("idle");

    // Placed again, the phone is this kiosk's next patient (once the daemon has seen it leave: vpcd polls).
    phone.remove();
    e2e::wait_for("the phone to leave", Duration::from_secs(30), || {
        let status = oqs.status();
        let nfc = status["readers"]
            .as_array()?
            .iter()
            .find(|r| r["name"] == nfc_reader.reader.as_str())?
            .clone();
        (nfc["card_present"] == false).then_some(())
    });
    let phone = InsertedCard::insert(&cards, PHONE, nfc_reader.port, &daemon.root);
    let second = pin_checkin(&oqs, &cards, PHONE);
    let second = if second["screen"] == "result" {
        second
    } else {
        oqs.wait_screen("result")
    };
    phone.remove();
    oqs.wait_screen("idle");

    let a = check_in_of(&oqs, first["check_in_id"].as_str().expect("id"));
    let b = check_in_of(&oqs, second["check_in_id"].as_str().expect("id"));
    assert_eq!(a["reader"], card_reader.reader.as_str(), "{a}");
    assert_eq!(a["method"], "pin");
    assert_eq!(b["reader"], nfc_reader.reader.as_str(), "{b}");
    assert_eq!(b["method"], "smartphone_pin");
    assert_eq!(a["outcome"], "valid");
    assert_eq!(b["outcome"], "valid");
}
