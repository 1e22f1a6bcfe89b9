//! Property tests: write→read returns the original message for every kind in both encodings, and reading
//! arbitrary bytes never panics.
//!
//! Messages are generated with `arbitrary` from proptest-chosen bytes (the byte budget bounds nesting), then
//! made representable: XML 1.0 cannot carry most control characters or a bare `\r` (parsers normalise it), and
//! a Shift_JIS file can only carry characters that survive a Shift_JIS round trip.

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;

use crate::*;

fn representable(c: char, encoding: Encoding) -> bool {
    let xml_ok =
        matches!(c, '\t' | '\n') || (!c.is_control() && c != '\u{FFFE}' && c != '\u{FFFF}');
    xml_ok
        && match encoding {
            Encoding::Utf8 => true,
            Encoding::ShiftJis => {
                let s = c.to_string();
                let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&s);
                !unmappable && encoding_rs::SHIFT_JIS.decode_without_bom_handling(&bytes).0 == s
            }
        }
}

fn sanitize_value(value: &mut serde_json::Value, encoding: Encoding) {
    match value {
        serde_json::Value::String(s) => {
            s.retain(|c| representable(c, encoding));
            // An element without text is read as absent (docs/file-interface.md).
            if s.trim().is_empty() {
                *value = serde_json::Value::Null;
            }
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|v| sanitize_value(v, encoding))
        }
        serde_json::Value::Object(map) => {
            map.values_mut().for_each(|v| sanitize_value(v, encoding))
        }
        _ => {}
    }
}

/// Drops characters a file cannot carry, going through JSON so that every string field is reached.
fn sanitize(message: Message, encoding: Encoding) -> Message {
    let mut value = serde_json::to_value(&message).unwrap();
    sanitize_value(&mut value, encoding);
    serde_json::from_value(value).unwrap()
}

fn kind_of(message: &Message) -> (MessageKind, Direction) {
    use MessageKind as K;
    let kind = match message {
        Message::SingleCheckRequest(_) | Message::SingleCheckResult(_) => K::SingleCheck,
        Message::BulkUploadRequest(_) | Message::BulkUploadReceipt(_) => K::BulkUpload,
        Message::BulkDownloadRequest(_) | Message::BulkResult(_) => K::BulkDownload,
        Message::RefNumberRequest(_) | Message::RefNumberResult(_) => K::RefNumberSingle,
        Message::RefNumberBulkResult(_) => K::RefNumberBulkDownload,
        Message::MedicationRequest(_) | Message::MedicationResult(_) => K::Medication,
        Message::CheckupRequest(_) | Message::CheckupResult(_) => K::Checkup,
        Message::BulkQueryRequest(_) => K::BulkQueryUpload(BulkQuery::HomeVisit),
    };
    (kind, message.direction())
}

fn round_trip(message: Message, encoding: Encoding) -> Result<(), TestCaseError> {
    let mut expected = sanitize(message, encoding);
    expected.set_character_code(encoding);
    let bytes =
        write_message(&expected, encoding).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (kind, direction) = kind_of(&expected);
    let decoded =
        read_message(&bytes, kind, direction).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(decoded.encoding, encoding);
    prop_assert_eq!(decoded.message, expected);
    Ok(())
}

macro_rules! round_trip_tests {
    ($($test:ident: $variant:ident($ty:ty);)+) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $test(bytes in proptest::collection::vec(any::<u8>(), 0..3000), sjis in any::<bool>()) {
                    let mut u = Unstructured::new(&bytes);
                    let inner = <$ty>::arbitrary(&mut u).unwrap_or_default();
                    let encoding = if sjis { Encoding::ShiftJis } else { Encoding::Utf8 };
                    round_trip(Message::$variant(inner), encoding)?;
                }
            )+
        }
    };
}

round_trip_tests! {
    single_check_request: SingleCheckRequest(SingleCheckRequest);
    single_check_result: SingleCheckResult(SingleCheckResult);
    bulk_upload_request: BulkUploadRequest(BulkUploadRequest);
    bulk_upload_receipt: BulkUploadReceipt(BulkUploadReceipt);
    bulk_download_request: BulkDownloadRequest(BulkDownloadRequest);
    bulk_result: BulkResult(BulkResult);
    ref_number_request: RefNumberRequest(RefNumberRequest);
    ref_number_result: RefNumberResult(RefNumberResult);
    ref_number_bulk_result: RefNumberBulkResult(RefNumberBulkResult);
    bulk_query_request: BulkQueryRequest(BulkQueryRequest);
    medication_request: MedicationRequest(MedicalInfoRequest);
    medication_result: MedicationResult(MedicationResult);
    checkup_request: CheckupRequest(MedicalInfoRequest);
    checkup_result: CheckupResult(CheckupResult);
}

proptest! {
    /// The empty-element pass of [`read_message`] goes through JSON and back: it must never fail, whatever
    /// the message (unsanitized: any text, any nesting the byte budget allows).
    #[test]
    fn the_empty_element_pass_never_fails(bytes in proptest::collection::vec(any::<u8>(), 0..4000)) {
        let mut u = Unstructured::new(&bytes);
        if let Ok(message) = Message::arbitrary(&mut u) {
            let name = message.name();
            let result = crate::message::empty_as_absent(message);
            prop_assert!(result.is_ok(), "{name}: {result:?}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), k in 0usize..MessageKind::ALL.len(), res in any::<bool>()) {
        let direction = if res { Direction::Response } else { Direction::Request };
        let _ = read_message(&bytes, MessageKind::ALL[k], direction);
    }

    #[test]
    fn xml_like_text_never_panics(text in "(<XmlMsg>|<MessageHeader>|</MessageHeader>|<MessageBody>|</MessageBody>|<ResultList>|<InsurerNumber>|</InsurerNumber>|[ -~]|[ぁ-ん]|&amp;|&#x1;|<!--|-->|</XmlMsg>){0,60}", k in 0usize..MessageKind::ALL.len(), res in any::<bool>()) {
        let direction = if res { Direction::Response } else { Direction::Request };
        if let Ok(d) = read_message(text.as_bytes(), MessageKind::ALL[k], direction) {
            let _ = d.message.validate();
        }
    }

    #[test]
    fn file_names_never_panic(name in "\\PC{0,40}") {
        if let Ok(n) = FileName::parse(&name) {
            prop_assert_eq!(FileName::parse(&n.to_string()).unwrap(), n);
        }
    }
}

#[test]
fn names_outside_jis_x_0208_survive_utf8_and_are_listed_for_shift_jis() {
    let record = ResultOfQualificationConfirmation {
        name: Some(Pii::from("𠮷田　髙子")),
        name_kana: Some(Pii::from("ﾖｼﾀﾞ ﾀｶｺ")),
        address: Some(Pii::from("東京都葛飾区𩸽町１")),
        ..Default::default()
    };
    let message = Message::SingleCheckResult(SingleCheckResult {
        message_body: SingleCheckResultBody {
            result_list: Some(ResultList {
                result_of_qualification_confirmation: vec![record],
            }),
            ..Default::default()
        },
        ..Default::default()
    });
    let utf8 = write_message(&message, Encoding::Utf8).unwrap();
    let back = read_message(&utf8, MessageKind::SingleCheck, Direction::Response).unwrap();
    let Message::SingleCheckResult(r) = back.message else {
        panic!()
    };
    let rec = &r
        .message_body
        .result_list
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert_eq!(rec.name.as_ref().unwrap().expose(), "𠮷田　髙子");

    let err = write_message(&message, Encoding::ShiftJis).unwrap_err();
    let ProtocolError::Unencodable { chars } = &err else {
        panic!("{err}")
    };
    let base = "/XmlMsg/MessageBody/ResultList/ResultOfQualificationConfirmation";
    let got: Vec<(char, &str)> = chars.iter().map(|c| (c.ch, c.element.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ('𠮷', &*format!("{base}/Name")),
            ('𩸽', &*format!("{base}/Address"))
        ]
    );
    assert!(err.to_string().contains("'𠮷' (U+20BB7) in /XmlMsg/MessageBody/ResultList/ResultOfQualificationConfirmation/Name"), "{err}");
    // The facility's encoding is kept: 〓 in place of each character, the same list reported.
    let (sjis, replaced) = write_message_substituting(&message, Encoding::ShiftJis).unwrap();
    assert_eq!(replaced, *chars);
    assert!(sjis.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""));
    let back = read_message(&sjis, MessageKind::SingleCheck, Direction::Response).unwrap();
    assert_eq!(back.encoding, Encoding::ShiftJis);
    let Message::SingleCheckResult(r) = back.message else {
        panic!()
    };
    let rec = &r
        .message_body
        .result_list
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert_eq!(rec.name.as_ref().unwrap().expose(), "〓田　髙子");
    assert_eq!(
        write_message_substituting(&message, Encoding::Utf8)
            .unwrap()
            .1,
        vec![]
    );
    // 髙 (IBM extension) is in Windows-31J: without 𠮷 and 𩸽 the Shift_JIS write succeeds and round-trips.
    let ok = Message::SingleCheckResult(SingleCheckResult {
        message_body: SingleCheckResultBody {
            result_list: Some(ResultList {
                result_of_qualification_confirmation: vec![ResultOfQualificationConfirmation {
                    name: Some(Pii::from("髙橋　﨑子")),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        },
        ..Default::default()
    });
    let sjis = write_message(&ok, Encoding::ShiftJis).unwrap();
    let back = read_message(&sjis, MessageKind::SingleCheck, Direction::Response).unwrap();
    assert_eq!(back.encoding, Encoding::ShiftJis);
    let mut expected = ok.clone();
    expected.set_character_code(Encoding::ShiftJis);
    assert_eq!(back.message, expected);
}

#[test]
fn character_code_identifier_must_match_the_file() {
    let mut result = SingleCheckResult::error("E01", "x");
    result.message_header.character_code_identifier = Some(CharacterCodeIdentifier::ShiftJis);
    let text = quick_xml::se::to_string_with_root("XmlMsg", &result).unwrap();
    let err = read_message(
        text.as_bytes(),
        MessageKind::SingleCheck,
        Direction::Response,
    )
    .unwrap_err();
    assert!(
        matches!(err, ProtocolError::EncodingMismatch { .. }),
        "{err}"
    );
}

#[test]
fn debug_output_redacts_patient_identifiers() {
    let record = ResultOfQualificationConfirmation {
        name: Some(Pii::from("山田　太郎")),
        birthdate: Some(Pii::from("19800101")),
        insured_identification_number: Some(Pii::from("98765")),
        ..Default::default()
    };
    let dbg = format!(
        "{:?}",
        Message::BulkResult(BulkResult {
            message_body: BulkResultBody {
                bulk_confirm_unit: vec![BulkConfirmUnit {
                    result_of_qualification_confirmation: vec![record],
                    ..Default::default()
                }],
            },
            ..Default::default()
        })
    );
    for secret in ["山田", "19800101", "98765"] {
        assert!(!dbg.contains(secret), "{secret} leaked: {dbg}");
    }
}

/// D writes `<InsuredCardSymbol/>` / `<BranchNumber/>` for a patient who has none: read as absent, so the
/// request is valid (a present empty 枝番 used to fail the 2-digit rule).
#[test]
fn empty_elements_are_read_as_absent() {
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
        <QualificationConfirmationDate>20240401</QualificationConfirmationDate>\
        <MedicalInstitutionCode>1311111111</MedicalInstitutionCode><ArbitraryFileIdentifier/>\
        </MessageHeader><MessageBody><QualificationConfirmSearchInfo>\
        <InsurerNumber>06139992</InsurerNumber><InsuredCardSymbol/>\
        <InsuredIdentificationNumber>4260</InsuredIdentificationNumber>\
        <InsuredBranchNumber></InsuredBranchNumber><Birthdate>20010327</Birthdate>\
        <LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>\
        </QualificationConfirmSearchInfo></MessageBody></XmlMsg>";
    let decoded = read_file("OQSsiquc01req_1.xml", xml.as_bytes()).unwrap();
    assert_eq!(decoded.message.validate(), vec![]);
    let Message::SingleCheckRequest(r) = decoded.message else {
        panic!()
    };
    let info = r.message_body.qualification_confirm_search_info.unwrap();
    assert_eq!(info.insured_card_symbol, None);
    assert_eq!(info.insured_branch_number, None);
    assert_eq!(r.message_header.arbitrary_file_identifier, None);
}

/// R's registration carries no `Birthdate`; its 照会番号 upload is answered by a receipt and the outcome
/// comes as `OQSmuimm02res/BulkRegistrationUnit`.
#[test]
fn reference_number_registration_in_two_steps() {
    let upload = "<XmlMsg><MessageHeader><MedicalInstitutionCode>1311111111</MedicalInstitutionCode>\
        <ArbitraryFileIdentifier>A1</ArbitraryFileIdentifier></MessageHeader><MessageBody>\
        <ReferenceNumberRegistrationInfo><ReferenceNumber>P0001</ReferenceNumber>\
        <InsurerNumber>  138057</InsurerNumber><InsuredCardSymbol/>\
        <InsuredIdentificationNumber>4260</InsuredIdentificationNumber><InsuredBranchNumber/>\
        </ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>";
    let d = read_file("OQSmuimm01req_202604270001.xml", upload.as_bytes()).unwrap();
    assert_eq!(d.message.validate(), vec![]);
    let receipt = "<XmlMsg><MessageHeader><MedicalInstitutionCode>1311111111</MedicalInstitutionCode>\
        <ArbitraryFileIdentifier>A1</ArbitraryFileIdentifier><SegmentOfResult>1</SegmentOfResult>\
        <ErrorCode/></MessageHeader><MessageBody><ProcessingResultStatus>1</ProcessingResultStatus>\
        <ReceptionNumber>R1</ReceptionNumber><ReceptionDateTime>20260427100000</ReceptionDateTime>\
        </MessageBody></XmlMsg>";
    let Message::BulkUploadReceipt(r) =
        read_file("OQSmuimm01res_202604270001.xml", receipt.as_bytes())
            .unwrap()
            .message
    else {
        panic!("OQSmuimm01res is a receipt")
    };
    assert_eq!(r.message_body.reception_number.as_deref(), Some("R1"));
    assert_eq!(r.message_header.error_code, None);
    let down = "<XmlMsg><MessageHeader><MedicalInstitutionCode>1311111111</MedicalInstitutionCode>\
        </MessageHeader><MessageBody><ReceptionNumber>R1</ReceptionNumber></MessageBody></XmlMsg>";
    let d = read_file("OQSmuimm02req_202604270002.xml", down.as_bytes()).unwrap();
    assert!(matches!(d.message, Message::BulkDownloadRequest(_)));
    assert_eq!(d.message.validate(), vec![]);
    let result = "<XmlMsg><MessageHeader><MedicalInstitutionCode>1311111111</MedicalInstitutionCode>\
        <ReceptionNumber>R1</ReceptionNumber><SegmentOfResult>1</SegmentOfResult></MessageHeader>\
        <MessageBody><BulkRegistrationUnit><ReferenceNumberRegistrationInfo>\
        <ReferenceNumber>P0001</ReferenceNumber><InsurerNumber>  138057</InsurerNumber>\
        <InsuredIdentificationNumber>4260</InsuredIdentificationNumber></ReferenceNumberRegistrationInfo>\
        <ProcessingResultStatus>1</ProcessingResultStatus></BulkRegistrationUnit></MessageBody></XmlMsg>";
    let Message::RefNumberBulkResult(r) =
        read_file("OQSmuimm02res_202604270002.xml", result.as_bytes())
            .unwrap()
            .message
    else {
        panic!("OQSmuimm02res holds BulkRegistrationUnit")
    };
    assert_eq!(r.message_body.bulk_registration_unit.len(), 1);
    assert_eq!(
        r.message_body.bulk_registration_unit[0].processing_result_status,
        Some(ProcessingResultStatus::Normal)
    );
}

/// A bulk unit carries its 照会番号 both ways the clients read them: one `BulkConfirmUnit/ReferenceNumber` per
/// qualification, in order, with an empty element for a qualification without one (D pairs them by
/// position), and each inside its own `ResultOfQualificationConfirmation` (R, and single results).
#[test]
fn a_bulk_unit_lists_one_reference_number_per_qualification() {
    let record = |n: Option<&str>| ResultOfQualificationConfirmation {
        name: Some(Pii::from("山田　太郎")),
        reference_number: n.map(Pii::from),
        ..Default::default()
    };
    let mut unit = BulkConfirmUnit {
        processing_result_status: Some(ProcessingResultStatus::Normal),
        result_of_qualification_confirmation: vec![
            record(Some("P001")),
            record(None),
            record(Some("P003")),
        ],
        ..Default::default()
    };
    unit.list_reference_numbers();
    let mut result = BulkResult {
        message_header: ResultHeader {
            segment_of_result: Some(SegmentOfResult::Normal),
            reception_number: Some("1".into()),
            ..Default::default()
        },
        message_body: BulkResultBody {
            bulk_confirm_unit: vec![unit],
        },
    };
    result.recount();
    let message = Message::BulkResult(result);
    let bytes = write_message(&message, Encoding::Utf8).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    // The unit's own list follows the records (field order), the empty element keeping the position.
    let tail: String = text[text.rfind("</ResultOfQualificationConfirmation>").unwrap()..]
        .split_whitespace()
        .collect();
    assert!(
        tail.contains("<ReferenceNumber>P001</ReferenceNumber><ReferenceNumber/><ReferenceNumber>P003</ReferenceNumber>"),
        "{text}"
    );
    assert_eq!(text.matches("<ReferenceNumber>P001<").count(), 2, "{text}");
    let read = read_file("OQSmuquc02res_1.xml", &bytes).unwrap().message;
    assert!(
        !read.validate().iter().any(|i| i.code == "OQS-E1209"),
        "{text}"
    );
    let Message::BulkResult(read) = read else {
        panic!()
    };
    let unit = &read.message_body.bulk_confirm_unit[0];
    assert_eq!(
        unit.reference_number,
        vec![Some(Pii::from("P001")), None, Some(Pii::from("P003"))]
    );
    let by_position: Vec<Option<&str>> = (0..3)
        .map(|i| unit.reference_number_of(i).map(Pii::expose))
        .collect();
    assert_eq!(by_position, [Some("P001"), None, Some("P003")]);
    // A unit whose list does not match its records is refused.
    let mut bad = read.clone();
    bad.message_body.bulk_confirm_unit[0].reference_number.pop();
    assert!(
        Message::BulkResult(bad)
            .validate()
            .iter()
            .any(|i| i.code == "OQS-E1209")
    );
}
