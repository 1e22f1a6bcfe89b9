//! 薬剤情報・診療情報 (`YZKsiquc01`) and 特定健診情報 (`TKKsiquc01`): requests and XML results.
//!
//! Requests follow the shape seen in production client code (OQSDrug `Form1.GenerateXML`). The YZK result
//! layout is the one OQSDrug reads (reference/oqs-clients.md §5.2: facility codes and names, `InOut`, the
//! `DiDateInfs/DiDateInf/MeTrInfs/MeTrInf` nesting and the `Cz…`/`Sh…` variants); the surgery and dialysis
//! groups are the project's own (docs/file-interface.md), where that client ignores them.

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

/// Body of [`MedicationResult`] in the layout OQSDrug reads (reference/oqs-clients.md §5.2): 診療実績
/// (`MeTrMonthInf`), 処方 (`ShPrInf/ShPrMonthInf`) and 調剤 (`CzDiInf/CzDiMonthInf`), each month at one
/// facility with its dates below; then our own 手術 and 透析 groups, which that client does not look for.
/// [`MedicationResultBody::months`] gives the three sources in one shape.
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

/// A struct whose fields carry their exact element names: the three month layouts name the same facts
/// with different prefixes (`DrugC`, `CzDrugC`, `ShDrugC`), so each is its own type with the same field
/// names, and [`MedicationMonth`] reads any of them.
macro_rules! elements {
    ($(#[$meta:meta])* $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $xml:literal, )+ }) => {
        $(#[$meta])*
        #[skip_serializing_none]
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[cfg_attr(any(test, feature = "arbitrary"), derive(Arbitrary))]
        #[serde(default)]
        pub struct $name {
            $( $(#[$fmeta])* #[serde(rename = $xml)] pub $field: $ty, )+
        }
    };
}

elements! {
    /// `MeTrMonthInf`: 診療実績 at one facility in one month.
    MeTrMonthInf {
        /// 医療機関の種別 (`DiOrg`; code values are not public: we write `1` 医科, `3` 歯科).
        org: Option<String> = "DiOrg",
        /// 診療した医療機関コード (10 digits).
        treating_code: Option<String> = "MeTrDiHCd",
        /// 診療した医療機関名.
        treating_name: Option<String> = "MeTrDiHNm",
        /// 処方した医療機関コード.
        prescriber_code: Option<String> = "PrlsHCd",
        /// 処方した医療機関名.
        prescriber_name: Option<String> = "PrlsHNm",
        /// 診療年月 yyyyMM.
        month: Option<String> = "MeTrMonth",
        /// 自院 `1` / 他院 `2` (OQSDrug computes it from the code when absent).
        own_facility: Option<String> = "PrIsOrg",
        /// 入外 of the visit (`1` 外来, `2` 入院; values are our convention, docs/file-interface.md).
        class: Option<String> = "InOut",
        /// The dates.
        dates: Option<DiDateInfs> = "DiDateInfs",
    }
}

elements! {
    /// `DiDateInfs`.
    DiDateInfs {
        /// One per date.
        list: Vec<DiDateInf> = "DiDateInf",
    }
}

elements! {
    /// `DiDateInf`: one date of 診療実績: drugs and 診療行為.
    DiDateInf {
        /// 診療日 yyyyMMdd.
        date: Option<String> = "DiDate",
        /// 処方日 yyyyMMdd.
        prescribed: Option<String> = "PrDate",
        /// Drugs.
        drugs: Option<DrugInfs> = "DrugInfs",
        /// 診療行為.
        acts: Option<MeTrInfs> = "MeTrInfs",
    }
}

elements! {
    /// `MeTrInfs`.
    MeTrInfs {
        /// One per 診療行為.
        list: Vec<MeTrInf> = "MeTrInf",
    }
}

elements! {
    /// `MeTrInf`: one 診療行為.
    MeTrInf {
        /// 診療行為名称.
        name: Option<String> = "SinInfN",
        /// 診療行為コード (9 digits).
        code: Option<String> = "SinInfCd",
        /// 診療識別 (code values are not public).
        treatment_class: Option<String> = "MeTrIdCl",
        /// 数量.
        quantity: Option<String> = "Qua1",
        /// 回数.
        times: Option<String> = "Times",
        /// 単位.
        unit: Option<String> = "Unit",
    }
}

elements! {
    /// `DrugInfs`.
    DrugInfs {
        /// One per drug.
        list: Vec<DrugInf> = "DrugInf",
    }
}

elements! {
    /// `DrugInf`: one drug of 診療実績.
    DrugInf {
        /// 医薬品コード (レセ電 9 digits or YJ).
        code: Option<String> = "DrugC",
        /// 医薬品名.
        name: Option<String> = "DrugN",
        /// 一般名 (成分名).
        ingredient: Option<String> = "IngreN",
        /// 薬剤数量 (the quantity column of the official list, with the unit).
        quantity: Option<String> = "Qua1",
        /// 単位.
        unit: Option<String> = "Unit",
        /// 用法.
        usage: Option<String> = "UsageN",
        /// 用法等の特別指示.
        special_instruction: Option<String> = "SpInst",
        /// 日数・回数.
        times: Option<String> = "Times",
        /// 使用区分 as a レセプト 診療識別: `21` 内服, `22` 屯服, `23` 外用.
        treatment_class: Option<String> = "MeTrIdCl",
        /// 1回用量 in the unit (project convention), printed as ＜1回用量＞ after 【用法】 on the official list.
        once_quantity: Option<String> = "OnceQua",
    }
}

elements! {
    /// `ShPrInf`: prescriptions.
    ShPrInf {
        /// Per month and facility.
        months: Vec<ShPrMonthInf> = "ShPrMonthInf",
    }
}

elements! {
    /// `ShPrMonthInf`: prescriptions written by one facility in one month.
    ShPrMonthInf {
        /// 医療機関の種別.
        org: Option<String> = "ShPrOrg",
        /// 診療した医療機関コード.
        treating_code: Option<String> = "ShMeTrDiHCd",
        /// 診療した医療機関名.
        treating_name: Option<String> = "ShMeTrDiHNm",
        /// 処方した医療機関コード.
        prescriber_code: Option<String> = "ShPrHCd",
        /// 処方した医療機関名.
        prescriber_name: Option<String> = "ShPrHNm",
        /// 処方年月 yyyyMM.
        month: Option<String> = "ShPrMonth",
        /// 自院 `1` / 他院 `2`.
        own_facility: Option<String> = "ShPrIsOrg",
        /// 処方区分 (`1` 院内, `2` 院外; values are our convention).
        class: Option<String> = "ShPrCl",
        /// The dates.
        dates: Option<ShPrDateInfs> = "ShPrDateInfs",
    }
}

elements! {
    /// `ShPrDateInfs`.
    ShPrDateInfs {
        /// One per date.
        list: Vec<ShPrDateInf> = "ShPrDateInf",
    }
}

elements! {
    /// `ShPrDateInf`: the drugs prescribed on one date.
    ShPrDateInf {
        /// 処方日 yyyyMMdd.
        date: Option<String> = "ShPrDate",
        /// Drugs.
        drugs: Option<ShDrugInfs> = "ShDrugInfs",
    }
}

elements! {
    /// `ShDrugInfs`.
    ShDrugInfs {
        /// One per drug.
        list: Vec<ShDrugInf> = "ShDrugInf",
    }
}

elements! {
    /// `ShDrugInf`: one drug prescribed.
    ShDrugInf {
        /// 医薬品コード.
        code: Option<String> = "ShDrugC",
        /// 医薬品名.
        name: Option<String> = "ShDrugN",
        /// 一般名.
        ingredient: Option<String> = "ShIngreN",
        /// 1回量 / 数量.
        quantity: Option<String> = "ShQua1",
        /// 単位.
        unit: Option<String> = "ShUnit",
        /// 用法.
        usage: Option<String> = "ShUsageN",
        /// 用法区分.
        usage_class: Option<String> = "ShUsageCl",
        /// 用法等の特別指示.
        special_instruction: Option<String> = "ShSpInst",
        /// 日数・回数.
        times: Option<String> = "ShTimes",
        /// 使用区分 as a レセプト 診療識別: `21` 内服, `22` 屯服, `23` 外用.
        treatment_class: Option<String> = "ShMeTrIdCl",
        /// 1回用量 in the unit (project convention), printed as ＜1回用量＞ after 【用法】 on the official list.
        once_quantity: Option<String> = "ShOnceQua",
    }
}

elements! {
    /// `CzDiInf`: dispensing.
    CzDiInf {
        /// Per month and pharmacy.
        months: Vec<CzDiMonthInf> = "CzDiMonthInf",
    }
}

elements! {
    /// `CzDiMonthInf`: drugs dispensed by one pharmacy in one month.
    CzDiMonthInf {
        /// 医療機関の種別 (we write `4` 薬局).
        org: Option<String> = "CzDiOrg",
        /// 調剤した薬局のコード.
        treating_code: Option<String> = "CzMeTrDiHCd",
        /// 調剤した薬局名.
        treating_name: Option<String> = "CzMeTrDiHNm",
        /// 処方した医療機関コード.
        prescriber_code: Option<String> = "CzPrlsHCd",
        /// 処方した医療機関名.
        prescriber_name: Option<String> = "CzPrlsHNm",
        /// 調剤年月 yyyyMM.
        month: Option<String> = "CzDiMonth",
        /// 自院 `1` / 他院 `2` (of the prescriber).
        own_facility: Option<String> = "CzPrIsOrg",
        /// 処方区分 of the prescription dispensed (`1` 院内, `2` 院外; values are our convention).
        class: Option<String> = "CzPrCl",
        /// The dates.
        dates: Option<CzDiDateInfs> = "CzDiDateInfs",
    }
}

elements! {
    /// `CzDiDateInfs`.
    CzDiDateInfs {
        /// One per date.
        list: Vec<CzDiDateInf> = "CzDiDateInf",
    }
}

elements! {
    /// `CzDiDateInf`: the drugs dispensed on one date.
    CzDiDateInf {
        /// 調剤日 yyyyMMdd.
        date: Option<String> = "CzDiDate",
        /// 処方日 yyyyMMdd.
        prescribed: Option<String> = "CzPrDate",
        /// Drugs.
        drugs: Option<CzDrugInfs> = "CzDrugInfs",
    }
}

elements! {
    /// `CzDrugInfs`.
    CzDrugInfs {
        /// One per drug.
        list: Vec<CzDrugInf> = "CzDrugInf",
    }
}

elements! {
    /// `CzDrugInf`: one drug dispensed.
    CzDrugInf {
        /// 医薬品コード.
        code: Option<String> = "CzDrugC",
        /// 医薬品名.
        name: Option<String> = "CzDrugN",
        /// 一般名.
        ingredient: Option<String> = "CzIngreN",
        /// 1回量 / 数量.
        quantity: Option<String> = "CzQua1",
        /// 単位.
        unit: Option<String> = "CzUnit",
        /// 用法.
        usage: Option<String> = "CzUsageN",
        /// 用法区分.
        usage_class: Option<String> = "CzUsageCl",
        /// 用法等の特別指示.
        special_instruction: Option<String> = "CzSpInst",
        /// 日数・回数.
        times: Option<String> = "CzTimes",
        /// 使用区分 as a レセプト 診療識別: `21` 内服, `22` 屯服, `23` 外用.
        treatment_class: Option<String> = "CzMeTrIdCl",
        /// 1回用量 in the unit (project convention), printed as ＜1回用量＞ after 【用法】 on the official list.
        once_quantity: Option<String> = "CzOnceQua",
    }
}

/// Where a [`MedicationMonth`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicationSource {
    /// 診療実績 (`MeTrMonthInf`).
    Treatment,
    /// 処方 (`ShPrMonthInf`).
    Prescription,
    /// 調剤 (`CzDiMonthInf`).
    Dispensing,
}

/// One month at one facility from any of the three layouts, with the same meaning whatever the prefix.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MedicationMonth {
    /// 医療機関の種別.
    pub org: Option<String>,
    /// The facility that treated (or dispensed).
    pub treating_code: Option<String>,
    /// Its name.
    pub treating_name: Option<String>,
    /// The facility that prescribed.
    pub prescriber_code: Option<String>,
    /// Its name.
    pub prescriber_name: Option<String>,
    /// yyyyMM.
    pub month: Option<String>,
    /// 自院 `1` / 他院 `2`.
    pub own_facility: Option<String>,
    /// 入外 of the visit (`InOut`, 1 外来 / 2 入院) or 処方区分 (`ShPrCl`, `CzPrCl`, 1 院内 / 2 院外).
    pub class: Option<String>,
    /// The dates.
    pub dates: Vec<MedicationDate>,
}

/// One date of a [`MedicationMonth`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MedicationDate {
    /// 診療日 / 処方日 / 調剤日 yyyyMMdd.
    pub date: Option<String>,
    /// 処方日 when it differs from the date (診療実績, 調剤).
    pub prescribed: Option<String>,
    /// Drugs (`ShDrugInf` and `CzDrugInf` read into the same shape).
    pub drugs: Vec<ShDrugInf>,
    /// 診療行為 (診療実績 only).
    pub acts: Vec<MeTrInf>,
}

/// The three drug layouts (`DrugInf`, `ShDrugInf`, `CzDrugInf`) hold the same facts under their own prefixes:
/// a conversion copies the fields both have (the listed extras only where both have them; `DrugInf` has no
/// `UsageCl`, which is left empty).
macro_rules! same_drug {
    ($from:ident => $to:ident $(, $extra:ident)*) => {
        impl From<$from> for $to {
            #[allow(clippy::needless_update)]
            fn from(d: $from) -> Self {
                $to {
                    code: d.code,
                    name: d.name,
                    ingredient: d.ingredient,
                    quantity: d.quantity,
                    unit: d.unit,
                    usage: d.usage,
                    special_instruction: d.special_instruction,
                    times: d.times,
                    treatment_class: d.treatment_class,
                    once_quantity: d.once_quantity,
                    $($extra: d.$extra,)*
                    ..Default::default()
                }
            }
        }
    };
}

same_drug!(DrugInf => ShDrugInf);
same_drug!(ShDrugInf => DrugInf);
same_drug!(CzDrugInf => ShDrugInf, usage_class);
same_drug!(ShDrugInf => CzDrugInf, usage_class);

impl MedicationMonth {
    /// As `MeTrMonthInf`.
    pub fn to_treatment(&self) -> MeTrMonthInf {
        MeTrMonthInf {
            org: self.org.clone(),
            treating_code: self.treating_code.clone(),
            treating_name: self.treating_name.clone(),
            prescriber_code: self.prescriber_code.clone(),
            prescriber_name: self.prescriber_name.clone(),
            month: self.month.clone(),
            own_facility: self.own_facility.clone(),
            class: self.class.clone(),
            dates: Some(DiDateInfs {
                list: self
                    .dates
                    .iter()
                    .map(|d| DiDateInf {
                        date: d.date.clone(),
                        prescribed: d.prescribed.clone(),
                        drugs: (!d.drugs.is_empty()).then(|| DrugInfs {
                            list: d.drugs.iter().cloned().map(DrugInf::from).collect(),
                        }),
                        acts: (!d.acts.is_empty()).then(|| MeTrInfs {
                            list: d.acts.clone(),
                        }),
                    })
                    .collect(),
            }),
        }
    }

    /// As `ShPrMonthInf` (acts and 処方日 have no place there).
    pub fn to_prescription(&self) -> ShPrMonthInf {
        ShPrMonthInf {
            org: self.org.clone(),
            treating_code: self.treating_code.clone(),
            treating_name: self.treating_name.clone(),
            prescriber_code: self.prescriber_code.clone(),
            prescriber_name: self.prescriber_name.clone(),
            month: self.month.clone(),
            own_facility: self.own_facility.clone(),
            class: self.class.clone(),
            dates: Some(ShPrDateInfs {
                list: self
                    .dates
                    .iter()
                    .map(|d| ShPrDateInf {
                        date: d.date.clone(),
                        drugs: Some(ShDrugInfs {
                            list: d.drugs.clone(),
                        }),
                    })
                    .collect(),
            }),
        }
    }

    /// As `CzDiMonthInf` (acts have no place there).
    pub fn to_dispensing(&self) -> CzDiMonthInf {
        CzDiMonthInf {
            org: self.org.clone(),
            treating_code: self.treating_code.clone(),
            treating_name: self.treating_name.clone(),
            prescriber_code: self.prescriber_code.clone(),
            prescriber_name: self.prescriber_name.clone(),
            month: self.month.clone(),
            own_facility: self.own_facility.clone(),
            class: self.class.clone(),
            dates: Some(CzDiDateInfs {
                list: self
                    .dates
                    .iter()
                    .map(|d| CzDiDateInf {
                        date: d.date.clone(),
                        prescribed: d.prescribed.clone(),
                        drugs: Some(CzDrugInfs {
                            list: d.drugs.iter().cloned().map(CzDrugInf::from).collect(),
                        }),
                    })
                    .collect(),
            }),
        }
    }
}

impl From<&MeTrMonthInf> for MedicationMonth {
    fn from(m: &MeTrMonthInf) -> Self {
        MedicationMonth {
            org: m.org.clone(),
            treating_code: m.treating_code.clone(),
            treating_name: m.treating_name.clone(),
            prescriber_code: m.prescriber_code.clone(),
            prescriber_name: m.prescriber_name.clone(),
            month: m.month.clone(),
            own_facility: m.own_facility.clone(),
            class: m.class.clone(),
            dates: m
                .dates
                .iter()
                .flat_map(|d| &d.list)
                .map(|d| MedicationDate {
                    date: d.date.clone(),
                    prescribed: d.prescribed.clone(),
                    drugs: d
                        .drugs
                        .iter()
                        .flat_map(|x| x.list.iter().cloned().map(ShDrugInf::from))
                        .collect(),
                    acts: d.acts.iter().flat_map(|x| x.list.clone()).collect(),
                })
                .collect(),
        }
    }
}

impl From<&ShPrMonthInf> for MedicationMonth {
    fn from(m: &ShPrMonthInf) -> Self {
        MedicationMonth {
            org: m.org.clone(),
            treating_code: m.treating_code.clone(),
            treating_name: m.treating_name.clone(),
            prescriber_code: m.prescriber_code.clone(),
            prescriber_name: m.prescriber_name.clone(),
            month: m.month.clone(),
            own_facility: m.own_facility.clone(),
            class: m.class.clone(),
            dates: m
                .dates
                .iter()
                .flat_map(|d| &d.list)
                .map(|d| MedicationDate {
                    date: d.date.clone(),
                    prescribed: None,
                    drugs: d.drugs.iter().flat_map(|x| x.list.clone()).collect(),
                    acts: Vec::new(),
                })
                .collect(),
        }
    }
}

impl From<&CzDiMonthInf> for MedicationMonth {
    fn from(m: &CzDiMonthInf) -> Self {
        MedicationMonth {
            org: m.org.clone(),
            treating_code: m.treating_code.clone(),
            treating_name: m.treating_name.clone(),
            prescriber_code: m.prescriber_code.clone(),
            prescriber_name: m.prescriber_name.clone(),
            month: m.month.clone(),
            own_facility: m.own_facility.clone(),
            class: m.class.clone(),
            dates: m
                .dates
                .iter()
                .flat_map(|d| &d.list)
                .map(|d| MedicationDate {
                    date: d.date.clone(),
                    prescribed: d.prescribed.clone(),
                    drugs: d
                        .drugs
                        .iter()
                        .flat_map(|x| x.list.iter().cloned().map(ShDrugInf::from))
                        .collect(),
                    acts: Vec::new(),
                })
                .collect(),
        }
    }
}

impl MedicationResultBody {
    /// Every month of 診療実績, 処方 and 調剤, each with where it came from, in file order.
    pub fn months(&self) -> Vec<(MedicationSource, MedicationMonth)> {
        let treatment = self
            .me_tr_month_inf
            .iter()
            .map(|m| (MedicationSource::Treatment, MedicationMonth::from(m)));
        let prescription = self
            .sh_pr_inf
            .iter()
            .flat_map(|s| &s.months)
            .map(|m| (MedicationSource::Prescription, MedicationMonth::from(m)));
        let dispensing = self
            .cz_di_inf
            .iter()
            .flat_map(|c| &c.months)
            .map(|m| (MedicationSource::Dispensing, MedicationMonth::from(m)));
        treatment.chain(prescription).chain(dispensing).collect()
    }
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
