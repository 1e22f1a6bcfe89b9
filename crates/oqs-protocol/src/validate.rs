//! [`Message::validate`]: every problem of a message, each naming the element and the rule.
//!
//! Messages are bilingual and never quote patient identifiers (names, 記号・番号, birth dates), so they can be
//! logged and written into `.err` files; they do quote codes, insurer numbers and institution codes, which
//! identify organisations, not people.

use serde::Serialize;

use crate::codes::*;
use crate::medical::*;
use crate::message::Message;
use crate::pii::Pii;
use crate::qualification::*;

/// One problem found by [`Message::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationIssue {
    /// Project error code (`OQS-E12xx`, docs/file-interface.md).
    pub code: &'static str,
    /// Element path, e.g. `/XmlMsg/MessageBody/QualificationConfirmSearchInfo/InsurerNumber`.
    pub element: String,
    /// The rule, in Japanese.
    pub message_ja: String,
    /// The rule, in English.
    pub message_en: String,
}

impl std::fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} {} / {}",
            self.element, self.code, self.message_ja, self.message_en
        )
    }
}

impl From<&crate::error::ProtocolError> for ValidationIssue {
    /// A whole-file problem as an issue with an empty element, for `.err` files.
    fn from(error: &crate::error::ProtocolError) -> Self {
        let text = error.to_string();
        let rest = text
            .strip_prefix(error.code())
            .unwrap_or(&text)
            .trim_start();
        let (ja, en) = rest.split_once(" / ").unwrap_or((rest, rest));
        Self {
            code: error.code(),
            element: String::new(),
            message_ja: ja.to_owned(),
            message_en: en.to_owned(),
        }
    }
}

/// The contents of a `.err` file (docs/file-interface.md G3): UTF-8, one `key: value` block per issue.
pub fn render_err_file(issues: &[ValidationIssue]) -> String {
    issues
        .iter()
        .map(|i| {
            format!(
                "code: {}\nelement: {}\nmessage_ja: {}\nmessage_en: {}\n",
                i.code, i.element, i.message_ja, i.message_en
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Implemented by every code enum so validation can report unknown codes generically.
pub trait CodeTable {
    /// Table name, e.g. `OQSCD006 資格有効性`.
    fn table(&self) -> &'static str;
    /// The code as written.
    fn code_str(&self) -> &str;
    /// Whether the code is in the table.
    fn known(&self) -> bool;
    /// The codes of the table.
    fn expected() -> &'static [&'static str];
}

/// Date-like formats used by the interface.
#[derive(Clone, Copy)]
enum DateFormat {
    /// yyyyMMdd
    Date,
    /// yyyyMM
    Month,
    /// yyyyMMddHHmmss
    DateTime,
}

impl DateFormat {
    fn pattern(self) -> &'static str {
        match self {
            Self::Date => "yyyyMMdd",
            Self::Month => "yyyyMM",
            Self::DateTime => "yyyyMMddHHmmss",
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn valid_date(value: &str, format: DateFormat) -> bool {
    let len = match format {
        DateFormat::Date => 8,
        DateFormat::Month => 6,
        DateFormat::DateTime => 14,
    };
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let num = |range: std::ops::Range<usize>| value[range].parse::<u32>().unwrap_or(u32::MAX);
    let (year, month) = (num(0..4), num(4..6));
    if !(1868..=2999).contains(&year) || !(1..=12).contains(&month) {
        return false;
    }
    if matches!(format, DateFormat::Month) {
        return true;
    }
    let day = num(6..8);
    if day == 0 || day > days_in_month(year, month) {
        return false;
    }
    if matches!(format, DateFormat::DateTime) {
        return num(8..10) <= 23 && num(10..12) <= 59 && num(12..14) <= 59;
    }
    true
}

/// The 保険者番号 check digit (検証番号) for the digits before it.
///
/// Rule (厚生労働省「保険者番号等の設定について」as quoted by http://www5f.biglobe.ne.jp/~h-it/mlcont/mc0124.htm
/// and https://iryoujimu-blog.com/2018/05/15/ , worked example 33120015 → 5): multiply the digits by 2 and 1
/// alternately starting from the *last* digit (so 2,1,2,1,2,1,2 from the left for the 7 digits of an 8-digit
/// number, 2,1,2,1,2 for the 5 digits of a 6-digit 国保 number), add the digits of each product
/// (14 → 1+4), and take (10 − sum mod 10) mod 10.
pub fn insurer_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let product = u32::from(*d) * if i % 2 == 0 { 2 } else { 1 };
            product / 10 + product % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Collects issues while walking a message; `path` is the current element path.
struct Validator {
    path: Vec<String>,
    issues: Vec<ValidationIssue>,
}

impl Validator {
    fn element(&self, leaf: &str) -> String {
        let mut p = String::from("/XmlMsg");
        for segment in &self.path {
            p.push('/');
            p.push_str(segment);
        }
        if !leaf.is_empty() {
            p.push('/');
            p.push_str(leaf);
        }
        p
    }

    fn issue(&mut self, leaf: &str, code: &'static str, ja: String, en: String) {
        let element = self.element(leaf);
        self.issues.push(ValidationIssue {
            code,
            element,
            message_ja: ja,
            message_en: en,
        });
    }

    fn nested(&mut self, segment: impl Into<String>, f: impl FnOnce(&mut Self)) {
        self.path.push(segment.into());
        f(self);
        self.path.pop();
    }

    /// Visits each item of a repeated element as `Name[i]` (1-based, as in XPath).
    fn each<T>(&mut self, name: &str, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        for (i, item) in items.iter().enumerate() {
            self.nested(format!("{name}[{}]", i + 1), |v| f(v, item));
        }
    }

    fn missing(&mut self, leaf: &str) {
        self.issue(
            leaf,
            "OQS-E1201",
            "必須要素がありません".to_owned(),
            "required element is missing".to_owned(),
        );
    }

    fn require(&mut self, leaf: &str, present: bool) -> bool {
        if !present {
            self.missing(leaf);
        }
        present
    }

    fn require_text(&mut self, leaf: &str, value: Option<&str>) -> bool {
        self.require(leaf, value.is_some_and(|s| !s.trim().is_empty()))
    }

    fn code<C: CodeTable>(&mut self, leaf: &str, value: Option<&C>) {
        if let Some(c) = value {
            if !c.known() {
                self.issue(
                    leaf,
                    "OQS-E1207",
                    format!("コード「{}」は {} にありません", c.code_str(), c.table()),
                    format!(
                        "code `{}` is not in table {} (expected one of {})",
                        c.code_str(),
                        c.table(),
                        C::expected().join(", ")
                    ),
                );
            }
        }
    }

    fn required_code<C: CodeTable>(&mut self, leaf: &str, value: Option<&C>) {
        if self.require(leaf, value.is_some()) {
            self.code(leaf, value);
        }
    }

    fn date(&mut self, leaf: &str, value: Option<&str>, format: DateFormat) {
        if let Some(value) = value {
            if !valid_date(value, format) {
                let pattern = format.pattern();
                self.issue(
                    leaf,
                    "OQS-E1204",
                    format!("日付は実在する {pattern} 形式で記載してください"),
                    format!("must be an existing date/time in the form {pattern} (digits only, no separators)"),
                );
            }
        }
    }

    fn required_date(&mut self, leaf: &str, value: Option<&str>, format: DateFormat) {
        if self.require_text(leaf, value) {
            self.date(leaf, value, format);
        }
    }

    fn insurer_number(&mut self, leaf: &str, value: Option<&str>) {
        let Some(value) = value else { return };
        let digits: Option<Vec<u8>> =
            if value.len() == 8 && value.bytes().all(|b| b.is_ascii_digit()) {
                Some(value.bytes().map(|b| b - b'0').collect())
            } else if value.len() == 8
                && value.starts_with("  ")
                && value.bytes().skip(2).all(|b| b.is_ascii_digit())
            {
                Some(value.bytes().skip(2).map(|b| b - b'0').collect())
            } else {
                None
            };
        let Some(digits) = digits else {
            let hint = if value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()) {
                format!("; write this 6-digit 国保 number as `  {value}`")
            } else {
                String::new()
            };
            self.issue(
                leaf,
                "OQS-E1202",
                "保険者番号は半角数字8桁、または6桁の前に半角空白2つを付けた8文字で記載してください".to_owned(),
                format!(
                    "insurer number `{value}` must be 8 digits, or 6 digits left-padded with two spaces to 8 characters{hint}"
                ),
            );
            return;
        };
        let (body, check) = digits.split_at(digits.len() - 1);
        let expected = insurer_check_digit(body);
        if check[0] != expected {
            self.issue(
                leaf,
                "OQS-E1203",
                format!("保険者番号の検証番号が正しくありません(正しくは {expected})"),
                format!(
                    "insurer number `{value}` fails the check digit (検証番号): last digit is {}, expected {expected}",
                    check[0]
                ),
            );
        }
    }

    fn required_insurer_number(&mut self, leaf: &str, value: Option<&str>) {
        if self.require_text(leaf, value) {
            self.insurer_number(leaf, value);
        }
    }

    fn branch_number(&mut self, leaf: &str, value: Option<&str>) {
        if let Some(value) = value {
            if !(value.len() == 2 && value.bytes().all(|b| b.is_ascii_digit())) {
                self.issue(
                    leaf,
                    "OQS-E1205",
                    "枝番は半角数字2桁で記載してください(例: 01)".to_owned(),
                    "branch number (枝番) must be exactly 2 digits, e.g. 01".to_owned(),
                );
            }
        }
    }

    fn institution_code(&mut self, leaf: &str, value: Option<&str>) {
        if !self.require_text(leaf, value) {
            return;
        }
        if let Some(value) = value {
            if !(value.len() == 10 && value.bytes().all(|b| b.is_ascii_digit())) {
                self.issue(
                    leaf,
                    "OQS-E1206",
                    "医療機関コードは半角数字10桁で記載してください".to_owned(),
                    format!("medical institution code `{value}` must be exactly 10 digits"),
                );
            }
        }
    }

    fn rule(&mut self, leaf: &str, ja: &str, en: String) {
        self.issue(leaf, "OQS-E1209", ja.to_owned(), en);
    }
}

fn pii(value: &Option<Pii>) -> Option<&str> {
    value.as_ref().map(Pii::expose)
}

fn request_header(v: &mut Validator, h: &RequestHeader, needs_date: bool) {
    v.nested("MessageHeader", |v| {
        if needs_date {
            v.required_date(
                "QualificationConfirmationDate",
                h.qualification_confirmation_date.as_deref(),
                DateFormat::Date,
            );
        } else {
            v.date(
                "QualificationConfirmationDate",
                h.qualification_confirmation_date.as_deref(),
                DateFormat::Date,
            );
        }
        v.institution_code(
            "MedicalInstitutionCode",
            h.medical_institution_code.as_deref(),
        );
    });
}

fn result_header(v: &mut Validator, h: &ResultHeader) {
    v.nested("MessageHeader", |v| {
        v.required_date(
            "ProcessExecutionTime",
            h.process_execution_time.as_deref(),
            DateFormat::DateTime,
        );
        v.date(
            "QualificationConfirmationDate",
            h.qualification_confirmation_date.as_deref(),
            DateFormat::Date,
        );
        v.institution_code(
            "MedicalInstitutionCode",
            h.medical_institution_code.as_deref(),
        );
        v.code(
            "ReferenceClassification",
            h.reference_classification.as_ref(),
        );
        v.required_code("SegmentOfResult", h.segment_of_result.as_ref());
        v.required_code(
            "CharacterCodeIdentifier",
            h.character_code_identifier.as_ref(),
        );
        if h.segment_of_result == Some(SegmentOfResult::Abnormal) {
            v.require_text("ErrorCode", h.error_code.as_deref());
        }
    });
}

fn search_info(v: &mut Validator, s: &QualificationConfirmSearchInfo, strict: bool) {
    if strict {
        v.required_insurer_number("InsurerNumber", s.insurer_number.as_deref());
        v.require_text(
            "InsuredIdentificationNumber",
            pii(&s.insured_identification_number),
        );
        v.required_date("Birthdate", pii(&s.birthdate), DateFormat::Date);
        v.required_code(
            "LimitApplicationCertificateRelatedConsFlg",
            s.limit_application_certificate_related_cons_flg.as_ref(),
        );
    } else {
        v.insurer_number("InsurerNumber", s.insurer_number.as_deref());
        v.date("Birthdate", pii(&s.birthdate), DateFormat::Date);
        v.code(
            "LimitApplicationCertificateRelatedConsFlg",
            s.limit_application_certificate_related_cons_flg.as_ref(),
        );
    }
    v.branch_number("InsuredBranchNumber", pii(&s.insured_branch_number));
}

fn qualification(v: &mut Validator, r: &ResultOfQualificationConfirmation) {
    use DateFormat::{Date, DateTime};
    v.code(
        "InsuredCardClassification",
        r.insured_card_classification.as_ref(),
    );
    v.insurer_number("InsurerNumber", r.insurer_number.as_deref());
    v.branch_number("InsuredBranchNumber", pii(&r.insured_branch_number));
    v.code(
        "PersonalFamilyClassification",
        r.personal_family_classification.as_ref(),
    );
    v.code("Sex1", r.sex1.as_ref());
    v.code("Sex2", r.sex2.as_ref());
    v.date("Birthdate", pii(&r.birthdate), Date);
    for (leaf, value) in [
        ("QualificationDate", &r.qualification_date),
        ("DisqualificationDate", &r.disqualification_date),
        (
            "InsuredCertificateIssuanceDate",
            &r.insured_certificate_issuance_date,
        ),
        ("InsuredCardValidDate", &r.insured_card_valid_date),
        ("InsuredCardExpirationDate", &r.insured_card_expiration_date),
    ] {
        v.date(leaf, value.as_deref(), Date);
    }
    v.code(
        "PreschoolClassification",
        r.preschool_classification.as_ref(),
    );
    v.code("ReasonOfLoss", r.reason_of_loss.as_ref());
    v.insurer_number("PublicExpenseNumber", r.public_expense_number.as_deref());
    v.code(
        crate::qualification::DISCLOSURE_RESTRICTION_ELEMENT,
        r.disclosure_restriction.as_ref(),
    );
    if let Some(list) = &r.public_expense_result_list {
        v.nested("PublicExpenseResultList", |v| {
            v.each("MedicalTicketInfo", &list.medical_ticket_info, |v, t| {
                v.date(
                    "MedicalTicketValidDate",
                    t.medical_ticket_valid_date.as_deref(),
                    Date,
                );
                v.date(
                    "MedicalTicketExpirationDate",
                    t.medical_ticket_expiration_date.as_deref(),
                    Date,
                );
                v.date(
                    "MedicalTreatmentMonth",
                    t.medical_treatment_month.as_deref(),
                    DateFormat::Month,
                );
            });
        });
    }
    v.code("MedicalSubsidyConsFlg", r.medical_subsidy_cons_flg.as_ref());
    if let Some(list) = &r.medical_subsidy_certificate_list {
        v.nested("MedicalSubsidyCertificateList", |v| {
            v.each(
                "MedicalSubsidyCertificateInfo",
                &list.medical_subsidy_certificate_info,
                |v, c| {
                    v.insurer_number(
                        "SubsidyPublicExpenseNumber",
                        c.subsidy_public_expense_number.as_deref(),
                    );
                    v.date(
                        "SubsidyValidStartDate",
                        c.subsidy_valid_start_date.as_deref(),
                        Date,
                    );
                    v.date(
                        "SubsidyValidEndDate",
                        c.subsidy_valid_end_date.as_deref(),
                        Date,
                    );
                },
            );
        });
    }
    if let Some(e) = &r.elderly_recipient_certificate_info {
        v.nested("ElderlyRecipientCertificateInfo", |v| {
            v.date(
                "ElderlyRecipientCertificateDate",
                e.elderly_recipient_certificate_date.as_deref(),
                Date,
            );
            v.date(
                "ElderlyRecipientValidStartDate",
                e.elderly_recipient_valid_start_date.as_deref(),
                Date,
            );
            v.date(
                "ElderlyRecipientValidEndDate",
                e.elderly_recipient_valid_end_date.as_deref(),
                Date,
            );
        });
    }
    v.code(
        "LimitApplicationCertificateRelatedConsFlg",
        r.limit_application_certificate_related_cons_flg.as_ref(),
    );
    v.date(
        "LimitApplicationCertificateRelatedConsTime",
        r.limit_application_certificate_related_cons_time.as_deref(),
        DateTime,
    );
    if let Some(l) = &r.limit_application_certificate_related_info {
        v.nested("LimitApplicationCertificateRelatedInfo", |v| {
            v.code(
                "LimitApplicationCertificateClassification",
                l.limit_application_certificate_classification.as_ref(),
            );
            v.code(
                "LimitApplicationCertificateClassificationFlag",
                l.limit_application_certificate_classification_flag.as_ref(),
            );
            v.date(
                "LimitApplicationCertificateDate",
                l.limit_application_certificate_date.as_deref(),
                Date,
            );
            v.date(
                "LimitApplicationCertificateValidStartDate",
                l.limit_application_certificate_valid_start_date.as_deref(),
                Date,
            );
            v.date(
                "LimitApplicationCertificateValidEndDate",
                l.limit_application_certificate_valid_end_date.as_deref(),
                Date,
            );
            v.date(
                "LimitApplicationCertificateLongTermDate",
                l.limit_application_certificate_long_term_date.as_deref(),
                Date,
            );
        });
    }
    v.code(
        "LimitApplicationCertificateChanged",
        r.limit_application_certificate_changed.as_ref(),
    );
    v.code(
        "SpecificDiseasesCertificateRelatedConsFlg",
        r.specific_diseases_certificate_related_cons_flg.as_ref(),
    );
    v.date(
        "SpecificDiseasesCertificateRelatedConsTime",
        r.specific_diseases_certificate_related_cons_time.as_deref(),
        DateTime,
    );
    if let Some(list) = &r.specific_diseases_certificate_list {
        v.nested("SpecificDiseasesCertificateList", |v| {
            v.each(
                "SpecificDiseasesCertificateInfo",
                &list.specific_diseases_certificate_info,
                |v, s| {
                    v.code(
                        "SpecificDiseasesDiseaseCategory",
                        s.specific_diseases_disease_category.as_ref(),
                    );
                    v.date(
                        "SpecificDiseasesCertificateDate",
                        s.specific_diseases_certificate_date.as_deref(),
                        Date,
                    );
                    v.date(
                        "SpecificDiseasesValidStartDate",
                        s.specific_diseases_valid_start_date.as_deref(),
                        Date,
                    );
                    v.date(
                        "SpecificDiseasesValidEndDate",
                        s.specific_diseases_valid_end_date.as_deref(),
                        Date,
                    );
                },
            );
        });
    }
    for (prefix, flag, cons, available) in [
        (
            "SpecificHealthCheckupsInfo",
            &r.specific_health_checkups_info_cons_flg,
            &r.specific_health_checkups_info_cons_time,
            &r.specific_health_checkups_info_available_time,
        ),
        (
            "PharmacistsInfo",
            &r.pharmacists_info_cons_flg,
            &r.pharmacists_info_cons_time,
            &r.pharmacists_info_available_time,
        ),
        (
            "DiagnosisInfo",
            &r.diagnosis_info_cons_flg,
            &r.diagnosis_info_cons_time,
            &r.diagnosis_info_available_time,
        ),
        (
            "OperationInfo",
            &r.operation_info_cons_flg,
            &r.operation_info_cons_time,
            &r.operation_info_available_time,
        ),
    ] {
        v.code(&format!("{prefix}ConsFlg"), flag.as_ref());
        v.date(&format!("{prefix}ConsTime"), cons.as_deref(), DateTime);
        v.date(
            &format!("{prefix}AvailableTime"),
            available.as_deref(),
            DateTime,
        );
    }
    v.code(
        "PrescriptionIssueSelect",
        r.prescription_issue_select.as_ref(),
    );
}

fn result_list(v: &mut Validator, list: &[ResultOfQualificationConfirmation]) {
    v.each("ResultOfQualificationConfirmation", list, qualification);
}

fn per_person(
    v: &mut Validator,
    status: Option<&ProcessingResultStatus>,
    code: Option<&str>,
    validity: Option<&QualificationValidity>,
) {
    v.code("ProcessingResultStatus", status);
    v.code("QualificationValidity", validity);
    match status {
        Some(ProcessingResultStatus::Normal) => {
            v.require("QualificationValidity", validity.is_some());
        }
        Some(ProcessingResultStatus::Error) => {
            v.require_text("ProcessingResultCode", code);
        }
        _ => {}
    }
}

fn single_check_result(v: &mut Validator, m: &SingleCheckResult) {
    result_header(v, &m.message_header);
    let b = &m.message_body;
    v.nested("MessageBody", |v| {
        if m.message_header.segment_of_result == Some(SegmentOfResult::Normal) {
            v.require(
                "ProcessingResultStatus",
                b.processing_result_status.is_some(),
            );
        }
        per_person(
            v,
            b.processing_result_status.as_ref(),
            b.processing_result_code.as_deref(),
            b.qualification_validity.as_ref(),
        );
        v.code(
            "PrescriptionIssueSelect",
            b.prescription_issue_select.as_ref(),
        );
        if let Some(s) = &b.qualification_confirm_search_info {
            v.nested("QualificationConfirmSearchInfo", |v| {
                search_info(v, s, false)
            });
        }
        if let Some(list) = &b.result_list {
            v.nested("ResultList", |v| {
                result_list(v, &list.result_of_qualification_confirmation)
            });
        }
    });
}

fn bulk_result(v: &mut Validator, m: &BulkResult) {
    result_header(v, &m.message_header);
    let h = &m.message_header;
    let (total, normal, error) = m.counts();
    v.nested("MessageHeader", |v| {
        if h.segment_of_result == Some(SegmentOfResult::Normal) {
            v.require_text("ReceptionNumber", h.reception_number.as_deref());
        }
        for (leaf, value, actual) in [
            ("NumberOfProcessingResult", &h.number_of_processing_result, total),
            ("NumberOfNormalProcessing", &h.number_of_normal_processing, normal),
            ("NumberOfError", &h.number_of_error, error),
        ] {
            if let Some(value) = value {
                if value.trim().parse::<usize>().ok() != Some(actual) {
                    v.issue(
                        leaf,
                        "OQS-E1208",
                        format!("件数 {value} が BulkConfirmUnit の実数 {actual} と一致しません"),
                        format!("count `{value}` does not match the {actual} BulkConfirmUnit element(s) it counts"),
                    );
                }
            }
        }
    });
    v.nested("MessageBody", |v| {
        v.each(
            "BulkConfirmUnit",
            &m.message_body.bulk_confirm_unit,
            |v, u| {
                if let Some(s) = &u.qualification_confirm_search_info {
                    v.nested("QualificationConfirmSearchInfo", |v| {
                        search_info(v, s, false)
                    });
                }
                v.require(
                    "ProcessingResultStatus",
                    u.processing_result_status.is_some(),
                );
                per_person(
                    v,
                    u.processing_result_status.as_ref(),
                    u.processing_result_code.as_deref(),
                    u.qualification_validity.as_ref(),
                );
                result_list(v, &u.result_of_qualification_confirmation);
                let (numbers, records) = (
                    u.reference_number.len(),
                    u.result_of_qualification_confirmation.len(),
                );
                if numbers != 0 && numbers != records {
                    v.rule(
                        "ReferenceNumber",
                        "照会番号は資格確認結果ごとに1つずつ記載してください",
                        format!(
                            "{numbers} ReferenceNumber element(s) for {records} ResultOfQualificationConfirmation: one per qualification, in order"
                        ),
                    );
                }
            },
        );
    });
}

fn ref_number_info(v: &mut Validator, r: &ReferenceNumberRegistrationInfo, strict: bool) {
    if strict {
        v.required_insurer_number("InsurerNumber", r.insurer_number.as_deref());
        v.require_text(
            "InsuredIdentificationNumber",
            pii(&r.insured_identification_number),
        );
        // Optional: R's registrations carry none (the client reference, §7).
        v.date("Birthdate", pii(&r.birthdate), DateFormat::Date);
        if v.require_text("ReferenceNumber", pii(&r.reference_number)) {
            let len = pii(&r.reference_number).map_or(0, |s| s.chars().count());
            if len > 20 {
                v.rule(
                    "ReferenceNumber",
                    "照会番号は20文字以内で記載してください",
                    format!(
                        "reference number (照会番号) has {len} characters; at most 20 are allowed"
                    ),
                );
            }
        }
    } else {
        v.insurer_number("InsurerNumber", r.insurer_number.as_deref());
        v.date("Birthdate", pii(&r.birthdate), DateFormat::Date);
    }
    v.branch_number("InsuredBranchNumber", pii(&r.insured_branch_number));
}

fn medical_request(v: &mut Validator, m: &MedicalInfoRequest, medication: bool) {
    let h = &m.message_header;
    v.nested("MessageHeader", |v| {
        v.institution_code(
            "MedicalInstitutionCode",
            h.medical_institution_code.as_deref(),
        );
        v.required_insurer_number("InsurerNumber", h.insurer_number.as_deref());
        v.require_text(
            "InsuredPersonIdentificationNumber",
            pii(&h.insured_person_identification_number),
        );
        v.branch_number("BranchNumber", pii(&h.branch_number));
    });
    let b = &m.message_body;
    v.nested("MessageBody", |v| {
        if medication {
            v.required_date("StartDate", b.start_date.as_deref(), DateFormat::Month);
            v.required_date("EndDate", b.end_date.as_deref(), DateFormat::Month);
            if let (Some(s), Some(e)) = (&b.start_date, &b.end_date) {
                if valid_date(s, DateFormat::Month) && valid_date(e, DateFormat::Month) && s > e {
                    v.rule(
                        "EndDate",
                        "終了年月が開始年月より前です",
                        format!("EndDate {e} is before StartDate {s}"),
                    );
                }
            }
        }
        v.required_code("FileCategory", b.file_category.as_ref());
        if !medication {
            if let Some(c @ (FileCategory::DrugTreatmentPdf | FileCategory::DrugTreatmentXml)) =
                &b.file_category
            {
                v.rule(
                    "FileCategory",
                    "特定健診の FileCategory は 1(PDF) か 2(XML) です",
                    format!(
                        "FileCategory `{}` is for YZK only; a TKK request takes 1 (PDF) or 2 (XML)",
                        c.code()
                    ),
                );
            }
        }
        v.required_code("MedicalTreatmentFlag", b.medical_treatment_flag.as_ref());
        if b.medical_treatment_flag == Some(MedicalTreatmentFlag::Emergency) {
            // docs/file-interface.md G7: emergency viewing is a terminal screen, not a file request.
            v.rule(
                "MedicalTreatmentFlag",
                "救急時(4)の情報閲覧はファイル連携では受け付けません。端末の救急時閲覧画面を使ってください",
                "MedicalTreatmentFlag 4 (救急時) is not accepted over the file interface; use the terminal's emergency viewing screen".to_owned(),
            );
        }
    });
}

fn medical_result_header(
    v: &mut Validator,
    time: Option<&str>,
    institution: Option<&str>,
    result_code: Option<&MedicalInfoResultCode>,
    contents: Option<&str>,
    cci: Option<&CharacterCodeIdentifier>,
) {
    v.required_date("ProcessExecutionTime", time, DateFormat::DateTime);
    v.institution_code("MedicalInstitutionCode", institution);
    v.required_code("ResultCode", result_code);
    if result_code.is_some_and(|c| *c != MedicalInfoResultCode::Success) {
        v.require_text("MessageContents", contents);
    }
    v.required_code("CharacterCodeIdentifier", cci);
}

/// The months of one source, with the element names of its layout in the paths.
fn medication_months(v: &mut Validator, source: MedicationSource, months: &[MedicationMonth]) {
    let (month, month_leaf, dates, date, date_leaf, prescribed_leaf) = match source {
        MedicationSource::Treatment => (
            "MeTrMonthInf",
            "MeTrMonth",
            "DiDateInfs",
            "DiDateInf",
            "DiDate",
            "PrDate",
        ),
        MedicationSource::Prescription => (
            "ShPrMonthInf",
            "ShPrMonth",
            "ShPrDateInfs",
            "ShPrDateInf",
            "ShPrDate",
            "-",
        ),
        MedicationSource::Dispensing => (
            "CzDiMonthInf",
            "CzDiMonth",
            "CzDiDateInfs",
            "CzDiDateInf",
            "CzDiDate",
            "CzPrDate",
        ),
    };
    v.each(month, months, |v, m| {
        v.date(month_leaf, m.month.as_deref(), DateFormat::Month);
        v.nested(dates, |v| {
            v.each(date, &m.dates, |v, d| {
                v.date(date_leaf, d.date.as_deref(), DateFormat::Date);
                v.date(prescribed_leaf, d.prescribed.as_deref(), DateFormat::Date);
            });
        });
    });
}

fn medication_result(v: &mut Validator, m: &MedicationResult) {
    let h = &m.message_header;
    v.nested("MessageHeader", |v| {
        medical_result_header(
            v,
            h.process_execution_time.as_deref(),
            h.medical_institution_code.as_deref(),
            h.result_code.as_ref(),
            h.message_contents.as_deref(),
            h.character_code_identifier.as_ref(),
        );
        if let Some(q) = &h.qua_inf {
            v.nested("QuaInf", |v| {
                v.date("Birth", pii(&q.birth), DateFormat::Date);
                v.code("AdmGendCode", q.adm_gend_code.as_ref());
            });
        }
    });
    let b = &m.message_body;
    v.nested("MessageBody", |v| {
        let months = b.months();
        let of = |source: MedicationSource| -> Vec<MedicationMonth> {
            months
                .iter()
                .filter(|(s, _)| *s == source)
                .map(|(_, m)| m.clone())
                .collect()
        };
        medication_months(
            v,
            MedicationSource::Treatment,
            &of(MedicationSource::Treatment),
        );
        v.nested("ShPrInf", |v| {
            let source = MedicationSource::Prescription;
            medication_months(v, source, &of(source))
        });
        v.nested("CzDiInf", |v| {
            let source = MedicationSource::Dispensing;
            medication_months(v, source, &of(source))
        });
        if let Some(s) = &b.surgery_inf {
            v.nested("SurgeryInf", |v| {
                v.each("SurgeryMonthInf", &s.surgery_month_inf, |v, m| {
                    v.date("Month", m.month.as_deref(), DateFormat::Month);
                    v.date("SurgeryDate", m.surgery_date.as_deref(), DateFormat::Date);
                });
            });
        }
        if let Some(d) = &b.dialysis_inf {
            v.nested("DialysisInf", |v| {
                v.each("DialysisMonthInf", &d.dialysis_month_inf, |v, m| {
                    v.date("Month", m.month.as_deref(), DateFormat::Month);
                });
            });
        }
    });
}

fn checkup_result(v: &mut Validator, m: &CheckupResult) {
    let h = &m.message_header;
    v.nested("MessageHeader", |v| {
        medical_result_header(
            v,
            h.process_execution_time.as_deref(),
            h.medical_institution_code.as_deref(),
            h.result_code.as_ref(),
            h.message_contents.as_deref(),
            h.character_code_identifier.as_ref(),
        );
        if let Some(q) = &h.qualifications_info {
            v.nested("QualificationsInfo", |v| {
                v.date("Birthday", pii(&q.birthday), DateFormat::Date);
                v.code(
                    "AdministrativeGenderCode",
                    q.administrative_gender_code.as_ref(),
                );
            });
        }
    });
    v.nested("MessageBody", |v| {
        v.each(
            "SpecificHealthCheckupInfo",
            &m.message_body.specific_health_checkup_info,
            |v, c| {
                v.required_date(
                    "EffectiveTime",
                    c.effective_time.as_deref(),
                    DateFormat::Date,
                );
                if let Some(items) = &c.health_checkup_result_and_question_infos {
                    v.nested("HealthCheckupResultAndQuestionInfos", |v| {
                        v.each(
                            "HealthCheckupResultAndQuestionInfo",
                            &items.health_checkup_result_and_question_info,
                            |v, i| {
                                v.require_text("ItemCode", i.item_code.as_deref());
                            },
                        );
                    });
                }
            },
        );
    });
}

fn receipt_header(v: &mut Validator, h: &ResultHeader) {
    result_header(v, h);
}

impl Message {
    /// Every problem of the message: missing required elements, malformed numbers and dates, failed check
    /// digits, unknown codes and inconsistent counts. Empty means valid.
    pub fn validate(&self) -> Vec<ValidationIssue> {
        let mut v = Validator {
            path: Vec::new(),
            issues: Vec::new(),
        };
        match self {
            Message::SingleCheckRequest(m) => {
                request_header(&mut v, &m.message_header, true);
                v.nested("MessageBody", |v| {
                    match &m.message_body.qualification_confirm_search_info {
                        Some(s) => v.nested("QualificationConfirmSearchInfo", |v| {
                            search_info(v, s, true)
                        }),
                        None => v.missing("QualificationConfirmSearchInfo"),
                    }
                });
            }
            Message::SingleCheckResult(m) => single_check_result(&mut v, m),
            Message::BulkUploadRequest(m) => {
                request_header(&mut v, &m.message_header, false);
                v.nested("MessageBody", |v| {
                    let infos = &m.message_body.qualification_confirm_search_info;
                    if v.require("QualificationConfirmSearchInfo", !infos.is_empty()) {
                        v.each("QualificationConfirmSearchInfo", infos, |v, s| {
                            search_info(v, s, true)
                        });
                    }
                });
            }
            Message::BulkUploadReceipt(m) => {
                receipt_header(&mut v, &m.message_header);
                let b = &m.message_body;
                v.nested("MessageBody", |v| {
                    v.code(
                        "ProcessingResultStatus",
                        b.processing_result_status.as_ref(),
                    );
                    if m.message_header.segment_of_result == Some(SegmentOfResult::Normal) {
                        v.require_text("ReceptionNumber", b.reception_number.as_deref());
                        v.required_date(
                            "ReceptionDateTime",
                            b.reception_date_time.as_deref(),
                            DateFormat::DateTime,
                        );
                    }
                });
            }
            Message::BulkDownloadRequest(m) => {
                request_header(&mut v, &m.message_header, false);
                v.nested("MessageBody", |v| {
                    v.require_text(
                        "ReceptionNumber",
                        m.message_body.reception_number.as_deref(),
                    );
                });
            }
            Message::BulkResult(m) => bulk_result(&mut v, m),
            Message::BulkQueryRequest(m) => {
                request_header(&mut v, &m.message_header, false);
                v.nested("MessageBody", |v| {
                    let info = m.message_body.qualification_confirm_search_info.as_ref();
                    if v.require("QualificationConfirmSearchInfo", info.is_some()) {
                        let Some(q) = info else { return };
                        v.nested("QualificationConfirmSearchInfo", |v| {
                            v.date(
                                "MedicalTreatmentMonth",
                                q.medical_treatment_month.as_deref(),
                                DateFormat::Month,
                            );
                            for (leaf, value) in [
                                ("ConsentDateFrom", &q.consent_date_from),
                                ("ConsentDateTo", &q.consent_date_to),
                                ("ExaminationDateFrom", &q.examination_date_from),
                                ("ExaminationDateTo", &q.examination_date_to),
                            ] {
                                v.date(leaf, value.as_deref(), DateFormat::Date);
                            }
                            v.code("MedicalTreatmentFlag", q.medical_treatment_flag.as_ref());
                            // Which period a kind needs is checked by whoever knows the kind (the file
                            // name): here, that there is one.
                            let period = q.medical_treatment_month.is_some()
                                || q.consent_date_from.is_some() && q.consent_date_to.is_some()
                                || q.examination_date_from.is_some()
                                    && q.examination_date_to.is_some();
                            v.require("MedicalTreatmentMonth", period);
                        });
                    }
                });
            }
            Message::RefNumberRequest(m) => {
                request_header(&mut v, &m.message_header, false);
                v.nested("MessageBody", |v| {
                    let infos = &m.message_body.reference_number_registration_info;
                    if v.require("ReferenceNumberRegistrationInfo", !infos.is_empty()) {
                        v.each("ReferenceNumberRegistrationInfo", infos, |v, r| {
                            ref_number_info(v, r, true)
                        });
                    }
                });
            }
            Message::RefNumberResult(m) => {
                result_header(&mut v, &m.message_header);
                v.nested("MessageBody", |v| {
                    v.each(
                        "ReferenceNumberRegistrationResult",
                        &m.message_body.reference_number_registration_result,
                        |v, r| {
                            if let Some(info) = &r.reference_number_registration_info {
                                v.nested("ReferenceNumberRegistrationInfo", |v| {
                                    ref_number_info(v, info, false)
                                });
                            }
                            v.required_code(
                                "ProcessingResultStatus",
                                r.processing_result_status.as_ref(),
                            );
                            if r.processing_result_status == Some(ProcessingResultStatus::Error) {
                                v.require_text(
                                    "ProcessingResultCode",
                                    r.processing_result_code.as_deref(),
                                );
                            }
                        },
                    );
                });
            }
            Message::RefNumberBulkResult(m) => {
                result_header(&mut v, &m.message_header);
                v.nested("MessageBody", |v| {
                    v.each(
                        "BulkRegistrationUnit",
                        &m.message_body.bulk_registration_unit,
                        |v, r| {
                            if let Some(info) = &r.reference_number_registration_info {
                                v.nested("ReferenceNumberRegistrationInfo", |v| {
                                    ref_number_info(v, info, false)
                                });
                            }
                            v.required_code(
                                "ProcessingResultStatus",
                                r.processing_result_status.as_ref(),
                            );
                        },
                    );
                });
            }
            Message::MedicationRequest(m) => medical_request(&mut v, m, true),
            Message::MedicationResult(m) => medication_result(&mut v, m),
            Message::CheckupRequest(m) => medical_request(&mut v, m, false),
            Message::CheckupResult(m) => checkup_result(&mut v, m),
        }
        v.issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_matches_published_examples() {
        // 33120015 (警察共済 千葉県, the worked example of the cited page).
        assert_eq!(insurer_check_digit(&[3, 3, 1, 2, 0, 0, 1]), 5);
        // 6-digit 国保: 13805 → 7 (138057).
        assert_eq!(insurer_check_digit(&[1, 3, 8, 0, 5]), 7);
        // 0613999: products 0,6,2,3,18→9,9,18→9 sum to 38, so the check digit is 2 (06139992).
        assert_eq!(insurer_check_digit(&[0, 6, 1, 3, 9, 9, 9]), 2);
    }

    #[test]
    fn err_file_format() {
        let err = crate::error::ProtocolError::WrongRoot {
            found: "Foo".into(),
        };
        let issue = ValidationIssue::from(&err);
        assert_eq!(
            issue.message_en,
            "the root element is <Foo>, expected <XmlMsg>"
        );
        let text = render_err_file(&[issue.clone(), issue]);
        assert_eq!(
            text.lines().take(5).collect::<Vec<_>>(),
            vec![
                "code: OQS-E1106",
                "element: ",
                "message_ja: ルート要素が XmlMsg ではありません",
                "message_en: the root element is <Foo>, expected <XmlMsg>",
                "",
            ]
        );
    }

    #[test]
    fn dates_must_exist() {
        assert!(valid_date("20240229", DateFormat::Date));
        assert!(!valid_date("20230229", DateFormat::Date));
        assert!(!valid_date("20240431", DateFormat::Date));
        assert!(!valid_date("2024-04-01", DateFormat::Date));
        assert!(valid_date("202404", DateFormat::Month));
        assert!(!valid_date("202413", DateFormat::Month));
        assert!(valid_date("20240401235959", DateFormat::DateTime));
        assert!(!valid_date("20240401246000", DateFormat::DateTime));
        assert!(!valid_date("２０２４０４０１", DateFormat::Date));
    }

    fn issue_codes(m: &Message) -> Vec<(&'static str, String)> {
        m.validate()
            .into_iter()
            .map(|i| (i.code, i.element))
            .collect()
    }

    #[test]
    fn insurer_number_rules() {
        let mut req = SingleCheckRequest::default();
        req.message_header.qualification_confirmation_date = Some("20240401".into());
        req.message_header.medical_institution_code = Some("1311111111".into());
        let info = QualificationConfirmSearchInfo {
            insurer_number: Some("  138057".into()),
            insured_identification_number: Some("1234".into()),
            birthdate: Some("19800101".into()),
            limit_application_certificate_related_cons_flg: Some(ProvisionConsent::Consented),
            ..Default::default()
        };
        req.message_body.qualification_confirm_search_info = Some(info.clone());
        assert_eq!(Message::SingleCheckRequest(req.clone()).validate(), vec![]);
        let path = "/XmlMsg/MessageBody/QualificationConfirmSearchInfo/InsurerNumber".to_string();
        for (number, code) in [
            ("138057", "OQS-E1202"),
            (" 1380577", "OQS-E1202"),
            ("  138058", "OQS-E1203"),
            ("33120016", "OQS-E1203"),
        ] {
            let mut r = req.clone();
            r.message_body.qualification_confirm_search_info =
                Some(QualificationConfirmSearchInfo {
                    insurer_number: Some(number.into()),
                    ..info.clone()
                });
            assert_eq!(
                issue_codes(&Message::SingleCheckRequest(r)),
                vec![(code, path.clone())],
                "{number:?}"
            );
        }
    }

    #[test]
    fn missing_elements_and_unknown_codes_are_reported_with_paths() {
        let mut res = SingleCheckResult::error("E0001", "テスト");
        res.message_header.process_execution_time = Some("20240401120000".into());
        res.message_header.medical_institution_code = Some("1311111111".into());
        res.message_header.character_code_identifier =
            Some(CharacterCodeIdentifier::Unknown("2".into()));
        res.message_body.qualification_validity = Some(QualificationValidity::Unknown("7".into()));
        let issues = Message::SingleCheckResult(res).validate();
        let got: Vec<_> = issues
            .iter()
            .map(|i| (i.code, i.element.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("OQS-E1207", "/XmlMsg/MessageHeader/CharacterCodeIdentifier"),
                ("OQS-E1207", "/XmlMsg/MessageBody/QualificationValidity"),
            ]
        );
        assert!(issues[1].message_en.contains("`7`"), "{}", issues[1]);
    }
}
