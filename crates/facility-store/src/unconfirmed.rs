//! 要再確認: visits whose qualification the central service could not confirm, kept until a re-check by the
//! numbers the patient gave confirms them or a staff member closes them.
//!
//! What the patient claimed (保険者番号・記号・番号・枝番, birth date, the insurer's name) and what the re-check
//! found are identifiers, so both are sealed like a check-in's; the keyed `patient_key` of the claimed numbers
//! lets reception find a patient's entries without decrypting. Every change is written with its audit row in
//! one transaction.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use zeroize::ZeroizeOnDrop;

use crate::{AuditEntry, Store, StoreError};

/// What the patient claimed: the numbers to check again (any may be empty when unknown, 「不詳」).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ZeroizeOnDrop)]
pub struct Claim {
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    /// `YYYYMMDD`.
    pub birth_date: String,
    /// 保険者名称 as the patient wrote it (e.g. the new employer's 健康保険組合).
    pub insurer_name: String,
    /// The name on the 申立書 when the check-in holds none.
    #[serde(default)]
    pub name: String,
}

impl Claim {
    /// True when the numbers are enough for a check by numbers (保険者番号, 番号 and birth date).
    pub fn checkable(&self) -> bool {
        !self.insurer_number.is_empty() && !self.number.is_empty() && self.birth_date.len() == 8
    }
}

/// State of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnconfirmedState {
    /// Still to be confirmed; the scheduled re-check looks at it.
    Open,
    /// A check by numbers found a valid qualification.
    Confirmed,
    /// Closed by a staff member (with what they did).
    Closed,
}

impl UnconfirmedState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Confirmed => "confirmed",
            Self::Closed => "closed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "open" => Self::Open,
            "confirmed" => Self::Confirmed,
            "closed" => Self::Closed,
            other => return Err(StoreError::Corrupt(format!("unconfirmed state '{other}'"))),
        })
    }
}

/// A new entry, as reception opens it.
#[derive(Debug, Clone)]
pub struct NewUnconfirmed {
    pub opened_by: String,
    pub check_in_id: Option<String>,
    /// Why it could not be confirmed: `invalid`, `no_qualification`, `pending_outage`, `error`, `not_found`,
    /// `reader_fault` (the daemon checks the code; the store keeps the text).
    pub reason: String,
    /// The path of 保発0710第1号 taken: `numbers`, `mynaportal`, `declaration`, `last_known`.
    pub path: String,
    /// The share billed meanwhile, in 割 (1, 2 or 3).
    pub share: Option<u8>,
    pub claim: Claim,
}

/// A stored entry.
#[derive(Debug, Clone)]
pub struct Unconfirmed {
    pub id: i64,
    pub opened_at: i64,
    pub opened_by: String,
    pub check_in_id: Option<String>,
    pub reason: String,
    pub path: String,
    pub share: Option<u8>,
    pub claim: Claim,
    pub state: UnconfirmedState,
    pub checks: u32,
    pub last_checked_at: Option<i64>,
    /// `valid`, `invalid`, `no_qualification`, `not_found`, `unreachable`, `no_numbers`, ….
    pub last_outcome: Option<String>,
    /// What the last check found, in words (may hold identifiers: sealed at rest).
    pub outcome_text: Option<String>,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

/// When the scheduled re-checks last ran, kept in the settings table under `recheck.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecheckMarks {
    /// Day (`YYYY-MM-DD`, JST) of the last daily run.
    pub daily: Option<String>,
    /// Month (`YYYY-MM`) of the last run before the レセプト.
    pub receipt: Option<String>,
    /// The last run's summary (JSON, as the daemon wrote it).
    pub last_run: Option<String>,
}

const MARK_KEYS: [&str; 3] = [
    "recheck.last_daily",
    "recheck.last_receipt",
    "recheck.last_run",
];

/// The outcome of one re-check of an entry.
#[derive(Debug, Clone)]
pub struct RecheckOutcome {
    pub at: i64,
    pub outcome: String,
    pub text: String,
    /// True when the check found a valid qualification: the entry becomes `confirmed`.
    pub confirmed: bool,
}

const COLUMNS: &str = "id, opened_at, opened_by, check_in_id, reason, path, share, claim_enc, state, checks, \
                       last_checked_at, last_outcome, outcome_enc, resolved_at, resolved_by, resolution";

struct RawRow {
    id: i64,
    opened_at: i64,
    opened_by: String,
    check_in_id: Option<String>,
    reason: String,
    path: String,
    share: Option<i64>,
    claim_enc: Vec<u8>,
    state: String,
    checks: i64,
    last_checked_at: Option<i64>,
    last_outcome: Option<String>,
    outcome_enc: Option<Vec<u8>>,
    resolved_at: Option<i64>,
    resolved_by: Option<String>,
    resolution: Option<String>,
}

fn raw_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        opened_at: r.get(1)?,
        opened_by: r.get(2)?,
        check_in_id: r.get(3)?,
        reason: r.get(4)?,
        path: r.get(5)?,
        share: r.get(6)?,
        claim_enc: r.get(7)?,
        state: r.get(8)?,
        checks: r.get(9)?,
        last_checked_at: r.get(10)?,
        last_outcome: r.get(11)?,
        outcome_enc: r.get(12)?,
        resolved_at: r.get(13)?,
        resolved_by: r.get(14)?,
        resolution: r.get(15)?,
    })
}

/// The row key the sealed columns are bound to: an entry's sealed claim cannot be moved to another entry.
fn row_key(id: i64) -> String {
    format!("unconfirmed:{id}")
}

impl Store {
    /// Opens a 要再確認 entry and writes its audit row (`entry`) in the same transaction; returns its id.
    pub fn open_unconfirmed(
        &self,
        new: &NewUnconfirmed,
        entry: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let now = self.now_millis();
        let patient_key = new.claim.checkable().then(|| {
            self.patient_key(
                &new.claim.insurer_number,
                &new.claim.symbol,
                &new.claim.number,
                &new.claim.birth_date,
            )
            .as_bytes()
            .to_vec()
        });
        self.audited(entry, now, |tx| {
            // The id is the row's own, so the claim is sealed after the insert made it.
            tx.execute(
                "INSERT INTO unconfirmed (opened_at, opened_by, check_in_id, reason, path, share, patient_key,
                                          claim_enc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, x'')",
                params![
                    now,
                    new.opened_by,
                    new.check_in_id,
                    new.reason,
                    new.path,
                    new.share,
                    patient_key
                ],
            )?;
            let id = tx.last_insert_rowid();
            let sealed = self.seal_json("unconfirmed.claim", &row_key(id), &new.claim)?;
            tx.execute(
                "UPDATE unconfirmed SET claim_enc = ?2 WHERE id = ?1",
                params![id, sealed],
            )?;
            Ok(id)
        })
    }

    /// One entry.
    pub fn unconfirmed(&self, id: i64) -> Result<Option<Unconfirmed>, StoreError> {
        let raw = self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM unconfirmed WHERE id = ?1"),
                params![id],
                raw_row,
            )
            .optional()?;
        raw.map(|r| self.unconfirmed_of(r)).transpose()
    }

    /// Every entry still open (oldest first), or every entry opened since `since` (ms) whatever its state.
    pub fn unconfirmed_list(&self, since: Option<i64>) -> Result<Vec<Unconfirmed>, StoreError> {
        let raws = {
            let conn = self.conn();
            let (sql, arg) = match since {
                None => (
                    format!(
                        "SELECT {COLUMNS} FROM unconfirmed WHERE state = 'open' ORDER BY opened_at, id"
                    ),
                    None,
                ),
                Some(since) => (
                    format!(
                        "SELECT {COLUMNS} FROM unconfirmed WHERE state = 'open' OR opened_at >= ?1 \
                         ORDER BY opened_at, id"
                    ),
                    Some(since),
                ),
            };
            let mut stmt = conn.prepare(&sql)?;
            let rows = match arg {
                None => stmt.query_map([], raw_row)?,
                Some(since) => stmt.query_map(params![since], raw_row)?,
            };
            rows.collect::<Result<Vec<_>, _>>()?
        };
        raws.into_iter().map(|r| self.unconfirmed_of(r)).collect()
    }

    /// Records one re-check of an open entry, with its audit row; an entry no longer open is left as it is
    /// (`false`): a staff member closed it while the check was out.
    pub fn record_recheck(
        &self,
        id: i64,
        outcome: &RecheckOutcome,
        entry: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let sealed =
            self.keys
                .seal("unconfirmed.outcome", &row_key(id), outcome.text.as_bytes())?;
        self.audited(entry, outcome.at, |tx| {
            let changed = tx.execute(
                "UPDATE unconfirmed SET checks = checks + 1, last_checked_at = ?2, last_outcome = ?3,
                        outcome_enc = ?4,
                        state = CASE WHEN ?5 THEN 'confirmed' ELSE state END,
                        resolved_at = CASE WHEN ?5 THEN ?2 ELSE resolved_at END,
                        resolved_by = CASE WHEN ?5 THEN 'recheck' ELSE resolved_by END,
                        resolution = CASE WHEN ?5 THEN ?3 ELSE resolution END
                 WHERE id = ?1 AND state = 'open'",
                params![id, outcome.at, outcome.outcome, sealed, outcome.confirmed],
            )?;
            Ok(changed == 1)
        })
    }

    /// Closes an open entry by hand (who, and what they did), with its audit row.
    pub fn close_unconfirmed(
        &self,
        id: i64,
        by: &str,
        resolution: &str,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let now = self.now_millis();
        self.audited(entry, now, |tx| {
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM unconfirmed WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            match state.as_deref() {
                None => Err(StoreError::NotFound(format!("要再確認 {id}"))),
                Some("open") => {
                    tx.execute(
                        "UPDATE unconfirmed SET state = 'closed', resolved_at = ?2, resolved_by = ?3,
                                resolution = ?4 WHERE id = ?1",
                        params![id, now, by, resolution],
                    )?;
                    Ok(())
                }
                Some(other) => Err(StoreError::Conflict(format!(
                    "要再確認 {id} is already {other}"
                ))),
            }
        })
    }

    /// When the scheduled re-checks last ran.
    pub fn recheck_marks(&self) -> Result<RecheckMarks, StoreError> {
        let [daily, receipt, last_run] = MARK_KEYS.map(|k| self.setting(k));
        Ok(RecheckMarks {
            daily: daily?,
            receipt: receipt?,
            last_run: last_run?,
        })
    }

    /// Records a run (the marks it sets; `None` leaves a mark as it was) with its audit row.
    pub fn mark_recheck_run(
        &self,
        marks: &RecheckMarks,
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        let now = self.now_millis();
        self.audited(entry, now, |tx| {
            for (key, value) in
                MARK_KEYS
                    .iter()
                    .zip([&marks.daily, &marks.receipt, &marks.last_run])
            {
                if let Some(value) = value {
                    tx.execute(
                        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3",
                        params![key, value, now],
                    )?;
                }
            }
            Ok(())
        })
    }

    fn unconfirmed_of(&self, r: RawRow) -> Result<Unconfirmed, StoreError> {
        let key = row_key(r.id);
        let claim: Claim = self.open_json("unconfirmed.claim", &key, &r.claim_enc)?;
        let outcome_text = r
            .outcome_enc
            .map(|sealed| {
                let bytes = self.keys.open("unconfirmed.outcome", &key, &sealed)?;
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| StoreError::Decrypt("unconfirmed.outcome (not text)".into()))
            })
            .transpose()?;
        Ok(Unconfirmed {
            id: r.id,
            opened_at: r.opened_at,
            opened_by: r.opened_by,
            check_in_id: r.check_in_id,
            reason: r.reason,
            path: r.path,
            share: r.share.and_then(|s| u8::try_from(s).ok()),
            claim,
            state: UnconfirmedState::parse(&r.state)?,
            checks: u32::try_from(r.checks).unwrap_or(u32::MAX),
            last_checked_at: r.last_checked_at,
            last_outcome: r.last_outcome,
            outcome_text,
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
            resolution: r.resolution,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticKeyProvider;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            actor: "reception".into(),
            action: action.into(),
            patient_ref: None,
            items: Vec::new(),
            method: None,
            reason: None,
            detail: None,
        }
    }

    fn claim() -> Claim {
        Claim {
            insurer_number: "06139876".into(),
            symbol: "記号".into(),
            number: "87654321".into(),
            branch: "01".into(),
            birth_date: "19951212".into(),
            insurer_name: "新しい健康保険組合".into(),
            name: String::new(),
        }
    }

    #[test]
    fn an_entry_is_sealed_rechecked_and_confirmed_once() {
        let dir = tempfile::tempdir().unwrap();
        let keys = StaticKeyProvider::random().unwrap();
        let store = Store::open(dir.path().join("s.sqlite3"), &keys).unwrap();
        let id = store
            .open_unconfirmed(
                &NewUnconfirmed {
                    opened_by: "reception".into(),
                    check_in_id: Some("pin_1".into()),
                    reason: "no_qualification".into(),
                    path: "declaration".into(),
                    share: Some(3),
                    claim: claim(),
                },
                &entry("unconfirmed_opened"),
            )
            .unwrap();
        // The numbers are not in the file in the clear.
        drop(store);
        let raw = std::fs::read(dir.path().join("s.sqlite3")).unwrap();
        assert!(!raw.windows(8).any(|w| w == b"87654321"));
        let store = Store::open(dir.path().join("s.sqlite3"), &keys).unwrap();

        let open = store.unconfirmed_list(None).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].claim, claim());
        assert_eq!(open[0].share, Some(3));
        assert_eq!(open[0].state, UnconfirmedState::Open);

        let not_yet = RecheckOutcome {
            at: 10,
            outcome: "not_found".into(),
            text: "該当資格なし".into(),
            confirmed: false,
        };
        assert!(
            store
                .record_recheck(id, &not_yet, &entry("unconfirmed_rechecked"))
                .unwrap()
        );
        let found = RecheckOutcome {
            at: 20,
            outcome: "valid".into(),
            text: "有効 06139876".into(),
            confirmed: true,
        };
        assert!(
            store
                .record_recheck(id, &found, &entry("unconfirmed_rechecked"))
                .unwrap()
        );
        // Confirmed entries are no longer re-checked, nor can they be closed.
        assert!(
            !store
                .record_recheck(id, &found, &entry("unconfirmed_rechecked"))
                .unwrap()
        );
        assert!(matches!(
            store.close_unconfirmed(id, "staff1", "x", &entry("unconfirmed_closed")),
            Err(StoreError::Conflict(_))
        ));
        let e = store.unconfirmed(id).unwrap().unwrap();
        assert_eq!(e.state, UnconfirmedState::Confirmed);
        assert_eq!(e.checks, 2);
        assert_eq!(e.resolved_by.as_deref(), Some("recheck"));
        assert_eq!(e.outcome_text.as_deref(), Some("有効 06139876"));
        assert!(store.unconfirmed_list(None).unwrap().is_empty());
        assert_eq!(store.unconfirmed_list(Some(0)).unwrap().len(), 1);
        // One audit row per change and per check sent (the third check was sent, though it changed nothing).
        let actions: Vec<String> = store
            .audit_records(0, 100)
            .unwrap()
            .into_iter()
            .map(|r| r.entry.action)
            .collect();
        assert_eq!(
            actions
                .iter()
                .filter(|a| a.starts_with("unconfirmed"))
                .count(),
            4,
            "{actions:?}"
        );
    }

    #[test]
    fn a_staff_member_closes_an_open_entry_once() {
        let dir = tempfile::tempdir().unwrap();
        let keys = StaticKeyProvider::random().unwrap();
        let store = Store::open(dir.path().join("s.sqlite3"), &keys).unwrap();
        let id = store
            .open_unconfirmed(
                &NewUnconfirmed {
                    opened_by: "reception".into(),
                    check_in_id: None,
                    reason: "pending_outage".into(),
                    path: "mynaportal".into(),
                    share: None,
                    claim: Claim::default(),
                },
                &entry("unconfirmed_opened"),
            )
            .unwrap();
        assert!(!store.unconfirmed(id).unwrap().unwrap().claim.checkable());
        store
            .close_unconfirmed(
                id,
                "staff1",
                "保険者に電話で確認",
                &entry("unconfirmed_closed"),
            )
            .unwrap();
        let e = store.unconfirmed(id).unwrap().unwrap();
        assert_eq!(e.state, UnconfirmedState::Closed);
        assert_eq!(e.resolved_by.as_deref(), Some("staff1"));
        assert!(matches!(
            store.close_unconfirmed(999, "staff1", "x", &entry("unconfirmed_closed")),
            Err(StoreError::NotFound(_))
        ));
    }
}
