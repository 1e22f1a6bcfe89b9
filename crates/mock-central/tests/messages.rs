//! Request files over real mutual TLS: every message kind, their errors, bulk asynchrony and
//! reference numbers. Every result is checked the way `oqs file inspect` checks files.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mock_central::population::fixtures;
use oqs_protocol::Message;

/// A person insured by a 健康保険組合 and on 医療扶助 (併用): the check by the insurance numbers answers both
/// qualifications in one list, the A1 one with this month's 医療券; a person whose 国保 ended when the aid
/// began stays 無効 by those numbers (they are not the aid's).
#[tokio::test]
async fn single_check_lists_insurance_and_medical_assistance_together() {
    let env = start().await;
    let f = env.facility.clone();
    let a = post_message(
        &env,
        "OQSsiquc01req_aid.xml",
        single_request_for(&f, fixtures::INSURED_AND_AID, true),
    )
    .await;
    let r = single_result(inspect("OQSsiquc01res_aid.xml", &a.bytes));
    assert_eq!(validity(&r), "1");
    let list = r
        .message_body
        .result_list
        .expect("result list")
        .result_of_qualification_confirmation;
    assert_eq!(list.len(), 2);
    assert!(!list[0].is_medical_assistance());
    assert!(list[1].is_medical_assistance());
    assert_eq!(
        list[1]
            .insured_card_classification
            .as_ref()
            .map(|c| c.code()),
        Some("A1")
    );
    assert!(
        list[1]
            .public_expense_number
            .as_deref()
            .is_some_and(|n| n.starts_with("12"))
    );
    let tickets = &list[1]
        .public_expense_result_list
        .as_ref()
        .expect("tickets")
        .medical_ticket_info;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].single_or_combined_use.as_deref(), Some("2"));

    let a = post_message(
        &env,
        "OQSsiquc01req_lost.xml",
        single_request_for(&f, fixtures::MEDICAL_AID, true),
    )
    .await;
    let r = single_result(inspect("OQSsiquc01res_lost.xml", &a.bytes));
    assert_eq!(validity(&r), "2");
    assert!(
        r.message_body
            .result_list
            .expect("result list")
            .result_of_qualification_confirmation
            .iter()
            .all(|q| !q.is_medical_assistance())
    );
}

#[tokio::test]
async fn single_check_answers_every_validity() {
    let env = start().await;
    let f = env.facility.clone();
    let cases = [
        (fixtures::VALID, true, "1"),
        (fixtures::LOST_THEN_NEW, true, "3"),
        (fixtures::DECEASED, true, "2"),
        (fixtures::TWIN_A, false, "5"),
        // The new qualification has not reached the central database: the old one is simply 無効.
        (fixtures::DATA_LAG, true, "2"),
    ];
    for (id, branch, expected) in cases {
        let a = post_message(
            &env,
            "OQSsiquc01req_case.xml",
            single_request_for(&f, id, branch),
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.result_name.as_deref(), Some("OQSsiquc01res_case.xml"));
        let r = single_result(inspect("OQSsiquc01res_case.xml", &a.bytes));
        assert_eq!(validity(&r), expected, "person {id}");
        assert_eq!(
            r.message_header.arbitrary_file_identifier.as_deref(),
            Some("it")
        );
    }
    // Two twins under one 記号・番号: both come back, never one picked at random.
    let a = post_message(
        &env,
        "OQSsiquc01req_twins.xml",
        single_request_for(&f, fixtures::TWIN_A, false),
    )
    .await;
    let r = single_result(inspect("OQSsiquc01res_twins.xml", &a.bytes));
    assert_eq!(
        r.message_body
            .result_list
            .unwrap()
            .result_of_qualification_confirmation
            .len(),
        2
    );

    // The data-lag person's new (not yet loaded) qualification: 該当資格なし.
    let g = person(fixtures::DATA_LAG);
    let q = &g.qualifications[1];
    let body = single_request(
        &f,
        &q.insurer_number,
        &q.symbol,
        &q.number,
        Some(&q.branch),
        "19951212",
    );
    let r = single_result(inspect(
        "OQSsiquc01res_lag.xml",
        &post_message(&env, "OQSsiquc01req_lag.xml", body)
            .await
            .bytes,
    ));
    assert_eq!(validity(&r), "4");

    // 限度額 and 特定疾病 information comes with the provision consent flag.
    let a = post_message(
        &env,
        "OQSsiquc01req_limit.xml",
        single_request_for(&f, fixtures::LIMIT_AND_DISEASE, true),
    )
    .await;
    let r = single_result(inspect("OQSsiquc01res_limit.xml", &a.bytes));
    let rec = &r
        .message_body
        .result_list
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert!(rec.limit_application_certificate_related_info.is_some());
    assert!(rec.specific_diseases_certificate_list.is_some());

    // 6-digit 国保 numbers padded with spaces and full-width 記号 are matched.
    let g = person(fixtures::EMERGENCY);
    let q = &g.qualifications[0];
    let body = single_request(
        &f,
        &format!("  {}", q.insurer_number),
        "1",
        &q.number,
        None,
        "19751010",
    );
    let r = single_result(inspect(
        "OQSsiquc01res_kokuho.xml",
        &post_message(&env, "OQSsiquc01req_kokuho.xml", body)
            .await
            .bytes,
    ));
    assert_eq!(validity(&r), "1");
    env.server.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_error_results() {
    let env = start().await;
    let f = env.facility.clone();
    // Wrong check digit: SegmentOfResult 9 with the validation code in the message.
    let mut body = single_request_for(&f, fixtures::VALID, true);
    body = body.replace(
        "<InsurerNumber>01170166</InsurerNumber>",
        "<InsurerNumber>01170160</InsurerNumber>",
    );
    let r = single_result(inspect(
        "OQSsiquc01res_e1.xml",
        &post_message(&env, "OQSsiquc01req_e1.xml", body).await.bytes,
    ));
    assert_eq!(
        r.message_header
            .segment_of_result
            .as_ref()
            .map(|s| s.code()),
        Some("9")
    );
    assert_eq!(error_code(&r), Some("OQS-C2003"));
    assert!(
        r.message_header
            .error_message
            .as_deref()
            .unwrap()
            .contains("OQS-E1203")
    );

    // Another facility's code in the header.
    let body = single_request_for("1310100026", fixtures::VALID, true);
    let r = single_result(inspect(
        "OQSsiquc01res_e2.xml",
        &post_message(&env, "OQSsiquc01req_e2.xml", body).await.bytes,
    ));
    assert_eq!(error_code(&r), Some("OQS-C2004"));

    // Not XML at all.
    let r = single_result(inspect(
        "OQSsiquc01res_e3.xml",
        &post_message(&env, "OQSsiquc01req_e3.xml", "not xml <")
            .await
            .bytes,
    ));
    assert_eq!(error_code(&r), Some("OQS-C2002"));

    // A result file name, or an unknown kind: HTTP 400 with a JSON error.
    let a = post_message(&env, "OQSsiquc01res_e4.xml", "x").await;
    assert_eq!(a.status, 400);
    let a = post_message(&env, "ABCdefgh01req_e5.xml", "x").await;
    assert_eq!(a.status, 400);
    env.server.shutdown().await;
}

#[tokio::test]
async fn bulk_upload_is_answered_later_by_reception_number() {
    // Long enough that the first download comes before it even on a loaded machine (1 s was not).
    let env = start_with(|o| o.bulk_delay = Duration::from_secs(4)).await;
    let f = env.facility.clone();
    let infos: String = [fixtures::VALID, fixtures::DECEASED, fixtures::TWIN_A]
        .iter()
        .map(|id| {
            let s = single_request_for(&f, *id, *id != fixtures::TWIN_A);
            let start = s.find("<QualificationConfirmSearchInfo>").unwrap();
            let end = s.find("</QualificationConfirmSearchInfo>").unwrap()
                + "</QualificationConfirmSearchInfo>".len();
            s[start..end].to_string()
        })
        .collect();
    let upload = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>bulk1</ArbitraryFileIdentifier></MessageHeader><MessageBody>{infos}</MessageBody></XmlMsg>"#
    );
    let a = post_message(&env, "OQSmuquc01req_b1.xml", upload).await;
    let receipt = match inspect("OQSmuquc01res_b1.xml", &a.bytes) {
        Message::BulkUploadReceipt(r) => r,
        other => panic!("{}", other.name()),
    };
    let reception = receipt.message_body.reception_number.clone().unwrap();
    let download = |n: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode></MessageHeader><MessageBody><ReceptionNumber>{n}</ReceptionNumber></MessageBody></XmlMsg>"#
        )
    };
    // Immediately: still 処理中 (SegmentOfResult 2).
    let a = post_message(&env, "OQSmuquc02req_b1.xml", download(&reception)).await;
    let Message::BulkResult(first) = inspect("OQSmuquc02res_b1.xml", &a.bytes) else {
        panic!()
    };
    assert_eq!(
        first
            .message_header
            .segment_of_result
            .as_ref()
            .map(|s| s.code()),
        Some("2")
    );
    // Later: the result, polled with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    let done = loop {
        let a = post_message(&env, "OQSmuquc02req_b1.xml", download(&reception)).await;
        let Message::BulkResult(r) = inspect("OQSmuquc02res_b1.xml", &a.bytes) else {
            panic!()
        };
        if r.message_header
            .segment_of_result
            .as_ref()
            .map(|s| s.code())
            == Some("1")
        {
            break r;
        }
        assert!(Instant::now() < deadline, "bulk result not ready in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let validities: Vec<&str> = done
        .message_body
        .bulk_confirm_unit
        .iter()
        .map(|u| u.qualification_validity.as_ref().unwrap().code())
        .collect();
    assert_eq!(validities, ["1", "2", "5"]);
    assert_eq!(
        done.message_header.number_of_processing_result.as_deref(),
        Some("3")
    );

    // Unknown number, and another facility asking for this one: both "not found".
    let a = post_message(&env, "OQSmuquc02req_b2.xml", download("999")).await;
    let Message::BulkResult(r) = inspect("OQSmuquc02res_b2.xml", &a.bytes) else {
        panic!()
    };
    assert_eq!(r.message_header.error_code.as_deref(), Some("OQS-C2010"));
    let tokyo = mock_central::client::http_client(
        env.path(),
        Some(("terminal-tokyo.crt", "terminal-tokyo.key")),
    )
    .unwrap();
    let body = download(&reception).replace(&f, "1310100026");
    let bytes = tokyo
        .post(env.url("/v1/messages/OQSmuquc02req_b3.xml"))
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let Message::BulkResult(r) = inspect("OQSmuquc02res_b3.xml", &bytes) else {
        panic!()
    };
    assert_eq!(r.message_header.error_code.as_deref(), Some("OQS-C2010"));
    env.server.shutdown().await;
}

#[tokio::test]
async fn reference_numbers_are_registered_and_returned() {
    let env = start().await;
    let f = env.facility.clone();
    let g = person(fixtures::VALID);
    let q = &g.qualifications[0];
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>ref1</ArbitraryFileIdentifier></MessageHeader><MessageBody><ReferenceNumberRegistrationInfo><InsurerNumber>{}</InsurerNumber><InsuredCardSymbol>{}</InsuredCardSymbol><InsuredIdentificationNumber>{}</InsuredIdentificationNumber><InsuredBranchNumber>{}</InsuredBranchNumber><Birthdate>19800401</Birthdate><ReferenceNumber>P000123</ReferenceNumber></ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>"#,
        q.insurer_number, q.symbol, q.number, q.branch
    );
    let a = post_message(&env, "OQSsiimm01req_r1.xml", body.clone()).await;
    let Message::RefNumberResult(r) = inspect("OQSsiimm01res_r1.xml", &a.bytes) else {
        panic!()
    };
    assert_eq!(
        r.message_body.reference_number_registration_result[0]
            .processing_result_status
            .as_ref()
            .unwrap()
            .code(),
        "1"
    );
    // Bulk form in R's two steps, one unknown person (that record fails, the file does not) and one without
    // Birthdate (R never sends it): OQSmuimm01res is a receipt with ReceptionNumber, OQSmuimm02res the
    // BulkRegistrationUnit list.
    let unknown = body.replace("19800401", "19800402");
    let no_birth = body.replace("<Birthdate>19800401</Birthdate>", "");
    let both = unknown.replace(
        "</MessageBody>",
        &format!(
            "{}</MessageBody>",
            &no_birth[no_birth.find("<ReferenceNumberRegistrationInfo>").unwrap()
                ..no_birth.find("</MessageBody>").unwrap()]
        ),
    );
    let a = post_message(&env, "OQSmuimm01req_r2.xml", both).await;
    let Message::BulkUploadReceipt(receipt) = inspect("OQSmuimm01res_r2.xml", &a.bytes) else {
        panic!("OQSmuimm01res is a receipt")
    };
    assert_eq!(
        receipt.message_header.arbitrary_file_identifier.as_deref(),
        Some("ref1")
    );
    let reception = receipt.message_body.reception_number.clone().unwrap();
    // The registrations were made at upload, once: a number registered since (by the single form) is not
    // overwritten when the result is downloaded.
    let a = post_message(
        &env,
        "OQSsiimm01req_r1b.xml",
        body.replace("P000123", "P000999"),
    )
    .await;
    assert!(matches!(
        inspect("OQSsiimm01res_r1b.xml", &a.bytes),
        Message::RefNumberResult(_)
    ));
    let download = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode></MessageHeader><MessageBody><ReceptionNumber>{reception}</ReceptionNumber></MessageBody></XmlMsg>"#
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let a = post_message(&env, "OQSmuimm02req_r2.xml", download.clone()).await;
        let Message::RefNumberBulkResult(r) = inspect("OQSmuimm02res_r2.xml", &a.bytes) else {
            panic!("OQSmuimm02res holds BulkRegistrationUnit")
        };
        if r.message_header
            .segment_of_result
            .as_ref()
            .map(|s| s.code())
            == Some("1")
        {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "registration result not ready in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        r.message_header.reception_number.as_deref(),
        Some(reception.as_str())
    );
    // R checks that the result names its upload's ArbitraryFileIdentifier, though its 02 request has none.
    assert_eq!(
        r.message_header.arbitrary_file_identifier.as_deref(),
        Some("ref1")
    );
    let st: Vec<&str> = r
        .message_body
        .bulk_registration_unit
        .iter()
        .map(|x| x.processing_result_status.as_ref().unwrap().code())
        .collect();
    assert_eq!(st, ["2", "1"]);
    // A muquc02 download cannot read a registration's number.
    let a = post_message(&env, "OQSmuquc02req_r2.xml", download.clone()).await;
    let Message::BulkResult(wrong) = inspect("OQSmuquc02res_r2.xml", &a.bytes) else {
        panic!()
    };
    assert_eq!(
        wrong.message_header.error_code.as_deref(),
        Some("OQS-C2010")
    );
    // Later results carry the number.
    let a = post_message(
        &env,
        "OQSsiquc01req_r3.xml",
        single_request_for(&f, fixtures::VALID, true),
    )
    .await;
    let r = single_result(inspect("OQSsiquc01res_r3.xml", &a.bytes));
    let rec = &r
        .message_body
        .result_list
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert_eq!(
        rec.reference_number.as_ref().map(|p| p.expose()),
        Some("P000999"),
        "the download registered the upload again"
    );
    env.server.shutdown().await;
}
