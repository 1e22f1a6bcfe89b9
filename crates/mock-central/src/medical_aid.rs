//! 医療扶助 (生活保護) in results: the `InsuredCardClassification` A1 qualification, its monthly 医療券・調剤券
//! (`PublicExpenseResultList/MedicalTicketInfo`), 資格有効性 6 (有効（未登録）) while the welfare office has not
//! registered the month's tickets (「未委託」 on the terminal), and the DV・虐待 restriction.
//!
//! Tickets are not stored: a person's ticket for a month is derived from their aid record and the facility
//! asking, as if the welfare office had issued that month's 医療券 to this facility (調剤券 for a pharmacy).
//! The code values written for `TicketType`, `MedicalTreatmentType` and `SingleOrCombinedUse` are the
//! project's convention (docs/file-interface.md, "医療扶助"), since the real ones are not public.

use oqs_protocol::{
    DisclosureRestriction, Encoding, InsuredCardClassification, MedicalSubsidyCertificateInfo,
    MedicalSubsidyCertificateList, MedicalTicketInfo, Pii, ProvisionConsent,
    PublicExpenseResultList, QualificationValidity, ResultOfQualificationConfirmation, Sex,
};
use time::Date;

use crate::dates::{add_months, parse_ymd};
use crate::results::fit;
use crate::store::{AidRecord, Facility, SubsidyRow, Validity};

/// `TicketType` 医療券 (project convention).
pub const TICKET_MEDICAL: &str = "1";
/// `TicketType` 調剤券 (project convention).
pub const TICKET_DISPENSING: &str = "2";

const INJURIES: &[&str] = &[
    "高血圧症",
    "２型糖尿病",
    "腰痛症",
    "慢性胃炎",
    "脂質異常症",
    "変形性膝関節症",
    "気管支喘息",
];

const PRESCRIBERS: &[&str] = &["あおば内科クリニック", "さくら整形外科", "みどり台診療所"];

const REMARKS: &[&str] = &[
    "通院移送費の申請あり",
    "次回受診時に福祉事務所へ連絡",
    "長期処方は地区担当員と相談",
];

/// Whether the welfare office has registered the tickets of the month of `on`.
pub fn registered(aid: &AidRecord, on: Date) -> bool {
    aid.registration_day != 0 && on.day() >= aid.registration_day
}

/// The tickets of the month of `on` for `facility`, if registered. The third digit of the 医療機関コード
/// says what the facility is (1 医科, 3 歯科, 4 調剤), which decides 医療券 or 調剤券 and 診療別.
pub fn tickets(
    aid: &AidRecord,
    facility: &Facility,
    on: Date,
    combined: bool,
    enc: Encoding,
) -> Vec<MedicalTicketInfo> {
    if !registered(aid, on) {
        return Vec::new();
    }
    let first = on.replace_day(1).unwrap_or(on);
    let last = add_months(first, 1) - time::Duration::days(1);
    let start = parse_ymd(&aid.start).unwrap_or(first).max(first);
    let kind = facility.code.as_bytes().get(2).copied().unwrap_or(b'1');
    let (ticket, treatment) = match kind {
        b'4' => (TICKET_DISPENSING, "4"),
        b'3' => (TICKET_MEDICAL, "3"),
        _ => (TICKET_MEDICAL, "2"),
    };
    let id = aid.person_id as usize;
    let injury = |k: usize| Pii::new(INJURIES[(id + k) % INJURIES.len()]);
    let text = |s: &str| Pii::new(fit(s, enc));
    // A 調剤券 names the clinic whose prescription it fills: one of the prefecture's, by person.
    let prescriber = (ticket == TICKET_DISPENSING).then(|| {
        (
            format!(
                "{}1{:07}",
                &facility.code[..2.min(facility.code.len())],
                1_000_000 + id % 9_000_000
            ),
            fit(PRESCRIBERS[id % PRESCRIBERS.len()], enc),
        )
    });
    // The welfare office's notes, for some people (every fourth).
    let remark = |k: usize| (id % 4 == 0).then(|| text(REMARKS[k]));
    vec![MedicalTicketInfo {
        ticket_type: Some(ticket.into()),
        medical_ticket_valid_date: Some(crate::dates::ymd(start)),
        medical_ticket_expiration_date: Some(crate::dates::ymd(last)),
        issue_number: Some(format!(
            "{:02}{:02}{:04}",
            first.year() % 100,
            u8::from(first.month()),
            aid.person_id % 10_000
        )),
        medical_treatment_month: Some(format!("{:04}{:02}", first.year(), u8::from(first.month()))),
        designated_medical_institution_code: Some(facility.code.clone()),
        designated_medical_institution_flag: Some("1".into()),
        designated_medical_institution_name: Some(fit(&facility.name, enc)),
        prescription_issuer_medical_institution_code: prescriber.as_ref().map(|p| p.0.clone()),
        prescription_issuer_medical_institution_name: prescriber.map(|p| p.1),
        injury_name1: Some(injury(0)),
        injury_name2: (id % 3 != 0).then(|| injury(1)),
        injury_name3: (id % 2 == 0).then(|| injury(2)),
        medical_treatment_type: Some(treatment.into()),
        self_pay_amount: Some(aid.self_pay.to_string()),
        district_contact_name: Some(text(&aid.district_contact)),
        handling_contact_name: Some(text(&aid.handling_contact)),
        single_or_combined_use: Some(if combined { "2" } else { "1" }.into()),
        status_of_social_insurance: Some(if combined { "1" } else { "0" }.into()),
        consistency_flag: Some("1".into()),
        status_of_infecton: Some("0".into()),
        status_of_elderly_medical_care: Some("0".into()),
        status_of_prefectural_expenses: Some("0".into()),
        remarks1: remark(0),
        remarks2: remark(1),
        remarks3: remark(2),
    }]
}

/// The A1 qualification of a person on 医療扶助. The 公費負担者番号, 受給者番号 and 福祉事務所名 are written under
/// both names the clients read (`InsurerNumber`/`PublicExpenseNumber`, `InsuredIdentificationNumber`/
/// `BeneficiaryNumber`, `InsurerName`/`WelfareOfficeName`).
pub fn aid_record(
    aid: &AidRecord,
    tickets: Vec<MedicalTicketInfo>,
    enc: Encoding,
) -> ResultOfQualificationConfirmation {
    ResultOfQualificationConfirmation {
        insured_card_classification: Some(InsuredCardClassification::MedicalAssistance),
        insurer_number: Some(aid.public_expense_number.clone()),
        insured_identification_number: Some(Pii::new(aid.beneficiary_number.clone())),
        name: Some(Pii::new(fit(&aid.name, enc))),
        name_kana: Some(Pii::new(aid.kana.clone())),
        sex1: Some(Sex::from_code(&aid.sex.to_string())),
        sex2: Some(Sex::from_code(&aid.sex.to_string())),
        birthdate: Some(Pii::new(aid.birth.clone())),
        address: Some(Pii::new(fit(&aid.address, enc))),
        post_number: Some(Pii::new(aid.post.clone())),
        qualification_date: Some(aid.start.clone()),
        insurer_name: Some(fit(&aid.welfare_office, enc)),
        public_expense_number: Some(aid.public_expense_number.clone()),
        beneficiary_number: Some(Pii::new(aid.beneficiary_number.clone())),
        welfare_office_name: Some(fit(&aid.welfare_office, enc)),
        disclosure_restriction: Some(if aid.restricted {
            DisclosureRestriction::Restricted
        } else {
            DisclosureRestriction::Unrestricted
        }),
        public_expense_result_list: (!tickets.is_empty()).then_some(PublicExpenseResultList {
            medical_ticket_info: tickets,
        }),
        ..ResultOfQualificationConfirmation::default()
    }
}

/// Adds a person's 医療扶助 to an answer about that one person, when the facility uses 医療扶助情報.
///
/// - Insurance valid: validity stays 1 and the A1 qualification follows the insurance one (併用).
/// - No valid insurance and `by_card` (a card check-in): the aid alone answers, 1 when this month's tickets
///   are registered, else 6 (有効（未登録）); the insurance that ended is left out.
/// - A check by insurance numbers whose insurance is not valid stays as it is: the numbers asked about are
///   not the aid's.
pub fn add_public_aid(
    validity: Validity,
    list: &mut Vec<ResultOfQualificationConfirmation>,
    aid: Option<&AidRecord>,
    facility: &Facility,
    on: Date,
    by_card: bool,
    enc: Encoding,
) -> QualificationValidity {
    let plain = crate::results::validity_code(validity);
    let Some(aid) = aid.filter(|_| facility.settings.medical_assistance_info) else {
        return plain;
    };
    match validity {
        Validity::Valid => {
            // The 照会番号 names the patient at the facility: registered through the insurance, it comes back
            // with each of the person's qualifications (client D pairs one with every ROQC of a bulk unit).
            let reference = list.first().and_then(|r| r.reference_number.clone());
            let mut record = aid_record(aid, tickets(aid, facility, on, true, enc), enc);
            record.reference_number = reference;
            list.push(record);
            plain
        }
        Validity::Multiple => plain,
        _ if by_card => {
            list.clear();
            let t = tickets(aid, facility, on, false, enc);
            let v = if t.is_empty() {
                QualificationValidity::ValidUnregistered
            } else {
                QualificationValidity::Valid
            };
            list.push(aid_record(aid, t, enc));
            v
        }
        _ => plain,
    }
}

/// Puts the patient's answer to 「医療費助成の各種受給者証を利用しますか」 and, when it was 利用する, their 受給者証
/// (公費, PMH; the project's element names) into the first health-insurance qualification of the answer.
pub fn add_subsidies(
    list: &mut [ResultOfQualificationConfirmation],
    answer: bool,
    subsidies: &[SubsidyRow],
    enc: Encoding,
) {
    let Some(r) = list.iter_mut().find(|r| !r.is_medical_assistance()) else {
        return;
    };
    r.medical_subsidy_cons_flg = Some(if answer {
        ProvisionConsent::Consented
    } else {
        ProvisionConsent::NotConsented
    });
    if answer && !subsidies.is_empty() {
        r.medical_subsidy_certificate_list = Some(MedicalSubsidyCertificateList {
            medical_subsidy_certificate_info: subsidies
                .iter()
                .map(|s| MedicalSubsidyCertificateInfo {
                    subsidy_public_expense_number: Some(s.public_expense_number.clone()),
                    subsidy_beneficiary_number: Some(Pii::new(s.beneficiary_number.clone())),
                    medical_subsidy_name: Some(fit(&s.name, enc)),
                    self_pay_limit: Some(s.self_pay_limit.to_string()),
                    subsidy_valid_start_date: Some(s.valid_from.clone()),
                    subsidy_valid_end_date: Some(s.valid_to.clone()),
                })
                .collect(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::date;
    use crate::store::EnvironmentSettings;

    fn aid(registration_day: u8) -> AidRecord {
        AidRecord {
            person_id: 17,
            name: "大野\u{3000}茂".into(),
            kana: "ｵｵﾉ ｼｹﾞﾙ".into(),
            sex: 1,
            birth: "19620305".into(),
            post: "111-0032".into(),
            address: "東京都台東区浅草１－２－３".into(),
            public_expense_number: "12131009".into(),
            beneficiary_number: "1234566".into(),
            welfare_office: "台東区福祉事務所".into(),
            district_contact: "佐々木\u{3000}一郎".into(),
            handling_contact: "高橋\u{3000}由美".into(),
            start: "20230601".into(),
            restricted: false,
            registration_day,
            self_pay: 0,
        }
    }

    fn facility(code: &str) -> Facility {
        Facility {
            code: code.into(),
            name: "テスト診療所".into(),
            pref: 13,
            municipality: String::new(),
            settings: EnvironmentSettings::default(),
        }
    }

    #[test]
    fn tickets_appear_from_the_registration_day_of_each_month() {
        let clinic = facility("1311234567");
        let on_19 = date(2026, 3, 19);
        let on_20 = date(2026, 3, 20);
        assert!(tickets(&aid(20), &clinic, on_19, false, Encoding::Utf8).is_empty());
        let t = tickets(&aid(20), &clinic, on_20, false, Encoding::Utf8);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].ticket_type.as_deref(), Some(TICKET_MEDICAL));
        assert_eq!(t[0].medical_treatment_month.as_deref(), Some("202603"));
        assert_eq!(t[0].medical_ticket_valid_date.as_deref(), Some("20260301"));
        assert_eq!(
            t[0].medical_ticket_expiration_date.as_deref(),
            Some("20260331")
        );
        assert_eq!(t[0].single_or_combined_use.as_deref(), Some("1"));
        assert!(tickets(&aid(0), &clinic, date(2026, 3, 31), false, Encoding::Utf8).is_empty());
        // A pharmacy gets a 調剤券.
        let pharmacy = tickets(
            &aid(1),
            &facility("1341234560"),
            on_19,
            false,
            Encoding::Utf8,
        );
        assert_eq!(pharmacy[0].ticket_type.as_deref(), Some(TICKET_DISPENSING));
        // Only a 調剤券 names the clinic whose prescription it fills (a 医科 code of the prefecture).
        let prescriber = pharmacy[0]
            .prescription_issuer_medical_institution_code
            .as_deref()
            .expect("処方箋発行元");
        assert!(
            prescriber.starts_with("131") && prescriber.len() == 10,
            "{prescriber}"
        );
        assert!(
            pharmacy[0]
                .prescription_issuer_medical_institution_name
                .is_some()
        );
        assert!(t[0].prescription_issuer_medical_institution_code.is_none());
    }

    #[test]
    fn a_card_check_in_of_a_person_on_aid_alone_answers_1_or_6() {
        let clinic = facility("1311234567");
        let on = date(2026, 3, 10);
        let mut list = vec![ResultOfQualificationConfirmation::default()];
        let v = add_public_aid(
            Validity::Invalid,
            &mut list,
            Some(&aid(1)),
            &clinic,
            on,
            true,
            Encoding::Utf8,
        );
        assert_eq!(v, QualificationValidity::Valid);
        assert_eq!(list.len(), 1);
        assert!(list[0].is_medical_assistance());
        assert!(list[0].public_expense_result_list.is_some());
        let mut list = vec![];
        let v = add_public_aid(
            Validity::Invalid,
            &mut list,
            Some(&aid(20)),
            &clinic,
            on,
            true,
            Encoding::Utf8,
        );
        assert_eq!(v, QualificationValidity::ValidUnregistered);
        assert!(list[0].public_expense_result_list.is_none());
        // By insurance numbers, a lost insurance stays lost.
        let mut list = vec![ResultOfQualificationConfirmation::default()];
        let v = add_public_aid(
            Validity::Invalid,
            &mut list,
            Some(&aid(1)),
            &clinic,
            on,
            false,
            Encoding::Utf8,
        );
        assert_eq!(v, QualificationValidity::Invalid);
        assert_eq!(list.len(), 1);
        // A facility that does not use 医療扶助情報 gets none.
        let mut off = clinic.clone();
        off.settings.medical_assistance_info = false;
        let mut list = vec![];
        let v = add_public_aid(
            Validity::Invalid,
            &mut list,
            Some(&aid(1)),
            &off,
            on,
            true,
            Encoding::Utf8,
        );
        assert_eq!(v, QualificationValidity::Invalid);
        assert!(list.is_empty());
    }

    #[test]
    fn subsidies_go_with_the_answer_into_the_insurance_qualification() {
        let row = SubsidyRow {
            public_expense_number: "88131005".into(),
            beneficiary_number: "1234566".into(),
            name: "子ども医療費助成".into(),
            self_pay_limit: 0,
            valid_from: "20250401".into(),
            valid_to: "20270331".into(),
        };
        let mut list = vec![ResultOfQualificationConfirmation::default()];
        add_subsidies(&mut list, true, std::slice::from_ref(&row), Encoding::Utf8);
        assert_eq!(
            list[0].medical_subsidy_cons_flg,
            Some(ProvisionConsent::Consented)
        );
        let info = &list[0]
            .medical_subsidy_certificate_list
            .as_ref()
            .expect("certificates")
            .medical_subsidy_certificate_info[0];
        assert_eq!(
            info.subsidy_public_expense_number.as_deref(),
            Some("88131005")
        );
        assert_eq!(info.self_pay_limit.as_deref(), Some("0"));
        // 利用しない: the answer is recorded, no certificate travels.
        let mut list = vec![ResultOfQualificationConfirmation::default()];
        add_subsidies(&mut list, false, &[row], Encoding::Utf8);
        assert_eq!(
            list[0].medical_subsidy_cons_flg,
            Some(ProvisionConsent::NotConsented)
        );
        assert!(list[0].medical_subsidy_certificate_list.is_none());
    }

    #[test]
    fn insurance_and_aid_come_together_in_one_list() {
        let clinic = facility("1311234567");
        let mut list = vec![ResultOfQualificationConfirmation::default()];
        let v = add_public_aid(
            Validity::Valid,
            &mut list,
            Some(&aid(1)),
            &clinic,
            date(2026, 3, 10),
            false,
            Encoding::Utf8,
        );
        assert_eq!(v, QualificationValidity::Valid);
        assert_eq!(list.len(), 2);
        assert!(list[1].is_medical_assistance());
        let t = &list[1]
            .public_expense_result_list
            .as_ref()
            .expect("tickets")
            .medical_ticket_info[0];
        assert_eq!(t.single_or_combined_use.as_deref(), Some("2"));
    }
}
