//! スマートフォンのマイナ保険証 at the kiosk (issue 17 item 2), end to end with the real daemon, pcscd + vpcd, the
//! virtual phones and the mock central service over mutual TLS:
//! - an Android phone: the PIN of its スマホ用電子証明書 is entered on the kiosk; the check-in says phone;
//! - an iPhone: the phone authenticated its holder before the tap, so the kiosk asks for no PIN and offers no
//!   choice; a PIN or a method sent anyway is refused; the check-in says phone;
//! - a phone whose certificate expired a month ago: refused at once (a phone has no three-month grace), with
//!   what to do next, and nothing is sent to the central service.

use e2e::kiosk::{Cards, InsertedCard, pin_checkin, start_kiosk};
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
