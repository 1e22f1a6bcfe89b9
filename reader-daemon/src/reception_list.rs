//! The reception list (オンライン資格確認結果一覧) as the receipt computer shows it: any day's check-ins (JST),
//! the 資格有効性 of each as the code table has it, the state of the card's electronic certificate, and the
//! facility's usage figures (マイナ保険証利用率 against the fee thresholds).

use std::sync::Arc;

use facility_store::Store;
use oqs_protocol::SingleCheckResult;
use terminal_ipc::{
    AuthMethod, CertificateState, CheckInOutcome, ErrorBody, ErrorCode, Response, UsageFailure,
    UsageMonth, UsageThreshold, UsageView, Validity,
};

use crate::accounts::blocking;
use crate::reception::reception_records;

/// `ProcessingResultCode` (付帯情報) of a card check-in whose certificate expires within three months
/// (docs/mock-central.md, check-in codes).
pub const CERTIFICATE_EXPIRING: &str = "OQS-C2111";
/// `ProcessingResultCode` of a card check-in whose certificate has expired but is inside the three-month
/// grace: the qualification only, no consent and no medical information.
pub const CERTIFICATE_IN_GRACE: &str = "OQS-C2112";

/// The longest span of months [`usage`] answers.
const MAX_USAGE_MONTHS: u32 = 36;

/// 資格有効性 of a stored result, with the code table's own words.
pub fn validity_of(r: &SingleCheckResult) -> Option<Validity> {
    let v = r.message_body.qualification_validity.as_ref()?;
    Some(Validity {
        code: v.code().to_owned(),
        label: v.meaning_ja().unwrap_or("不明").to_owned(),
    })
}

/// The certificate state of a card check-in the central service answered; `None` for a check by numbers or
/// a check-in not answered yet.
pub fn certificate_of(
    method: AuthMethod,
    r: Option<&SingleCheckResult>,
) -> Option<CertificateState> {
    if method == AuthMethod::InsuranceNumbers {
        return None;
    }
    let r = r?;
    r.message_body.qualification_validity.as_ref()?;
    Some(match r.message_body.processing_result_code.as_deref() {
        Some(CERTIFICATE_EXPIRING) => CertificateState::Expiring,
        Some(CERTIFICATE_IN_GRACE) => CertificateState::ExpiredInGrace,
        _ => CertificateState::Valid,
    })
}

/// 00:00 and 24:00 JST (ms since the epoch) of a `YYYY-MM-DD` day.
pub fn day_bounds_jst(date: &str) -> Result<(i64, i64), ErrorBody> {
    let day = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| {
        ErrorBody::new(
            ErrorCode::BadRequest,
            "日付は YYYY-MM-DD で指定してください。The date must be YYYY-MM-DD.",
        )
    })?;
    let jst = chrono::FixedOffset::east_opt(9 * 3600)
        .ok_or_else(|| ErrorBody::new(ErrorCode::Other, "the JST offset"))?;
    let start = day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(jst).single())
        .ok_or_else(|| ErrorBody::new(ErrorCode::BadRequest, "no such day"))?
        .timestamp_millis();
    Ok((start, start + 86_400_000))
}

/// The check-ins of one JST day (today by the store's clock when `date` is absent), newest first.
pub async fn check_ins_of_day(
    store: &Arc<Store>,
    date: Option<&str>,
) -> Result<Response, ErrorBody> {
    let today = oqs_clock::to_jst(store.clock().now()).date();
    let today = format!(
        "{:04}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    let date = date.map(str::trim).unwrap_or(&today).to_owned();
    let (from, to) = day_bounds_jst(&date)?;
    let store = store.clone();
    let check_ins = blocking("reading the day's check-ins", move || {
        reception_records(&store, &store.check_ins_between(from, to)?)
    })
    .await?;
    Ok(Response::DayCheckIns {
        today: date == today,
        date,
        check_ins,
    })
}

/// 医療DX推進体制整備加算: the マイナ保険証利用率 each tier needs, by span of months (加算1 / 加算2 / 加算3).
/// Source: /work/shared/reference/field-2024-2026.md §1.13 (R7.10–R8.2 and R8.3–R8.5); the fee is replaced
/// in the 2026 revision, whose thresholds were not found, so later months show none.
const THRESHOLDS: &[(&str, &str, [f64; 3])] = &[
    ("2025-10", "2026-02", [60.0, 40.0, 25.0]),
    ("2026-03", "2026-05", [70.0, 50.0, 30.0]),
];

/// The thresholds that apply to any of `months` (`YYYY-MM`).
fn thresholds_for(months: &[String]) -> Vec<UsageThreshold> {
    let mut out = Vec::new();
    for (from, to, percents) in THRESHOLDS {
        if !months
            .iter()
            .any(|m| m.as_str() >= *from && m.as_str() <= *to)
        {
            continue;
        }
        for (i, percent) in percents.iter().enumerate() {
            out.push(UsageThreshold {
                tier: format!("加算{}", i + 1),
                from: (*from).to_owned(),
                to: (*to).to_owned(),
                percent: *percent,
            });
        }
    }
    out
}

fn outcome_of_status_str(status: &str) -> CheckInOutcome {
    match status {
        "valid" => CheckInOutcome::Valid,
        "invalid" => CheckInOutcome::Invalid,
        "no_qualification" => CheckInOutcome::NoQualification,
        "pending_outage" => CheckInOutcome::PendingOutage,
        _ => CheckInOutcome::Other,
    }
}

/// The usage figures of the last `months` months (counts only).
pub async fn usage(store: &Arc<Store>, months: u32) -> Result<Response, ErrorBody> {
    if months == 0 || months > MAX_USAGE_MONTHS {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            format!("期間は1〜{MAX_USAGE_MONTHS}か月です。months must be 1 to {MAX_USAGE_MONTHS}."),
        ));
    }
    let store = store.clone();
    let usage = blocking("counting the check-ins", move || store.usage(months)).await?;
    Ok(Response::Usage {
        usage: usage_view(&usage),
    })
}

fn usage_view(u: &facility_store::Usage) -> UsageView {
    let months: Vec<UsageMonth> = u
        .months
        .iter()
        .map(|m| UsageMonth {
            month: m.month.to_string(),
            card: m.card,
            numbers: m.numbers,
            rate_percent: m.rate_percent(),
        })
        .collect();
    let names: Vec<String> = months.iter().map(|m| m.month.clone()).collect();
    UsageView {
        thresholds: thresholds_for(&names),
        months,
        by_hour: u.by_hour.to_vec(),
        failures: u
            .failures
            .iter()
            .map(|(status, count)| UsageFailure {
                outcome: outcome_of_status_str(status),
                count: *count,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use facility_store::YearMonth;
    use oqs_protocol::QualificationValidity;

    fn answered(validity: &str, code: Option<&str>) -> SingleCheckResult {
        let mut r = SingleCheckResult::default();
        r.message_body.qualification_validity = Some(QualificationValidity::from_code(validity));
        r.message_body.processing_result_code = code.map(str::to_owned);
        r
    }

    #[test]
    fn validity_keeps_the_code_tables_words() {
        let v = validity_of(&answered("3", None)).unwrap();
        assert_eq!(
            (v.code.as_str(), v.label.as_str()),
            ("3", "無効（新しい資格あり）")
        );
        let v = validity_of(&answered("6", None)).unwrap();
        assert_eq!(v.label, "有効（未登録）（医療扶助のみ）");
        assert_eq!(validity_of(&answered("9", None)).unwrap().label, "不明");
        assert!(validity_of(&SingleCheckResult::default()).is_none());
    }

    #[test]
    fn the_certificate_state_follows_the_answers_code() {
        let pin = AuthMethod::Pin;
        assert_eq!(
            certificate_of(pin, Some(&answered("1", Some(CERTIFICATE_EXPIRING)))),
            Some(CertificateState::Expiring)
        );
        assert_eq!(
            certificate_of(
                AuthMethod::Face,
                Some(&answered("1", Some(CERTIFICATE_IN_GRACE)))
            ),
            Some(CertificateState::ExpiredInGrace)
        );
        assert_eq!(
            certificate_of(pin, Some(&answered("1", None))),
            Some(CertificateState::Valid)
        );
        // Not answered yet, or not a card: nothing to say about a certificate.
        assert_eq!(certificate_of(pin, None), None);
        assert_eq!(
            certificate_of(pin, Some(&SingleCheckResult::default())),
            None
        );
        assert_eq!(
            certificate_of(
                AuthMethod::InsuranceNumbers,
                Some(&answered("1", Some(CERTIFICATE_EXPIRING)))
            ),
            None
        );
    }

    #[test]
    fn a_day_is_japan_midnight_to_midnight() {
        let (from, to) = day_bounds_jst("2026-11-18").unwrap();
        // 2026-11-17T15:00:00Z.
        assert_eq!(from, 1_794_927_600_000);
        assert_eq!(to - from, 86_400_000);
        assert_eq!(YearMonth::of_millis(from).to_string(), "2026-11");
        assert!(day_bounds_jst("2026-02-30").is_err());
        assert!(day_bounds_jst("20261118").is_err());
    }

    #[test]
    fn thresholds_apply_to_their_months_only() {
        let t = thresholds_for(&["2026-01".into(), "2026-02".into(), "2026-03".into()]);
        assert_eq!(t.len(), 6);
        assert_eq!(t[0].percent, 60.0);
        assert_eq!(t[3].tier, "加算1");
        assert_eq!(t[3].percent, 70.0);
        assert!(thresholds_for(&["2026-11".into()]).is_empty());
    }
}
