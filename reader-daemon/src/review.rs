//! The regular review of emergency views (seed 000/004: the logs are checked afterwards): every
//! 救急時医療情報閲覧 of a period — who, when, which patient reference, why, how — as a list, and exported as CSV
//! and PDF through the access report's writer (`audit-report`). Used by the daemon's `emergency_review`
//! request (administrators) and by `oqs emergency review`.

use std::path::{Path, PathBuf};

use std::collections::{HashMap, HashSet};

use audit_report::{Report, ReportRow};
use facility_store::{AuditCoverage, Store, TerminalAuditRecord};
use terminal_ipc::{EmergencyReviewRow, ErrorBody, ErrorCode};

/// The audit actions of an emergency view.
pub const EMERGENCY_ACTIONS: &[&str] = &["emergency_lookup"];

/// The row written before a lookup is sent, and the outcomes that close it.
const STARTED: &str = "emergency_lookup_started";
const OUTCOMES: &[&str] = &["emergency_lookup", "emergency_lookup_refused"];

/// Why a review could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0}")]
    Period(String),
    #[error(transparent)]
    Store(#[from] facility_store::StoreError),
    #[error(transparent)]
    Report(#[from] audit_report::ReportError),
    #[error("cannot create {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

impl From<ReviewError> for ErrorBody {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Period(m) => ErrorBody::new(ErrorCode::BadRequest, m),
            other => crate::accounts::internal("the emergency review", other),
        }
    }
}

/// `[from 00:00 JST, the day after to 00:00 JST)` in ms since the epoch, from two `YYYY-MM-DD` dates.
pub fn period(from: &str, to: &str) -> Result<(i64, i64), ReviewError> {
    let day = |s: &str| -> Result<i64, ReviewError> {
        let compact = s.replace('-', "");
        if compact.len() != 8 || !compact.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReviewError::Period(format!(
                "期間は YYYY-MM-DD で指定してください。The period's dates are YYYY-MM-DD, not `{s}`."
            )));
        }
        oqs_clock::parse_instant(&compact)
            .map(oqs_clock::millis)
            .map_err(|e| ReviewError::Period(format!("`{s}`: {e}")))
    };
    let (start, end) = (day(from)?, day(to)?.saturating_add(86_400_000));
    if end <= start {
        return Err(ReviewError::Period(
            "期間の終わりが始まりより前です。The period ends before it starts.".into(),
        ));
    }
    Ok((start, end))
}

/// The emergency views of a period across the facility, and which terminals' logs they come from.
#[derive(Debug)]
pub struct Review {
    pub rows: Vec<ReportRow>,
    pub coverage: AuditCoverage,
}

impl Review {
    /// What the screen says when only this terminal's log could be read.
    pub fn notice(&self) -> Option<String> {
        matches!(self.coverage, AuditCoverage::ThisTerminalOnly { .. })
            .then(|| audit_report::THIS_TERMINAL_ONLY.to_owned())
    }
}

/// The emergency views logged in `[start, end)` at every terminal of the facility (this terminal's alone
/// without a facility-wide store, or while it cannot be read), oldest first, and every lookup that was
/// started in it but has no outcome row (the daemon stopped between sending it and recording the answer:
/// the central service may have shown the patient's information). Such a row names who looked, how and
/// why; the patient is not known, and its action says the outcome is missing. A start and its outcome are
/// paired within one terminal's log.
pub fn rows(store: &Store, start: i64, end: i64) -> Result<Review, ReviewError> {
    let mut actions: Vec<&str> = vec![STARTED];
    actions.extend(OUTCOMES);
    // An outcome may be logged just after the period ends: look a day further for the outcomes only.
    let found = store.facility_audit_between(&actions, start, end.saturating_add(86_400_000))?;
    let key = |r: &TerminalAuditRecord| RowKey(r.terminal_id.clone(), r.record.id);
    let mut pending: HashMap<(Option<&str>, &str), RowKey> = HashMap::new();
    let mut unfinished = HashSet::new();
    for r in &found.rows {
        let who = (r.terminal_id.as_deref(), r.record.entry.actor.as_str());
        if r.record.entry.action == STARTED {
            if let Some(previous) = pending.insert(who, key(r)) {
                unfinished.insert(previous);
            }
        } else {
            pending.remove(&who);
        }
    }
    unfinished.extend(pending.into_values());
    let rows = found
        .rows
        .iter()
        .filter(|r| r.record.at < end)
        .filter(|r| {
            EMERGENCY_ACTIONS.contains(&r.record.entry.action.as_str())
                || (r.record.entry.action == STARTED && unfinished.contains(&key(r)))
        })
        .map(ReportRow::from_terminal_record)
        .collect();
    Ok(Review {
        rows,
        coverage: found.coverage,
    })
}

/// A row of a facility's logs: its terminal and its id in that terminal's log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RowKey(Option<String>, i64);

pub fn view(row: &ReportRow) -> EmergencyReviewRow {
    EmergencyReviewRow {
        audit_id: row.audit_id,
        at: row.shown_time(),
        viewer: row.viewer.clone(),
        patient_ref: row.patient_ref.clone().unwrap_or_default(),
        reason: row.reason.clone(),
        method: row.method.clone(),
        items: row.items.clone(),
        action: row.action.clone(),
        terminal: row.terminal.clone(),
    }
}

/// Writes `emergency-review-FROM-TO.csv` and `.pdf` into `dir`; answers their paths. The PDF needs a
/// Japanese font ([`audit_report::find_cjk_font`] unless `font` is given). A facility-wide review names
/// each row's terminal; one that could read only this terminal's log says so on its face.
pub fn export(
    review: Review,
    from: &str,
    to: &str,
    facility: &str,
    dir: &Path,
    font: Option<&Path>,
    generated_at: std::time::SystemTime,
) -> Result<Vec<PathBuf>, ReviewError> {
    std::fs::create_dir_all(dir).map_err(|source| ReviewError::Folder {
        path: dir.display().to_string(),
        source,
    })?;
    let report = Report::new(
        facility.to_string(),
        format!("救急時医療情報閲覧の全件（{from}〜{to}）"),
        review.rows,
        generated_at,
    )
    .with_patient_refs()
    .covering(&review.coverage);
    let stem = format!("emergency-review-{from}-{to}");
    let csv = dir.join(format!("{stem}.csv"));
    let pdf = dir.join(format!("{stem}.pdf"));
    audit_report::write_csv(&report, &csv)?;
    let font = match font {
        Some(f) => f.to_path_buf(),
        None => audit_report::find_cjk_font().ok_or(audit_report::ReportError::NoFont)?,
    };
    audit_report::write_pdf(&report, &font, &pdf)?;
    Ok(vec![csv, pdf])
}

/// The `emergency_review` request: an administrator's session; the list, and with `export` the files in
/// the `reports/` folder beside the store. Reading the review is itself audited (`emergency_review`).
pub async fn answer(
    accounts: &crate::accounts::Accounts,
    store: &std::sync::Arc<Store>,
    peer: &terminal_ipc::PeerInfo,
    session: &terminal_ipc::Secret,
    from: String,
    to: String,
    export_files: bool,
) -> Result<terminal_ipc::Response, ErrorBody> {
    let admin = accounts.administrator(peer, session).await?;
    let (start, end) = period(&from, &to)?;
    let worker = store.clone();
    let (rows, files, notice) = tokio::task::spawn_blocking(move || {
        let review = rows(&worker, start, end)?;
        let views: Vec<EmergencyReviewRow> = review.rows.iter().map(view).collect();
        let notice = review.notice();
        let files = if export_files {
            let dir = worker
                .path()
                .parent()
                .unwrap_or(Path::new("."))
                .join("reports");
            export(review, &from, &to, "", &dir, None, worker.clock().now())?
        } else {
            Vec::new()
        };
        Ok::<_, ReviewError>((views, files, notice))
    })
    .await
    .map_err(|e| crate::accounts::internal("the emergency review", e))??;
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    crate::accounts::audit(
        store,
        facility_store::AuditEntry {
            actor: admin.login().to_string(),
            action: "emergency_review".into(),
            detail: Some(format!(
                "rows={} exported={}",
                rows.len(),
                if files.is_empty() { "no" } else { "csv+pdf" }
            )),
            ..facility_store::AuditEntry::default()
        },
    )
    .await?;
    Ok(terminal_ipc::Response::EmergencyReview {
        rows,
        files,
        notice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_whole_japanese_days_and_refuses_nonsense() {
        let (start, end) = period("2026-04-01", "2026-04-30").unwrap();
        // 2026-04-01 00:00 JST is 2026-03-31 15:00 UTC.
        assert_eq!(start, 1_774_969_200_000);
        assert_eq!(end - start, 30 * 86_400_000);
        assert!(period("2026-04-30", "2026-04-01").is_err());
        assert!(period("April", "2026-04-01").is_err());
    }

    #[test]
    fn a_started_lookup_without_an_outcome_is_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let keys = facility_store::StaticKeyProvider::random().unwrap();
        let store = Store::open(dir.path().join("s.sqlite3"), &keys).unwrap();
        let row = |actor: &str, action: &str, at: i64| {
            store
                .append_audit(
                    &facility_store::AuditEntry {
                        actor: actor.into(),
                        action: action.into(),
                        reason: Some(format!("{actor} {at}")),
                        ..Default::default()
                    },
                    at,
                )
                .unwrap()
        };
        row("dr-a", STARTED, 10);
        row("dr-a", "emergency_lookup", 11); // answered
        let lost = row("dr-a", STARTED, 20); // the daemon stopped here
        row("dr-a", STARTED, 30);
        row("dr-a", "emergency_lookup_refused", 31); // refused: not a view, not unfinished
        let crashed = row("dr-b", STARTED, 40); // never answered
        let found = rows(&store, 0, 100).unwrap();
        assert_eq!(found.coverage, AuditCoverage::SingleTerminal);
        assert_eq!(found.notice(), None);
        let listed = found.rows;
        let ids: Vec<i64> = listed.iter().map(|r| r.audit_id).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids.contains(&lost) && ids.contains(&crashed), "{ids:?}");
        assert_eq!(
            listed
                .iter()
                .filter(|r| r.action.contains("結果の記録なし"))
                .count(),
            2
        );
        // An outcome just after the period still closes a lookup started inside it (the view itself belongs to
        // the next period).
        row("dr-c", STARTED, 90);
        row("dr-c", "emergency_lookup", 110);
        assert_eq!(rows(&store, 0, 100).unwrap().rows.len(), 3);
        assert_eq!(rows(&store, 100, 200).unwrap().rows.len(), 1);
    }
}
