//! Emergency (救急時医療情報閲覧) and disaster (災害時医療情報閲覧) lookups, and the patient's access
//! history as マイナポータル shows it.

// Handlers return a ready `Response` as their error, as axum handlers do; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::info;

use crate::dates::{add_months, parse_ymd, ymd, ymdhms};
use crate::error::CentralError;
use crate::history::history;
use crate::server::{Caller, Shared, api_error, internal};
use crate::store::{AccessEntry, Facility, Record, SearchKeys};

/// Lookup error codes (see docs/mock-central.md).
pub mod codes {
    pub const BAD_REQUEST: &str = "OQS-C2200";
    pub const NO_PERMISSION: &str = "OQS-C2201";
    pub const SECOND_FACTOR: &str = "OQS-C2202";
    pub const FACTS_INCOMPLETE: &str = "OQS-C2203";
    pub const NO_MATCH: &str = "OQS-C2204";
    pub const MORE_FACTS_NEEDED: &str = "OQS-C2205";
    pub const CARD: &str = "OQS-C2206";
    pub const REASON: &str = "OQS-C2207";
    pub const NO_WINDOW: &str = "OQS-C2301";
    pub const CONSENT: &str = "OQS-C2302";
    pub const HISTORY_KEYS: &str = "OQS-C2501";
}

/// One factor the viewer presented: OQSCD041 要素区分 and OQSCD042 方式区分.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AuthFactor {
    /// 1 記憶, 2 生体情報, 3 物理媒体
    pub element: String,
    /// e.g. "01" ID/パスワード, "02" ワンタイムパスワード …
    pub method: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Viewer {
    pub id: String,
    /// OQSCD043 救急時閲覧権限有無: "1" granted.
    #[serde(default)]
    pub emergency_permission: Option<String>,
    #[serde(default)]
    pub factors: Vec<AuthFactor>,
}

/// 4情報: name, birth date, sex, and insurer name or part of the address.
#[derive(Serialize, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct FourFacts {
    #[serde(default)]
    pub name: String,
    /// yyyyMMdd
    #[serde(default)]
    pub birthdate: String,
    /// OQSCD007: "1" 男, "2" 女
    #[serde(default)]
    pub sex: String,
    /// 保険者名称 or part of the address (partial match).
    #[serde(default)]
    pub insurer_name_or_address: String,
}

impl std::fmt::Debug for FourFacts {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FourFacts").finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct InsuranceKeys {
    pub insurer_number: String,
    #[serde(default)]
    pub symbol: Option<String>,
    pub number: String,
    #[serde(default)]
    pub branch: Option<String>,
    pub birthdate: String,
}

impl std::fmt::Debug for InsuranceKeys {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsuranceKeys").finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRequest {
    pub viewer: Viewer,
    /// Why the view is needed (recorded).
    pub reason: String,
    /// The card in the reader: its authentication certificate (DER, base64). No PIN, no consent.
    #[serde(default)]
    pub auth_certificate: Option<String>,
    #[serde(default)]
    pub four_facts: Option<FourFacts>,
    /// The numbers of a 資格確認書 (or insurance card) and the birth date.
    #[serde(default)]
    pub insurance: Option<InsuranceKeys>,
    /// OQSCD040 情報要求パターン (default "1" 救急用サマリー).
    #[serde(default)]
    pub pattern: Option<String>,
}

impl std::fmt::Debug for EmergencyRequest {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmergencyRequest")
            .field("viewer", &self.viewer)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DisasterRequest {
    pub viewer: Viewer,
    /// "oral" (口頭同意) or "unobtainable" (意識不明等で同意取得困難).
    pub consent: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub four_facts: Option<FourFacts>,
    #[serde(default)]
    pub insurance: Option<InsuranceKeys>,
}

impl std::fmt::Debug for DisasterRequest {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisasterRequest")
            .field("viewer", &self.viewer)
            .field("consent", &self.consent)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Clone)]
pub struct PatientView {
    pub name: String,
    pub kana: String,
    pub sex: String,
    pub birthdate: String,
    pub insurer_number: String,
    pub insurer_name: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    /// OQSCD006
    pub qualification_validity: String,
}

impl std::fmt::Debug for PatientView {
    /// Patient identifiers are left out on purpose (redacted by type).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatientView")
            .field("qualification_validity", &self.qualification_validity)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DatedItem {
    /// yyyyMMdd
    pub date: String,
    pub facility: String,
    pub code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// 救急用サマリー: the periods of DESIGN §3.5.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct EmergencySummary {
    /// 受診歴, 3 months.
    pub visits: Vec<DatedItem>,
    /// 薬剤, 3 months.
    pub medications: Vec<DatedItem>,
    /// 診療, 3 months.
    pub treatments: Vec<DatedItem>,
    /// 手術, 5 years.
    pub surgeries: Vec<DatedItem>,
    /// 透析, 3 months (month, times).
    pub dialysis: Vec<DatedItem>,
    /// 電子処方箋, 45 days.
    pub e_prescriptions: Vec<DatedItem>,
    /// 健診 dates.
    pub checkup_dates: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct LookupResponse {
    /// "emergency" or "disaster".
    pub mode: String,
    /// OQSCD028 診療区分: "4" 救急時 for emergency views.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medical_treatment_flag: Option<String>,
    /// What the screen must state.
    pub notice: String,
    pub accessed_at: String,
    /// The items provided, exactly as recorded in the patient's access history.
    #[serde(default)]
    pub items: Vec<String>,
    /// The method as the patient's access history names it (e.g. 救急時医療情報閲覧（4情報）).
    #[serde(default)]
    pub access_method: String,
    pub patient: PatientView,
    pub summary: EmergencySummary,
}

fn check_viewer(v: &Viewer, need_permission: bool) -> Result<(), Response> {
    if v.id.trim().is_empty() {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            "viewer.id is required",
        ));
    }
    if need_permission && v.emergency_permission.as_deref() != Some("1") {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            codes::NO_PERMISSION,
            "この利用者には救急時医療情報閲覧権限がありません",
        ));
    }
    // Two factors of two different elements (記憶 / 生体情報 / 物理媒体), each with a known method.
    let valid = |f: &&AuthFactor| match f.element.as_str() {
        "1" => matches!(f.method.as_str(), "01" | "02" | "03"),
        "2" => matches!(f.method.as_str(), "01" | "02" | "03" | "04" | "05"),
        "3" => matches!(f.method.as_str(), "01" | "02" | "03"),
        _ => false,
    };
    let mut elements: Vec<&str> = v
        .factors
        .iter()
        .filter(valid)
        .map(|f| f.element.as_str())
        .collect();
    elements.sort_unstable();
    elements.dedup();
    if elements.len() < 2 {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            codes::SECOND_FACTOR,
            "二要素認証が必要です（要素区分 OQSCD041 の異なる2要素と方式区分 OQSCD042 を提示してください）",
        ));
    }
    Ok(())
}

enum Found {
    One(i64),
    Refused(Response),
}

/// The person holding these insurance numbers on this birth date (資格確認書 or insurance card).
fn by_insurance(state: &Shared, k: &InsuranceKeys) -> Result<Found, CentralError> {
    let keys = SearchKeys {
        insurer_number: k.insurer_number.clone(),
        symbol: k.symbol.clone(),
        number: k.number.clone(),
        branch: k.branch.clone(),
        birth: k.birthdate.clone(),
    };
    state
        .store
        .people_by_keys(&keys, state.clock.today_jst())
        .map(|ids| match ids.as_slice() {
            [id] => Found::One(*id),
            [] => Found::Refused(api_error(
                StatusCode::NOT_FOUND,
                codes::NO_MATCH,
                "該当する患者が見つかりません",
            )),
            _ => Found::Refused(api_error(
                StatusCode::CONFLICT,
                codes::MORE_FACTS_NEEDED,
                "複数の患者が該当しました。枝番を指定してください",
            )),
        })
}

fn by_four_facts(state: &Shared, f: &FourFacts) -> Result<Found, CentralError> {
    let missing: Vec<&str> = [
        ("name", f.name.trim().is_empty()),
        ("birthdate", parse_ymd(f.birthdate.trim()).is_none()),
        ("sex", !matches!(f.sex.trim(), "1" | "2" | "3")),
        (
            "insurer_name_or_address",
            f.insurer_name_or_address.trim().chars().count() < 2,
        ),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| n)
    .collect();
    if !missing.is_empty() {
        return Ok(Found::Refused(api_error(
            StatusCode::BAD_REQUEST,
            codes::FACTS_INCOMPLETE,
            format!(
                "4情報（氏名・生年月日・性別・保険者名称または住所の一部）はすべて必須です。不足または不正: {}",
                missing.join(", ")
            ),
        )));
    }
    let sex: u8 = f.sex.trim().parse().unwrap_or(0);
    let ids = state.store.four_fact_search(
        &f.name,
        f.birthdate.trim(),
        sex,
        &f.insurer_name_or_address,
        2,
    )?;
    Ok(match ids.as_slice() {
        [id] => Found::One(*id),
        [] => Found::Refused(api_error(
            StatusCode::NOT_FOUND,
            codes::NO_MATCH,
            "該当する患者が見つかりません",
        )),
        _ => Found::Refused(api_error(
            StatusCode::CONFLICT,
            codes::MORE_FACTS_NEEDED,
            "複数の患者が該当しました。保険者名称や住所をより詳しく入力してください（一覧は表示しません）",
        )),
    })
}

fn by_card(state: &Shared, cert_b64: &str) -> Result<Found, CentralError> {
    let refuse = |m: &str| {
        Ok(Found::Refused(api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::CARD,
            m.to_string(),
        )))
    };
    let Ok(cert) = base64::engine::general_purpose::STANDARD.decode(cert_b64.trim()) else {
        return refuse("電子証明書を読み取れません (base64)");
    };
    let now = state.clock.now();
    let info = match mock_jpki::verify_auth_cert(&state.jpki_ca_der, &cert, now).or_else(|_| {
        let threshold = oqs_clock::certificate_grace_threshold(now);
        mock_jpki::verify_auth_cert(&state.jpki_ca_der, &cert, threshold)
    }) {
        Ok(i) => i,
        Err(e) => return refuse(&format!("電子証明書を検証できません: {e}")),
    };
    match state.store.card(&info.serial_hex())? {
        Some(c) if !c.revoked => Ok(Found::One(c.person_id)),
        Some(_) => refuse("電子証明書は失効しています"),
        None => refuse("このカードの電子証明書は登録されていません"),
    }
}

fn item(
    date: time::Date,
    facility: &str,
    code: &str,
    name: &str,
    detail: Option<String>,
) -> DatedItem {
    DatedItem {
        date: ymd(date),
        facility: facility.into(),
        code: code.into(),
        name: name.into(),
        detail,
    }
}

fn summary(state: &Shared, rec: &Record, now: OffsetDateTime) -> EmergencySummary {
    let today = now.date();
    let birth = parse_ymd(&rec.birth).unwrap_or(today);
    let dialysis = rec.diseases.iter().any(|d| d.category == "1");
    let five_years = history(
        state.store.seed,
        rec.person_id,
        birth,
        dialysis,
        add_months(today, -60),
        today,
        today,
    );
    let three_months = add_months(today, -3);
    let forty_five = today - time::Duration::days(45);
    let mut s = EmergencySummary::default();
    for v in five_years.visits.iter().filter(|v| v.date >= three_months) {
        s.visits.push(item(
            v.date,
            v.facility,
            "",
            if v.in_out == "2" { "入院" } else { "外来" },
            None,
        ));
        for (c, n) in &v.treatments {
            s.treatments.push(item(v.date, v.facility, c, n, None));
        }
        for d in &v.drugs {
            let detail = Some(format!(
                "{} {}{} {}日分",
                d.usage, d.quantity, d.unit, d.days
            ));
            s.medications
                .push(item(v.date, v.facility, d.code, d.name, detail.clone()));
            if v.date >= forty_five {
                s.e_prescriptions
                    .push(item(v.date, v.facility, d.code, d.name, detail));
            }
        }
    }
    s.surgeries = five_years
        .surgeries
        .iter()
        .map(|x| item(x.date, x.facility, x.code, x.name, None))
        .collect();
    s.dialysis = five_years
        .dialysis
        .iter()
        .filter(|d| d.month >= add_months(three_months, -1))
        .map(|d| {
            item(
                d.month,
                d.facility,
                "",
                "人工腎臓",
                Some(format!("{}回", d.times)),
            )
        })
        .collect();
    s.checkup_dates = five_years.checkups.iter().map(|c| ymd(c.date)).collect();
    s
}

fn patient_view(rec: &Record, validity: &str) -> PatientView {
    PatientView {
        name: rec.name.clone(),
        kana: rec.kana.clone(),
        sex: rec.sex.to_string(),
        birthdate: rec.birth.clone(),
        insurer_number: rec.insurer_number.clone(),
        insurer_name: rec.insurer_name.clone(),
        symbol: rec.symbol.clone(),
        number: rec.number.clone(),
        branch: rec.branch.clone(),
        qualification_validity: validity.into(),
    }
}

fn facility_of(state: &Shared, caller: &Caller) -> Result<Facility, Response> {
    match state.store.facility(&caller.facility_code) {
        Ok(Some(f)) => Ok(f),
        Ok(None) => Err(api_error(
            StatusCode::FORBIDDEN,
            "OQS-C2005",
            "この端末証明書の医療機関は登録されていません",
        )),
        Err(e) => Err(internal(e)),
    }
}

#[allow(clippy::too_many_arguments)]
fn answer(
    state: &Shared,
    facility: &Facility,
    person: i64,
    now: OffsetDateTime,
    mode: &str,
    method: &str,
    viewer: &Viewer,
    reason: Option<String>,
) -> Result<Response, CentralError> {
    let e = state
        .store
        .eligibility_of_person(person, now.date(), &facility.code)?;
    let Some(rec) = e.records.first() else {
        return Ok(api_error(
            StatusCode::NOT_FOUND,
            codes::NO_MATCH,
            "該当する資格情報がありません",
        ));
    };
    let summary = summary(state, rec, now);
    let at = ymdhms(now);
    let items: Vec<String> = [
        "資格情報",
        "受診歴",
        "薬剤情報",
        "診療情報",
        "手術情報",
        "透析情報",
        "電子処方箋情報",
        "特定健診情報",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    state.store.log_access(&AccessEntry {
        person_id: person,
        facility_code: facility.code.clone(),
        facility_name: facility.name.clone(),
        at: at.clone(),
        items: items.clone(),
        method: method.into(),
        viewer_id: Some(viewer.id.clone()),
        reason,
    })?;
    let emergency = mode == "emergency";
    info!(mode, "medical information viewed without card consent");
    Ok(Json(LookupResponse {
        mode: mode.into(),
        medical_treatment_flag: emergency.then(|| "4".to_string()),
        notice: if emergency {
            "救急時医療情報閲覧です。この閲覧は記録され、患者はマイナポータルで閲覧履歴を確認できます。".into()
        } else {
            "災害時の特例的な運用による閲覧です。この閲覧は記録されます。".into()
        },
        accessed_at: at,
        items,
        access_method: method.into(),
        patient: patient_view(rec, e.validity.code()),
        summary,
    })
    .into_response())
}

pub(crate) async fn emergency(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let req: EmergencyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                format!("emergency lookup JSON is invalid: {e}"),
            );
        }
    };
    let facility = match facility_of(&state, &caller) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = check_viewer(&req.viewer, true) {
        return r;
    }
    if req.reason.trim().is_empty() {
        return api_error(
            StatusCode::BAD_REQUEST,
            codes::REASON,
            "閲覧理由を入力してください",
        );
    }
    let (found, method) = match (&req.auth_certificate, &req.four_facts, &req.insurance) {
        (Some(c), None, None) => (by_card(&state, c), "救急時医療情報閲覧（マイナ保険証）"),
        (None, Some(f), None) => (by_four_facts(&state, f), "救急時医療情報閲覧（4情報）"),
        (None, None, Some(k)) => (
            by_insurance(&state, k),
            "救急時医療情報閲覧（保険者番号等）",
        ),
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                "患者の特定には auth_certificate・four_facts・insurance のどれか一つを指定してください",
            );
        }
    };
    match found {
        Ok(Found::One(p)) => answer(
            &state,
            &facility,
            p,
            state.clock.now_jst(),
            "emergency",
            method,
            &req.viewer,
            Some(req.reason.clone()),
        )
        .unwrap_or_else(internal),
        Ok(Found::Refused(r)) => r,
        Err(e) => internal(e),
    }
}

pub(crate) async fn disaster(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let req: DisasterRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                format!("disaster lookup JSON is invalid: {e}"),
            );
        }
    };
    let facility = match facility_of(&state, &caller) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let now = state.clock.now_jst();
    match state.store.active_disaster_window(&facility, &ymdhms(now)) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return api_error(
                StatusCode::FORBIDDEN,
                codes::NO_WINDOW,
                "災害時医療情報閲覧はこの地域・期間では開始されていません",
            );
        }
        Err(e) => return internal(e),
    }
    if req.viewer.id.trim().is_empty() {
        return api_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            "viewer.id is required",
        );
    }
    if !matches!(req.consent.as_str(), "oral" | "unobtainable") {
        return api_error(
            StatusCode::BAD_REQUEST,
            codes::CONSENT,
            "consent は \"oral\"（口頭同意）か \"unobtainable\"（同意取得困難）を指定してください",
        );
    }
    let found = match (&req.four_facts, &req.insurance) {
        (Some(f), None) => by_four_facts(&state, f),
        (None, Some(k)) => by_insurance(&state, k),
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                "four_facts か insurance のどちらか一方を指定してください",
            );
        }
    };
    let method = if req.consent == "oral" {
        "災害時医療情報閲覧（口頭同意）"
    } else {
        "災害時医療情報閲覧（同意取得困難）"
    };
    match found {
        Ok(Found::One(p)) => answer(
            &state,
            &facility,
            p,
            now,
            "disaster",
            method,
            &req.viewer,
            req.reason.clone(),
        )
        .unwrap_or_else(internal),
        Ok(Found::Refused(r)) => r,
        Err(e) => internal(e),
    }
}

#[derive(Serialize, Deserialize, Debug)]
pub struct WindowsView {
    pub facility_prefecture: u8,
    pub open_now: bool,
    pub windows: Vec<crate::store::DisasterWindow>,
}

pub(crate) async fn windows(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    let facility = match facility_of(&state, &caller) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let now = ymdhms(state.clock.now_jst());
    match state.store.disaster_windows() {
        Ok(all) => {
            let mine: Vec<_> = all.into_iter().filter(|w| w.covers(&facility)).collect();
            let open_now = mine
                .iter()
                .any(|w| w.from.as_str() <= now.as_str() && now.as_str() <= w.to.as_str());
            Json(WindowsView {
                facility_prefecture: facility.pref,
                open_now,
                windows: mine,
            })
            .into_response()
        }
        Err(e) => internal(e),
    }
}

#[derive(Deserialize, Debug)]
pub struct HistoryQuery {
    pub insurer_number: Option<String>,
    pub symbol: Option<String>,
    pub number: Option<String>,
    pub branch: Option<String>,
    pub birthdate: Option<String>,
}

/// One line of マイナポータル「医療保険情報の提供状況」.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PortalEntry {
    pub facility_code: String,
    pub facility_name: String,
    /// yyyyMMddHHmmss (JST)
    pub at: String,
    pub items: Vec<String>,
    pub method: String,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct HistoryView {
    pub entries: Vec<PortalEntry>,
}

pub(crate) async fn access_history(
    State(state): State<Shared>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let (Some(insurer_number), Some(number), Some(birth)) =
        (q.insurer_number, q.number, q.birthdate)
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            codes::HISTORY_KEYS,
            "insurer_number, number and birthdate are required",
        );
    };
    let keys = SearchKeys {
        insurer_number,
        symbol: q.symbol,
        number,
        branch: q.branch,
        birth,
    };
    let ids = match state.store.people_by_keys(&keys, state.clock.today_jst()) {
        Ok(ids) => ids,
        Err(e) => return internal(e),
    };
    let [id] = ids.as_slice() else {
        return api_error(
            StatusCode::NOT_FOUND,
            codes::NO_MATCH,
            "該当する被保険者がいません（複数該当の場合は枝番を指定してください）",
        );
    };
    match state.store.access_history(*id) {
        Ok(rows) => Json(HistoryView {
            entries: rows
                .into_iter()
                .map(|r| PortalEntry {
                    facility_code: r.facility_code,
                    facility_name: r.facility_name,
                    at: r.at,
                    items: r.items,
                    method: r.method,
                })
                .collect(),
        })
        .into_response(),
        Err(e) => internal(e),
    }
}
