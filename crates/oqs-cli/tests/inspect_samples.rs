//! Runs the real `oqs` binary over every file in `tests/data/oqs/`: valid files must print JSON with the
//! expected field values, malformed ones must be rejected with exactly the expected message.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/oqs")
}

fn files_in(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(data_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "README.md")
        .collect()
}

fn inspect(dir: &str, name: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oqs"))
        .args(["file", "inspect"])
        .arg(data_dir().join(dir).join(name))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const SCR: &str = "/message/SingleCheckResult";
const REC: &str =
    "/message/SingleCheckResult/MessageBody/ResultList/ResultOfQualificationConfirmation/0";

/// (JSON pointer, expected string).
type Fields = Vec<(String, &'static str)>;

/// (file, encoding, fields). Shift_JIS twins carry the same values (𠮷 becomes 吉).
fn valid_expectations() -> Vec<(&'static str, &'static str, Fields)> {
    let p = |s: &str| s.to_owned();
    let single_req = |id| {
        vec![
            (p("/file/id"), id),
            (
                p("/message/SingleCheckRequest/MessageHeader/MedicalInstitutionCode"),
                "1311234567",
            ),
            (
                p(
                    "/message/SingleCheckRequest/MessageBody/QualificationConfirmSearchInfo/InsurerNumber",
                ),
                "06139992",
            ),
            (
                p(
                    "/message/SingleCheckRequest/MessageBody/QualificationConfirmSearchInfo/Birthdate",
                ),
                "20010327",
            ),
        ]
    };
    let single_res = |name| {
        vec![
            (format!("{SCR}/MessageHeader/SegmentOfResult"), "1"),
            (format!("{SCR}/MessageBody/QualificationValidity"), "1"),
            (format!("{REC}/Name"), name),
            (format!("{REC}/NameKana"), "ﾖｼﾀﾞ ﾀﾛｳ"),
            (
                format!("{REC}/InsurerName"),
                "関東ＩＴソフトウェア健康保険組合",
            ),
            (
                format!(
                    "{REC}/LimitApplicationCertificateRelatedInfo/LimitApplicationCertificateClassificationFlag"
                ),
                "A03",
            ),
            (
                format!("{REC}/PharmacistsInfoAvailableTime"),
                "20240402092958",
            ),
        ]
    };
    let bulk_up = vec![
        (
            p(
                "/message/BulkUploadRequest/MessageBody/QualificationConfirmSearchInfo/1/InsurerNumber",
            ),
            "39130018",
        ),
        (
            p(
                "/message/BulkUploadRequest/MessageBody/QualificationConfirmSearchInfo/1/ArbitraryIdentifier",
            ),
            "R0002",
        ),
    ];
    let receipt = vec![
        (
            p("/message/BulkUploadReceipt/MessageBody/ReceptionNumber"),
            "2024040100000123",
        ),
        (
            p("/message/BulkUploadReceipt/MessageBody/ReceptionDateTime"),
            "20240401180005",
        ),
    ];
    let download = vec![(
        p("/message/BulkDownloadRequest/MessageBody/ReceptionNumber"),
        "2024040100000123",
    )];
    let bulk_res = vec![
        (p("/message/BulkResult/MessageHeader/NumberOfError"), "1"),
        (
            p(
                "/message/BulkResult/MessageBody/BulkConfirmUnit/0/ResultOfQualificationConfirmation/0/Name",
            ),
            "髙橋　健一",
        ),
        (
            p("/message/BulkResult/MessageBody/BulkConfirmUnit/1/QualificationValidity"),
            "4",
        ),
        (
            p("/message/BulkResult/MessageBody/BulkConfirmUnit/1/ProcessingResultMessage"),
            "該当する資格情報が存在しません。",
        ),
    ];
    let refno_req = vec![(
        p(
            "/message/RefNumberRequest/MessageBody/ReferenceNumberRegistrationInfo/0/ReferenceNumber",
        ),
        "P000123",
    )];
    let refno_res = vec![(
        p(
            "/message/RefNumberResult/MessageBody/ReferenceNumberRegistrationResult/0/ProcessingResultStatus",
        ),
        "1",
    )];
    let refno_bulk_req = vec![(
        p("/message/RefNumberRequest/MessageBody/ReferenceNumberRegistrationInfo/1/InsurerNumber"),
        "  138057",
    )];
    // R's two steps: the upload is answered by a receipt, the outcome comes with OQSmuimm02.
    let refno_bulk_res = vec![(
        p("/message/BulkUploadReceipt/MessageBody/ProcessingResultStatus"),
        "1",
    )];
    let refno_download = vec![(
        p("/message/BulkDownloadRequest/MessageBody/ReceptionNumber"),
        "2024040100000124",
    )];
    let refno_download_res = vec![(
        p("/message/RefNumberBulkResult/MessageBody/BulkRegistrationUnit/1/ProcessingResultCode"),
        "2101",
    )];
    let yzk_req = vec![
        (
            p("/message/MedicationRequest/MessageHeader/InsuredPersonIdentificationNumber"),
            "4260",
        ),
        (
            p("/message/MedicationRequest/MessageBody/FileCategory"),
            "4",
        ),
        (
            p("/message/MedicationRequest/MessageBody/StartDate"),
            "202310",
        ),
    ];
    let yzk_res = vec![
        (
            p("/message/MedicationResult/MessageHeader/QuaInf/Name"),
            "髙橋　健一",
        ),
        (
            p(
                "/message/MedicationResult/MessageBody/CzDiInf/CzDiMonthInf/0/CzDiDateInfs/CzDiDateInf/0/CzDrugInfs/CzDrugInf/0/CzDrugN",
            ),
            "カロナール錠２００　２００ｍｇ",
        ),
        (
            p(
                "/message/MedicationResult/MessageBody/MeTrMonthInf/0/DiDateInfs/DiDateInf/1/MeTrInfs/MeTrInf/0/SinInfN",
            ),
            "再診料",
        ),
        (
            p("/message/MedicationResult/MessageBody/DialysisInf/DialysisMonthInf/0/Times"),
            "13",
        ),
    ];
    let tkk_req = vec![(p("/message/CheckupRequest/MessageBody/FileCategory"), "2")];
    let tkk_res = vec![
        (
            p("/message/CheckupResult/MessageHeader/QualificationsInfo/KanasName"),
            "ﾀｶﾊｼ ｹﾝｲﾁ",
        ),
        (
            p(
                "/message/CheckupResult/MessageBody/SpecificHealthCheckupInfo/0/HealthCheckupResultAndQuestionInfos/HealthCheckupResultAndQuestionInfo/2/DataValueName",
            ),
            "いいえ",
        ),
    ];
    let face = vec![
        (
            p("/file/id"),
            "face_131123456720240401101512345001_20240401101512",
        ),
        (format!("{SCR}/MessageHeader/ReferenceClassification"), "1"),
        (format!("{SCR}/MessageBody/PrescriptionIssueSelect"), "2"),
        (format!("{REC}/InsurerNumber"), "  138057"),
        (format!("{REC}/Name"), "渡邉　花子"),
        (format!("{REC}/ReferenceNumber"), "K-004711"),
        (
            format!(
                "{REC}/SpecificDiseasesCertificateList/SpecificDiseasesCertificateInfo/0/SpecificDiseasesSelfPay"
            ),
            "10000",
        ),
    ];
    let mut v = vec![
        (
            "OQSsiquc01req_20240401093000123.xml",
            "UTF-8",
            single_req("20240401093000123"),
        ),
        (
            "OQSsiquc01req_20240401093000128.xml",
            "Shift_JIS",
            single_req("20240401093000128"),
        ),
        (
            "OQSsiquc01res_20240401093000123.xml",
            "UTF-8",
            single_res("𠮷田　太郎"),
        ),
        (
            "OQSsiquc01res_20240401093000128.xml",
            "Shift_JIS",
            single_res("吉田　太郎"),
        ),
        (
            "OQSsiquc01res_face_131123456720240401101512345001_20240401101512.xml",
            "UTF-8",
            face,
        ),
    ];
    // The bulk queries by period as OQSDrug writes them: requests in Shift_JIS, results in UTF-8.
    for (n, prefix, leaf, value) in [
        (1, "OQSmutic", "MedicalTreatmentMonth", "202604"),
        (2, "OQSmuhvq", "ConsentDateTo", "20260427"),
        (3, "OQSmuonq", "ExaminationDateFrom", "20260401"),
    ] {
        let reception: &'static str = Box::leak(format!("2026042709000500{n}0").into_boxed_str());
        let name = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        v.push((
            name(format!("{prefix}01req_20260427000{n}.xml")),
            "Shift_JIS",
            vec![(
                p(&format!(
                    "/message/BulkQueryRequest/MessageBody/QualificationConfirmSearchInfo/{leaf}"
                )),
                value,
            )],
        ));
        v.push((
            name(format!("{prefix}01res_20260427000{n}.xml")),
            "UTF-8",
            vec![(
                p("/message/BulkUploadReceipt/MessageBody/ReceptionNumber"),
                reception,
            )],
        ));
        v.push((
            name(format!("{prefix}02req_20260427001{n}.xml")),
            "Shift_JIS",
            vec![(
                p("/message/BulkDownloadRequest/MessageBody/ReceptionNumber"),
                reception,
            )],
        ));
        v.push((
            name(format!("{prefix}02res_20260427001{n}.xml")),
            "UTF-8",
            vec![
                (
                    p("/message/BulkResult/MessageBody/BulkConfirmUnit/0/ReferenceNumber/0"),
                    "P000123",
                ),
                (
                    p("/message/BulkResult/MessageHeader/ReceptionNumber"),
                    reception,
                ),
            ],
        ));
    }
    for (stem, pairs) in [
        ("OQSmuquc01req_20240401000", bulk_up),
        ("OQSmuquc01res_20240401000", receipt),
        ("OQSmuquc02req_20240401000", download),
        ("OQSmuquc02res_20240401000", bulk_res),
        ("OQSsiimm01req_2024040112000000", refno_req),
        ("OQSsiimm01res_2024040112000000", refno_res),
        ("OQSmuimm01req_20240401000", refno_bulk_req),
        ("OQSmuimm01res_20240401000", refno_bulk_res),
        ("OQSmuimm02req_20240401000", refno_download),
        ("OQSmuimm02res_20240401000", refno_download_res),
        ("YZKsiquc01req_042404011030P00012", yzk_req),
        ("YZKsiquc01res_042404011030P00012", yzk_res),
        ("TKKsiquc01req_022404011031P00012", tkk_req),
        ("TKKsiquc01res_022404011031P00012", tkk_res),
    ] {
        let names: Vec<String> = files_in("valid")
            .into_iter()
            .filter(|n| n.starts_with(stem))
            .collect();
        assert_eq!(
            names.len(),
            2,
            "{stem}: expected a UTF-8 and a Shift_JIS sample, found {names:?}"
        );
        for name in names {
            let name: &'static str = Box::leak(name.into_boxed_str());
            let enc = if name.contains(&format!("{stem}3"))
                || name.contains(&format!("{stem}1"))
                || name.contains(&format!("{stem}2"))
            {
                "UTF-8"
            } else {
                "Shift_JIS"
            };
            v.push((name, enc, pairs.clone()));
        }
    }
    v
}

#[test]
fn every_valid_sample_prints_the_expected_fields() {
    let expectations = valid_expectations();
    let covered: BTreeSet<String> = expectations
        .iter()
        .map(|(n, _, _)| (*n).to_owned())
        .collect();
    assert_eq!(
        covered,
        files_in("valid"),
        "every valid sample needs expectations"
    );
    for (name, encoding, pairs) in expectations {
        let (code, stdout, stderr) = inspect("valid", name);
        assert_eq!(code, 0, "{name}: {stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["encoding"], encoding, "{name}");
        for (pointer, value) in pairs {
            assert_eq!(
                json.pointer(&pointer).and_then(|v| v.as_str()),
                Some(value),
                "{name} {pointer}"
            );
        }
    }
}

const INSURER: &str = "/XmlMsg/MessageBody/QualificationConfirmSearchInfo/InsurerNumber";

fn malformed_expectations() -> Vec<(&'static str, String)> {
    vec![
        (
            "OQSsiquc01req_truncated0001.xml",
            "OQS-E1105 ファイルが途中で終わっています(<QualificationConfirmSearchInfo> が閉じていません) / the file ends before </QualificationConfirmSearchInfo> is closed: it looks truncated".into(),
        ),
        (
            "OQSsiquc01req_wrongroot0002.xml",
            "OQS-E1106 ルート要素が XmlMsg ではありません / the root element is <XmlMessage>, expected <XmlMsg>".into(),
        ),
        (
            "OQSsiquc01req_baddate0003.xml",
            "/XmlMsg/MessageHeader/QualificationConfirmationDate: OQS-E1204 日付は実在する yyyyMMdd 形式で記載してください / must be an existing date/time in the form yyyyMMdd (digits only, no separators)\n\
             /XmlMsg/MessageBody/QualificationConfirmSearchInfo/Birthdate: OQS-E1204 日付は実在する yyyyMMdd 形式で記載してください / must be an existing date/time in the form yyyyMMdd (digits only, no separators)".into(),
        ),
        (
            "OQSsiquc01req_badinsurer0004.xml",
            format!("{INSURER}: OQS-E1202 保険者番号は半角数字8桁、または6桁の前に半角空白2つを付けた8文字で記載してください / insurer number `138057` must be 8 digits, or 6 digits left-padded with two spaces to 8 characters; write this 6-digit 国保 number as `  138057`"),
        ),
        (
            "OQSsiquc01req_badcheckdigit0005.xml",
            format!("{INSURER}: OQS-E1203 保険者番号の検証番号が正しくありません(正しくは 2) / insurer number `06139993` fails the check digit (検証番号): last digit is 3, expected 2"),
        ),
        (
            "OQSsiquc01res_unknowncode0006.xml",
            "/XmlMsg/MessageBody/QualificationValidity: OQS-E1207 コード「7」は OQSCD006 資格有効性 にありません / code `7` is not in table OQSCD006 資格有効性 (expected one of 1, 2, 3, 4, 5, 6)\n\
             /XmlMsg/MessageBody/ResultList/ResultOfQualificationConfirmation[1]/Sex1: OQS-E1207 コード「9」は OQSCD007 性別 にありません / code `9` is not in table OQSCD007 性別 (expected one of 1, 2, 3)".into(),
        ),
        (
            "OQSsiquc01req_wrongencoding0007.xml",
            "OQS-E1102 宣言された文字コード UTF-8 で読めません(バイト位置 741) / the file declares UTF-8 but byte offset 741 is not valid UTF-8 (the bytes look like Shift_JIS: fix the XML declaration)".into(),
        ),
        (
            "OQSsiquc01res_ccimismatch0008.xml",
            "OQS-E1103 CharacterCodeIdentifier(0) がファイルの文字コード Shift_JIS と一致しません / /XmlMsg/MessageHeader/CharacterCodeIdentifier is `0` (UTF-8) but the file is encoded in Shift_JIS".into(),
        ),
        (
            "OQSsiquc01req_missing0009.xml",
            "/XmlMsg/MessageHeader/MedicalInstitutionCode: OQS-E1201 必須要素がありません / required element is missing\n\
             /XmlMsg/MessageBody/QualificationConfirmSearchInfo/Birthdate: OQS-E1201 必須要素がありません / required element is missing".into(),
        ),
        (
            "OQSsiquc01request_badname0010.xml",
            "OQS-E1001 ファイル名が規則 <接頭辞3><機能5><連番2>{req|res}_<任意>.<拡張子> に合いません / file name `OQSsiquc01request_badname0010.xml` does not match <prefix><function><seq>{req|res}_<id>.<ext> (e.g. OQSsiquc01req_0001.xml): an underscore `_` must follow req/res".into(),
        ),
        (
            "OQSmuxyz01req_unsupported0011.xml",
            "OQS-E1002 この端末では扱わないファイル種別です / file kind `OQSmuxyz01` in `OQSmuxyz01req_unsupported0011.xml` is not supported (supported: OQSsiquc01, OQSmuquc01, OQSmuquc02, OQSsiimm01, OQSmuimm01, OQSmuimm02, OQSmutic01, OQSmutic02, OQSmuhvq01, OQSmuhvq02, OQSmuonq01, OQSmuonq02, YZKsiquc01, TKKsiquc01)".into(),
        ),
        (
            "OQSmuquc02res_badcount0012.xml",
            "/XmlMsg/MessageHeader/NumberOfNormalProcessing: OQS-E1208 件数 2 が BulkConfirmUnit の実数 1 と一致しません / count `2` does not match the 1 BulkConfirmUnit element(s) it counts".into(),
        ),
        (
            "YZKsiquc01req_badmonth0013.xml",
            "/XmlMsg/MessageHeader/BranchNumber: OQS-E1205 枝番は半角数字2桁で記載してください(例: 01) / branch number (枝番) must be exactly 2 digits, e.g. 01\n\
             /XmlMsg/MessageBody/StartDate: OQS-E1204 日付は実在する yyyyMM 形式で記載してください / must be an existing date/time in the form yyyyMM (digits only, no separators)".into(),
        ),
        ("OQSsiquc01req_empty0014.xml", "OQS-E1100 ファイルが空です / the file is empty (0 bytes)".into()),
    ]
}

#[test]
fn every_malformed_sample_is_rejected_with_its_specific_message() {
    let expectations = malformed_expectations();
    let covered: BTreeSet<String> = expectations.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(
        covered,
        files_in("malformed"),
        "every malformed sample needs an expected message"
    );
    for (name, message) in expectations {
        let (code, stdout, stderr) = inspect("malformed", name);
        assert_eq!(code, 1, "{name}");
        assert_eq!(stdout, "", "{name}");
        assert_eq!(stderr.trim_end(), message, "{name}");
    }
}

#[test]
fn unreadable_file_exits_2() {
    let (code, _, stderr) = inspect("valid", "OQSsiquc01req_doesnotexist.xml");
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
}
