//! 薬剤情報・診療情報 (`YZKsiquc01`) and 特定健診情報 (`TKKsiquc01`): requests and XML results.
//!
//! Requests follow the shape seen in production client code (S1 `Form1.GenerateXML`). The result layouts
//! are only partly public (S1 reads `QuaInf`, `MeTrMonthInf`, `ShPrInf`, `CzDiInf` and
//! `SpecificHealthCheckupInfo`); the surgery and dialysis groups and the exact month/date nesting are the
//! project's convention (docs/file-interface.md G11), produced by the mock central service.

use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use crate::codes::*;
use crate::pii::Pii;

#[cfg(any(test, feature = "arbitrary"))]
use arbitrary::Arbitrary;

/// `YZKsiquc01req` / `TKKsiquc01req`. Note the header element names differ from `OQSsiquc01`
/// (`InsuranceCardSymbol`, `InsuredPersonIdentificationNumber`, `BranchNumber`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicalInfoRequest {
    /// Header.
    pub message_header: MedicalInfoRequestHeader,
    /// Body.
    pub message_body: MedicalInfoRequestBody,
}

/// Header of [`MedicalInfoRequest`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicalInfoRequestHeader {
    /// 医療機関コード.
    pub medical_institution_code: Option<String>,
    /// 保険者番号.
    pub insurer_number: Option<String>,
    /// 記号.
    pub insurance_card_symbol: Option<Pii>,
    /// 番号.
    pub insured_person_identification_number: Option<Pii>,
    /// 枝番.
    pub branch_number: Option<Pii>,
    /// Free text, echoed.
    pub arbitrary_file_identifier: Option<String>,
}

/// Body of [`MedicalInfoRequest`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicalInfoRequestBody {
    /// 対象開始年月 yyyyMM (YZK only).
    pub start_date: Option<String>,
    /// 対象終了年月 yyyyMM (YZK only).
    pub end_date: Option<String>,
    /// 提供ファイル種別.
    pub file_category: Option<FileCategory>,
    /// 情報区分 (meaning not public; clients send `1`).
    pub pr_di_inf_classification: Option<String>,
    /// 診療区分.
    pub medical_treatment_flag: Option<MedicalTreatmentFlag>,
}

/// `YZKsiquc01res` (XML form).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicationResult {
    /// Header.
    pub message_header: MedicationResultHeader,
    /// Body.
    pub message_body: MedicationResultBody,
}

/// Header of [`MedicationResult`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicationResultHeader {
    /// 処理実行日時 yyyyMMddHHmmss.
    pub process_execution_time: Option<String>,
    /// 医療機関コード.
    pub medical_institution_code: Option<String>,
    /// Echo.
    pub arbitrary_file_identifier: Option<String>,
    /// `1` on success.
    pub result_code: Option<MedicalInfoResultCode>,
    /// Error text when `ResultCode` is not 1.
    pub message_contents: Option<String>,
    /// 文字コード識別.
    pub character_code_identifier: Option<CharacterCodeIdentifier>,
    /// The person.
    pub qua_inf: Option<QuaInf>,
}

/// `QuaInf`: the person a drug XML is about.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct QuaInf {
    /// 氏名.
    pub name: Option<Pii>,
    /// カナ氏名.
    pub kana_name: Option<Pii>,
    /// 生年月日 yyyyMMdd.
    pub birth: Option<Pii>,
    /// 性別 (OQSCD007 codes).
    pub adm_gend_code: Option<Sex>,
}

/// Body of [`MedicationResult`]: months of treatment, prescriptions, dispensing, surgery and dialysis.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MedicationResultBody {
    /// 診療実績 per month and facility.
    pub me_tr_month_inf: Vec<MeTrMonthInf>,
    /// 処方 (prescriptions written).
    pub sh_pr_inf: Option<ShPrInf>,
    /// 調剤 (drugs dispensed).
    pub cz_di_inf: Option<CzDiInf>,
    /// 手術 (project convention).
    pub surgery_inf: Option<SurgeryInf>,
    /// 人工透析 (project convention).
    pub dialysis_inf: Option<DialysisInf>,
}

/// `MeTrMonthInf`: treatment at one facility in one month.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct MeTrMonthInf {
    /// 診療年月 yyyyMM.
    pub me_tr_month: Option<String>,
    /// 医療機関名.
    pub ins_name: Option<String>,
    /// 入院/外来 (`1` 入院, `2` 外来; project convention).
    pub in_out_kbn: Option<String>,
    /// 診療実日数.
    pub me_tr_days: Option<String>,
    /// 診療行為.
    pub treatment_infs: Option<TreatmentInfs>,
}

/// `TreatmentInfs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct TreatmentInfs {
    /// One per 診療行為.
    pub treatment_inf: Vec<TreatmentInf>,
}

/// `TreatmentInf`: one 診療行為.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct TreatmentInf {
    /// 診療行為コード (9 digits).
    pub treatment_c: Option<String>,
    /// 診療行為名称.
    pub treatment_n: Option<String>,
    /// 回数.
    pub times: Option<String>,
}

/// `ShPrInf`: prescriptions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct ShPrInf {
    /// Per month.
    pub sh_pr_month_inf: Vec<DrugMonthInf>,
}

/// `CzDiInf`: dispensing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct CzDiInf {
    /// Per month.
    pub cz_di_month_inf: Vec<DrugMonthInf>,
}

/// `ShPrMonthInf` / `CzDiMonthInf`: drugs of one month at one facility.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct DrugMonthInf {
    /// 年月 yyyyMM.
    pub month: Option<String>,
    /// 医療機関名 / 薬局名.
    pub ins_name: Option<String>,
    /// 処方区分: `1` 院内, `2` 院外 (project convention for the codes; the element name is the one OQSDrug
    /// reads: reference/oqs-clients.md §5.2).
    pub in_out: Option<String>,
    /// Per date.
    pub di_date_infs: Option<DiDateInfs>,
}

/// `DiDateInfs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct DiDateInfs {
    /// One per date.
    pub di_date_inf: Vec<DiDateInf>,
}

/// `DiDateInf`: drugs of one date.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct DiDateInf {
    /// 処方日 / 調剤日 yyyyMMdd.
    pub di_date: Option<String>,
    /// The drugs.
    pub drug_infs: Option<DrugInfs>,
}

/// `DrugInfs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct DrugInfs {
    /// One per drug.
    pub drug_inf: Vec<DrugInf>,
}

/// `DrugInf`: one drug.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct DrugInf {
    /// 医薬品コード (レセ電 9 digits or YJ).
    pub drug_c: Option<String>,
    /// 医薬品名.
    pub drug_n: Option<String>,
    /// 一般名 (成分名).
    pub ingre_n: Option<String>,
    /// 薬剤数量 (the quantity column of the official list, with `Unit`).
    pub qua1: Option<String>,
    /// 単位.
    pub unit: Option<String>,
    /// 用法.
    pub usage_n: Option<String>,
    /// 日数・回数.
    pub times: Option<String>,
    /// 用法等の特別指示 (`SpInst`, as read by OQSDrug: reference/oqs-clients.md §5.2).
    pub sp_inst: Option<String>,
    /// 使用区分 as a レセプト 診療識別: `21` 内服, `22` 屯服, `23` 外用 (`MeTrIdCl`, as read by OQSDrug).
    pub me_tr_id_cl: Option<String>,
    /// 1回用量 in `Unit` (project convention), printed as ＜1回用量＞ after 【用法】 on the official list.
    pub once_qua: Option<String>,
}

/// `SurgeryInf` (project convention).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SurgeryInf {
    /// Per month.
    pub surgery_month_inf: Vec<SurgeryMonthInf>,
}

/// `SurgeryMonthInf`: one operation.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SurgeryMonthInf {
    /// 診療年月 yyyyMM.
    pub month: Option<String>,
    /// 手術日 yyyyMMdd.
    pub surgery_date: Option<String>,
    /// 医療機関名.
    pub ins_name: Option<String>,
    /// 手術コード (K code / 診療行為コード).
    pub surgery_c: Option<String>,
    /// 手術名称.
    pub surgery_n: Option<String>,
}

/// `DialysisInf` (project convention).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct DialysisInf {
    /// Per month.
    pub dialysis_month_inf: Vec<DialysisMonthInf>,
}

/// `DialysisMonthInf`: dialysis sessions in one month.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct DialysisMonthInf {
    /// 診療年月 yyyyMM.
    pub month: Option<String>,
    /// 医療機関名.
    pub ins_name: Option<String>,
    /// 透析の種類 (e.g. 血液透析, 腹膜透析).
    pub dialysis_kind: Option<String>,
    /// 実施回数.
    pub times: Option<String>,
}

/// `TKKsiquc01res` (XML form).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckupResult {
    /// Header.
    pub message_header: CheckupResultHeader,
    /// Body.
    pub message_body: CheckupResultBody,
}

/// Header of [`CheckupResult`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckupResultHeader {
    /// 処理実行日時.
    pub process_execution_time: Option<String>,
    /// 医療機関コード.
    pub medical_institution_code: Option<String>,
    /// Echo.
    pub arbitrary_file_identifier: Option<String>,
    /// `1` on success.
    pub result_code: Option<MedicalInfoResultCode>,
    /// Error text.
    pub message_contents: Option<String>,
    /// 文字コード識別.
    pub character_code_identifier: Option<CharacterCodeIdentifier>,
    /// The person.
    pub qualifications_info: Option<QualificationsInfo>,
}

/// `QualificationsInfo`: the person a checkup XML is about (element names as in S1, `KanasName` included).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct QualificationsInfo {
    /// 氏名.
    pub name: Option<Pii>,
    /// カナ氏名.
    pub kanas_name: Option<Pii>,
    /// 生年月日 yyyyMMdd.
    pub birthday: Option<Pii>,
    /// 性別.
    pub administrative_gender_code: Option<Sex>,
}

/// Body of [`CheckupResult`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckupResultBody {
    /// One per checkup.
    pub specific_health_checkup_info: Vec<SpecificHealthCheckupInfo>,
}

/// `SpecificHealthCheckupInfo`: one checkup.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct SpecificHealthCheckupInfo {
    /// 実施日 yyyyMMdd.
    pub effective_time: Option<String>,
    /// The items.
    pub health_checkup_result_and_question_infos: Option<HealthCheckupResultAndQuestionInfos>,
}

/// `HealthCheckupResultAndQuestionInfos`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthCheckupResultAndQuestionInfos {
    /// One per item (検査結果 or 問診).
    pub health_checkup_result_and_question_info: Vec<HealthCheckupResultAndQuestionInfo>,
}

/// `HealthCheckupResultAndQuestionInfo`: one checkup item.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthCheckupResultAndQuestionInfo {
    /// 項目コード (JLAC10 17 chars, e.g. `9N001000000000001` 身長).
    pub item_code: Option<String>,
    /// 項目名.
    pub item_name: Option<String>,
    /// データ型 (`PQ` 数値, `CO` コード, `ST` 文字列).
    pub data_type: Option<String>,
    /// 値.
    pub data_value: Option<String>,
    /// 単位.
    pub unit: Option<String>,
    /// コード体系 OID (for `CO`).
    pub oid: Option<String>,
    /// コード値の名称.
    pub data_value_name: Option<String>,
}

impl MedicationResult {
    /// A failed request: `ResultCode` 2 with the text to show.
    pub fn error(message_contents: impl Into<String>) -> Self {
        Self {
            message_header: MedicationResultHeader {
                result_code: Some(MedicalInfoResultCode::Failure),
                message_contents: Some(message_contents.into()),
                ..MedicationResultHeader::default()
            },
            message_body: MedicationResultBody::default(),
        }
    }
}

impl CheckupResult {
    /// A failed request: `ResultCode` 2 with the text to show.
    pub fn error(message_contents: impl Into<String>) -> Self {
        Self {
            message_header: CheckupResultHeader {
                result_code: Some(MedicalInfoResultCode::Failure),
                message_contents: Some(message_contents.into()),
                ..CheckupResultHeader::default()
            },
            message_body: CheckupResultBody::default(),
        }
    }
}
