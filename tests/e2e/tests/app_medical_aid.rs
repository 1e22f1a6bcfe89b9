//! 医療扶助 (生活保護) end to end: people of the mock central's population on 医療扶助 check in at the kiosk with
//! their PIN (real daemon, real pcscd + vpcd, virtual cards, mock central over mutual TLS) and the reception
//! window shows what the result holds: the 医療券 with 交付番号, 診療年月, 本人支払額 and 地区担当員; 「未委託」
//! with what to do when the welfare office has not registered the month's ticket; and no address for a
//! restricted (DV・虐待) record, neither on the screen nor in the `face/` file. 公費 (PMH): with the facility's
//! 医療費助成 setting on, the kiosk window asks 「医療費助成の各種受給者証を利用しますか」 after the consents; a child
//! who taps 利用する there shows 公 in the list and the 受給者証 (公費負担者番号, 受給者番号, 自己負担上限) in the detail.
//! Screenshots go to `target/e2e-screenshots/`.

use std::time::Duration;

use e2e::app::{
    AppWindow, Display, Driver, change_settings, enter_pin, next_kiosk_screen, screenshot_dir,
};
use e2e::kiosk::{Cards, InsertedCard, Oqs, files, pin_checkin};
use e2e::{Daemon, MockCentral, in_keyutils_session, wait_for};
use oqs_protocol::{InsuredCardClassification, Message, QualificationValidity, read_file};

/// Fixture people of the mock central (`mock_central::population::fixtures`): on 医療扶助 only with every
/// month's 医療券 registered, on 医療扶助 with none registered, and on 医療扶助 with the DV・虐待 restriction.
const PRESCHOOL_WITH_SUBSIDY: u32 = 16;
const MEDICAL_AID: u32 = 17;
const MEDICAL_AID_UNREGISTERED: u32 = 18;
const MEDICAL_AID_RESTRICTED: u32 = 19;

fn open_reception(display: &Display, daemon: &Daemon) -> AppWindow {
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let window = AppWindow::open(
        Driver::start(display, &daemon.root),
        &["--socket", socket.to_str().expect("socket path")],
    );
    window.interactive_ms();
    window.wait_text("[data-testid='central-state']", "オンライン");
    window
}

/// Checks card `index` in with its PIN and returns the check-in id; the card is removed afterwards.
fn check_in(oqs: &Oqs, cards: &Cards, index: u32, port: u16, daemon: &Daemon) -> String {
    let card = InsertedCard::insert(cards, index, port, &daemon.root);
    pin_checkin(oqs, cards, index);
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "card {index}: {result}");
    let id = result["check_in_id"]
        .as_str()
        .expect("check-in id")
        .to_owned();
    card.remove();
    oqs.wait_screen("idle");
    id
}

/// Opens the detail of the list's row for `id`.
fn open_detail(reception: &AppWindow, id: &str) {
    if reception.exists("[data-testid='checkin-detail']") {
        reception.click("[data-testid='detail-close']");
    }
    let row = format!("[data-testid='checkin-row'][data-id='{id}']");
    reception.find(&row);
    reception.click(&format!("{row} .rowbtn"));
    reception.find("[data-testid='checkin-detail']");
}

/// The 医療扶助 result as written to `face/`.
fn face_result(daemon: &Daemon, id: &str) -> oqs_protocol::SingleCheckResult {
    let name = format!("OQSsiquc01res_{id}.xml");
    let path = daemon.face().join(&name);
    wait_for("the face/ file", Duration::from_secs(30), || {
        path.exists().then_some(())
    });
    let bytes = std::fs::read(&path).expect("face file");
    match read_file(&name, &bytes).expect("face file reads").message {
        Message::SingleCheckResult(r) => r,
        other => panic!("{name} is not a single-check result: {other:?}"),
    }
}

#[test]
fn medical_aid_tickets_unregistered_months_and_restricted_records_at_reception() {
    if !in_keyutils_session(
        "medical_aid_tickets_unregistered_months_and_restricted_records_at_reception",
    ) {
        return;
    }
    let shots = screenshot_dir();
    let cards = Cards::issue_for_people(PRESCHOOL_WITH_SUBSIDY, 4, "normal");
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    change_settings(&central, |s| s["medical_subsidy_info"] = true.into());
    let daemon = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n",
            lease.reader
        ),
    );
    let oqs = Oqs::new(&daemon.root);
    let display = Display::start(&daemon.root);
    let reception = open_reception(&display, &daemon);

    // 1. On 医療扶助 with this month's 医療券: the ticket at reception.
    let id = check_in(&oqs, &cards, MEDICAL_AID, lease.port, &daemon);
    let face = face_result(&daemon, &id);
    assert_eq!(
        face.message_body.qualification_validity,
        Some(QualificationValidity::Valid)
    );
    let records = &face
        .message_body
        .result_list
        .as_ref()
        .expect("result list")
        .result_of_qualification_confirmation;
    assert_eq!(records.len(), 1, "the 国保 that ended is not listed");
    let aid = &records[0];
    assert_eq!(
        aid.insured_card_classification,
        Some(InsuredCardClassification::MedicalAssistance)
    );
    let ticket = &aid
        .public_expense_result_list
        .as_ref()
        .expect("tickets")
        .medical_ticket_info[0];
    let issue_number = ticket.issue_number.clone().expect("交付番号");
    let month = ticket.medical_treatment_month.clone().expect("診療年月");
    let contact = ticket
        .district_contact_name
        .as_ref()
        .expect("地区担当員")
        .expose()
        .to_owned();

    wait_for(
        "the row of the 医療扶助 check-in",
        Duration::from_secs(30),
        || {
            reception
                .exists(&format!(
                    "[data-testid='checkin-row'][data-id='{id}'] [data-testid='row-aid']"
                ))
                .then_some(())
        },
    );
    open_detail(&reception, &id);
    reception.find("[data-testid='medical-aid']");
    assert_eq!(reception.text("[data-testid='ticket-kind']"), "医療券");
    assert_eq!(
        reception.text("[data-testid='ticket-issue-number']"),
        issue_number
    );
    let shown_month = reception.text("[data-testid='ticket-month']");
    assert_eq!(
        shown_month,
        format!(
            "{}年{}月",
            &month[..4],
            month[4..].parse::<u32>().expect("month")
        )
    );
    assert_eq!(reception.text("[data-testid='ticket-contact']"), contact);
    assert_eq!(reception.text("[data-testid='ticket-self-pay']"), "0円");
    assert_eq!(
        reception.text("[data-testid='aid-public-expense-number']"),
        aid.public_expense_number.clone().expect("公費負担者番号")
    );
    assert!(reception.exists("[data-testid='detail-no-insurance']"));
    assert!(!reception.exists("[data-testid='medical-aid-unregistered']"));
    reception.screenshot(&shots, "medical-aid-1-ticket");

    // 2. No ticket registered this month: 有効（未登録） and 「未委託」 explained.
    let id = check_in(&oqs, &cards, MEDICAL_AID_UNREGISTERED, lease.port, &daemon);
    let face = face_result(&daemon, &id);
    assert_eq!(
        face.message_body.qualification_validity,
        Some(QualificationValidity::ValidUnregistered)
    );
    wait_for(
        "the 未委託 mark in the list",
        Duration::from_secs(30),
        || {
            reception
            .exists(&format!(
                "[data-testid='checkin-row'][data-id='{id}'] [data-testid='row-aid-unregistered']"
            ))
            .then_some(())
        },
    );
    assert_eq!(
        reception.attribute(
            &format!("[data-testid='checkin-row'][data-id='{id}']"),
            "data-validity"
        ),
        Some("6".to_owned())
    );
    open_detail(&reception, &id);
    let words = reception.text("[data-testid='medical-aid-unregistered']");
    assert!(
        words.contains("未委託") && words.contains("福祉事務所"),
        "{words}"
    );
    assert!(!reception.exists("[data-testid='medical-ticket']"));
    reception.screenshot(&shots, "medical-aid-2-unregistered");

    // 3. Restricted (DV・虐待): no address anywhere, and staff are told why.
    let id = check_in(&oqs, &cards, MEDICAL_AID_RESTRICTED, lease.port, &daemon);
    let face = face_result(&daemon, &id);
    let records = &face
        .message_body
        .result_list
        .as_ref()
        .expect("result list")
        .result_of_qualification_confirmation;
    assert!(records.iter().all(|r| r.is_restricted()));
    assert!(
        records
            .iter()
            .all(|r| r.address.is_none() && r.post_number.is_none())
    );
    wait_for("the restricted row", Duration::from_secs(30), || {
        reception
            .exists(&format!(
                "[data-testid='checkin-row'][data-id='{id}'] [data-testid='row-restricted']"
            ))
            .then_some(())
    });
    open_detail(&reception, &id);
    reception.find("[data-testid='restricted-note']");
    reception.find("[data-testid='detail-address-restricted']");
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    let row = today["check_ins"]
        .as_array()
        .expect("check_ins")
        .iter()
        .find(|c| c["check_in_id"] == id.as_str())
        .expect("the restricted check-in")
        .clone();
    assert!(row["patient"]["address"].is_null(), "{row}");
    assert_eq!(row["patient"]["restricted"], true, "{row}");
    reception.screenshot(&shots, "medical-aid-3-restricted");

    // 4. 公費 (PMH), in the real kiosk window: the patient taps 利用する on 「医療費助成の各種受給者証を利用しますか」
    // (and 同意する on the viewing consents before it).
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let kiosk = AppWindow::open(
        Driver::start(&display, &daemon.root),
        &[
            "--kiosk",
            "--socket",
            socket.to_str().expect("socket path"),
            "--reader",
            &lease.reader,
        ],
    );
    kiosk.interactive_ms();
    kiosk.wait_text("[data-testid='kiosk-title']", "マイナンバーカード");
    let card = InsertedCard::insert(&cards, PRESCHOOL_WITH_SUBSIDY, lease.port, &daemon.root);
    kiosk.click("[data-testid='method-pin']");
    enter_pin(&kiosk, &cards.pin(PRESCHOOL_WITH_SUBSIDY));
    let mut shown: Vec<String> = Vec::new();
    loop {
        let screen = next_kiosk_screen(&kiosk);
        if screen == "result" {
            break;
        }
        if shown.last() == Some(&screen) {
            continue;
        }
        if screen == "medical_subsidy" {
            let text = kiosk
                .text_without_ruby("[data-consent='medical_subsidy'] [data-testid='consent-text']");
            assert!(
                text.contains("医療費助成の各種受給者証を利用しますか"),
                "{text}"
            );
            let yes = kiosk
                .text_without_ruby("[data-consent='medical_subsidy'] [data-testid='consent-yes']");
            assert!(yes.contains("利用する"), "{yes}");
            kiosk.screenshot(&shots, "medical-aid-4-kiosk-subsidy-question");
        }
        kiosk.click(&format!(
            "[data-consent='{screen}'] [data-testid='consent-yes']"
        ));
        shown.push(screen);
    }
    assert_eq!(
        shown.last().map(String::as_str),
        Some("medical_subsidy"),
        "the kiosk asks about 医療費助成 after the consents: {shown:?}"
    );
    kiosk.wait_text("[data-testid='kiosk-title']", "受付が完了しました");
    let result = oqs.wait_screen("result");
    let id = result["check_in_id"]
        .as_str()
        .expect("check-in id")
        .to_owned();
    card.remove();
    let face = face_result(&daemon, &id);
    let insurance = &face
        .message_body
        .result_list
        .as_ref()
        .expect("result list")
        .result_of_qualification_confirmation[0];
    assert_eq!(
        insurance
            .medical_subsidy_cons_flg
            .as_ref()
            .map(|f| f.code()),
        Some("1")
    );
    let certificate = &insurance
        .medical_subsidy_certificate_list
        .as_ref()
        .expect("受給者証")
        .medical_subsidy_certificate_info[0];
    let number = certificate
        .subsidy_public_expense_number
        .clone()
        .expect("公費負担者番号");
    assert!(number.starts_with("88"), "{number}");
    wait_for("the 公 mark", Duration::from_secs(30), || {
        reception
            .exists(&format!(
                "[data-testid='checkin-row'][data-id='{id}'] [data-testid='row-subsidy']"
            ))
            .then_some(())
    });
    open_detail(&reception, &id);
    assert_eq!(
        reception.text("[data-testid='subsidy-public-expense-number']"),
        number
    );
    assert_eq!(
        reception.text("[data-testid='subsidy-beneficiary-number']"),
        certificate
            .subsidy_beneficiary_number
            .as_ref()
            .expect("受給者番号")
            .expose()
    );
    assert_eq!(reception.text("[data-testid='subsidy-limit']"), "月 0円");
    reception.screenshot(&shots, "medical-aid-4-subsidy");
    assert_eq!(files(&daemon.face()).len(), 4);
}
