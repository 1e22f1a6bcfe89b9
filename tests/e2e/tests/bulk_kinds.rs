//! Bulk kinds through the real daemon and the real mock central, in the clients' two steps: the upload
//! (`…01req`) is answered by a receipt with `ReceptionNumber`, a download (`…02req`) of a job still being
//! processed by `SegmentOfResult` 2 (処理中), and a download of a finished job by the result.
//!
//! No test waits on the clock: the central keeps every job for an hour, answers the first download 処理中,
//! and is then served again two hours later on its pinned calendar, when the job is done.

use std::path::Path;
use std::time::Duration;

use e2e::{Daemon, MockCentral, clock, in_keyutils_session, wait_for};
use oqs_protocol::{Message, SegmentOfResult, read_file};

fn wait_for_file(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    wait_for(
        &format!("{}", path.display()),
        Duration::from_secs(60),
        || std::fs::read(&path).ok(),
    )
}

/// The mock central's fixture person with 組合健保 and 医療扶助 (`mock_central::population::fixtures`).
const INSURED_AND_AID: i64 = 20;

/// A central that keeps bulk jobs 処理中 for an hour, and a daemon relaying to it.
fn central_and_daemon() -> (MockCentral, Daemon) {
    let mut central = MockCentral::start(300, None);
    central.stop();
    central.serve_args = vec!["--bulk-delay-secs".into(), "3600".into()];
    central.serve();
    let daemon = Daemon::start(&central, "");
    (central, daemon)
}

/// Serves the central again two hours later on its calendar: every job accepted so far is done.
fn two_hours_later(central: &mut MockCentral) {
    central.stop();
    central.now = Some(oqs_clock::rfc3339(
        clock().now() + Duration::from_secs(2 * 3600),
    ));
    central.serve();
}

/// Drops `name` in `req/` and reads its result from `res/` (the daemon keeps the request in `work/done`,
/// so the same name can be dropped again).
fn relay(daemon: &Daemon, name: &str, bytes: &[u8]) -> Message {
    let result = name.replace("req_", "res_");
    let _ = std::fs::remove_file(daemon.res().join(&result));
    daemon.drop_request(name, bytes);
    let bytes = wait_for_file(&daemon.res(), &result);
    read_file(&result, &bytes)
        .unwrap_or_else(|e| panic!("{result} unreadable: {e}"))
        .message
}

/// The requests here are ASCII, so their bytes are the same in Shift_JIS, which they declare (as R and D
/// write every file).
fn shift_jis(text: &str) -> Vec<u8> {
    assert!(text.is_ascii());
    text.as_bytes().to_vec()
}

/// 保険者番号, 記号, 番号 and 枝番 of a current qualification that no one else shares.
fn a_current_card(central: &MockCentral) -> (String, String, String, String) {
    a_current_person(central).1
}

/// A person with a current qualification that no one else shares, and its card numbers.
fn a_current_person(central: &MockCentral) -> (i64, (String, String, String, String)) {
    let db =
        rusqlite::Connection::open(central.dir.join("central.sqlite3")).expect("central database");
    db.query_row(
        "SELECT person_id, insurer_number, symbol, number, branch FROM qualifications q
         WHERE disq_date IS NULL AND loaded = 1 AND (SELECT COUNT(*) FROM qualifications o
           WHERE o.insurer_number = q.insurer_number AND o.symbol = q.symbol AND o.number = q.number) = 1
         ORDER BY id LIMIT 1",
        [],
        |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))),
    )
    .expect("a current qualification")
}

fn download_request(facility: &str, reception: &str) -> Vec<u8> {
    // As R and D write it: the facility code and the reception number, nothing else.
    shift_jis(&format!(
        "<?xml version=\"1.0\" encoding=\"shift_jis\"?>\n<XmlMsg><MessageHeader>\
         <MedicalInstitutionCode>{facility}</MedicalInstitutionCode></MessageHeader><MessageBody>\
         <ReceptionNumber>{reception}</ReceptionNumber></MessageBody></XmlMsg>\n"
    ))
}

/// 照会番号 registration as R does it: one patient per upload, no Birthdate; the result names the upload's ArbitraryFileIdentifier and holds exactly one
/// BulkRegistrationUnit.
#[test]
fn reference_number_registration_goes_upload_receipt_not_ready_result() {
    if !in_keyutils_session("reference_number_registration_goes_upload_receipt_not_ready_result") {
        return;
    }
    let (mut central, daemon) = central_and_daemon();
    let f = central.facility_code.clone();
    // The receipt computer knows the patient's card: one current qualification of the population.
    let (insurer, symbol, number, branch) = a_current_card(&central);
    // In UTF-8: a symbol may hold kanji, and this test has no Shift_JIS encoder at hand.
    let upload = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XmlMsg><MessageHeader>\
         <MedicalInstitutionCode>{f}</MedicalInstitutionCode>\
         <ArbitraryFileIdentifier>20260401090000123-1a2b3c4d</ArbitraryFileIdentifier></MessageHeader>\
         <MessageBody><ReferenceNumberRegistrationInfo><ReferenceNumber>1234</ReferenceNumber>\
         <InsurerNumber>{insurer}</InsurerNumber><InsuredCardSymbol>{symbol}</InsuredCardSymbol>\
         <InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>\
         <InsuredBranchNumber>{branch}</InsuredBranchNumber></ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>\n"
    )
    .into_bytes();
    let Message::BulkUploadReceipt(receipt) =
        relay(&daemon, "OQSmuimm01req_202604010001.xml", &upload)
    else {
        panic!("OQSmuimm01res is a receipt")
    };
    assert_eq!(receipt.message_header.error_code, None);
    let reception = receipt
        .message_body
        .reception_number
        .clone()
        .expect("a receipt carries ReceptionNumber");

    let download = download_request(&f, &reception);
    let Message::RefNumberBulkResult(pending) =
        relay(&daemon, "OQSmuimm02req_202604010002.xml", &download)
    else {
        panic!("OQSmuimm02res holds BulkRegistrationUnit")
    };
    assert_eq!(
        pending.message_header.segment_of_result,
        Some(SegmentOfResult::InProgress)
    );
    assert!(pending.message_body.bulk_registration_unit.is_empty());

    two_hours_later(&mut central);
    let Message::RefNumberBulkResult(done) =
        relay(&daemon, "OQSmuimm02req_202604010003.xml", &download)
    else {
        panic!("OQSmuimm02res holds BulkRegistrationUnit")
    };
    let h = &done.message_header;
    assert_eq!(h.segment_of_result, Some(SegmentOfResult::Normal));
    assert_eq!(h.error_code, None);
    assert_eq!(h.reception_number.as_deref(), Some(reception.as_str()));
    assert_eq!(h.medical_institution_code.as_deref(), Some(f.as_str()));
    assert_eq!(
        h.arbitrary_file_identifier.as_deref(),
        Some("20260401090000123-1a2b3c4d")
    );
    let [unit] = done.message_body.bulk_registration_unit.as_slice() else {
        panic!("R reads exactly one BulkRegistrationUnit per patient")
    };
    assert_eq!(
        unit.processing_result_status.as_ref().map(|s| s.code()),
        Some("1"),
        "{unit:?}"
    );
}

/// The bulk queries by period as OQSDrug sends them (医療扶助 by 診療年月, 訪問 by consent dates, オンライン by
/// examination dates), each through the daemon: receipt, 処理中 (no ErrorCode), then the facility's
/// patients of the period with their insurance result; for 医療扶助 only the patient on aid, with the month's
/// ticket.
#[test]
fn bulk_queries_by_period_go_upload_receipt_not_ready_result() {
    if !in_keyutils_session("bulk_queries_by_period_go_upload_receipt_not_ready_result") {
        return;
    }
    let (mut central, daemon) = central_and_daemon();
    let f = central.facility_code.clone();
    // The patient was confirmed at this facility today: the central keeps the consent it gave then.
    let (person, (insurer, _, _, _)) = a_current_person(&central);
    let today = clock().ymd_jst();
    {
        let db = rusqlite::Connection::open(central.dir.join("central.sqlite3"))
            .expect("central database");
        for id in [person, INSURED_AND_AID] {
            db.execute(
                "INSERT INTO consents(person_id, facility_code, kind, cons_time, available_time)
                 VALUES (?1, ?2, 'pharmacists', ?3, ?4)",
                rusqlite::params![id, f, format!("{today}090000"), format!("{today}235959")],
            )
            .expect("a consent");
        }
    }
    let month = &today[..6];
    let queries = [
        (
            "OQSmutic",
            format!("<MedicalTreatmentMonth>{month}</MedicalTreatmentMonth>"),
        ),
        (
            "OQSmuhvq",
            format!(
                "<ConsentDateFrom>{today}</ConsentDateFrom><ConsentDateTo>{today}</ConsentDateTo>\
                 <MedicalTreatmentFlag>2</MedicalTreatmentFlag>"
            ),
        ),
        (
            "OQSmuonq",
            format!(
                "<ExaminationDateFrom>{today}</ExaminationDateFrom><ExaminationDateTo>{today}</ExaminationDateTo>\
                 <MedicalTreatmentFlag>3</MedicalTreatmentFlag>"
            ),
        ),
    ];
    let mut receptions = Vec::new();
    for (i, (prefix, query)) in queries.iter().enumerate() {
        let upload = shift_jis(&format!(
            "<?xml version=\"1.0\" encoding=\"shift_jis\"?>\n<XmlMsg><MessageHeader>\
             <MedicalInstitutionCode>{f}</MedicalInstitutionCode>\
             <ArbitraryFileIdentifier>20260427090000123PC1</ArbitraryFileIdentifier></MessageHeader>\
             <MessageBody><QualificationConfirmSearchInfo>{query}</QualificationConfirmSearchInfo>\
             </MessageBody></XmlMsg>\n"
        ));
        let name = format!("{prefix}01req_20260427{:04}.xml", i + 1);
        let Message::BulkUploadReceipt(receipt) = relay(&daemon, &name, &upload) else {
            panic!("{prefix}01res is a receipt")
        };
        assert_eq!(receipt.message_header.error_code, None, "{prefix}");
        let reception = receipt
            .message_body
            .reception_number
            .clone()
            .unwrap_or_else(|| panic!("{prefix}: a receipt carries ReceptionNumber"));
        let download = download_request(&f, &reception);
        let name = format!("{prefix}02req_20260427{:04}.xml", i + 11);
        let Message::BulkResult(pending) = relay(&daemon, &name, &download) else {
            panic!("{prefix}02res is a bulk result")
        };
        assert_eq!(
            pending.message_header.segment_of_result,
            Some(SegmentOfResult::InProgress),
            "{prefix}"
        );
        // "Retry later" for every client: R reads any ErrorCode as a failure.
        assert_eq!(pending.message_header.error_code, None, "{prefix}");
        receptions.push((*prefix, download));
    }

    two_hours_later(&mut central);
    for (i, (prefix, download)) in receptions.iter().enumerate() {
        let name = format!("{prefix}02req_20260427{:04}.xml", i + 21);
        let Message::BulkResult(done) = relay(&daemon, &name, download) else {
            panic!("{prefix}02res is a bulk result")
        };
        assert_eq!(
            done.message_header.segment_of_result,
            Some(SegmentOfResult::Normal),
            "{prefix}"
        );
        let units = &done.message_body.bulk_confirm_unit;
        if *prefix == "OQSmutic" {
            // 医療扶助: only the patient on aid, with the insurance and the A1 qualification holding the
            // month's ticket.
            let [unit] = units.as_slice() else {
                panic!("{prefix}: one patient on 医療扶助, got {}", units.len())
            };
            let [insurance, aid] = unit.result_of_qualification_confirmation.as_slice() else {
                panic!("{prefix}: insurance and 医療扶助")
            };
            assert!(!insurance.is_medical_assistance() && aid.is_medical_assistance());
            let ticket = &aid
                .public_expense_result_list
                .as_ref()
                .expect("the month's tickets")
                .medical_ticket_info[0];
            assert_eq!(ticket.medical_treatment_month.as_deref(), Some(month));
            continue;
        }
        assert_eq!(units.len(), 2, "{prefix}: the two patients of the period");
        assert!(
            units.iter().any(|u| matches!(
                u.result_of_qualification_confirmation.as_slice(),
                [record] if record.insurer_number.as_deref().map(str::trim) == Some(insurer.trim())
            )),
            "{prefix}: the insurance patient"
        );
    }
}
