//! The append-only audit log, chained by SHA-256 and sealed with the terminal's key.
//!
//! Row `n` stores `prev_hash` (row `n-1`'s hash, 32 zero bytes for the first row), its `hash` =
//! SHA-256(prev_hash ‖ id ‖ at ‖ every field, length-prefixed), and a `seal` = HMAC(audit key, hash). The
//! newest row's id and hash are also kept, sealed, as the chain head in `meta`. Triggers refuse UPDATE and
//! DELETE; [`Store::verify_audit_chain`] catches what someone does after dropping them:
//! - an edited row no longer matches its hash (or, if the hash was recomputed, its seal or the next row);
//! - a deleted or inserted row breaks the next row's `prev_hash` (ids are part of the hash, so renumbering
//!   shows as well);
//! - rows removed from the end no longer reach the sealed head.
//!
//! Rows hold a pseudonymous `patient_ref` (a [`crate::PatientKey`] in hex, or a check-in id), never names or
//! numbers.

use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::Store;
use crate::crypto::DataKeys;
use crate::error::StoreError;

const GENESIS: [u8; 32] = [0; 32];

/// What to log. `actor` is an account login or a component (`kiosk:reader-1`, `relay`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: String,
    /// e.g. `login`, `login_failed`, `view_medical_info`, `emergency_lookup`, `disaster_lookup`,
    /// `visual_check_override`, `setting_changed`, `permission_granted`.
    pub action: String,
    pub patient_ref: Option<String>,
    /// Items shown (e.g. `medication`, `surgery`).
    pub items: Vec<String>,
    /// How the patient was identified (`card`, `four_facts`, `insurance_numbers`).
    pub method: Option<String>,
    pub reason: Option<String>,
    /// Anything else worth keeping, never identifiers or secrets.
    pub detail: Option<String>,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub entry: AuditEntry,
}

/// The result of a chain verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    Intact { rows: u64 },
    Broken(ChainBreak),
}

/// The first row at which the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub row_id: i64,
    pub problem: String,
}

struct RawRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    patient_ref: Option<String>,
    items: Option<String>,
    method: Option<String>,
    reason: Option<String>,
    detail: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    seal: Vec<u8>,
}

fn chain_hash(prev: &[u8], id: i64, at: i64, texts: [Option<&str>; 7]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(id.to_be_bytes());
    h.update(at.to_be_bytes());
    for text in texts {
        match text {
            None => h.update([0u8]),
            Some(t) => {
                h.update([1u8]);
                h.update((t.len() as u64).to_be_bytes());
                h.update(t.as_bytes());
            }
        }
    }
    h.finalize().into()
}

fn head_seal(keys: &DataKeys, id: i64, hash: &[u8]) -> [u8; 32] {
    let mut data = b"head".to_vec();
    data.extend_from_slice(&id.to_be_bytes());
    data.extend_from_slice(hash);
    keys.audit_seal(&data)
}

fn items_text(items: &[String]) -> Result<Option<String>, StoreError> {
    if items.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(items)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

const ROW_COLUMNS: &str =
    "id, at, actor, action, patient_ref, items, method, reason, detail, prev_hash, hash, seal";

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        patient_ref: r.get(4)?,
        items: r.get(5)?,
        method: r.get(6)?,
        reason: r.get(7)?,
        detail: r.get(8)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
        seal: r.get(11)?,
    })
}

impl RawRow {
    fn texts(&self) -> [Option<&str>; 7] {
        [
            Some(self.actor.as_str()),
            Some(self.action.as_str()),
            self.patient_ref.as_deref(),
            self.items.as_deref(),
            self.method.as_deref(),
            self.reason.as_deref(),
            self.detail.as_deref(),
        ]
    }

    fn into_record(self) -> AuditRecord {
        let items = self
            .items
            .as_deref()
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or_default();
        AuditRecord {
            id: self.id,
            at: self.at,
            entry: AuditEntry {
                actor: self.actor,
                action: self.action,
                patient_ref: self.patient_ref,
                items,
                method: self.method,
                reason: self.reason,
                detail: self.detail,
            },
        }
    }
}

pub(crate) fn append_in(
    tx: &Transaction<'_>,
    keys: &DataKeys,
    entry: &AuditEntry,
    now: i64,
) -> Result<i64, StoreError> {
    let last: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    // sqlite_sequence remembers ids even of rows removed behind our back, so an id is never reused.
    let seq: Option<i64> = tx
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let id = last.as_ref().map(|(id, _)| *id).max(seq).unwrap_or(0) + 1;
    let prev = last.map(|(_, h)| h).unwrap_or_else(|| GENESIS.to_vec());
    let items = items_text(&entry.items)?;
    let texts = [
        Some(entry.actor.as_str()),
        Some(entry.action.as_str()),
        entry.patient_ref.as_deref(),
        items.as_deref(),
        entry.method.as_deref(),
        entry.reason.as_deref(),
        entry.detail.as_deref(),
    ];
    let hash = chain_hash(&prev, id, now, texts);
    let seal = keys.audit_seal(&hash);
    tx.execute(
        "INSERT INTO audit_log (id, at, actor, action, patient_ref, items, method, reason, detail, prev_hash, hash, seal)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            id,
            now,
            entry.actor,
            entry.action,
            entry.patient_ref,
            items,
            entry.method,
            entry.reason,
            entry.detail,
            prev,
            hash.as_slice(),
            seal.as_slice()
        ],
    )?;
    let mut head = id.to_be_bytes().to_vec();
    head.extend_from_slice(&hash);
    head.extend_from_slice(&head_seal(keys, id, &hash));
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?1) ON CONFLICT (key) DO UPDATE SET value = ?1",
        [head],
    )?;
    Ok(id)
}

impl Store {
    /// Appends one entry at time `now`; returns its row id.
    pub fn append_audit(&self, entry: &AuditEntry, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = append_in(&tx, &self.keys, entry, now)?;
        tx.commit()?;
        Ok(id)
    }

    /// Walks the whole chain and reports the first row that does not hold.
    pub fn verify_audit_chain(&self) -> Result<ChainVerdict, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {ROW_COLUMNS} FROM audit_log ORDER BY id"))?;
        let mut rows = stmt.query_map([], raw_row)?;
        let mut expected_prev = GENESIS.to_vec();
        let mut count = 0u64;
        let mut last: Option<(i64, Vec<u8>)> = None;
        let broken = |row_id: i64, problem: &str| {
            Ok(ChainVerdict::Broken(ChainBreak {
                row_id,
                problem: problem.to_string(),
            }))
        };
        for row in &mut rows {
            let row = row?;
            if row.prev_hash != expected_prev {
                return broken(
                    row.id,
                    "does not follow the row before it: a row was deleted or inserted before it, or its link edited",
                );
            }
            let hash = chain_hash(&row.prev_hash, row.id, row.at, row.texts());
            if row.hash != hash {
                return broken(row.id, "its content was changed after it was written");
            }
            if row.seal != self.keys.audit_seal(&hash) {
                return broken(
                    row.id,
                    "it was rewritten without the terminal's key (seal does not match)",
                );
            }
            expected_prev = row.hash.clone();
            last = Some((row.id, row.hash));
            count += 1;
        }
        let head: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match (head, last) {
            (None, None) => {}
            (None, Some((id, _))) => return broken(id, "the chain head is missing"),
            (Some(head), last) => {
                let Some((head_id, rest)) = head.split_first_chunk::<8>() else {
                    return broken(0, "the chain head is unreadable");
                };
                let head_id = i64::from_be_bytes(*head_id);
                let (head_hash, seal) = rest.split_at(rest.len().min(32));
                if seal != head_seal(&self.keys, head_id, head_hash) {
                    return broken(
                        head_id,
                        "the chain head was rewritten without the terminal's key",
                    );
                }
                match last {
                    Some((id, hash)) if id == head_id && hash == head_hash => {}
                    Some((id, _)) if id < head_id => {
                        return broken(id + 1, "rows at the end of the log were removed");
                    }
                    None => return broken(1, "every row of the log was removed"),
                    Some((id, _)) => {
                        return broken(id, "the newest row is not the recorded chain head");
                    }
                }
            }
        }
        Ok(ChainVerdict::Intact { rows: count })
    }

    /// Rows about one patient reference, oldest first (the patient's "who looked at my data" inquiry).
    pub fn audit_records_for_patient(
        &self,
        patient_ref: &str,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit_where("patient_ref = ?1 ORDER BY id", params![patient_ref])
    }

    /// Up to `limit` rows with id greater than `after_id`, oldest first.
    pub fn audit_records(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit_where(
            "id > ?1 ORDER BY id LIMIT ?2",
            params![after_id, limit as i64],
        )
    }

    fn audit_where(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM audit_log WHERE {clause}"
        ))?;
        let rows = stmt.query_map(params, raw_row)?;
        rows.map(|r| r.map(RawRow::into_record).map_err(StoreError::from))
            .collect()
    }
}
