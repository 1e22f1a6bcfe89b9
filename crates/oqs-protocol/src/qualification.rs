//! 資格確認 messages: single check (`OQSsiquc01`), bulk check (`OQSmuquc01` / `OQSmuquc02`) and
//! 照会番号 registration (`OQSsiimm01` / `OQSmuimm01`), with the parts they share.
//!
//! Field names map 1:1 to the element names (PascalCase) of the interface, e.g. `insurer_number` is
//! `<InsurerNumber>`. Every element is optional at the type level so that a file with missing elements can
//! still be read and [`crate::Message::validate`] can say exactly what is missing; dates stay strings so that a
//! wrong date is reported, not rejected wholesale. Patient identifiers are [`Pii`].

use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use crate::codes::*;
use crate::pii::Pii;

#[cfg(any(test, feature = "arbitrary"))]
use arbitrary::Arbitrary;

/// `MessageHeader` of the requests a receipt computer writes (`OQSsiquc01req`, `OQSmuquc01req`,
/// `OQSmuquc02req`, `OQSsiimm01req`, `OQSmuimm01req`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestHeader {
    /// 資格確認日 yyyyMMdd (single check only).
    pub qualification_confirmation_date: Option<String>,
    /// 医療機関コード, 10 digits.
    pub medical_institution_code: Option<String>,
    /// Free text chosen by the client, echoed in the result.
    pub arbitrary_file_identifier: Option<String>,
}

/// `MessageHeader` of every 資格確認 result kind. Elements that a kind does not use stay `None`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct ResultHeader {
    /// 処理実行日時 yyyyMMddHHmmss.
    pub process_execution_time: Option<String>,
    /// 資格確認日 yyyyMMdd.
    pub qualification_confirmation_date: Option<String>,
    /// 医療機関コード.
    pub medical_institution_code: Option<String>,
    /// Echo of the request's value; face results carry a generated value.
    pub arbitrary_file_identifier: Option<String>,
    /// 照会区分.
    pub reference_classification: Option<ReferenceClassification>,
    /// 受付番号 (bulk result).
    pub reception_number: Option<String>,
    /// 処理結果区分.
    pub segment_of_result: Option<SegmentOfResult>,
    /// エラーコード, when `SegmentOfResult` is not 1 (opaque; docs/file-interface.md G1).
    pub error_code: Option<String>,
    /// エラーメッセージ.
    pub error_message: Option<String>,
    /// 処理件数 (bulk result).
    pub number_of_processing_result: Option<String>,
    /// 正常件数 (bulk result).
    pub number_of_normal_processing: Option<String>,
    /// エラー件数 (bulk result).
    pub number_of_error: Option<String>,
    /// 文字コード識別: set by [`crate::write_message`] to match the encoding written.
    pub character_code_identifier: Option<CharacterCodeIdentifier>,
}

/// `QualificationConfirmSearchInfo`: the keys of a check (and their echo in results).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct QualificationConfirmSearchInfo {
    /// 保険者番号: 8 digits, or 6 digits left-padded with two spaces.
    pub insurer_number: Option<String>,
    /// 被保険者証記号.
    pub insured_card_symbol: Option<Pii>,
    /// 被保険者証番号.
    pub insured_identification_number: Option<Pii>,
    /// 枝番, 2 digits.
    pub insured_branch_number: Option<Pii>,
    /// 生年月日 yyyyMMdd.
    pub birthdate: Option<Pii>,
    /// 限度額適用認定証 提供同意.
    pub limit_application_certificate_related_cons_flg: Option<ProvisionConsent>,
    /// Per-record free id, echoed in results.
    pub arbitrary_identifier: Option<Pii>,
}

/// `ElderlyRecipientCertificateInfo` 高齢受給者証.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct ElderlyRecipientCertificateInfo {
    /// 交付年月日.
    pub elderly_recipient_certificate_date: Option<String>,
    /// 有効開始日.
    pub elderly_recipient_valid_start_date: Option<String>,
    /// 有効終了日.
    pub elderly_recipient_valid_end_date: Option<String>,
    /// 一部負担金割合 (3-digit percent).
    pub elderly_recipient_contribution_ratio: Option<String>,
}

/// `LimitApplicationCertificateRelatedInfo` 限度額適用認定証関連情報.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct LimitApplicationCertificateRelatedInfo {
    /// 区分 (OQSCD011).
    pub limit_application_certificate_classification: Option<LimitClassification>,
    /// 適用区分 (OQSCD012).
    pub limit_application_certificate_classification_flag: Option<LimitClassificationFlag>,
    /// 交付年月日.
    pub limit_application_certificate_date: Option<String>,
    /// 有効開始日.
    pub limit_application_certificate_valid_start_date: Option<String>,
    /// 有効終了日.
    pub limit_application_certificate_valid_end_date: Option<String>,
    /// 長期入院該当年月日.
    pub limit_application_certificate_long_term_date: Option<String>,
}

/// `SpecificDiseasesCertificateInfo` 特定疾病療養受療証.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SpecificDiseasesCertificateInfo {
    /// 特定疾病区分 (OQSCD013).
    pub specific_diseases_disease_category: Option<SpecificDiseaseCategory>,
    /// 交付年月日.
    pub specific_diseases_certificate_date: Option<String>,
    /// 有効開始日.
    pub specific_diseases_valid_start_date: Option<String>,
    /// 有効終了日.
    pub specific_diseases_valid_end_date: Option<String>,
    /// 自己負担限度額 (yen).
    pub specific_diseases_self_pay: Option<String>,
}

/// `SpecificDiseasesCertificateList`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SpecificDiseasesCertificateList {
    /// One per certificate.
    pub specific_diseases_certificate_info: Vec<SpecificDiseasesCertificateInfo>,
}

/// `MedicalTicketInfo` 医療券・調剤券情報: one ticket of a 医療扶助 (生活保護) qualification, issued by the welfare
/// office for one facility and one month. Element names as the public clients read them
/// (`oqs-clients.md` §2); the code values of `TicketType`, `MedicalTreatmentType`, `SingleOrCombinedUse` and the
/// `StatusOf…` flags are not public, so they stay opaque strings here (the project's reading of them is in
/// docs/file-interface.md). Names of people and of diseases are [`Pii`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicalTicketInfo {
    /// 医療券・調剤券別.
    pub ticket_type: Option<String>,
    /// 有効開始年月日 yyyyMMdd.
    pub medical_ticket_valid_date: Option<String>,
    /// 有効終了年月日 yyyyMMdd.
    pub medical_ticket_expiration_date: Option<String>,
    /// 交付番号.
    pub issue_number: Option<String>,
    /// 診療年月 yyyyMM.
    pub medical_treatment_month: Option<String>,
    /// 指定医療機関コード.
    pub designated_medical_institution_code: Option<String>,
    /// 指定医療機関確認フラグ.
    pub designated_medical_institution_flag: Option<String>,
    /// 指定医療機関名.
    pub designated_medical_institution_name: Option<String>,
    /// 処方箋発行元医療機関コード (調剤券).
    pub prescription_issuer_medical_institution_code: Option<String>,
    /// 処方箋発行元医療機関名 (調剤券).
    pub prescription_issuer_medical_institution_name: Option<String>,
    /// 傷病名1.
    pub injury_name1: Option<Pii>,
    /// 傷病名2.
    pub injury_name2: Option<Pii>,
    /// 傷病名3.
    pub injury_name3: Option<Pii>,
    /// 診療別 (入院・入院外・歯科・調剤 …).
    pub medical_treatment_type: Option<String>,
    /// 本人支払額 (yen).
    pub self_pay_amount: Option<String>,
    /// 地区担当員名 (the welfare office's caseworker).
    pub district_contact_name: Option<Pii>,
    /// 取扱担当者名.
    pub handling_contact_name: Option<Pii>,
    /// 単独・併用別 (医療扶助 alone, or with health insurance).
    pub single_or_combined_use: Option<String>,
    /// 社会保険状況.
    pub status_of_social_insurance: Option<String>,
    /// 整合性フラグ.
    pub consistency_flag: Option<String>,
    /// 感染症該当状況 (the element name is spelt `StatusOfInfecton` by the interface).
    pub status_of_infecton: Option<String>,
    /// 後期高齢者該当状況.
    pub status_of_elderly_medical_care: Option<String>,
    /// 都道府県費該当状況.
    pub status_of_prefectural_expenses: Option<String>,
    /// 備考1.
    pub remarks1: Option<Pii>,
    /// 備考2.
    pub remarks2: Option<Pii>,
    /// 備考3.
    pub remarks3: Option<Pii>,
}

/// `PublicExpenseResultList` 医療扶助資格確認結果リスト: the tickets of a 医療扶助 qualification.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct PublicExpenseResultList {
    /// One per ticket (医療券 or 調剤券, per month).
    pub medical_ticket_info: Vec<MedicalTicketInfo>,
}

/// `MedicalSubsidyCertificateInfo` 医療費助成の受給者証 (公費, PMH): **the project's own element names** until an
/// official layout is known (docs/file-interface.md, "公費 (PMH)"). Sent only when the patient answered 利用する
/// at the kiosk.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicalSubsidyCertificateInfo {
    /// 公費負担者番号 (8 digits with check digit).
    pub subsidy_public_expense_number: Option<String>,
    /// 公費受給者番号 (7 digits).
    pub subsidy_beneficiary_number: Option<Pii>,
    /// 制度名 (e.g. 子ども医療費助成, 指定難病).
    pub medical_subsidy_name: Option<String>,
    /// 自己負担上限額 per month (yen); 0 = no self-pay.
    pub self_pay_limit: Option<String>,
    /// 有効開始日 yyyyMMdd.
    pub subsidy_valid_start_date: Option<String>,
    /// 有効終了日 yyyyMMdd.
    pub subsidy_valid_end_date: Option<String>,
}

/// `MedicalSubsidyCertificateList` (project convention).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicalSubsidyCertificateList {
    /// One per 受給者証.
    pub medical_subsidy_certificate_info: Vec<MedicalSubsidyCertificateInfo>,
}

/// The element that marks a restricted record (DV・虐待 支援措置). No public source names it: this is the
/// project's own convention (docs/file-interface.md, "Restricted records"), defined here only so that renaming
/// it is a change of this one place (the field's `serde(rename)` is checked against it by a test).
pub const DISCLOSURE_RESTRICTION_ELEMENT: &str = "DisclosureRestrictionFlag";

/// `ResultOfQualificationConfirmation`: one qualification of one person.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct ResultOfQualificationConfirmation {
    /// 被保険者証区分.
    pub insured_card_classification: Option<InsuredCardClassification>,
    /// 保険者番号.
    pub insurer_number: Option<String>,
    /// 記号.
    pub insured_card_symbol: Option<Pii>,
    /// 番号.
    pub insured_identification_number: Option<Pii>,
    /// 枝番.
    pub insured_branch_number: Option<Pii>,
    /// 本人・家族の別.
    pub personal_family_classification: Option<PersonalFamilyClassification>,
    /// 被保険者氏名 (世帯主).
    pub insured_name: Option<Pii>,
    /// 氏名 (`姓　名`, full-width space).
    pub name: Option<Pii>,
    /// 氏名 (その他/通称).
    pub name_of_other: Option<Pii>,
    /// 氏名カナ (half-width kana).
    pub name_kana: Option<Pii>,
    /// 氏名カナ (その他).
    pub name_of_other_kana: Option<Pii>,
    /// 性別 (券面記載).
    pub sex1: Option<Sex>,
    /// 性別2.
    pub sex2: Option<Sex>,
    /// 生年月日 yyyyMMdd.
    pub birthdate: Option<Pii>,
    /// 住所.
    pub address: Option<Pii>,
    /// 郵便番号 (`123-4567`).
    pub post_number: Option<Pii>,
    /// 資格取得年月日.
    pub qualification_date: Option<String>,
    /// 資格喪失年月日.
    pub disqualification_date: Option<String>,
    /// 被保険者証交付年月日.
    pub insured_certificate_issuance_date: Option<String>,
    /// 被保険者証有効開始年月日.
    pub insured_card_valid_date: Option<String>,
    /// 被保険者証有効終了年月日.
    pub insured_card_expiration_date: Option<String>,
    /// 一部負担金割合 (3-digit percent, `030` = 3割).
    pub insured_partial_contribution_ratio: Option<String>,
    /// 未就学区分.
    pub preschool_classification: Option<PreschoolClassification>,
    /// 資格喪失事由.
    pub reason_of_loss: Option<ReasonOfLoss>,
    /// 保険者名称 (医療扶助: the welfare office's name).
    pub insurer_name: Option<String>,
    /// 公費負担者番号 (医療扶助; clients read it when `InsurerNumber` is absent).
    pub public_expense_number: Option<String>,
    /// 受給者番号 (医療扶助; clients read it when `InsuredIdentificationNumber` is absent).
    pub beneficiary_number: Option<Pii>,
    /// 福祉事務所名 (医療扶助; clients read it when `InsurerName` is absent).
    pub welfare_office_name: Option<String>,
    /// 閲覧制限 (DV・虐待): the project's own element ([`DISCLOSURE_RESTRICTION_ELEMENT`]).
    #[serde(rename = "DisclosureRestrictionFlag")]
    pub disclosure_restriction: Option<DisclosureRestriction>,
    /// 高齢受給者証.
    pub elderly_recipient_certificate_info: Option<ElderlyRecipientCertificateInfo>,
    /// 限度額適用認定証 提供同意.
    pub limit_application_certificate_related_cons_flg: Option<ProvisionConsent>,
    /// 同意日時 yyyyMMddHHmmss.
    pub limit_application_certificate_related_cons_time: Option<String>,
    /// 限度額適用認定証関連情報.
    pub limit_application_certificate_related_info: Option<LimitApplicationCertificateRelatedInfo>,
    /// 限度額適用認定証情報変更有無.
    pub limit_application_certificate_changed: Option<LimitCertificateChanged>,
    /// 特定疾病療養受療証 提供同意.
    pub specific_diseases_certificate_related_cons_flg: Option<ConsentState>,
    /// 同意日時.
    pub specific_diseases_certificate_related_cons_time: Option<String>,
    /// 特定疾病療養受療証.
    pub specific_diseases_certificate_list: Option<SpecificDiseasesCertificateList>,
    /// 医療扶助資格確認結果リスト: the 医療券・調剤券 of a 医療扶助 qualification (`InsuredCardClassification` A1).
    pub public_expense_result_list: Option<PublicExpenseResultList>,
    /// The patient's answer to 「医療費助成の各種受給者証を利用しますか」 (0 利用しない / 1 利用する; project convention).
    pub medical_subsidy_cons_flg: Option<ProvisionConsent>,
    /// 医療費助成の受給者証 (公費, PMH; project convention), when the answer was 利用する.
    pub medical_subsidy_certificate_list: Option<MedicalSubsidyCertificateList>,
    /// 特定健診情報 閲覧同意.
    pub specific_health_checkups_info_cons_flg: Option<ConsentState>,
    /// 同意日時.
    pub specific_health_checkups_info_cons_time: Option<String>,
    /// 同意有効期限.
    pub specific_health_checkups_info_available_time: Option<String>,
    /// 薬剤情報 閲覧同意.
    pub pharmacists_info_cons_flg: Option<ConsentState>,
    /// 同意日時.
    pub pharmacists_info_cons_time: Option<String>,
    /// 同意有効期限.
    pub pharmacists_info_available_time: Option<String>,
    /// 診療情報 閲覧同意.
    pub diagnosis_info_cons_flg: Option<ConsentState>,
    /// 同意日時.
    pub diagnosis_info_cons_time: Option<String>,
    /// 同意有効期限.
    pub diagnosis_info_available_time: Option<String>,
    /// 手術情報 閲覧同意.
    pub operation_info_cons_flg: Option<ConsentState>,
    /// 同意日時.
    pub operation_info_cons_time: Option<String>,
    /// 同意有効期限.
    pub operation_info_available_time: Option<String>,
    /// 処方箋発行形態 (S4 places it here; S3 in `MessageBody`: both are accepted).
    pub prescription_issue_select: Option<PrescriptionIssueSelect>,
    /// Per-record free id.
    pub arbitrary_identifier: Option<Pii>,
    /// 照会番号 registered by the facility (often its patient id).
    pub reference_number: Option<Pii>,
}

impl ResultOfQualificationConfirmation {
    /// A 医療扶助 (生活保護) qualification: `InsuredCardClassification` A1, or a 公費負担者番号 of 法別 12 where the
    /// classification is missing (as client D reads it).
    pub fn is_medical_assistance(&self) -> bool {
        match &self.insured_card_classification {
            Some(InsuredCardClassification::MedicalAssistance) => true,
            Some(_) => false,
            None => self
                .insurer_number
                .as_deref()
                .or(self.public_expense_number.as_deref())
                .is_some_and(|n| n.trim().starts_with("12")),
        }
    }

    /// Whether the record carries the DV・虐待 restriction.
    pub fn is_restricted(&self) -> bool {
        self.disclosure_restriction == Some(DisclosureRestriction::Restricted)
    }

    /// Removes what a restricted record must not show anyone at the facility: the address and the postal code
    /// (the person's whereabouts). The flag itself stays, so every reader knows why they are missing.
    pub fn hide_restricted(&mut self) {
        self.address = None;
        self.post_number = None;
    }
}

/// `ResultList`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct ResultList {
    /// One per matching qualification (several when `QualificationValidity` is 5).
    pub result_of_qualification_confirmation: Vec<ResultOfQualificationConfirmation>,
}

// ---------------------------------------------------------------------------------------------------------
// OQSsiquc01

/// `OQSsiquc01req`: single eligibility check by 保険者番号・記号・番号・枝番・生年月日.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SingleCheckRequest {
    /// Header.
    pub message_header: RequestHeader,
    /// Body.
    pub message_body: SingleCheckRequestBody,
}

/// Body of [`SingleCheckRequest`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SingleCheckRequestBody {
    /// The keys.
    pub qualification_confirm_search_info: Option<QualificationConfirmSearchInfo>,
}

/// `OQSsiquc01res`, and the check-in results the terminal writes to `face/` (same schema).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SingleCheckResult {
    /// Header.
    pub message_header: ResultHeader,
    /// Body.
    pub message_body: SingleCheckResultBody,
}

/// Body of [`SingleCheckResult`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SingleCheckResultBody {
    /// 処理結果状況.
    pub processing_result_status: Option<ProcessingResultStatus>,
    /// 処理結果コード (opaque, G1).
    pub processing_result_code: Option<String>,
    /// 処理結果メッセージ: show it as is.
    pub processing_result_message: Option<String>,
    /// 資格有効性.
    pub qualification_validity: Option<QualificationValidity>,
    /// 処方箋発行形態 (S3 places it here).
    pub prescription_issue_select: Option<PrescriptionIssueSelect>,
    /// Echo of the request keys (absent in face results).
    pub qualification_confirm_search_info: Option<QualificationConfirmSearchInfo>,
    /// The qualifications found.
    pub result_list: Option<ResultList>,
}

impl SingleCheckResult {
    /// A whole-file failure (`SegmentOfResult` 9) with the given error code and message.
    pub fn error(error_code: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self {
            message_header: ResultHeader {
                segment_of_result: Some(SegmentOfResult::Abnormal),
                error_code: Some(error_code.into()),
                error_message: Some(error_message.into()),
                ..ResultHeader::default()
            },
            message_body: SingleCheckResultBody::default(),
        }
    }

    /// A normal answer to `request`: header echoed, keys echoed, `SegmentOfResult` 1 and
    /// `ProcessingResultStatus` 1, with the given validity and qualifications.
    pub fn answer(
        request: &SingleCheckRequest,
        process_execution_time: impl Into<String>,
        validity: QualificationValidity,
        results: Vec<ResultOfQualificationConfirmation>,
    ) -> Self {
        Self {
            message_header: ResultHeader::answering(
                &request.message_header,
                process_execution_time,
            ),
            message_body: SingleCheckResultBody {
                processing_result_status: Some(ProcessingResultStatus::Normal),
                qualification_validity: Some(validity),
                qualification_confirm_search_info: request
                    .message_body
                    .qualification_confirm_search_info
                    .clone(),
                result_list: Some(ResultList {
                    result_of_qualification_confirmation: results,
                }),
                ..SingleCheckResultBody::default()
            },
        }
    }

    /// A per-person error (`SegmentOfResult` 1, `ProcessingResultStatus` 2), e.g. keys not found.
    pub fn person_error(
        request: &SingleCheckRequest,
        process_execution_time: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            message_header: ResultHeader::answering(
                &request.message_header,
                process_execution_time,
            ),
            message_body: SingleCheckResultBody {
                processing_result_status: Some(ProcessingResultStatus::Error),
                processing_result_code: Some(code.into()),
                processing_result_message: Some(message.into()),
                qualification_confirm_search_info: request
                    .message_body
                    .qualification_confirm_search_info
                    .clone(),
                ..SingleCheckResultBody::default()
            },
        }
    }
}

impl SingleCheckResult {
    /// Applies the DV・虐待 restriction: when any qualification of the (one) person is restricted, every
    /// qualification is marked and loses what [`ResultOfQualificationConfirmation::hide_restricted`] hides.
    /// Returns whether the result was restricted. The central service does this before answering and the
    /// terminal again before storing, showing or writing a result, so a restricted address never reaches a
    /// screen or a `face/` file even if one side forgets.
    pub fn apply_disclosure_restriction(&mut self) -> bool {
        let Some(list) = self.message_body.result_list.as_mut() else {
            return false;
        };
        apply_disclosure_restriction(&mut list.result_of_qualification_confirmation)
    }
}

/// The DV・虐待 restriction on the qualifications of one person (a single result's `ResultList`, a bulk
/// `BulkConfirmUnit`): when any is restricted, every one is marked and loses what
/// [`ResultOfQualificationConfirmation::hide_restricted`] hides. Returns whether they were restricted.
pub fn apply_disclosure_restriction(records: &mut [ResultOfQualificationConfirmation]) -> bool {
    if !records
        .iter()
        .any(ResultOfQualificationConfirmation::is_restricted)
    {
        return false;
    }
    for r in records.iter_mut() {
        r.disclosure_restriction = Some(DisclosureRestriction::Restricted);
        r.hide_restricted();
    }
    true
}

impl BulkResult {
    /// [`apply_disclosure_restriction`] on every unit (each is one person). Returns whether any was restricted.
    pub fn apply_disclosure_restriction(&mut self) -> bool {
        let mut any = false;
        for unit in &mut self.message_body.bulk_confirm_unit {
            any |= apply_disclosure_restriction(&mut unit.result_of_qualification_confirmation);
        }
        any
    }
}

impl ResultHeader {
    /// A normal (`SegmentOfResult` 1) header answering a request header: echoes 医療機関コード, 資格確認日 and
    /// `ArbitraryFileIdentifier`. `CharacterCodeIdentifier` is filled in when the file is written.
    pub fn answering(request: &RequestHeader, process_execution_time: impl Into<String>) -> Self {
        Self {
            process_execution_time: Some(process_execution_time.into()),
            qualification_confirmation_date: request.qualification_confirmation_date.clone(),
            medical_institution_code: request.medical_institution_code.clone(),
            arbitrary_file_identifier: request.arbitrary_file_identifier.clone(),
            segment_of_result: Some(SegmentOfResult::Normal),
            ..Self::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// OQSmuquc01 / OQSmuquc02

/// `OQSmuquc01req`: bulk check upload. Body: `QualificationConfirmSearchInfo` repeated directly under
/// `MessageBody` (project convention G5), each with its own `ArbitraryIdentifier`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkUploadRequest {
    /// Header.
    pub message_header: RequestHeader,
    /// Body.
    pub message_body: BulkUploadRequestBody,
}

/// Body of [`BulkUploadRequest`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkUploadRequestBody {
    /// One per person.
    pub qualification_confirm_search_info: Vec<QualificationConfirmSearchInfo>,
}

/// `OQSmuquc01res`: upload receipt.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkUploadReceipt {
    /// Header.
    pub message_header: ResultHeader,
    /// Body.
    pub message_body: BulkUploadReceiptBody,
}

/// Body of [`BulkUploadReceipt`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkUploadReceiptBody {
    /// 処理結果状況.
    pub processing_result_status: Option<ProcessingResultStatus>,
    /// 処理結果コード.
    pub processing_result_code: Option<String>,
    /// 処理結果メッセージ.
    pub processing_result_message: Option<String>,
    /// 受付番号: quote it in the download request.
    pub reception_number: Option<String>,
    /// 受付日時 yyyyMMddHHmmss.
    pub reception_date_time: Option<String>,
}

impl BulkUploadReceipt {
    /// An accepted upload with its reception number.
    pub fn accepted(
        request: &BulkUploadRequest,
        process_execution_time: impl Into<String>,
        reception_number: impl Into<String>,
    ) -> Self {
        let time = process_execution_time.into();
        Self {
            message_header: ResultHeader::answering(&request.message_header, time.clone()),
            message_body: BulkUploadReceiptBody {
                processing_result_status: Some(ProcessingResultStatus::Normal),
                reception_number: Some(reception_number.into()),
                reception_date_time: Some(time),
                ..BulkUploadReceiptBody::default()
            },
        }
    }
}

/// `OQSmutic01req` / `OQSmuhvq01req` / `OQSmuonq01req`: a bulk query by period, one search block (a query,
/// not a list of people), as OQSDrug writes it (reference/oqs-clients.md §6). The receipt is a
/// [`BulkUploadReceipt`], the download a [`BulkDownloadRequest`] and its result a [`BulkResult`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkQueryRequest {
    /// Header.
    pub message_header: RequestHeader,
    /// Body.
    pub message_body: BulkQueryRequestBody,
}

/// Body of [`BulkQueryRequest`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkQueryRequestBody {
    /// The query.
    pub qualification_confirm_search_info: Option<BulkQuerySearchInfo>,
}

/// `QualificationConfirmSearchInfo` of a bulk query: the period, by kind.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkQuerySearchInfo {
    /// 診療年月 yyyyMM (医療扶助).
    pub medical_treatment_month: Option<String>,
    /// 同意日 from, yyyyMMdd (訪問, オンライン).
    pub consent_date_from: Option<String>,
    /// 同意日 to, yyyyMMdd.
    pub consent_date_to: Option<String>,
    /// 受診日 from, yyyyMMdd (オンライン).
    pub examination_date_from: Option<String>,
    /// 受診日 to, yyyyMMdd.
    pub examination_date_to: Option<String>,
    /// 診療区分: 2 訪問診療, 3 オンライン診療 (none for 医療扶助).
    pub medical_treatment_flag: Option<MedicalTreatmentFlag>,
}

/// `OQSmuquc02req`: download the result of an upload by its 受付番号.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkDownloadRequest {
    /// Header.
    pub message_header: RequestHeader,
    /// Body.
    pub message_body: BulkDownloadRequestBody,
}

/// Body of [`BulkDownloadRequest`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkDownloadRequestBody {
    /// 受付番号 from the upload receipt.
    pub reception_number: Option<String>,
}

/// `OQSmuquc02res`: bulk result. The header counts must match the units ([`BulkResult::recount`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkResult {
    /// Header.
    pub message_header: ResultHeader,
    /// Body.
    pub message_body: BulkResultBody,
}

/// Body of [`BulkResult`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkResultBody {
    /// One per uploaded person.
    pub bulk_confirm_unit: Vec<BulkConfirmUnit>,
}

/// `BulkConfirmUnit`: the answer for one uploaded person.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkConfirmUnit {
    /// Echo of the uploaded keys.
    pub qualification_confirm_search_info: Option<QualificationConfirmSearchInfo>,
    /// 処理結果状況.
    pub processing_result_status: Option<ProcessingResultStatus>,
    /// 処理結果コード.
    pub processing_result_code: Option<String>,
    /// 処理結果メッセージ.
    pub processing_result_message: Option<String>,
    /// 資格有効性.
    pub qualification_validity: Option<QualificationValidity>,
    /// The qualifications found (may repeat).
    pub result_of_qualification_confirmation: Vec<ResultOfQualificationConfirmation>,
    /// 照会番号, as a direct child of the unit: one per qualification, in the order of
    /// `result_of_qualification_confirmation` (client D pairs them by position), an empty element where a
    /// qualification has none. Each qualification also carries its own inside (client R's reading); see
    /// [`BulkConfirmUnit::list_reference_numbers`].
    pub reference_number: Vec<Option<Pii>>,
}

impl BulkConfirmUnit {
    /// Writes the unit's `ReferenceNumber` list from its qualifications: one per qualification, in order,
    /// so that both readings of a bulk unit hold (D: `BulkConfirmUnit/ReferenceNumber`, one per ROQC;
    /// R and single results: inside the ROQC). Empty when no qualification has one.
    pub fn list_reference_numbers(&mut self) {
        let numbers: Vec<Option<Pii>> = self
            .result_of_qualification_confirmation
            .iter()
            .map(|r| r.reference_number.clone())
            .collect();
        self.reference_number = if numbers.iter().any(Option::is_some) {
            numbers
        } else {
            Vec::new()
        };
    }

    /// The 照会番号 of the unit's `index`-th qualification: its own, else the one at the same position
    /// among the unit's (the two readings of the clients, `oqs-clients.md` §6 and §1.3).
    pub fn reference_number_of(&self, index: usize) -> Option<&Pii> {
        self.result_of_qualification_confirmation
            .get(index)
            .and_then(|r| r.reference_number.as_ref())
            .or_else(|| self.reference_number.get(index).and_then(Option::as_ref))
    }
}

impl BulkResult {
    /// Sets `NumberOfProcessingResult`, `NumberOfNormalProcessing` and `NumberOfError` from the units.
    pub fn recount(&mut self) {
        let (total, normal, error) = self.counts();
        let header = &mut self.message_header;
        header.number_of_processing_result = Some(total.to_string());
        header.number_of_normal_processing = Some(normal.to_string());
        header.number_of_error = Some(error.to_string());
    }

    /// (units, units with status 1, units with status 2).
    pub fn counts(&self) -> (usize, usize, usize) {
        let units = &self.message_body.bulk_confirm_unit;
        let with = |s: ProcessingResultStatus| {
            units
                .iter()
                .filter(|u| u.processing_result_status.as_ref() == Some(&s))
                .count()
        };
        (
            units.len(),
            with(ProcessingResultStatus::Normal),
            with(ProcessingResultStatus::Error),
        )
    }
}

// ---------------------------------------------------------------------------------------------------------
// OQSsiimm01 / OQSmuimm01 (element names: project convention G6)

/// `OQSsiimm01req` / `OQSmuimm01req`: register 照会番号. The single form holds exactly one
/// `ReferenceNumberRegistrationInfo`, the bulk form one or more.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct RefNumberRequest {
    /// Header.
    pub message_header: RequestHeader,
    /// Body.
    pub message_body: RefNumberRequestBody,
}

/// Body of [`RefNumberRequest`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct RefNumberRequestBody {
    /// One per person.
    pub reference_number_registration_info: Vec<ReferenceNumberRegistrationInfo>,
}

/// `ReferenceNumberRegistrationInfo`: insurance keys plus the number to register.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct ReferenceNumberRegistrationInfo {
    /// 保険者番号.
    pub insurer_number: Option<String>,
    /// 記号.
    pub insured_card_symbol: Option<Pii>,
    /// 番号.
    pub insured_identification_number: Option<Pii>,
    /// 枝番.
    pub insured_branch_number: Option<Pii>,
    /// 生年月日: optional (R's requests carry none; the central service then matches on the insurance keys).
    pub birthdate: Option<Pii>,
    /// 照会番号 to register (the facility's patient id), 1–20 characters.
    pub reference_number: Option<Pii>,
    /// Per-record free id.
    pub arbitrary_identifier: Option<Pii>,
}

/// `OQSsiimm01res` / `OQSmuimm01res`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct RefNumberResult {
    /// Header.
    pub message_header: ResultHeader,
    /// Body.
    pub message_body: RefNumberResultBody,
}

/// Body of [`RefNumberResult`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct RefNumberResultBody {
    /// One per requested registration, in request order.
    pub reference_number_registration_result: Vec<ReferenceNumberRegistrationResult>,
}

/// `ReferenceNumberRegistrationResult`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct ReferenceNumberRegistrationResult {
    /// Echo of the request record.
    pub reference_number_registration_info: Option<ReferenceNumberRegistrationInfo>,
    /// 処理結果状況.
    pub processing_result_status: Option<ProcessingResultStatus>,
    /// 処理結果コード.
    pub processing_result_code: Option<String>,
    /// 処理結果メッセージ.
    pub processing_result_message: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------
// OQSmuimm02 (R: OQS-IF-012)

/// `OQSmuimm02res`: the results of a bulk 照会番号 registration, asked for by `ReceptionNumber`
/// (`OQSmuimm02req` is a [`BulkDownloadRequest`]). Header `ReceptionNumber` echoes the request's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct RefNumberBulkResult {
    /// Header.
    pub message_header: ResultHeader,
    /// Body.
    pub message_body: RefNumberBulkResultBody,
}

/// Body of [`RefNumberBulkResult`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct RefNumberBulkResultBody {
    /// One per uploaded registration, in upload order.
    pub bulk_registration_unit: Vec<BulkRegistrationUnit>,
}

/// `BulkRegistrationUnit`: the outcome of one registration (R reads exactly these children).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct BulkRegistrationUnit {
    /// Echo of the uploaded record.
    pub reference_number_registration_info: Option<ReferenceNumberRegistrationInfo>,
    /// 処理結果状況.
    pub processing_result_status: Option<ProcessingResultStatus>,
    /// 処理結果コード.
    pub processing_result_code: Option<String>,
    /// 処理結果メッセージ.
    pub processing_result_message: Option<String>,
}

#[cfg(test)]
mod medical_assistance_tests {
    use super::*;
    use crate::{Encoding, Message, read_file, write_message};

    const SAMPLE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/oqs/medical-aid/OQSsiquc01res_20240401093000140.xml"
    ));
    const NAME: &str = "OQSsiquc01res_20240401093000140.xml";

    fn read(xml: &str) -> SingleCheckResult {
        match read_file(NAME, xml.as_bytes()).expect("readable").message {
            Message::SingleCheckResult(r) => r,
            other => panic!("not a single-check result: {other:?}"),
        }
    }

    fn records(r: &SingleCheckResult) -> &[ResultOfQualificationConfirmation] {
        &r.message_body
            .result_list
            .as_ref()
            .expect("a result list")
            .result_of_qualification_confirmation
    }

    #[test]
    fn an_insurance_and_a_medical_assistance_qualification_in_one_list() {
        let r = read(SAMPLE);
        assert!(Message::SingleCheckResult(r.clone()).validate().is_empty());
        let [insurance, aid] = records(&r) else {
            panic!("two qualifications")
        };
        assert!(!insurance.is_medical_assistance());
        assert!(aid.is_medical_assistance());
        assert_eq!(
            aid.insured_card_classification,
            Some(InsuredCardClassification::MedicalAssistance)
        );
        assert_eq!(aid.public_expense_number.as_deref(), Some("12131009"));
        assert_eq!(
            aid.beneficiary_number.as_ref().map(Pii::expose),
            Some("1234566")
        );
        assert_eq!(aid.welfare_office_name.as_deref(), Some("台東福祉事務所"));
        assert_eq!(
            aid.disclosure_restriction,
            Some(DisclosureRestriction::Unrestricted)
        );
        let tickets = &aid
            .public_expense_result_list
            .as_ref()
            .expect("tickets")
            .medical_ticket_info;
        assert_eq!(tickets.len(), 2);
        let t = &tickets[0];
        let pii = |p: &Option<Pii>| p.as_ref().map(|v| v.expose().to_owned());
        // Every child of MedicalTicketInfo is read under its own name.
        assert_eq!(t.ticket_type.as_deref(), Some("1"));
        assert_eq!(t.medical_ticket_valid_date.as_deref(), Some("20240401"));
        assert_eq!(
            t.medical_ticket_expiration_date.as_deref(),
            Some("20240430")
        );
        assert_eq!(t.issue_number.as_deref(), Some("24040123"));
        assert_eq!(t.medical_treatment_month.as_deref(), Some("202404"));
        assert_eq!(
            t.designated_medical_institution_code.as_deref(),
            Some("1311234567")
        );
        assert_eq!(t.designated_medical_institution_flag.as_deref(), Some("1"));
        assert_eq!(
            t.designated_medical_institution_name.as_deref(),
            Some("浅草内科クリニック")
        );
        assert_eq!(pii(&t.injury_name1).as_deref(), Some("高血圧症"));
        assert_eq!(pii(&t.injury_name2).as_deref(), Some("２型糖尿病"));
        assert_eq!(pii(&t.injury_name3).as_deref(), Some("腰痛症"));
        assert_eq!(t.medical_treatment_type.as_deref(), Some("2"));
        assert_eq!(t.self_pay_amount.as_deref(), Some("0"));
        assert_eq!(
            pii(&t.district_contact_name).as_deref(),
            Some("佐々木　一郎")
        );
        assert_eq!(pii(&t.handling_contact_name).as_deref(), Some("山口　恵"));
        assert_eq!(t.single_or_combined_use.as_deref(), Some("2"));
        assert_eq!(t.status_of_social_insurance.as_deref(), Some("1"));
        assert_eq!(t.consistency_flag.as_deref(), Some("1"));
        assert_eq!(t.status_of_infecton.as_deref(), Some("0"));
        assert_eq!(t.status_of_elderly_medical_care.as_deref(), Some("0"));
        assert_eq!(t.status_of_prefectural_expenses.as_deref(), Some("0"));
        assert_eq!(pii(&t.remarks1).as_deref(), Some("通院は月2回まで"));
        assert_eq!(pii(&t.remarks2).as_deref(), Some("院外処方"));
        assert_eq!(pii(&t.remarks3).as_deref(), Some("次回更新 202405"));
        let pharmacy = &tickets[1];
        assert_eq!(
            pharmacy
                .prescription_issuer_medical_institution_code
                .as_deref(),
            Some("1311234567")
        );
        assert_eq!(
            pharmacy
                .prescription_issuer_medical_institution_name
                .as_deref(),
            Some("浅草内科クリニック")
        );
        // Written back in both encodings and read again, nothing changes.
        for encoding in [Encoding::Utf8, Encoding::ShiftJis] {
            let mut message = Message::SingleCheckResult(r.clone());
            message.set_character_code(encoding);
            let bytes = write_message(&message, encoding).expect("written");
            let again = read_file(NAME, &bytes).expect("read back").message;
            assert_eq!(again, message);
            let text = match encoding {
                Encoding::Utf8 => String::from_utf8(bytes).expect("utf-8"),
                Encoding::ShiftJis => encoding_rs::SHIFT_JIS
                    .decode_without_bom_handling(&bytes)
                    .0
                    .into_owned(),
            };
            for element in [
                "<PublicExpenseResultList>",
                "<MedicalTicketInfo>",
                "<StatusOfInfecton>",
                "<PublicExpenseNumber>",
                "<BeneficiaryNumber>",
                "<WelfareOfficeName>",
            ] {
                assert!(text.contains(element), "{element} written");
            }
        }
    }

    #[test]
    fn validity_6_alone_is_valid_unregistered_and_read_as_such() {
        let xml = SAMPLE
            .replace(
                "<QualificationValidity>1</QualificationValidity>",
                "<QualificationValidity>6</QualificationValidity>",
            )
            .replace("<MedicalTicketInfo>", "<!--")
            .replace("</MedicalTicketInfo>", "-->");
        let r = read(&xml);
        assert_eq!(
            r.message_body.qualification_validity,
            Some(QualificationValidity::ValidUnregistered)
        );
        assert_eq!(
            QualificationValidity::ValidUnregistered.meaning_ja(),
            Some("有効（未登録）（医療扶助のみ）")
        );
        let aid = &records(&r)[1];
        assert!(
            aid.public_expense_result_list
                .as_ref()
                .is_none_or(|l| l.medical_ticket_info.is_empty())
        );
        assert!(Message::SingleCheckResult(r).validate().is_empty());
    }

    #[test]
    fn wrong_ticket_dates_and_public_expense_numbers_are_reported_with_their_paths() {
        let xml = SAMPLE
            .replace(
                "<MedicalTreatmentMonth>202404</MedicalTreatmentMonth>",
                "<MedicalTreatmentMonth>202413</MedicalTreatmentMonth>",
            )
            .replace(
                "<PublicExpenseNumber>12131009</PublicExpenseNumber>",
                "<PublicExpenseNumber>12131008</PublicExpenseNumber>",
            )
            .replace(
                "<DisclosureRestrictionFlag>0</DisclosureRestrictionFlag>",
                "<DisclosureRestrictionFlag>7</DisclosureRestrictionFlag>",
            );
        let issues = Message::SingleCheckResult(read(&xml)).validate();
        let at = |code: &str, tail: &str| {
            issues
                .iter()
                .any(|i| i.code == code && i.element.ends_with(tail))
        };
        assert!(
            at(
                "OQS-E1204",
                "ResultOfQualificationConfirmation[2]/PublicExpenseResultList/MedicalTicketInfo[1]/MedicalTreatmentMonth"
            ),
            "{issues:?}"
        );
        assert!(at("OQS-E1203", "PublicExpenseNumber"), "{issues:?}");
        assert!(
            at("OQS-E1207", DISCLOSURE_RESTRICTION_ELEMENT),
            "{issues:?}"
        );
    }

    #[test]
    fn medical_subsidy_certificates_are_written_read_and_checked() {
        let xml = SAMPLE.replace(
            "<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>\n      </ResultOfQualificationConfirmation>",
            "<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>\n\
             <MedicalSubsidyConsFlg>1</MedicalSubsidyConsFlg><MedicalSubsidyCertificateList>\
             <MedicalSubsidyCertificateInfo><SubsidyPublicExpenseNumber>54136015</SubsidyPublicExpenseNumber>\
             <SubsidyBeneficiaryNumber>0123455</SubsidyBeneficiaryNumber>\
             <MedicalSubsidyName>指定難病</MedicalSubsidyName><SelfPayLimit>10000</SelfPayLimit>\
             <SubsidyValidStartDate>20240101</SubsidyValidStartDate>\
             <SubsidyValidEndDate>20241231</SubsidyValidEndDate></MedicalSubsidyCertificateInfo>\
             </MedicalSubsidyCertificateList>\n      </ResultOfQualificationConfirmation>",
        );
        let r = read(&xml);
        let insurance = &records(&r)[0];
        assert_eq!(
            insurance.medical_subsidy_cons_flg,
            Some(ProvisionConsent::Consented)
        );
        let c = &insurance
            .medical_subsidy_certificate_list
            .as_ref()
            .expect("certificates")
            .medical_subsidy_certificate_info[0];
        assert_eq!(c.subsidy_public_expense_number.as_deref(), Some("54136015"));
        assert_eq!(
            c.subsidy_beneficiary_number.as_ref().map(Pii::expose),
            Some("0123455")
        );
        assert_eq!(c.medical_subsidy_name.as_deref(), Some("指定難病"));
        assert_eq!(c.self_pay_limit.as_deref(), Some("10000"));
        let issues = Message::SingleCheckResult(r.clone()).validate();
        assert!(issues.is_empty(), "{issues:?}");
        let bytes =
            write_message(&Message::SingleCheckResult(r.clone()), Encoding::Utf8).expect("written");
        assert_eq!(read(&String::from_utf8(bytes).expect("utf-8")), r);
        let bad = xml.replace("54136015", "54136014");
        let issues = Message::SingleCheckResult(read(&bad)).validate();
        assert!(
            issues
                .iter()
                .any(|i| i.code == "OQS-E1203" && i.element.ends_with("SubsidyPublicExpenseNumber")),
            "{issues:?}"
        );
    }

    #[test]
    fn a_restricted_record_loses_its_address_in_every_qualification_of_the_person() {
        let xml = SAMPLE.replace(
            "<DisclosureRestrictionFlag>0</DisclosureRestrictionFlag>",
            &format!("<{DISCLOSURE_RESTRICTION_ELEMENT}>1</{DISCLOSURE_RESTRICTION_ELEMENT}>"),
        );
        let mut r = read(&xml);
        assert!(records(&r)[1].is_restricted());
        assert!(records(&r)[0].address.is_some());
        assert!(r.apply_disclosure_restriction());
        for q in records(&r) {
            assert!(q.is_restricted());
            assert!(q.address.is_none() && q.post_number.is_none());
        }
        let bytes = write_message(&Message::SingleCheckResult(r), Encoding::Utf8).expect("written");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(!text.contains("浅草１"), "no address is written");
        assert!(text.contains(&format!("<{DISCLOSURE_RESTRICTION_ELEMENT}>1<")));
        // An unrestricted result is left as it is.
        let mut plain = read(SAMPLE);
        assert!(!plain.apply_disclosure_restriction());
        assert!(records(&plain)[0].address.is_some());
    }
}
