//! What the receipt-computer clients of the client reference (`oqs-clients.md`: D = OQSDrug2, M = myclinic,
//! R = MynaReception) read, end to end through the real daemon and the mock central service: the `face/`
//! file's name and encoding, and an answer under the normal result name for every request.

use std::time::Duration;

use e2e::central::change_settings;
use e2e::kiosk::{Cards, InsertedCard, NORMAL, Oqs, files};
use e2e::{Daemon, MockCentral, in_keyutils_session, wait_for};
use oqs_protocol::{
    Direction, Encoding, Message, MessageKind, SegmentOfResult, read_file, read_message,
};

/// R's test of a face file name: `^OQSsiquc01res_face_.+_(\d{14})\.xml$`, the 14 digits a date and time.
fn r_accepts_face_name(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("OQSsiquc01res_face_")
        .and_then(|r| r.strip_suffix(".xml"))
    else {
        return false;
    };
    let Some((id, stamp)) = rest.rsplit_once('_') else {
        return false;
    };
    !id.is_empty()
        && stamp.len() == 14
        && stamp.bytes().all(|b| b.is_ascii_digit())
        && (1..=12).contains(&stamp[4..6].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&stamp[6..8].parse::<u32>().unwrap_or(0))
        && stamp[8..10].parse::<u32>().unwrap_or(99) < 24
}

/// The facility's 利用文字コード is Shift_JIS at the central service while the daemon's own fallback is UTF-8:
/// the face file is named as R reads it and written in Shift_JIS (R refuses a file whose encoding is not the
/// site's), with `PrescriptionIssueSelect` only where M reads it if at all.
#[test]
fn face_file_has_the_clients_name_and_the_facilitys_encoding() {
    if !in_keyutils_session("face_file_has_the_clients_name_and_the_facilitys_encoding") {
        return;
    }
    let cards = Cards::issue(2);
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    change_settings(&central, |s| s["character_code"] = "Shift_JIS".into());
    let daemon = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n",
            lease.reader
        ),
    );
    let oqs = Oqs::new(&daemon.root);
    let _card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "pin"], None);
    oqs.wait_screen("pin_entry");
    oqs.ok(&["kiosk", "pin"], Some(&format!("{}\n", cards.pin(NORMAL))));
    oqs.answer_consents("yes");
    let result = oqs.wait_screen("result");
    let id = result["check_in_id"]
        .as_str()
        .expect("check-in id")
        .to_owned();

    let names = files(&daemon.face());
    assert_eq!(names.len(), 1, "{names:?}");
    let name = &names[0];
    assert_eq!(name, &format!("OQSsiquc01res_{id}.xml"));
    assert!(r_accepts_face_name(name), "{name}");
    // The id before the time stamp: 医療機関コード + 20 characters, like R's real example and D's imitation.
    let middle = &name["OQSsiquc01res_face_".len()..name.len() - "_yyyyMMddHHmmss.xml".len()];
    assert_eq!(middle.len(), 30, "{name}");
    assert!(middle.starts_with(&central.facility_code), "{name}");

    let bytes = std::fs::read(daemon.face().join(name)).expect("face file");
    assert!(
        bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""),
        "{}",
        String::from_utf8_lossy(&bytes[..60.min(bytes.len())])
    );
    let decoded = read_file(name, &bytes).expect("face file reads");
    assert_eq!(decoded.encoding, Encoding::ShiftJis);
    let Message::SingleCheckResult(r) = decoded.message else {
        panic!("not a single-check result")
    };
    assert_eq!(
        r.message_header
            .character_code_identifier
            .as_ref()
            .map(|c| c.code().to_owned()),
        Some("1".to_owned())
    );
    assert_eq!(
        r.message_header.arbitrary_file_identifier.as_deref(),
        Some(id.as_str())
    );
    // One person per file (R: exactly one ResultList; the mock's card holder has one qualification).
    let list = r.message_body.result_list.expect("result list");
    assert!(!list.result_of_qualification_confirmation.is_empty());
}

/// A request of a kind we do not support and a malformed request of a kind we do both get an error result
/// under the name the client waits for (`…res_<id>.xml`), which D, M and R read (`SegmentOfResult` 9 with
/// `ErrorCode` / `ErrorMessage`); the `.err` and the copy stay for people.
#[test]
fn every_request_gets_an_error_result_under_its_normal_name() {
    if !in_keyutils_session("every_request_gets_an_error_result_under_its_normal_name") {
        return;
    }
    let central = MockCentral::start(20, None);
    change_settings(&central, |s| s["character_code"] = "Shift_JIS".into());
    let daemon = Daemon::start(&central, "");
    // The daemon learns the 利用文字コード at start.
    wait_for("the 利用文字コード", Duration::from_secs(20), || {
        daemon
            .logs()
            .contains("利用文字コード of the facility")
            .then_some(())
    });
    let unknown = "CIPsiquc01req_202612030001.xml";
    daemon.drop_request(unknown, b"<XmlMsg><MessageHeader/><MessageBody/></XmlMsg>");
    let malformed = "OQSsiquc01req_202612030002.xml";
    daemon.drop_request(
        malformed,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader><MedicalInstitutionCode>12</MedicalInstitutionCode></MessageHeader><MessageBody/></XmlMsg>".as_bytes(),
    );
    for (request, result, kind) in [
        (
            unknown,
            "CIPsiquc01res_202612030001.xml",
            MessageKind::SingleCheck,
        ),
        (
            malformed,
            "OQSsiquc01res_202612030002.xml",
            MessageKind::SingleCheck,
        ),
    ] {
        let path = daemon.res().join(result);
        wait_for(result, Duration::from_secs(30), || {
            path.is_file().then_some(())
        });
        let bytes = std::fs::read(&path).expect("error result");
        let decoded = read_message(&bytes, kind, Direction::Response).expect("error result reads");
        assert_eq!(decoded.encoding, Encoding::ShiftJis, "{result}");
        let Message::SingleCheckResult(r) = decoded.message else {
            panic!("{result}")
        };
        assert_eq!(
            r.message_header.segment_of_result,
            Some(SegmentOfResult::Abnormal),
            "{result}"
        );
        assert!(
            r.message_header
                .error_code
                .as_deref()
                .is_some_and(|c| c.starts_with("OQS-E1")),
            "{result}"
        );
        assert!(
            r.message_header
                .error_message
                .as_deref()
                .is_some_and(|m| !m.is_empty())
        );
        // The `.err` (`<stem>.err`, or `<name>.err` for a name of an unknown kind) and the copy, for people.
        let all = wait_for("the .err", Duration::from_secs(10), || {
            let all = files(&daemon.res());
            all.iter()
                .any(|n| n.starts_with(&request[..request.len() - 4]) && n.ends_with(".err"))
                .then_some(all)
        });
        assert!(all.contains(&request.to_owned()), "{all:?}");
    }
}
