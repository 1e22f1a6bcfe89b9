//! 救急時医療情報閲覧 and 災害時医療情報閲覧: viewing a patient's summary without the card's PIN and without
//! the kiosk consent.
//!
//! Both are decided here, not in the app: the session's account, its permission and its second factor are
//! checked on every request; the patient is identified by the card in a reader (emergency only: certificate,
//! no PIN), by all four facts, or (disaster only) by the insurance numbers with the birth date; the central
//! service finds the patient, records the access for the patient's portal, and refuses what it must (several
//! matches, no disaster window). Every attempt, answered or refused, is appended to the audit log with the
//! viewer, the method and the reason; answered ones also with the pseudonymous patient reference, the items
//! shown and the central service's access time, so that the facility's report matches what the patient sees.

use std::sync::Arc;

use base64::Engine as _;
use central_client::{CentralClient, CentralError};
use facility_store::{AuditEntry, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use terminal_ipc::{
    DisasterConsent, DisasterStatusView, DisasterWindow, EmergencySummary, ErrorBody, ErrorCode,
    LookedUpPatient, MedicalView, PatientLookup, PeerInfo, Response, Secret, Sensitive, Sex,
    SummaryItem, ViewMode,
};
use tracing::info;

use crate::accounts::{Accounts, SessionUser, audit, internal};
use crate::facility_options::FacilityOptions;
use crate::station::StationHandle;

/// Longest reason kept (a sentence or two).
const MAX_REASON_CHARS: usize = 500;

/// The emergency and disaster lookups of the daemon.
pub struct SpecialViews {
    pub accounts: Arc<Accounts>,
    pub store: Arc<Store>,
    pub central: CentralClient,
    pub station: StationHandle,
}

/// The central service's answer (`docs/mock-central.md`, emergency and disaster lookups).
#[derive(Deserialize)]
struct LookupAnswer {
    notice: String,
    accessed_at: String,
    #[serde(default)]
    items: Vec<String>,
    #[serde(default)]
    access_method: String,
    patient: CentralPatient,
    summary: CentralSummary,
}

#[derive(Deserialize)]
struct CentralPatient {
    name: String,
    kana: String,
    sex: String,
    birthdate: String,
    insurer_number: String,
    insurer_name: String,
    symbol: String,
    number: String,
    branch: String,
    qualification_validity: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CentralSummary {
    visits: Vec<SummaryItem>,
    medications: Vec<SummaryItem>,
    treatments: Vec<SummaryItem>,
    surgeries: Vec<SummaryItem>,
    dialysis: Vec<SummaryItem>,
    e_prescriptions: Vec<SummaryItem>,
    checkup_dates: Vec<String>,
}

#[derive(Serialize)]
struct FourFactsBody<'a> {
    // Debug is written by hand below: these are patient identifiers.
    name: &'a str,
    birthdate: String,
    sex: &'a str,
    insurer_name_or_address: &'a str,
}

impl std::fmt::Debug for FourFactsBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FourFactsBody").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct WindowsAnswer {
    facility_prefecture: u8,
    open_now: bool,
    windows: Vec<WindowAnswer>,
}

#[derive(Deserialize)]
struct WindowAnswer {
    from: String,
    to: String,
}

/// `YYYY-MM-DD` or `YYYYMMDD` (full-width digits folded) → `YYYYMMDD`.
pub fn birth_yyyymmdd(text: &str) -> Option<String> {
    let digits: String = text
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(c as u32 - 0xFEE0),
            '-' | '/' | ' ' => None,
            _ => Some('x'),
        })
        .collect();
    let valid = digits.len() == 8
        && digits.bytes().all(|b| b.is_ascii_digit())
        && chrono::NaiveDate::parse_from_str(&digits, "%Y%m%d").is_ok();
    valid.then_some(digits)
}

fn dashed(yyyymmdd: &str) -> String {
    match (yyyymmdd.get(0..4), yyyymmdd.get(4..6), yyyymmdd.get(6..8)) {
        (Some(y), Some(m), Some(d)) if yyyymmdd.len() == 8 => format!("{y}-{m}-{d}"),
        _ => yyyymmdd.to_string(),
    }
}

fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "1",
        Sex::Female => "2",
    }
}

/// Checks the four facts before anything leaves the terminal: all four are required.
/// The checked four facts as the JSON the central service's lookup takes.
fn four_facts_json(
    name: &Sensitive,
    birth_date: &Sensitive,
    sex: Sex,
    fourth: &Sensitive,
) -> Result<serde_json::Value, ErrorBody> {
    let facts = four_facts_body(name, birth_date, sex, fourth)?;
    serde_json::to_value(&facts).map_err(|e| internal("building the lookup", e))
}

fn four_facts_body<'a>(
    name: &'a Sensitive,
    birth_date: &Sensitive,
    sex: Sex,
    fourth: &'a Sensitive,
) -> Result<FourFactsBody<'a>, ErrorBody> {
    let mut missing = Vec::new();
    if name.expose().trim().is_empty() {
        missing.push("氏名 name");
    }
    let birth = birth_yyyymmdd(birth_date.expose());
    if birth.is_none() {
        missing.push("生年月日 birth date");
    }
    if fourth.expose().trim().chars().count() < 2 {
        missing.push(
            "保険者名称または住所の一部 insurer name or part of the address (2 characters or more)",
        );
    }
    match birth {
        Some(birthdate) if missing.is_empty() => Ok(FourFactsBody {
            name: name.expose().trim(),
            birthdate,
            sex: sex_code(sex),
            insurer_name_or_address: fourth.expose().trim(),
        }),
        _ => Err(ErrorBody::new(
            ErrorCode::BadRequest,
            format!(
                "4情報（氏名・生年月日・性別・保険者名称または住所の一部）はすべて必要です。All four facts are required; \
                 missing or invalid: {}",
                missing.join(", ")
            ),
        )),
    }
}

fn check_reason(reason: &str, required: bool) -> Result<String, ErrorBody> {
    let reason = reason.trim();
    if required && reason.is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "閲覧理由を入力してください。A reason is required.",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            format!("閲覧理由は{MAX_REASON_CHARS}文字以内にしてください。The reason is too long."),
        ));
    }
    Ok(reason.to_string())
}

/// The central service's refusal as a typed error for the app.
fn central_refusal(e: CentralError) -> ErrorBody {
    let CentralError::Status { status, body } = &e else {
        return if e.is_transient() {
            ErrorBody::new(
                ErrorCode::CentralUnavailable,
                format!(
                    "中央のサービスに接続できません。The central service cannot be reached: {e}"
                ),
            )
        } else {
            internal("asking the central service", e)
        };
    };
    let parsed: Option<(String, String)> = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let err = v.get("error")?;
            Some((
                err.get("code")?.as_str()?.to_string(),
                err.get("message")?.as_str()?.to_string(),
            ))
        });
    let Some((code, message)) = parsed else {
        return if *status >= 500 {
            ErrorBody::new(
                ErrorCode::CentralUnavailable,
                format!("the central service failed (HTTP {status}); try again"),
            )
        } else {
            internal("asking the central service", e)
        };
    };
    let kind = match code.as_str() {
        "OQS-C2205" => ErrorCode::MoreFactsNeeded,
        "OQS-C2204" => ErrorCode::NotFound,
        "OQS-C2201" => ErrorCode::Forbidden,
        "OQS-C2202" => ErrorCode::SecondFactorRequired,
        "OQS-C2301" => ErrorCode::DisasterModeClosed,
        "OQS-C2200" | "OQS-C2203" | "OQS-C2206" | "OQS-C2207" | "OQS-C2302" => {
            ErrorCode::BadRequest
        }
        _ if *status >= 500 => ErrorCode::CentralUnavailable,
        _ => ErrorCode::Other,
    };
    ErrorBody::new(kind, format!("{message} ({code})"))
}

fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".into())
}

fn method_of(patient: &PatientLookup) -> &'static str {
    match patient {
        PatientLookup::Card { .. } => "card",
        PatientLookup::FourFacts { .. } => "four_facts",
        PatientLookup::InsuranceNumbers { .. } => "insurance_numbers",
    }
}

impl SpecialViews {
    /// 救急時医療情報閲覧.
    pub async fn emergency(
        &self,
        peer: &PeerInfo,
        session: &Secret,
        reason: &str,
        patient: &PatientLookup,
    ) -> Result<Response, ErrorBody> {
        let user = self.accounts.session(peer, session).await?;
        let method = method_of(patient);
        let attempt = async {
            self.accounts.emergency_viewer(peer, session).await?;
            self.check_emergency_terminal().await?;
            let reason = check_reason(reason, true)?;
            let mut body = json!({
                "viewer": {
                    "id": user.login(),
                    "emergency_permission": "1",
                    // OQSCD041/042: 1 記憶 (password) and 3 物理媒体 with a one-time password (the TOTP app).
                    "factors": [{"element": "1", "method": "01"}, {"element": "3", "method": "02"}],
                },
                "reason": reason,
            });
            match patient {
                PatientLookup::Card { reader } => {
                    let cert = self.station.card_certificate(reader.clone()).await?;
                    body["auth_certificate"] =
                        json!(base64::engine::general_purpose::STANDARD.encode(cert));
                }
                PatientLookup::FourFacts {
                    name,
                    birth_date,
                    sex,
                    insurer_or_address,
                } => {
                    body["four_facts"] =
                        four_facts_json(name, birth_date, *sex, insurer_or_address)?;
                }
                // 資格確認書 (or an old insurance card) in hand: its numbers and the birth date.
                PatientLookup::InsuranceNumbers { numbers } => {
                    body["insurance"] = insurance_json(numbers)?;
                }
            }
            self.audit_started(&user, ViewMode::Emergency, method, &reason)
                .await?;
            let answer: LookupAnswer = self
                .central
                .post_json(&["v1", "emergency", "lookup"], &body, false)
                .await
                .map_err(central_refusal)?;
            crate::crash_point!("emergency::answered");
            Ok((answer, reason))
        };
        let outcome = attempt.await;
        self.finish(&user, ViewMode::Emergency, method, reason, None, outcome)
            .await
    }

    /// 救急専用端末: when the facility lists the terminals that may look up in an emergency (the setting
    /// `emergency_terminals`, names separated by commas, changed by an administrator), any other terminal is
    /// refused with the reason. A terminal is named by its host name.
    async fn check_emergency_terminal(&self) -> Result<(), ErrorBody> {
        let allowed = self.options().await?.emergency_terminals;
        let here = terminal_name();
        if allowed.is_empty() || allowed.iter().any(|t| t.eq_ignore_ascii_case(&here)) {
            return Ok(());
        }
        Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!(
                "この端末 ({here}) は救急専用端末ではありません。救急時医療情報閲覧は {} で行ってください。This terminal is \
                 not one of the facility's emergency terminals.",
                allowed.join("・")
            ),
        ))
    }

    /// The facility's emergency-viewing settings as they are now.
    async fn options(&self) -> Result<FacilityOptions, ErrorBody> {
        let store = self.store.clone();
        crate::accounts::blocking("reading the facility's settings", move || {
            FacilityOptions::read(&store)
        })
        .await
    }

    /// 災害時医療情報閲覧.
    pub async fn disaster(
        &self,
        peer: &PeerInfo,
        session: &Secret,
        consent: DisasterConsent,
        reason: Option<&str>,
        patient: &PatientLookup,
    ) -> Result<Response, ErrorBody> {
        let user = self.accounts.session(peer, session).await?;
        let method = method_of(patient);
        let consent_label = match consent {
            DisasterConsent::Oral => "oral",
            DisasterConsent::Unobtainable => "unobtainable",
        };
        let attempt = async {
            let allowed = user.account.emergency_permission
                || matches!(
                    user.account.role,
                    facility_store::Role::MedicalInformationViewer
                        | facility_store::Role::Administrator
                );
            if !allowed {
                return Err(ErrorBody::new(
                    ErrorCode::Forbidden,
                    "災害時医療情報閲覧は医療情報閲覧者か救急時閲覧権限のあるアカウントが行います。Disaster-time viewing \
                     needs a medical-information viewer or an account with emergency permission.",
                ));
            }
            let reason = check_reason(reason.unwrap_or_default(), false)?;
            let mut body = json!({
                "viewer": {"id": user.login()},
                "consent": consent_label,
                "reason": Some(reason.clone()).filter(|r| !r.is_empty()),
            });
            match patient {
                PatientLookup::Card { .. } => {
                    return Err(ErrorBody::new(
                        ErrorCode::BadRequest,
                        "カードでの暗証番号なしの特定は救急時医療情報閲覧だけで使えます。災害時は4情報か保険証の番号で検索しま\
                         す。Identifying by the card without a PIN is for emergency viewing only; disaster viewing uses \
                         the four facts or the insurance numbers.",
                    ));
                }
                PatientLookup::FourFacts {
                    name,
                    birth_date,
                    sex,
                    insurer_or_address,
                } => {
                    body["four_facts"] =
                        four_facts_json(name, birth_date, *sex, insurer_or_address)?;
                }
                PatientLookup::InsuranceNumbers { numbers } => {
                    body["insurance"] = insurance_json(numbers)?;
                }
            }
            self.audit_started(&user, ViewMode::Disaster, method, &reason)
                .await?;
            let answer: LookupAnswer = self
                .central
                .post_json(&["v1", "disaster", "lookup"], &body, false)
                .await
                .map_err(central_refusal)?;
            Ok((answer, reason))
        };
        let outcome = attempt.await;
        self.finish(
            &user,
            ViewMode::Disaster,
            method,
            reason.unwrap_or_default(),
            Some(consent_label),
            outcome,
        )
        .await
    }

    /// Whether a disaster window is open for the facility now.
    pub async fn disaster_status(&self) -> Result<Response, ErrorBody> {
        let answer: WindowsAnswer = self
            .central
            .get_json(&["v1", "disaster", "windows"])
            .await
            .map_err(central_refusal)?;
        Ok(Response::DisasterStatus(DisasterStatusView {
            open: answer.open_now,
            prefecture: answer.facility_prefecture,
            windows: answer
                .windows
                .into_iter()
                .map(|w| DisasterWindow {
                    from: w.from,
                    to: w.to,
                })
                .collect(),
        }))
    }

    /// Audits that a lookup is about to be sent, before the central service can record an access: if the
    /// daemon dies before the answer's row is written, the log still shows who looked, how and why (the
    /// patient is not known yet). The outcome row follows (`…_lookup` or `…_lookup_refused`). Nothing is sent
    /// when this row cannot be written.
    async fn audit_started(
        &self,
        user: &SessionUser,
        mode: ViewMode,
        method: &str,
        reason: &str,
    ) -> Result<(), ErrorBody> {
        let action = match mode {
            ViewMode::Emergency => "emergency_lookup_started",
            ViewMode::Disaster => "disaster_lookup_started",
        };
        audit(
            &self.store,
            AuditEntry {
                actor: user.login().to_string(),
                action: action.to_string(),
                method: Some(method.to_string()),
                reason: Some(reason.trim().to_string()).filter(|r| !r.is_empty()),
                detail: Some(json!({"viewer": user.viewer_label()}).to_string()),
                ..AuditEntry::default()
            },
        )
        .await
        .map(drop)
    }

    /// Audits the attempt, answered or refused, and builds the view.
    async fn finish(
        &self,
        user: &SessionUser,
        mode: ViewMode,
        method: &str,
        reason: &str,
        consent: Option<&str>,
        outcome: Result<(LookupAnswer, String), ErrorBody>,
    ) -> Result<Response, ErrorBody> {
        let action = match mode {
            ViewMode::Emergency => "emergency_lookup",
            ViewMode::Disaster => "disaster_lookup",
        };
        let (answer, reason) = match outcome {
            Ok(done) => done,
            Err(error) => {
                let detail = json!({
                    "refused": code_name(error.code),
                    "consent": consent,
                })
                .to_string();
                audit(
                    &self.store,
                    AuditEntry {
                        actor: user.login().to_string(),
                        action: format!("{action}_refused"),
                        method: Some(method.to_string()),
                        reason: Some(reason.trim().to_string()).filter(|r| !r.is_empty()),
                        detail: Some(detail),
                        ..AuditEntry::default()
                    },
                )
                .await?;
                return Err(error);
            }
        };
        let p = &answer.patient;
        let store = self.store.clone();
        let keys = (
            p.insurer_number.clone(),
            p.symbol.clone(),
            p.number.clone(),
            p.birthdate.clone(),
        );
        let patient_ref = tokio::task::spawn_blocking(move || {
            store
                .patient_key(&keys.0, &keys.1, &keys.2, &keys.3)
                .to_hex()
        })
        .await
        .map_err(|e| internal("deriving the patient reference", e))?;
        let detail = json!({
            "central_accessed_at": answer.accessed_at,
            "central_method": answer.access_method,
            "viewer": user.viewer_label(),
            "consent": consent,
        })
        .to_string();
        audit(
            &self.store,
            AuditEntry {
                actor: user.login().to_string(),
                action: action.to_string(),
                patient_ref: Some(patient_ref),
                items: answer.items.clone(),
                method: Some(method.to_string()),
                reason: Some(reason.clone()).filter(|r| !r.is_empty()),
                detail: Some(detail),
            },
        )
        .await?;
        info!(action, method, "special medical-information view answered");
        let options = self.options().await?;
        let today = self.store.clock().today_jst();
        let today = chrono::NaiveDate::from_ymd_opt(
            today.year(),
            u32::from(u8::from(today.month())),
            u32::from(today.day()),
        )
        .ok_or_else(|| internal("reading today's date", "out of range"))?;
        let summary = answer.summary;
        Ok(Response::MedicalView(Box::new(MedicalView {
            mode,
            notice: answer.notice,
            viewer: user.viewer_label(),
            accessed_at: answer.accessed_at,
            method: method.to_string(),
            items: answer.items,
            patient: LookedUpPatient {
                name: Sensitive::new(p.name.clone()),
                kana: Sensitive::new(p.kana.clone()),
                sex: if p.sex == "2" { Sex::Female } else { Sex::Male },
                birth_date: Sensitive::new(dashed(&p.birthdate)),
                insurer_number: Sensitive::new(p.insurer_number.clone()),
                insurer_name: p.insurer_name.clone(),
                symbol: Sensitive::new(p.symbol.clone()),
                number: Sensitive::new(p.number.clone()),
                branch: Sensitive::new(p.branch.clone()),
                qualification_validity: p.qualification_validity.clone(),
            },
            summary: {
                let mut shown = EmergencySummary {
                    visits: summary.visits,
                    medications: summary.medications,
                    treatments: summary.treatments,
                    surgeries: summary.surgeries,
                    dialysis: summary.dialysis,
                    e_prescriptions: summary.e_prescriptions,
                    checkup_dates: summary.checkup_dates,
                };
                match mode {
                    ViewMode::Emergency => options.apply(&mut shown, today),
                    ViewMode::Disaster => options.order(&mut shown),
                }
                shown
            },
            summary_order: options.summary_order,
            summary_months: match mode {
                ViewMode::Emergency => options.summary_months,
                ViewMode::Disaster => crate::facility_options::NATIONAL_MONTHS,
            },
        })))
    }
}

/// The setting that lists the 救急専用端末 (empty or absent: every terminal may).
pub const EMERGENCY_TERMINALS_SETTING: &str = crate::facility_options::EMERGENCY_TERMINALS;

/// This terminal's name: the host name of the PC.
pub fn terminal_name() -> String {
    let name = std::env::var("COMPUTERNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    name.trim().to_string()
}

/// The central service's `insurance` search keys from the numbers of a 資格確認書 or insurance card: the
/// insurer number, the number and the birth date are required.
fn insurance_json(
    numbers: &terminal_ipc::InsuranceNumbers,
) -> Result<serde_json::Value, ErrorBody> {
    let Some(birth) = birth_yyyymmdd(numbers.birth_date.expose()) else {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "生年月日が正しくありません。The birth date is not a date (YYYY-MM-DD).",
        ));
    };
    if numbers.insurer_number.expose().trim().is_empty()
        || numbers.number.expose().trim().is_empty()
    {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "保険者番号と番号を入力してください。The insurer number and the number are required.",
        ));
    }
    let optional = |s: &Sensitive| Some(s.expose().trim().to_string()).filter(|s| !s.is_empty());
    Ok(json!({
        "insurer_number": numbers.insurer_number.expose().trim(),
        "symbol": optional(&numbers.symbol),
        "number": numbers.number.expose().trim(),
        "branch": optional(&numbers.branch),
        "birthdate": birth,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn three_facts_are_refused_before_anything_is_sent() {
        let s = Sensitive::new;
        let e = four_facts_body(&s("石川　蓮"), &s("1975-10-10"), Sex::Male, &s(""))
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(four_facts_body(&s(""), &s("1975-10-10"), Sex::Male, &s("珠洲")).is_err());
        assert!(four_facts_body(&s("石川　蓮"), &s("1975-13-10"), Sex::Male, &s("珠洲")).is_err());
        let (name, birth, fourth) = (s("石川　蓮"), s("１９７５１０１０"), s("珠洲"));
        let ok = four_facts_body(&name, &birth, Sex::Male, &fourth).unwrap();
        assert_eq!((ok.birthdate.as_str(), ok.sex), ("19751010", "1"));
    }

    #[test]
    fn central_codes_become_typed_errors() {
        let refusal = |code: &str| {
            central_refusal(CentralError::Status {
                status: 409,
                body: format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#),
            })
            .code
        };
        assert_eq!(refusal("OQS-C2205"), ErrorCode::MoreFactsNeeded);
        assert_eq!(refusal("OQS-C2301"), ErrorCode::DisasterModeClosed);
        assert_eq!(refusal("OQS-C2204"), ErrorCode::NotFound);
    }

    proptest! {
        #[test]
        fn birth_dates_never_panic(text in "\\PC{0,20}") {
            if let Some(d) = birth_yyyymmdd(&text) {
                prop_assert_eq!(d.len(), 8);
            }
        }
    }
}
