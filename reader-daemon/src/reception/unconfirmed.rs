//! 要再確認: when the online check cannot confirm a visit (資格無効, 該当資格なし, a reader fault, an outage),
//! reception takes one of the paths of 保発0710第1号 (the numbers of a 資格確認書 / 資格情報のお知らせ / old card,
//! the patient's マイナポータル screen, the 被保険者資格申立書, or a returning patient's last qualification) and the
//! visit is kept here with the numbers the patient gave. The daemon checks them at once, then again every day
//! at the set time and on the day of the monthly レセプト run, until a check finds a valid qualification or a
//! staff member closes the entry; every step is an audit row.

use facility_store::{
    AuditEntry, Claim, NewUnconfirmed, RecheckMarks, RecheckOutcome, Unconfirmed, UnconfirmedState,
};
use terminal_ipc::{
    CheckInOutcome, ClaimedNumbers, ErrorBody, FallbackPath, InsuranceNumbers, PeerInfo,
    RecheckRunView, Response, Secret, Sensitive, UnconfirmedReason, UnconfirmedView,
};
use tracing::{info, warn};

use super::{Reception, bad_request, blocking, checked_numbers, compact_date, dashed, rfc3339};
use crate::accounts::internal;
use crate::config::RecheckSection;

/// The longest resolution note a staff member may type.
const MAX_RESOLUTION: usize = 200;
/// How far back the list goes by default (entries still open are always listed).
const DEFAULT_DAYS: u32 = 31;

/// Why a re-check run was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecheckKind {
    /// Every day at `[recheck] at`.
    Daily,
    /// On `[recheck] receipt_day`, before the monthly レセプト run.
    BeforeReceipt,
    /// Asked for by reception.
    Manual,
}

impl RecheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::BeforeReceipt => "before_receipt",
            Self::Manual => "manual",
        }
    }
}

/// The scheduled run due at `now` (JST), given the marks of the last runs: the run before the レセプト once a
/// month from `receipt_day` at `at` (made late if the daemon was not running then), else the daily run once
/// a day from `at`. Returns the run and the marks it sets.
pub fn due_recheck(
    now: time::OffsetDateTime,
    config: &RecheckSection,
    marks: &RecheckMarks,
) -> Option<(RecheckKind, RecheckMarks)> {
    let at = config.minute_of_day()?;
    let minute = u16::from(now.hour()) * 60 + u16::from(now.minute());
    let today = now.date().to_string();
    let month = today.get(..7)?.to_owned();
    let past_at = minute >= at;
    let receipt_due = (now.day() > config.receipt_day
        || (now.day() == config.receipt_day && past_at))
        && marks.receipt.as_deref() != Some(month.as_str());
    if receipt_due {
        return Some((
            RecheckKind::BeforeReceipt,
            RecheckMarks {
                daily: past_at.then_some(today),
                receipt: Some(month),
                last_run: None,
            },
        ));
    }
    let daily_due = config.daily && past_at && marks.daily.as_deref() != Some(today.as_str());
    daily_due.then_some((
        RecheckKind::Daily,
        RecheckMarks {
            daily: Some(today),
            receipt: None,
            last_run: None,
        },
    ))
}

fn text(s: &Sensitive) -> String {
    s.expose().trim().to_owned()
}

/// The claim as typed, checked: numbers that are given must be well formed; `numbers`, `mynaportal` and
/// `last_known` need numbers to check (a 申立書 may say 「不詳」).
fn claim_of(
    path: FallbackPath,
    claimed: &ClaimedNumbers,
    birth_from_check_in: Option<&str>,
) -> Result<Claim, ErrorBody> {
    let mut claim = Claim {
        insurer_number: text(&claimed.insurer_number),
        symbol: text(&claimed.symbol),
        number: text(&claimed.number),
        branch: text(&claimed.branch),
        birth_date: String::new(),
        insurer_name: text(&claimed.insurer_name),
        name: text(&claimed.name),
    };
    for (value, what, max) in [
        (&claim.symbol, "記号", 38),
        (&claim.number, "番号", 38),
        (&claim.insurer_name, "保険者名称", 80),
        (&claim.name, "氏名", 100),
    ] {
        if value.chars().count() > max || value.chars().any(char::is_control) {
            return Err(bad_request(format!(
                "{what}は{max}文字以内で入力してください。The {what} must be at most {max} characters."
            )));
        }
    }
    let birth = text(&claimed.birth_date);
    claim.birth_date = if birth.is_empty() {
        birth_from_check_in.unwrap_or_default().to_owned()
    } else {
        compact_date(&birth, "生年月日")?
    };
    let any_number = !claim.insurer_number.is_empty() || !claim.number.is_empty();
    if any_number || path != FallbackPath::Declaration {
        checked_numbers(&insurance_numbers(&claim))?;
    }
    Ok(claim)
}

/// The claim's numbers as a check by numbers takes them.
fn insurance_numbers(claim: &Claim) -> InsuranceNumbers {
    InsuranceNumbers {
        insurer_number: Sensitive::new(claim.insurer_number.clone()),
        symbol: Sensitive::new(claim.symbol.clone()),
        number: Sensitive::new(claim.number.clone()),
        branch: Sensitive::new(claim.branch.clone()),
        birth_date: Sensitive::new(dashed(&claim.birth_date)),
    }
}

impl Reception {
    /// Opens a 要再確認 entry for a visit reception could not confirm, then checks its numbers at once.
    pub async fn open_unconfirmed(
        &self,
        check_in_id: Option<String>,
        reason: UnconfirmedReason,
        path: FallbackPath,
        share: Option<u8>,
        claimed: ClaimedNumbers,
    ) -> Result<Response, ErrorBody> {
        if share.is_some_and(|s| !(1..=3).contains(&s)) {
            return Err(bad_request(
                "負担割合は1割・2割・3割のいずれかです。The share is 1, 2 or 3 (割).",
            ));
        }
        if path == FallbackPath::Declaration && share.is_none() {
            return Err(bad_request(
                "申立書の負担割合を選んでください。A 申立書 records the share claimed.",
            ));
        }
        let store = self.store.clone();
        let id = check_in_id.clone();
        let check_in = blocking("reading the check-in", move || match id {
            Some(id) => store
                .check_in(&id)?
                .map(Some)
                .ok_or_else(|| facility_store::StoreError::NotFound(format!("check-in {id}"))),
            None => Ok(None),
        })
        .await?;
        let patient = check_in.as_ref().and_then(|c| c.patient.clone());
        let claim = claim_of(
            path,
            &claimed,
            patient.as_ref().map(|p| p.birth_date.as_str()),
        )?;
        let patient_ref = if claim.checkable() {
            Some(
                self.store
                    .patient_key(
                        &claim.insurer_number,
                        &claim.symbol,
                        &claim.number,
                        &claim.birth_date,
                    )
                    .to_hex(),
            )
        } else {
            patient
                .as_ref()
                .map(|p| self.store.patient_key_of(p).to_hex())
        };
        let new = NewUnconfirmed {
            opened_by: "reception".into(),
            check_in_id: check_in_id.clone(),
            reason: reason.as_str().into(),
            path: path.as_str().into(),
            share,
            claim,
        };
        let entry = AuditEntry {
            actor: "reception".into(),
            action: "unconfirmed_opened".into(),
            patient_ref,
            items: vec!["eligibility".into()],
            method: Some(path.as_str().into()),
            reason: Some(reason.as_str().into()),
            detail: Some(
                serde_json::json!({ "check_in": check_in_id, "share": share }).to_string(),
            ),
        };
        let store = self.store.clone();
        let id = blocking("opening the 要再確認 entry", move || {
            store.open_unconfirmed(&new, &entry)
        })
        .await?;
        info!(id, path = path.as_str(), "要再確認 entry opened");
        if let Some(e) = self.entry(id).await? {
            self.recheck_one(&e, "on_open").await;
        }
        let entry = self
            .entry(id)
            .await?
            .ok_or_else(|| internal("reading the 要再確認 entry", "missing after insert"))?;
        Ok(Response::Unconfirmed {
            entry: Box::new(self.view(entry).await?),
        })
    }

    /// The 要再確認 list: every open entry and those opened in the last `days` days.
    pub async fn unconfirmed_list(&self, days: Option<u32>) -> Result<Response, ErrorBody> {
        let entries = self.listed(days).await?;
        let store = self.store.clone();
        let marks = blocking("reading the re-check marks", move || store.recheck_marks()).await?;
        let last_run = marks
            .last_run
            .and_then(|json| serde_json::from_str::<RecheckRunView>(&json).ok());
        Ok(Response::UnconfirmedList { entries, last_run })
    }

    /// The list as CSV (UTF-8 with a BOM, for Excel).
    pub async fn export_unconfirmed(&self, days: Option<u32>) -> Result<Response, ErrorBody> {
        let entries = self.listed(days).await?;
        let mut csv = String::from(
            "\u{feff}番号,登録日時,理由,確認方法,負担割合,氏名,カナ,保険者番号,記号,番号,枝番,生年月日,保険者名称,\
             状態,確認回数,最終確認日時,最終確認結果,解決日時,解決者,対応内容\r\n",
        );
        for e in &entries {
            let fields = [
                e.id.to_string(),
                e.opened_at.clone(),
                e.reason.label().to_owned(),
                e.path.label().to_owned(),
                e.share.map(|s| format!("{s}割")).unwrap_or_default(),
                e.name.expose().to_owned(),
                e.kana.expose().to_owned(),
                e.claim.insurer_number.expose().to_owned(),
                e.claim.symbol.expose().to_owned(),
                e.claim.number.expose().to_owned(),
                e.claim.branch.expose().to_owned(),
                e.claim.birth_date.expose().to_owned(),
                e.claim.insurer_name.expose().to_owned(),
                state_label(&e.state).to_owned(),
                e.checks.to_string(),
                e.last_checked_at.clone().unwrap_or_default(),
                e.outcome_text.expose().to_owned(),
                e.resolved_at.clone().unwrap_or_default(),
                e.resolved_by.clone().unwrap_or_default(),
                e.resolution.clone().unwrap_or_default(),
            ];
            let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            csv.push_str(&row.join(","));
            csv.push_str("\r\n");
        }
        let file_name = format!("要再確認_{}.csv", self.store.clock().ymd_jst());
        Ok(Response::Export {
            file_name,
            text: csv,
        })
    }

    /// A staff member closes an open entry, saying what was done.
    pub async fn close_unconfirmed(
        &self,
        peer: &PeerInfo,
        session: &Secret,
        id: i64,
        resolution: String,
    ) -> Result<Response, ErrorBody> {
        let user = self.accounts.session(peer, session).await?;
        let resolution = resolution.trim().to_owned();
        if resolution.is_empty()
            || resolution.chars().count() > MAX_RESOLUTION
            || resolution.chars().any(char::is_control)
        {
            return Err(bad_request(format!(
                "対応内容を{MAX_RESOLUTION}文字以内で入力してください。Say what was done, in at most \
                 {MAX_RESOLUTION} characters."
            )));
        }
        let login = user.login().to_owned();
        let entry = AuditEntry {
            actor: login.clone(),
            action: "unconfirmed_closed".into(),
            patient_ref: None,
            items: Vec::new(),
            method: None,
            reason: None,
            detail: Some(serde_json::json!({ "id": id }).to_string()),
        };
        let store = self.store.clone();
        blocking("closing the 要再確認 entry", move || {
            store.close_unconfirmed(id, &login, &resolution, &entry)
        })
        .await?;
        let entry = self
            .entry(id)
            .await?
            .ok_or_else(|| internal("reading the 要再確認 entry", "missing after close"))?;
        Ok(Response::Unconfirmed {
            entry: Box::new(self.view(entry).await?),
        })
    }

    /// Re-checks every open entry by its numbers and records the run.
    pub async fn recheck_all(
        &self,
        kind: RecheckKind,
        marks: RecheckMarks,
    ) -> Result<RecheckRunView, ErrorBody> {
        let store = self.store.clone();
        let open = blocking("reading the 要再確認 list", move || {
            store.unconfirmed_list(None)
        })
        .await?;
        let mut run = RecheckRunView {
            at: rfc3339(self.store.now_millis()),
            kind: kind.as_str().into(),
            checked: 0,
            confirmed: 0,
            without_numbers: 0,
            unanswered: 0,
            still_open: 0,
        };
        for e in &open {
            if !e.claim.checkable() {
                run.without_numbers += 1;
                run.still_open += 1;
                continue;
            }
            run.checked += 1;
            match self.recheck_one(e, kind.as_str()).await {
                Some(true) => run.confirmed += 1,
                Some(false) => run.still_open += 1,
                None => {
                    run.unanswered += 1;
                    run.still_open += 1;
                }
            }
        }
        let summary = serde_json::to_string(&run).map_err(|e| internal("writing the run", e))?;
        let marks = RecheckMarks {
            last_run: Some(summary.clone()),
            ..marks
        };
        let entry = AuditEntry {
            actor: "recheck".into(),
            action: "unconfirmed_recheck_run".into(),
            patient_ref: None,
            items: Vec::new(),
            method: None,
            reason: None,
            detail: Some(summary),
        };
        let store = self.store.clone();
        blocking("recording the re-check run", move || {
            store.mark_recheck_run(&marks, &entry)
        })
        .await?;
        info!(
            kind = kind.as_str(),
            checked = run.checked,
            confirmed = run.confirmed,
            still_open = run.still_open,
            "要再確認 re-checked"
        );
        Ok(run)
    }

    /// Makes the scheduled runs as they fall due (and a run missed while the daemon was not running, as soon
    /// as it starts). Runs until the daemon stops.
    pub async fn run_rechecks(
        self: std::sync::Arc<Self>,
        config: RecheckSection,
        every: std::time::Duration,
    ) {
        loop {
            let store = self.store.clone();
            let due = blocking("reading the re-check marks", move || store.recheck_marks())
                .await
                .map(|marks| due_recheck(self.store.clock().now_jst(), &config, &marks));
            match due {
                Ok(Some((kind, marks))) => {
                    if let Err(e) = self.recheck_all(kind, marks).await {
                        warn!(error = %e.message, "the scheduled re-check failed");
                    }
                }
                Ok(None) => {}
                Err(e) => warn!(error = %e.message, "reading the re-check marks failed"),
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Checks one entry's numbers at the central service and records the outcome: `Some(true)` confirmed,
    /// `Some(false)` answered but not valid, `None` not answered (kept open for the next run).
    async fn recheck_one(&self, e: &Unconfirmed, run: &str) -> Option<bool> {
        if !e.claim.checkable() {
            return Some(false);
        }
        let numbers = insurance_numbers(&e.claim);
        let answered = self
            .check_by_numbers(
                &e.claim.insurer_number,
                &numbers,
                e.claim.birth_date.clone(),
            )
            .await;
        let at = self.store.now_millis();
        let outcome = match &answered {
            Ok(a) => {
                let valid = a.view.outcome == CheckInOutcome::Valid;
                let found = a.view.patient.as_deref().map(|p| {
                    format!(
                        "{} 保険者番号 {} 記号 {} 番号 {} 枝番 {}",
                        p.insurer_name.as_deref().unwrap_or(""),
                        p.insurer_number.expose(),
                        p.symbol.expose(),
                        p.number.expose(),
                        p.branch.expose()
                    )
                });
                let (code, label) = match a.view.outcome {
                    CheckInOutcome::Valid => ("valid", "有効"),
                    CheckInOutcome::Invalid => ("invalid", "無効"),
                    CheckInOutcome::NoQualification => ("no_qualification", "該当資格なし"),
                    _ if found.is_none() => ("not_found", "該当する資格情報がありません"),
                    _ => ("other", "確認できませんでした"),
                };
                RecheckOutcome {
                    at,
                    outcome: code.into(),
                    text: match found {
                        Some(found) => format!("{label}（{}）", found.trim()),
                        None => label.into(),
                    },
                    confirmed: valid,
                }
            }
            Err(err) => RecheckOutcome {
                at,
                outcome: "unreachable".into(),
                text: format!(
                    "オンライン資格確認等システムに確認できませんでした: {}",
                    err.message
                ),
                confirmed: false,
            },
        };
        let confirmed = outcome.confirmed;
        let unanswered = answered.is_err();
        let entry = AuditEntry {
            actor: "recheck".into(),
            action: "unconfirmed_rechecked".into(),
            patient_ref: Some(
                self.store
                    .patient_key(
                        &e.claim.insurer_number,
                        &e.claim.symbol,
                        &e.claim.number,
                        &e.claim.birth_date,
                    )
                    .to_hex(),
            ),
            items: vec!["eligibility".into()],
            method: Some("insurance_numbers".into()),
            reason: None,
            detail: Some(
                serde_json::json!({ "id": e.id, "run": run, "outcome": outcome.outcome })
                    .to_string(),
            ),
        };
        let store = self.store.clone();
        let id = e.id;
        if let Err(err) = blocking("recording the re-check", move || {
            store.record_recheck(id, &outcome, &entry)
        })
        .await
        {
            warn!(error = %err.message, id, "recording a re-check failed");
            return None;
        }
        (!unanswered).then_some(confirmed)
    }

    async fn entry(&self, id: i64) -> Result<Option<Unconfirmed>, ErrorBody> {
        let store = self.store.clone();
        blocking("reading the 要再確認 entry", move || {
            store.unconfirmed(id)
        })
        .await
    }

    async fn listed(&self, days: Option<u32>) -> Result<Vec<UnconfirmedView>, ErrorBody> {
        let days = i64::from(days.unwrap_or(DEFAULT_DAYS).min(3660));
        let since = self.store.now_millis() - days * 86_400_000;
        let store = self.store.clone();
        let entries = blocking("reading the 要再確認 list", move || {
            store.unconfirmed_list(Some(since))
        })
        .await?;
        let mut views = Vec::with_capacity(entries.len());
        for e in entries {
            views.push(self.view(e).await?);
        }
        Ok(views)
    }

    async fn view(&self, e: Unconfirmed) -> Result<UnconfirmedView, ErrorBody> {
        let store = self.store.clone();
        let id = e.check_in_id.clone();
        let patient = blocking("reading the check-in", move || {
            Ok(match id {
                Some(id) => store.check_in(&id)?.and_then(|c| c.patient),
                None => None,
            })
        })
        .await?;
        let (name, kana) = match &patient {
            Some(p) if !p.name.is_empty() => (p.name.clone(), p.kana.clone()),
            _ => (e.claim.name.clone(), String::new()),
        };
        Ok(UnconfirmedView {
            id: e.id,
            opened_at: rfc3339(e.opened_at),
            opened_by: e.opened_by.clone(),
            check_in_id: e.check_in_id.clone(),
            reason: UnconfirmedReason::parse(&e.reason).unwrap_or(UnconfirmedReason::NotFound),
            path: FallbackPath::parse(&e.path).unwrap_or(FallbackPath::Declaration),
            share: e.share,
            name: Sensitive::new(name),
            kana: Sensitive::new(kana),
            claim: ClaimedNumbers {
                insurer_number: Sensitive::new(e.claim.insurer_number.clone()),
                symbol: Sensitive::new(e.claim.symbol.clone()),
                number: Sensitive::new(e.claim.number.clone()),
                branch: Sensitive::new(e.claim.branch.clone()),
                birth_date: Sensitive::new(dashed(&e.claim.birth_date)),
                insurer_name: Sensitive::new(e.claim.insurer_name.clone()),
                name: Sensitive::new(e.claim.name.clone()),
            },
            state: e.state.as_str().into(),
            checks: e.checks,
            last_checked_at: e.last_checked_at.map(rfc3339),
            last_outcome: e.last_outcome.clone(),
            outcome_text: Sensitive::new(e.outcome_text.clone().unwrap_or_default()),
            resolved_at: e.resolved_at.map(rfc3339),
            resolved_by: e.resolved_by.clone(),
            resolution: e.resolution.clone(),
        })
    }
}

fn state_label(state: &str) -> &'static str {
    match state {
        s if s == UnconfirmedState::Open.as_str() => "要再確認",
        s if s == UnconfirmedState::Confirmed.as_str() => "確認済（再確認で有効）",
        _ => "対応済",
    }
}

/// One CSV field: quoted when it holds a comma, a quote or a line break; a leading `=`, `+`, `-` or `@` is
/// prefixed with `'` so that a spreadsheet does not take a typed note for a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> time::OffsetDateTime {
        oqs_clock::to_jst(oqs_clock::parse_instant(text).unwrap())
    }

    fn config(at: &str, daily: bool, receipt_day: u8) -> RecheckSection {
        RecheckSection {
            at: at.into(),
            daily,
            receipt_day,
        }
    }

    #[test]
    fn the_daily_run_falls_due_once_a_day_from_the_set_time() {
        let c = config("07:30", true, 1);
        let this_month = RecheckMarks {
            receipt: Some("2026-11".into()),
            ..RecheckMarks::default()
        };
        assert!(due_recheck(at("2026-11-18T07:29:59+09:00"), &c, &this_month).is_none());
        let (kind, marks) = due_recheck(at("2026-11-18T07:30:00+09:00"), &c, &this_month).unwrap();
        assert_eq!(kind, RecheckKind::Daily);
        assert_eq!(marks.daily.as_deref(), Some("2026-11-18"));
        let done = RecheckMarks {
            daily: Some("2026-11-18".into()),
            ..this_month.clone()
        };
        assert!(due_recheck(at("2026-11-18T23:59:00+09:00"), &c, &done).is_none());
        // The next day again; the day is Japan's even when UTC is still on the previous one.
        assert!(due_recheck(at("2026-11-18T22:40:00Z"), &c, &done).is_some());
        // Off: only the monthly run.
        let off = config("07:30", false, 1);
        assert!(due_recheck(at("2026-11-18T08:00:00+09:00"), &off, &this_month).is_none());
    }

    #[test]
    fn the_run_before_the_receipt_is_made_once_a_month_even_late() {
        let c = config("07:30", true, 5);
        let none = RecheckMarks::default();
        assert!(
            due_recheck(
                at("2026-12-05T07:00:00+09:00"),
                &c,
                &RecheckMarks {
                    receipt: Some("2026-11".into()),
                    daily: Some("2026-12-04".into()),
                    last_run: None,
                }
            )
            .is_none()
        );
        let (kind, marks) = due_recheck(at("2026-12-05T07:30:00+09:00"), &c, &none).unwrap();
        assert_eq!(kind, RecheckKind::BeforeReceipt);
        assert_eq!(marks.receipt.as_deref(), Some("2026-12"));
        assert_eq!(marks.daily.as_deref(), Some("2026-12-05"));
        // Missed on the 5th (the daemon was off): made on the 6th before the daily time, without the daily mark.
        let (kind, marks) = due_recheck(
            at("2026-12-06T06:00:00+09:00"),
            &c,
            &RecheckMarks {
                receipt: Some("2026-11".into()),
                ..none.clone()
            },
        )
        .unwrap();
        assert_eq!(kind, RecheckKind::BeforeReceipt);
        assert_eq!(marks.daily, None);
        // A year end: December's mark does not stand for January.
        let (kind, _) = due_recheck(
            at("2027-01-05T08:00:00+09:00"),
            &c,
            &RecheckMarks {
                receipt: Some("2026-12".into()),
                daily: Some("2027-01-04".into()),
                last_run: None,
            },
        )
        .unwrap();
        assert_eq!(kind, RecheckKind::BeforeReceipt);
    }

    #[test]
    fn a_declaration_may_leave_the_numbers_unknown_but_other_paths_may_not() {
        let unknown = ClaimedNumbers::default();
        let claim = claim_of(FallbackPath::Declaration, &unknown, None).unwrap();
        assert!(!claim.checkable());
        for path in [
            FallbackPath::Numbers,
            FallbackPath::Mynaportal,
            FallbackPath::LastKnown,
        ] {
            assert!(claim_of(path, &unknown, None).is_err());
        }
        let typed = ClaimedNumbers {
            insurer_number: Sensitive::new("06139876"),
            number: Sensitive::new("1234"),
            ..ClaimedNumbers::default()
        };
        // The birth date of the check-in is used when none is typed.
        let claim = claim_of(FallbackPath::Numbers, &typed, Some("19951212")).unwrap();
        assert!(claim.checkable());
        let bad = ClaimedNumbers {
            insurer_number: Sensitive::new("12345"),
            ..typed.clone()
        };
        let err = claim_of(FallbackPath::Declaration, &bad, Some("19951212")).unwrap_err();
        assert!(err.message.contains("保険者番号"), "{}", err.message);
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("山田"), "山田");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
