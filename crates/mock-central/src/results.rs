//! Turning database records and synthesised history into the protocol's result messages.

use oqs_protocol::{
    CheckupResult, CheckupResultBody, CheckupResultHeader, ConsentState, CzDiInf, DialysisInf,
    DialysisMonthInf, ElderlyRecipientCertificateInfo, Encoding,
    HealthCheckupResultAndQuestionInfo, HealthCheckupResultAndQuestionInfos,
    InsuredCardClassification, LimitApplicationCertificateRelatedInfo, LimitClassification,
    LimitClassificationFlag, MeTrInf, MedicalInfoResultCode, MedicationDate, MedicationMonth,
    MedicationResult, MedicationResultBody, MedicationResultHeader, PersonalFamilyClassification,
    Pii, PreschoolClassification, ProvisionConsent, QuaInf, QualificationValidity,
    QualificationsInfo, ReasonOfLoss, ResultOfQualificationConfirmation, Sex, ShDrugInf, ShPrInf,
    SpecificDiseaseCategory, SpecificDiseasesCertificateInfo, SpecificDiseasesCertificateList,
    SpecificHealthCheckupInfo, SurgeryInf, SurgeryMonthInf,
};
use time::Date;

use crate::dates::{age_on, parse_ymd, ymd};
use crate::history::History;
use crate::store::{Record, Validity};

/// Consent kinds stored per person and facility (the `kind` column of `consents`).
pub mod consent_kind {
    /// 薬剤情報
    pub const PHARMACISTS: &str = "pharmacists";
    /// 診療情報
    pub const DIAGNOSIS: &str = "diagnosis";
    /// 手術情報
    pub const OPERATION: &str = "operation";
    /// 特定健診情報
    pub const CHECKUP: &str = "checkup";
    pub const ALL: [&str; 4] = [PHARMACISTS, DIAGNOSIS, OPERATION, CHECKUP];
}

/// One consent as the result reports it.
#[derive(Clone, Debug, Default)]
pub struct ConsentView {
    /// `None`: never given; `Some((cons_time, available_time, still_valid))`.
    pub pharmacists: Option<(String, String, bool)>,
    pub diagnosis: Option<(String, String, bool)>,
    pub operation: Option<(String, String, bool)>,
    pub checkup: Option<(String, String, bool)>,
}

fn consent_triplet(
    c: &Option<(String, String, bool)>,
) -> (Option<ConsentState>, Option<String>, Option<String>) {
    match c {
        None => (Some(ConsentState::NoConsent), None, None),
        Some((t, a, true)) => (
            Some(ConsentState::Consented),
            Some(t.clone()),
            Some(a.clone()),
        ),
        Some((t, a, false)) => (
            Some(ConsentState::Expired),
            Some(t.clone()),
            Some(a.clone()),
        ),
    }
}

/// Replace characters that the output encoding cannot carry with 〓 (the customary substitute), so
/// a Shift_JIS facility still gets a file for a person whose name uses, e.g., 𠮷.
pub fn fit(s: &str, enc: Encoding) -> String {
    if enc == Encoding::Utf8 {
        return s.to_string();
    }
    s.chars()
        .map(|c| if enc.can_encode(c) { c } else { '〓' })
        .collect()
}

/// The interface's 8-character form: 6-digit 国保 numbers are left-padded with two spaces.
pub fn insurer_number_field(n: &str) -> String {
    format!("{n:>8}")
}

pub fn validity_code(v: Validity) -> QualificationValidity {
    QualificationValidity::from_code(v.code())
}

/// Options for building one `ResultOfQualificationConfirmation`.
pub struct RecordOptions<'a> {
    pub on: Date,
    pub encoding: Encoding,
    /// Include 限度額 information (the patient agreed to provide it, or a card check-in since 2024-10).
    pub limit_consent: Option<&'a str>,
    pub consents: Option<&'a ConsentView>,
}

pub fn result_record(rec: &Record, o: &RecordOptions<'_>) -> ResultOfQualificationConfirmation {
    let enc = o.encoding;
    let birth = parse_ymd(&rec.birth);
    let age = birth.map(|b| age_on(b, o.on)).unwrap_or(30);
    let mut r = ResultOfQualificationConfirmation {
        insured_card_classification: Some(InsuredCardClassification::General),
        insurer_number: Some(insurer_number_field(&rec.insurer_number)),
        insured_card_symbol: (!rec.symbol.is_empty()).then(|| Pii::new(fit(&rec.symbol, enc))),
        insured_identification_number: Some(Pii::new(rec.number.clone())),
        insured_branch_number: (!rec.branch.is_empty()).then(|| Pii::new(rec.branch.clone())),
        personal_family_classification: Some(if rec.family == 2 {
            PersonalFamilyClassification::Family
        } else {
            PersonalFamilyClassification::Insured
        }),
        insured_name: Some(Pii::new(fit(&rec.insured_name, enc))),
        name: Some(Pii::new(fit(&rec.name, enc))),
        name_kana: Some(Pii::new(rec.kana.clone())),
        sex1: Some(Sex::from_code(&rec.sex.to_string())),
        sex2: Some(Sex::from_code(&rec.sex.to_string())),
        birthdate: Some(Pii::new(rec.birth.clone())),
        address: Some(Pii::new(fit(&rec.address, enc))),
        post_number: Some(Pii::new(rec.post.clone())),
        qualification_date: Some(rec.qual_date.clone()),
        disqualification_date: rec.disq_date.clone(),
        insured_certificate_issuance_date: Some(rec.qual_date.clone()),
        insured_card_valid_date: Some(rec.qual_date.clone()),
        insured_partial_contribution_ratio: Some(rec.ratio.clone()),
        preschool_classification: (age < 6).then_some(PreschoolClassification::Preschool),
        reason_of_loss: rec.loss_reason.as_deref().map(ReasonOfLoss::from_code),
        insurer_name: Some(fit(&rec.insurer_name, enc)),
        reference_number: rec.reference_number.clone().map(Pii::new),
        ..Default::default()
    };
    if (70..75).contains(&age) {
        r.elderly_recipient_certificate_info = Some(ElderlyRecipientCertificateInfo {
            elderly_recipient_certificate_date: Some(rec.qual_date.clone()),
            elderly_recipient_valid_start_date: Some(rec.qual_date.clone()),
            elderly_recipient_valid_end_date: None,
            elderly_recipient_contribution_ratio: Some(rec.ratio.clone()),
        });
    }
    if let Some(time) = o.limit_consent {
        r.limit_application_certificate_related_cons_flg = Some(ProvisionConsent::Consented);
        r.limit_application_certificate_related_cons_time = Some(time.to_string());
        r.limit_application_certificate_related_info =
            rec.limit
                .as_ref()
                .map(|l| LimitApplicationCertificateRelatedInfo {
                    limit_application_certificate_classification: Some(
                        LimitClassification::from_code(&l.classification),
                    ),
                    limit_application_certificate_classification_flag: Some(
                        LimitClassificationFlag::from_code(&l.flag),
                    ),
                    limit_application_certificate_date: Some(l.cert_date.clone()),
                    limit_application_certificate_valid_start_date: Some(l.valid_from.clone()),
                    limit_application_certificate_valid_end_date: Some(l.valid_to.clone()),
                    limit_application_certificate_long_term_date: None,
                });
        if !rec.diseases.is_empty() {
            r.specific_diseases_certificate_related_cons_flg = Some(ConsentState::Consented);
            r.specific_diseases_certificate_related_cons_time = Some(time.to_string());
            r.specific_diseases_certificate_list = Some(SpecificDiseasesCertificateList {
                specific_diseases_certificate_info: rec
                    .diseases
                    .iter()
                    .map(|d| SpecificDiseasesCertificateInfo {
                        specific_diseases_disease_category: Some(
                            SpecificDiseaseCategory::from_code(&d.category),
                        ),
                        specific_diseases_certificate_date: Some(d.cert_date.clone()),
                        specific_diseases_valid_start_date: Some(d.valid_from.clone()),
                        specific_diseases_valid_end_date: Some(d.valid_to.clone()),
                        specific_diseases_self_pay: Some(d.self_pay.to_string()),
                    })
                    .collect(),
            });
        }
    } else {
        r.limit_application_certificate_related_cons_flg = Some(ProvisionConsent::NotConsented);
    }
    if let Some(c) = o.consents {
        (
            r.pharmacists_info_cons_flg,
            r.pharmacists_info_cons_time,
            r.pharmacists_info_available_time,
        ) = consent_triplet(&c.pharmacists);
        (
            r.diagnosis_info_cons_flg,
            r.diagnosis_info_cons_time,
            r.diagnosis_info_available_time,
        ) = consent_triplet(&c.diagnosis);
        (
            r.operation_info_cons_flg,
            r.operation_info_cons_time,
            r.operation_info_available_time,
        ) = consent_triplet(&c.operation);
        (
            r.specific_health_checkups_info_cons_flg,
            r.specific_health_checkups_info_cons_time,
            r.specific_health_checkups_info_available_time,
        ) = consent_triplet(&c.checkup);
    }
    r
}

fn ym(d: Date) -> String {
    format!("{:04}{:02}", d.year(), u8::from(d.month()))
}

pub struct MedicalHeader<'a> {
    pub time: String,
    pub facility: Option<String>,
    pub arbitrary: Option<String>,
    pub record: &'a Record,
    pub encoding: Encoding,
}

/// The 医療機関コード of a facility of the synthetic history: prefecture 13, 点数表 1 (医科) or 4 (薬局), then
/// its place in the list. A code counts for OQSDrug only with 10 digits and 点数表 1 or 3.
fn history_facility_code(name: &str) -> String {
    let table = if name.ends_with("薬局") { 4 } else { 1 };
    let index = crate::history::FACILITIES
        .iter()
        .position(|f| *f == name)
        .map_or(9_999_999, |i| i + 1);
    format!("13{table}{index:07}")
}

/// `DiOrg` / `ShPrOrg` / `CzDiOrg` of a facility: the same 点数表 digit (our convention; the values are not
/// public).
fn org_of(code: &str) -> String {
    code[2..3].to_string()
}

/// Adds `date` to the month of `facility` (and `class`: 入外 for 診療実績, 処方区分 for 処方 and 調剤) in `months`, opening it if needed.
fn month_of<'a>(
    months: &'a mut Vec<MedicationMonth>,
    own: Option<&str>,
    date: Date,
    treating: &str,
    prescriber: &str,
    class: &str,
) -> &'a mut MedicationMonth {
    let month = ym(date);
    let treating_code = history_facility_code(treating);
    let at = months.iter().position(|m| {
        m.month.as_deref() == Some(month.as_str())
            && m.treating_code.as_deref() == Some(treating_code.as_str())
            && m.prescriber_name.as_deref() == Some(prescriber)
            && m.class.as_deref() == Some(class)
    });
    let at = match at {
        Some(i) => i,
        None => {
            let prescriber_code = history_facility_code(prescriber);
            months.push(MedicationMonth {
                org: Some(org_of(&treating_code)),
                own_facility: Some(
                    if own == Some(prescriber_code.as_str()) {
                        "1"
                    } else {
                        "2"
                    }
                    .into(),
                ),
                treating_code: Some(treating_code),
                treating_name: Some(treating.to_string()),
                prescriber_code: Some(prescriber_code),
                prescriber_name: Some(prescriber.to_string()),
                month: Some(month),
                class: Some(class.to_string()),
                dates: Vec::new(),
            });
            months.len() - 1
        }
    };
    &mut months[at]
}

/// The pharmacy that dispenses every 院外 prescription of the synthetic history.
const PHARMACY: &str = "ひかり薬局";

/// `YZKsiquc01res` (XML): 薬剤 and, when `with_treatment`, 診療 (and 手術・透析) information, in the layout
/// OQSDrug reads: months per facility, dates below them, 診療行為 as `MeTrInf` under each date.
pub fn medication_result(
    h: &MedicalHeader<'_>,
    hist: &History,
    with_treatment: bool,
    with_surgery: bool,
) -> MedicationResult {
    let rec = h.record;
    let own = h.facility.as_deref();
    let mut prescribed: Vec<MedicationMonth> = Vec::new();
    let mut dispensed: Vec<MedicationMonth> = Vec::new();
    for v in hist.visits.iter().filter(|v| !v.drugs.is_empty()) {
        let drugs: Vec<ShDrugInf> = v
            .drugs
            .iter()
            .map(|d| ShDrugInf {
                code: Some(d.code.to_string()),
                name: Some(d.name.to_string()),
                ingredient: Some(d.ingredient.to_string()),
                quantity: Some(d.quantity.clone()),
                unit: Some(d.unit.to_string()),
                usage: Some(d.usage.to_string()),
                times: Some(d.days.to_string()),
                special_instruction: special_instruction(d.code).map(str::to_owned),
                treatment_class: Some(d.class.to_owned()),
                once_quantity: d.once.clone(),
                ..ShDrugInf::default()
            })
            .collect();
        // 処方: written by the facility visited; ShPrCl is its 処方区分 (1 院内, 2 院外).
        month_of(
            &mut prescribed,
            own,
            v.date,
            v.facility,
            v.facility,
            v.dispensing,
        )
        .dates
        .push(MedicationDate {
            date: Some(ymd(v.date)),
            prescribed: None,
            drugs: drugs.clone(),
            acts: Vec::new(),
        });
        // 調剤: dispensed the same day, by the facility itself for 院内, else by the pharmacy.
        let dispenser = if v.dispensing == "1" {
            v.facility
        } else {
            PHARMACY
        };
        month_of(
            &mut dispensed,
            own,
            v.date,
            dispenser,
            v.facility,
            v.dispensing,
        )
        .dates
        .push(MedicationDate {
            date: Some(ymd(v.date)),
            prescribed: Some(ymd(v.date)),
            drugs,
            acts: Vec::new(),
        });
    }
    let mut treated: Vec<MedicationMonth> = Vec::new();
    if with_treatment {
        for v in &hist.visits {
            month_of(&mut treated, own, v.date, v.facility, v.facility, v.in_out)
                .dates
                .push(MedicationDate {
                    date: Some(ymd(v.date)),
                    prescribed: (!v.drugs.is_empty()).then(|| ymd(v.date)),
                    drugs: Vec::new(),
                    acts: v
                        .treatments
                        .iter()
                        .map(|(c, n)| MeTrInf {
                            name: Some(n.to_string()),
                            code: Some(c.to_string()),
                            quantity: Some("1".into()),
                            times: Some("1".into()),
                            ..MeTrInf::default()
                        })
                        .collect(),
                });
        }
    }
    MedicationResult {
        message_header: MedicationResultHeader {
            process_execution_time: Some(h.time.clone()),
            medical_institution_code: h.facility.clone(),
            arbitrary_file_identifier: h.arbitrary.clone(),
            result_code: Some(MedicalInfoResultCode::Success),
            message_contents: None,
            character_code_identifier: None,
            qua_inf: Some(QuaInf {
                name: Some(Pii::new(fit(&rec.name, h.encoding))),
                kana_name: Some(Pii::new(rec.kana.clone())),
                birth: Some(Pii::new(rec.birth.clone())),
                adm_gend_code: Some(Sex::from_code(&rec.sex.to_string())),
            }),
        },
        message_body: MedicationResultBody {
            me_tr_month_inf: treated.iter().map(MedicationMonth::to_treatment).collect(),
            sh_pr_inf: (!prescribed.is_empty()).then(|| ShPrInf {
                months: prescribed
                    .iter()
                    .map(MedicationMonth::to_prescription)
                    .collect(),
            }),
            cz_di_inf: (!dispensed.is_empty()).then(|| CzDiInf {
                months: dispensed
                    .iter()
                    .map(MedicationMonth::to_dispensing)
                    .collect(),
            }),
            surgery_inf: (with_surgery && !hist.surgeries.is_empty()).then(|| SurgeryInf {
                surgery_month_inf: hist
                    .surgeries
                    .iter()
                    .map(|s| SurgeryMonthInf {
                        month: Some(ym(s.date)),
                        surgery_date: Some(ymd(s.date)),
                        ins_name: Some(s.facility.to_string()),
                        surgery_c: Some(s.code.to_string()),
                        surgery_n: Some(s.name.to_string()),
                    })
                    .collect(),
            }),
            dialysis_inf: (with_treatment && !hist.dialysis.is_empty()).then(|| DialysisInf {
                dialysis_month_inf: hist
                    .dialysis
                    .iter()
                    .map(|d| DialysisMonthInf {
                        month: Some(ym(d.month)),
                        ins_name: Some(d.facility.to_string()),
                        dialysis_kind: Some("人工腎臓".into()),
                        times: Some(d.times.to_string()),
                    })
                    .collect(),
            }),
        },
    }
}

/// 用法等の特別指示 the mock's prescribers write for some drugs.
fn special_instruction(drug_code: &str) -> Option<&'static str> {
    match drug_code {
        "620015708" => Some("１日３回まで。服用間隔は４時間以上あけること"),
        "620010203" => Some("ＰＴ－ＩＮＲ値により用量調節"),
        _ => None,
    }
}

/// `TKKsiquc01res` (XML).
pub fn checkup_result(h: &MedicalHeader<'_>, hist: &History) -> CheckupResult {
    let rec = h.record;
    CheckupResult {
        message_header: CheckupResultHeader {
            process_execution_time: Some(h.time.clone()),
            medical_institution_code: h.facility.clone(),
            arbitrary_file_identifier: h.arbitrary.clone(),
            result_code: Some(MedicalInfoResultCode::Success),
            message_contents: None,
            character_code_identifier: None,
            qualifications_info: Some(QualificationsInfo {
                name: Some(Pii::new(fit(&rec.name, h.encoding))),
                kanas_name: Some(Pii::new(rec.kana.clone())),
                birthday: Some(Pii::new(rec.birth.clone())),
                administrative_gender_code: Some(Sex::from_code(&rec.sex.to_string())),
            }),
        },
        message_body: CheckupResultBody {
            specific_health_checkup_info: hist
                .checkups
                .iter()
                .map(|c| SpecificHealthCheckupInfo {
                    effective_time: Some(ymd(c.date)),
                    health_checkup_result_and_question_infos: Some(
                        HealthCheckupResultAndQuestionInfos {
                            health_checkup_result_and_question_info: c
                                .items
                                .iter()
                                .map(|i| HealthCheckupResultAndQuestionInfo {
                                    item_code: Some(i.code.to_string()),
                                    item_name: Some(i.name.to_string()),
                                    data_type: Some(
                                        match (i.text, i.value.is_empty()) {
                                            (None, _) => "PQ",
                                            (Some(_), false) => "CO",
                                            (Some(_), true) => "ST",
                                        }
                                        .into(),
                                    ),
                                    data_value: Some(if i.value.is_empty() {
                                        i.text.unwrap_or_default().to_owned()
                                    } else {
                                        i.value.clone()
                                    }),
                                    unit: (!i.unit.is_empty()).then(|| i.unit.to_string()),
                                    oid: Some("1.2.392.200119.6.1005".into()),
                                    data_value_name: i
                                        .text
                                        .filter(|_| !i.value.is_empty())
                                        .map(str::to_owned),
                                })
                                .collect(),
                        },
                    ),
                })
                .collect(),
        },
    }
}
