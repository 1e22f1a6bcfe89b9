//! Golden tests against what real clients read (issue 20, reference/oqs-clients.md): for every result kind, a
//! file the product writes is read back by our reader, and every element of a sample built by hand from the
//! reference's element list (`tests/data/oqs/clients/`, README there) is found in it at the same place. Our
//! reader must also keep every element of the sample, so a client's element our structs drop fails here.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use mock_central::population::fixtures;
use oqs_protocol::Message;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/oqs/clients")
}

/// Reads the hand-built sample of `sample` and checks that the product's files hold all of it
/// (`oqs_protocol::golden::check_holds`).
fn assert_holds_all(sample: &str, products: &[(&str, &[u8])]) {
    let path = clients_dir().join(sample);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Err(e) = oqs_protocol::golden::check_holds(sample, &bytes, products) {
        panic!("{e}");
    }
}

fn assert_holds(sample: &str, product_name: &str, product: &[u8]) {
    assert_holds_all(sample, &[(product_name, product)]);
}

fn download(f: &str, reception: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode></MessageHeader><MessageBody><ReceptionNumber>{reception}</ReceptionNumber></MessageBody></XmlMsg>"#
    )
}

fn reception_of(name: &str, bytes: &[u8]) -> String {
    match inspect(name, bytes) {
        Message::BulkUploadReceipt(r) => r
            .message_body
            .reception_number
            .expect("a receipt has ReceptionNumber"),
        other => panic!("{name}: {}", other.name()),
    }
}

/// The people `ids` give the facility every consent now (they are its patients of today); returns now.
fn consent_today(env: &Env, ids: &[i64]) -> time::OffsetDateTime {
    let now = oqs_clock::Clock::manual(oqs_clock::test_now()).now_jst();
    for id in ids {
        env.store
            .record_consents(
                *id,
                &env.facility,
                &mock_central::results::consent_kind::ALL,
                now,
                now + time::Duration::hours(24),
            )
            .unwrap();
    }
    now
}

/// The `QualificationConfirmSearchInfo` block of a single check of person `id` (an upload's record).
fn search_info(f: &str, id: i64) -> String {
    let s = single_request_for(f, id, true);
    let start = s
        .find("<QualificationConfirmSearchInfo>")
        .expect("the block");
    let end = s
        .find("</QualificationConfirmSearchInfo>")
        .expect("its end")
        + "</QualificationConfirmSearchInfo>".len();
    s[start..end].to_owned()
}

/// A 照会番号 registration of `number` for person `id`'s first qualification, as R writes it (no Birthdate).
fn registration(f: &str, id: i64, number: &str, arbitrary: &str) -> String {
    let g = person(id);
    let q = &g.qualifications[0];
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>{arbitrary}</ArbitraryFileIdentifier></MessageHeader><MessageBody><ReferenceNumberRegistrationInfo><ReferenceNumber>{number}</ReferenceNumber><InsurerNumber>{:>8}</InsurerNumber><InsuredCardSymbol>{}</InsuredCardSymbol><InsuredIdentificationNumber>{}</InsuredIdentificationNumber><InsuredBranchNumber>{}</InsuredBranchNumber></ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>"#,
        q.insurer_number, q.symbol, q.number, q.branch
    )
}

/// Registers `number` as the 照会番号 of person `id`'s first qualification (OQSsiimm01, as R does it).
async fn register(env: &Env, f: &str, id: i64, number: &str) {
    let a = post_message(
        env,
        &format!("OQSsiimm01req_r{id}.xml"),
        registration(f, id, number, "reg"),
    )
    .await;
    let Message::RefNumberResult(r) = inspect(&format!("OQSsiimm01res_r{id}.xml"), &a.bytes) else {
        panic!("a registration result")
    };
    assert_eq!(
        r.message_body.reference_number_registration_result[0]
            .processing_result_status
            .as_ref()
            .map(|s| s.code()),
        Some("1")
    );
}

/// The result the mock central's 医療扶助 code writes for person INSURED_AND_AID at a pharmacy (a 調剤券).
fn pharmacy_tickets(env: &Env, f: &str, on: time::Date) -> Vec<u8> {
    use mock_central::medical_aid;
    let mut pharmacy = env.store.facility(f).unwrap().expect("the facility");
    pharmacy.code = format!("{}4{}", &f[..2], &f[3..]);
    let aid = env
        .store
        .public_aid(fixtures::INSURED_AND_AID, on)
        .unwrap()
        .expect("on 医療扶助");
    let tickets = medical_aid::tickets(&aid, &pharmacy, on, true, oqs_protocol::Encoding::Utf8);
    assert_eq!(
        tickets[0].ticket_type.as_deref(),
        Some(medical_aid::TICKET_DISPENSING)
    );
    let result = oqs_protocol::SingleCheckResult {
        message_header: oqs_protocol::ResultHeader {
            segment_of_result: Some(oqs_protocol::SegmentOfResult::Normal),
            ..Default::default()
        },
        message_body: oqs_protocol::SingleCheckResultBody {
            result_list: Some(oqs_protocol::ResultList {
                result_of_qualification_confirmation: vec![medical_aid::aid_record(
                    &aid,
                    tickets,
                    oqs_protocol::Encoding::Utf8,
                )],
            }),
            ..Default::default()
        },
    };
    oqs_protocol::write_message(
        &Message::SingleCheckResult(result),
        oqs_protocol::Encoding::Utf8,
    )
    .unwrap()
}

#[tokio::test]
async fn every_result_kind_holds_what_its_clients_read() {
    let env = start_with(|o| o.bulk_delay = Duration::ZERO).await;
    let f = env.facility.clone();
    let now = consent_today(
        &env,
        &[
            fixtures::VALID,
            fixtures::EMERGENCY,
            fixtures::INSURED_AND_AID,
        ],
    );

    // 資格確認 (myclinic's required elements).
    let a = post_message(
        &env,
        "OQSsiquc01req_g1.xml",
        single_request_for(&f, fixtures::VALID, true),
    )
    .await;
    assert_holds("OQSsiquc01res_M.xml", "OQSsiquc01res_g1.xml", &a.bytes);

    // 照会番号, single (MynaReception).
    let registration = registration(&f, fixtures::VALID, "1234", "g2");
    let a = post_message(&env, "OQSsiimm01req_g2.xml", registration.clone()).await;
    assert_holds("OQSsiimm01res_R.xml", "OQSsiimm01res_g2.xml", &a.bytes);

    // face/ (MynaReception): the check-in answer the daemon writes to face/ (adding only its own id, the
    // hoisted PrescriptionIssueSelect and the restriction) holds what R reads, the 照会番号 included.
    let a = post_message(
        &env,
        "OQSsiquc01req_g2f.xml",
        single_request_for(&f, fixtures::VALID, true),
    )
    .await;
    assert_holds(
        "OQSsiquc01res_face_R.xml",
        "OQSsiquc01res_g2f.xml",
        &a.bytes,
    );

    // 照会番号, bulk in two steps (MynaReception).
    let a = post_message(&env, "OQSmuimm01req_g3.xml", registration).await;
    assert_holds("OQSmuimm01res_R.xml", "OQSmuimm01res_g3.xml", &a.bytes);
    let reception = reception_of("OQSmuimm01res_g3.xml", &a.bytes);
    let a = post_message(&env, "OQSmuimm02req_g3.xml", download(&f, &reception)).await;
    assert_holds("OQSmuimm02res_R.xml", "OQSmuimm02res_g3.xml", &a.bytes);

    // 医療扶助 (OQSDrug): an insurance and an A1 qualification in one list, the 公費 numbers under both names,
    // and every child of MedicalTicketInfo: the clinic's 医療券 as the central answers it, and the 調剤券 the
    // same code writes for a pharmacy (only a 調剤券 names the prescribing clinic).
    register(&env, &f, fixtures::INSURED_AND_AID, "5678").await;
    let a = post_message(
        &env,
        "OQSsiquc01req_g7.xml",
        single_request_for(&f, fixtures::INSURED_AND_AID, true),
    )
    .await;
    let pharmacy = pharmacy_tickets(&env, &f, now.date());
    assert_holds_all(
        "OQSsiquc01res_D_aid.xml",
        &[
            ("OQSsiquc01res_g7.xml", &a.bytes),
            ("OQSsiquc01res_g7p.xml", &pharmacy),
        ],
    );

    // 一括照会 (OQSDrug): the registered 照会番号 comes back under BulkConfirmUnit.
    let info = &search_info(&f, fixtures::VALID);
    let upload = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>g4</ArbitraryFileIdentifier></MessageHeader><MessageBody>{info}</MessageBody></XmlMsg>"#
    );
    let a = post_message(&env, "OQSmuquc01req_g4.xml", upload).await;
    assert_holds("OQSmuquc01res_D.xml", "OQSmuquc01res_g4.xml", &a.bytes);
    let reception = reception_of("OQSmuquc01res_g4.xml", &a.bytes);
    let a = post_message(&env, "OQSmuquc02req_g4.xml", download(&f, &reception)).await;
    assert_holds("OQSmuquc02res_D.xml", "OQSmuquc02res_g4.xml", &a.bytes);

    // The bulk queries by period (OQSDrug): both patients consented today.
    let today = today();
    let month = &today[..6];
    for (prefix, query) in [
        (
            "OQSmutic",
            format!("<MedicalTreatmentMonth>{month}</MedicalTreatmentMonth>"),
        ),
        (
            "OQSmuhvq",
            format!(
                "<ConsentDateFrom>{today}</ConsentDateFrom><ConsentDateTo>{today}</ConsentDateTo><MedicalTreatmentFlag>2</MedicalTreatmentFlag>"
            ),
        ),
        (
            "OQSmuonq",
            format!(
                "<ConsentDateFrom>{today}</ConsentDateFrom><ConsentDateTo>{today}</ConsentDateTo><MedicalTreatmentFlag>3</MedicalTreatmentFlag>"
            ),
        ),
    ] {
        let upload = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>g5</ArbitraryFileIdentifier></MessageHeader><MessageBody><QualificationConfirmSearchInfo>{query}</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#
        );
        let name = format!("{prefix}01res_g5.xml");
        let a = post_message(&env, &format!("{prefix}01req_g5.xml"), upload).await;
        assert_holds(&format!("{prefix}01res_D.xml"), &name, &a.bytes);
        let reception = reception_of(&name, &a.bytes);
        let a = post_message(
            &env,
            &format!("{prefix}02req_g5.xml"),
            download(&f, &reception),
        )
        .await;
        assert_holds(
            &format!("{prefix}02res_D.xml"),
            &format!("{prefix}02res_g5.xml"),
            &a.bytes,
        );
    }

    // 薬剤・診療 and 特定健診 (OQSDrug).
    let a = post_message(
        &env,
        "YZKsiquc01req_g6.xml",
        medical_request(&f, fixtures::EMERGENCY, true, "202109", &this_month(), "4"),
    )
    .await;
    assert_holds("YZKsiquc01res_D.xml", "YZKsiquc01res_g6.xml", &a.bytes);
    let a = post_message(
        &env,
        "TKKsiquc01req_g6.xml",
        medical_request(&f, fixtures::EMERGENCY, false, "", "", "2"),
    )
    .await;
    assert_holds("TKKsiquc01res_D.xml", "TKKsiquc01res_g6.xml", &a.bytes);

    env.server.shutdown().await;
}

/// How R reads an `OQSmuimm02res` (`oqs-clients.md` §7): any `ErrorCode` is a failure; with none, no
/// `BulkRegistrationUnit` means the result is not final yet (R keeps the job and asks again).
#[derive(Debug, PartialEq)]
enum RFinal {
    NotFinal,
    Failed,
    Final,
}

fn r_reads_registration_result(name: &str, bytes: &[u8]) -> RFinal {
    let Message::RefNumberBulkResult(r) = inspect(name, bytes) else {
        panic!("{name} is a registration result")
    };
    if r.message_header.error_code.is_some() {
        RFinal::Failed
    } else if r.message_body.bulk_registration_unit.is_empty() {
        RFinal::NotFinal
    } else {
        RFinal::Final
    }
}

/// How D reads a bulk result (`oqs-clients.md` §6): `SegmentOfResult` 2 = still processing, ask again;
/// 9 = failed; otherwise the units.
#[derive(Debug, PartialEq)]
enum DBulk {
    RetryLater,
    Failed,
    Units(usize),
}

fn d_reads_bulk_result(name: &str, bytes: &[u8]) -> DBulk {
    let Message::BulkResult(r) = inspect(name, bytes) else {
        panic!("{name} is a bulk result")
    };
    match r
        .message_header
        .segment_of_result
        .as_ref()
        .map(|s| s.code())
    {
        Some("2") => DBulk::RetryLater,
        Some("9") => DBulk::Failed,
        _ => DBulk::Units(r.message_body.bulk_confirm_unit.len()),
    }
}

/// The 処理中 answer of every bulk kind is what each client reads as "retry later", never as a failure: R
/// (照会番号, two steps) and D (一括照会 and the queries by period), each against its hand-built sample.
#[tokio::test]
async fn not_ready_answers_read_as_retry_later_by_each_client() {
    let env = start_with(|o| o.bulk_delay = Duration::from_secs(3600)).await;
    let f = env.facility.clone();

    let a = post_message(
        &env,
        "OQSmuimm01req_p1.xml",
        registration(&f, fixtures::VALID, "1234", "p1"),
    )
    .await;
    let reception = reception_of("OQSmuimm01res_p1.xml", &a.bytes);
    let a = post_message(&env, "OQSmuimm02req_p1.xml", download(&f, &reception)).await;
    assert_holds(
        "OQSmuimm02res_R_pending.xml",
        "OQSmuimm02res_p1.xml",
        &a.bytes,
    );
    assert_eq!(
        r_reads_registration_result("OQSmuimm02res_p1.xml", &a.bytes),
        RFinal::NotFinal
    );
    // R also checks the echoed identity before anything else.
    let Message::RefNumberBulkResult(r) = inspect("OQSmuimm02res_p1.xml", &a.bytes) else {
        panic!()
    };
    assert_eq!(
        r.message_header.arbitrary_file_identifier.as_deref(),
        Some("p1")
    );
    assert_eq!(
        r.message_header.reception_number.as_deref(),
        Some(reception.as_str())
    );

    let info = &search_info(&f, fixtures::VALID);
    let month = &today()[..6];
    for (prefix, body) in [
        ("OQSmuquc", info.to_string()),
        (
            "OQSmutic",
            format!(
                "<QualificationConfirmSearchInfo><MedicalTreatmentMonth>{month}</MedicalTreatmentMonth></QualificationConfirmSearchInfo>"
            ),
        ),
        (
            "OQSmuhvq",
            format!(
                "<QualificationConfirmSearchInfo><ConsentDateFrom>{month}01</ConsentDateFrom><ConsentDateTo>{month}02</ConsentDateTo><MedicalTreatmentFlag>2</MedicalTreatmentFlag></QualificationConfirmSearchInfo>"
            ),
        ),
        (
            "OQSmuonq",
            format!(
                "<QualificationConfirmSearchInfo><ExaminationDateFrom>{month}01</ExaminationDateFrom><ExaminationDateTo>{month}02</ExaminationDateTo><MedicalTreatmentFlag>3</MedicalTreatmentFlag></QualificationConfirmSearchInfo>"
            ),
        ),
    ] {
        let upload = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>p2</ArbitraryFileIdentifier></MessageHeader><MessageBody>{body}</MessageBody></XmlMsg>"#
        );
        let a = post_message(&env, &format!("{prefix}01req_p2.xml"), upload).await;
        let reception = reception_of(&format!("{prefix}01res_p2.xml"), &a.bytes);
        let name = format!("{prefix}02res_p2.xml");
        let a = post_message(
            &env,
            &format!("{prefix}02req_p2.xml"),
            download(&f, &reception),
        )
        .await;
        assert_holds(&format!("{prefix}02res_D_pending.xml"), &name, &a.bytes);
        assert_eq!(
            d_reads_bulk_result(&name, &a.bytes),
            DBulk::RetryLater,
            "{prefix}"
        );
        let Message::BulkResult(r) = inspect(&name, &a.bytes) else {
            panic!()
        };
        // No ErrorCode: a client that reads any as a failure (R) must not stop here either.
        assert_eq!(r.message_header.error_code, None, "{prefix}");
    }
    env.server.shutdown().await;
}

/// D pairs `BulkConfirmUnit/ReferenceNumber` with the unit's qualifications by position, R reads the one
/// inside each: a 医療扶助 unit (insurance + A1) carries the patient's 照会番号 both ways, once per
/// qualification, and the month's ticket.
#[tokio::test]
async fn a_medical_aid_bulk_unit_has_one_reference_number_per_qualification() {
    let env = start_with(|o| o.bulk_delay = Duration::ZERO).await;
    let f = env.facility.clone();
    consent_today(&env, &[fixtures::VALID, fixtures::INSURED_AND_AID]);
    register(&env, &f, fixtures::INSURED_AND_AID, "5678").await;
    let month = &today()[..6];
    let upload = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>a1</ArbitraryFileIdentifier></MessageHeader><MessageBody><QualificationConfirmSearchInfo><MedicalTreatmentMonth>{month}</MedicalTreatmentMonth></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#
    );
    let a = post_message(&env, "OQSmutic01req_a1.xml", upload).await;
    let reception = reception_of("OQSmutic01res_a1.xml", &a.bytes);
    let a = post_message(&env, "OQSmutic02req_a1.xml", download(&f, &reception)).await;
    let Message::BulkResult(r) = inspect("OQSmutic02res_a1.xml", &a.bytes) else {
        panic!()
    };
    // VALID consented too but is not on 医療扶助: only the person on aid is in a 医療扶助 query.
    let [unit] = r.message_body.bulk_confirm_unit.as_slice() else {
        panic!(
            "one person on 医療扶助, got {}",
            r.message_body.bulk_confirm_unit.len()
        )
    };
    let records = &unit.result_of_qualification_confirmation;
    assert_eq!(records.len(), 2);
    assert!(!records[0].is_medical_assistance() && records[1].is_medical_assistance());
    let listed: Vec<Option<&str>> = unit
        .reference_number
        .iter()
        .map(|n| n.as_ref().map(|p| p.expose()))
        .collect();
    assert_eq!(listed, [Some("5678"), Some("5678")]);
    for r in records {
        assert_eq!(
            r.reference_number.as_ref().map(|p| p.expose()),
            Some("5678")
        );
    }
    let tickets = &records[1]
        .public_expense_result_list
        .as_ref()
        .expect("the month's tickets")
        .medical_ticket_info;
    assert_eq!(tickets[0].medical_treatment_month.as_deref(), Some(month));
    env.server.shutdown().await;
}
