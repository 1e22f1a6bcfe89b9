//! The append-only audit log, chained by SHA-256 and sealed with the terminal's key.
//!
//! Row `n` stores `prev_hash` (row `n-1`'s hash, 32 zero bytes for the first row), its `hash` =
//! SHA-256(prev_hash ‖ id ‖ at ‖ every field, length-prefixed), and a `seal` = HMAC(audit key, hash). The
//! newest row's id and hash are also kept, sealed, as the chain head in `meta` (id 0 and the genesis hash
//! from the store's creation on) and outside the database (see [`crate::head`]). Triggers refuse UPDATE and
//! DELETE; [`Store::verify_audit_chain`] catches what someone does after dropping them:
//! - an edited row no longer matches its hash (or, if the hash was recomputed, its seal or the next row);
//! - a deleted or inserted row breaks the next row's `prev_hash` (ids are part of the hash, so renumbering
//!   shows as well);
//! - rows removed from the end no longer reach the sealed head, and once rows follow them, the ids jump;
//! - a wiped log has no sealed head at all;
//! - an older copy of the whole database put back is behind the head file and the keyring copy.
//!
//! Rows hold a pseudonymous `patient_ref` (a [`crate::PatientKey`] in hex, or a check-in id), never names or
//! numbers.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::Store;
use crate::crypto::DataKeys;
use crate::error::StoreError;
use crate::head::{self, Head, Stored};

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
    // The flag "a head file exists" carries over from the head this row follows.
    let external = in_database_flag(tx, keys)?;
    let head = head::encode_flagged(keys, Head { id, hash }, external);
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?1) ON CONFLICT (key) DO UPDATE SET value = ?1",
        [head],
    )?;
    Ok(id)
}

/// Where a copy of the chain head is kept outside the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadPlace {
    /// The head file beside the database.
    File(PathBuf),
    /// The OS keyring entry of this name.
    Keyring(String),
}

impl std::fmt::Display for HeadPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "the head file {}", p.display()),
            Self::Keyring(name) => write!(f, "the OS keyring's head `{name}`"),
        }
    }
}

/// How an external copy of the head compares with the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadState {
    /// It names the database's newest row.
    Current,
    /// It names an older row that the database still holds unchanged: the copy lags (a crash between the
    /// commit and its update). Harmless; re-sealed at the next append or daemon start.
    Behind { head_id: i64, database_id: i64 },
    /// There is none. `expected`: the store had written one, so someone removed it.
    Missing { expected: bool },
    /// The database ends before the row the head names: it was restored from an older copy or rolled back.
    DatabaseBehind { head_id: i64, database_id: i64 },
    /// The database holds a different row under the head's id: the log was replaced by another copy.
    Diverged { head_id: i64 },
    /// Present but not sealed with this store's key: edited, or another store's.
    Forged,
}

/// One external copy of the head and what it says about the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadFinding {
    pub place: HeadPlace,
    pub state: HeadState,
}

impl HeadFinding {
    /// Whether this finding means the log cannot be trusted.
    pub fn is_broken(&self) -> bool {
        matches!(
            self.state,
            HeadState::Missing { expected: true }
                | HeadState::DatabaseBehind { .. }
                | HeadState::Diverged { .. }
                | HeadState::Forged
        )
    }

    /// The finding in words for the IT vendor.
    pub fn describe(&self) -> String {
        let place = &self.place;
        match &self.state {
            HeadState::Current => format!("{place} matches the database"),
            HeadState::Behind {
                head_id,
                database_id,
            } => format!(
                "{place} is behind: it names row {head_id}, the database (which still holds that row unchanged) \
                 ends at row {database_id}; it is re-sealed at the next append"
            ),
            HeadState::Missing { expected: true } => format!(
                "{place} is missing although the store wrote one: it was deleted, or the database was moved \
                 away from it"
            ),
            HeadState::Missing { expected: false } => format!("{place} has no head yet"),
            HeadState::DatabaseBehind {
                head_id,
                database_id,
            } => format!(
                "the database is older than {place}: the head names row {head_id} but the database ends at \
                 row {database_id}: it was restored from an older copy or rolled back (use `oqs store \
                 restore` to restore a backup on purpose)"
            ),
            HeadState::Diverged { head_id } => format!(
                "the database is not the one {place} sealed: it holds a different row {head_id} (replaced by \
                 another copy)"
            ),
            HeadState::Forged => {
                format!(
                    "{place} is not sealed with this terminal's key (edited or from another store)"
                )
            }
        }
    }

    fn row_id(&self) -> i64 {
        match self.state {
            HeadState::DatabaseBehind { database_id, .. } => database_id + 1,
            HeadState::Diverged { head_id } => head_id,
            _ => 0,
        }
    }
}

/// The chain as the database holds it, and each external copy of its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// The rows and the head kept inside the database.
    pub chain: ChainVerdict,
    /// The head file, then the OS keyring (when the store has one).
    pub heads: Vec<HeadFinding>,
    /// Every terminal's chain in the facility-wide store: `None` without one, `Some(Err)` when it could not
    /// be read (unreachable).
    pub facility: Option<Result<Vec<TerminalChain>, String>>,
}

impl AuditVerification {
    /// One verdict: the chain's own break first, else the first external head that shows the database was
    /// rolled back, replaced or had its head removed.
    pub fn verdict(&self) -> ChainVerdict {
        if let ChainVerdict::Broken(_) = self.chain {
            return self.chain.clone();
        }
        if let Some(h) = self.heads.iter().find(|h| h.is_broken()) {
            return ChainVerdict::Broken(ChainBreak {
                row_id: h.row_id(),
                problem: h.describe(),
            });
        }
        let facility_break =
            self.facility
                .iter()
                .flatten()
                .flatten()
                .find_map(|c| match &c.verdict {
                    ChainVerdict::Broken(b) => Some(ChainBreak {
                        row_id: b.row_id,
                        problem: format!(
                            "terminal {}'s chain in the facility server: row {} {}",
                            c.terminal_id, b.row_id, b.problem
                        ),
                    }),
                    ChainVerdict::Intact { .. } => None,
                });
        facility_break.map_or_else(|| self.chain.clone(), ChainVerdict::Broken)
    }

    /// What is worth saying although the log holds (a lagging or not yet written external head).
    pub fn notes(&self) -> Vec<String> {
        self.heads
            .iter()
            // A keyring without a copy is the normal state after a reboot (keyutils) or for a tool run in
            // another session: not worth a word.
            .filter(|h| {
                !h.is_broken()
                    && h.state != HeadState::Current
                    && !matches!(
                        (&h.place, &h.state),
                        (HeadPlace::Keyring(_), HeadState::Missing { .. })
                    )
            })
            .map(HeadFinding::describe)
            .chain(self.facility.iter().filter_map(|f| {
                f.as_ref().err().map(|e| {
                    format!(
                        "the other terminals' chains in the facility server were not checked: {e}"
                    )
                })
            }))
            .collect()
    }
}

/// Whether the database's sealed head says the store has written its head file (from then on a missing
/// file is evidence). Kept inside the sealed head, not in a row of its own, so it cannot be deleted unseen.
fn in_database_flag(conn: &Connection, keys: &DataKeys) -> Result<bool, StoreError> {
    let stored: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(stored
        .and_then(|bytes| head::decode_flagged(keys, &bytes))
        .is_some_and(|(_, flag)| flag))
}

/// The newest row's id and hash (id 0 and the genesis hash for an empty log).
fn tip(conn: &Connection) -> Result<Head, StoreError> {
    let last: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match last {
        Some((id, hash)) => Head {
            id,
            hash: hash.try_into().unwrap_or([0xff; 32]),
        },
        None => Head {
            id: 0,
            hash: GENESIS,
        },
    })
}

/// Where an external `head` stands against the database as it is now (read outside any snapshot, so rows
/// appended while a verification ran count as "the database is ahead", not as a rollback).
fn compare(conn: &Connection, stored: &Stored, expected: bool) -> Result<HeadState, StoreError> {
    let head = match stored {
        Stored::Absent => return Ok(HeadState::Missing { expected }),
        Stored::Forged => return Ok(HeadState::Forged),
        Stored::Sealed(head) => *head,
    };
    let now = tip(conn)?;
    let at_id: Option<Vec<u8>> = if head.id == 0 {
        Some(GENESIS.to_vec())
    } else {
        conn.query_row("SELECT hash FROM audit_log WHERE id = ?1", [head.id], |r| {
            r.get(0)
        })
        .optional()?
    };
    Ok(match at_id {
        None if head.id > now.id => HeadState::DatabaseBehind {
            head_id: head.id,
            database_id: now.id,
        },
        None => HeadState::Diverged { head_id: head.id },
        Some(hash) if hash != head.hash => HeadState::Diverged { head_id: head.id },
        Some(_) if head.id >= now.id => HeadState::Current,
        Some(_) => HeadState::Behind {
            head_id: head.id,
            database_id: now.id,
        },
    })
}

impl Store {
    /// Appends one entry at time `now`; returns its row id. The external copies of the head follow.
    pub fn append_audit(&self, entry: &AuditEntry, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = append_in(&tx, &self.keys, entry, now)?;
        tx.commit()?;
        self.follow_head_locked(&conn);
        Ok(id)
    }

    /// After a commit that appended audit rows with [`append_in`]: the external heads follow. The rows are
    /// committed whatever happens here, so a failure must not be reported as a failed append (a caller could
    /// then refuse a view that was in fact logged); the head file merely lags, which [`Store::verify_audit`]
    /// notes and the next append or the daemon's start ([`Store::check_audit_heads`], which does fail on it)
    /// repairs. Called with the connection's lock held, so two appenders move the heads in commit order.
    pub(crate) fn follow_head_locked(&self, conn: &Connection) {
        // Deliberately ignored, see above.
        let _ = self.seal_external_heads_locked(conn, false);
        // The new rows go to the facility-wide store now, not at the drainer's next idle round.
        if let Some(link) = &self.shared {
            link.nudge();
        }
    }

    /// Brings the head file (and the keyring copy) up to the database's newest row, unless one of them shows
    /// the database was rolled back or replaced: that evidence is kept until an explicit restore.
    pub(crate) fn seal_external_heads(&self) -> Result<(), StoreError> {
        let conn = self.conn();
        self.seal_external_heads_locked(&conn, false)
    }

    /// Runs with the connection's lock held, so two appenders write their heads in commit order.
    fn seal_external_heads_locked(&self, conn: &Connection, force: bool) -> Result<(), StoreError> {
        let head = tip(conn)?;
        let may_write = |state: &HeadState| {
            force
                || matches!(
                    state,
                    HeadState::Current | HeadState::Behind { .. } | HeadState::Missing { .. }
                )
        };
        let expected = in_database_flag(conn, &self.keys)?;
        let file_state = compare(conn, &self.heads.read_file(&self.keys)?, expected)?;
        // A file removed after the store wrote one stays missing: re-creating it here would hide that.
        let file_ok = may_write(&file_state)
            && (force || file_state != HeadState::Missing { expected: true });
        if file_ok && file_state != HeadState::Current {
            self.heads.write_file(&self.keys, head)?;
        }
        if file_ok && !expected {
            let stored: Option<Vec<u8>> = conn
                .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some((current, _)) = stored.and_then(|b| head::decode_flagged(&self.keys, &b)) {
                conn.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'audit_head'",
                    [head::encode_flagged(&self.keys, current, true)],
                )?;
            }
        }
        if let Some(stored) = self.heads.read_keyring(&self.keys)? {
            let state = compare(conn, &stored, false)?;
            if may_write(&state) && state != HeadState::Current {
                self.heads.write_keyring(&self.keys, head)?;
            }
        }
        Ok(())
    }

    /// Walks the whole chain and reports the first row that does not hold, then compares the database's
    /// head with the copies kept outside it (see [`Store::verify_audit`]). A wiped log (no rows and no
    /// sealed head) is broken, not "intact with 0 rows".
    pub fn verify_audit_chain(&self) -> Result<ChainVerdict, StoreError> {
        Ok(self.verify_audit()?.verdict())
    }

    /// The full check with every external head's finding. It reads on a connection of its own, inside one
    /// read transaction (a consistent snapshot under WAL), so the relay and the kiosk keep writing while it
    /// runs.
    pub fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        self.verify_with_progress(&mut |_| {})
    }

    /// [`Store::verify_audit`] that calls `progress` with the number of rows checked, every 1,000 rows.
    pub(crate) fn verify_with_progress(
        &self,
        progress: &mut dyn FnMut(u64),
    ) -> Result<AuditVerification, StoreError> {
        let mut conn = self.reader()?;
        let chain = {
            let snapshot = conn.transaction()?;
            let chain = scan_chain(&snapshot, &self.keys, progress)?;
            snapshot.commit()?;
            chain
        };
        let heads = self.external_findings(&mut conn)?;
        let facility = self.verify_facility_chains();
        Ok(AuditVerification {
            chain,
            heads,
            facility,
        })
    }

    /// Every terminal's chain as the facility-wide store holds it; `None` without one.
    fn verify_facility_chains(&self) -> Option<Result<Vec<TerminalChain>, String>> {
        let link = self.shared.as_ref()?;
        let rows = link.query(
            // One statement, one snapshot: the rows and the heads as of the same moment.
            "SELECT terminal_id, a.id, a.at, a.actor, a.action, a.patient_ref, a.items, a.method,
                    a.reason, a.detail, a.prev_hash, a.hash, a.seal, h.head
             FROM audit_log a FULL JOIN audit_heads h USING (terminal_id)
             ORDER BY terminal_id, a.id",
            Vec::new(),
        );
        Some(match rows {
            None => Err(link
                .last_error()
                .unwrap_or_else(|| "the facility server is unreachable".into())),
            Some(rows) => scan_terminal_chains(&rows, &self.keys).map_err(|e| e.to_string()),
        })
    }

    /// The quick check for the daemon's start: the database's newest row against its own sealed head and the
    /// external copies, without walking the chain. When it holds, lagging or missing external copies (a
    /// keyring emptied at reboot, a store made by an older version) are sealed now.
    pub fn check_audit_heads(&self) -> Result<AuditVerification, StoreError> {
        let chain = {
            let conn = self.conn();
            let now = tip(&conn)?;
            match internal_head(
                &conn,
                &self.keys,
                (now.id > 0).then_some((now.id, now.hash.to_vec())),
            )? {
                Some(b) => ChainVerdict::Broken(b),
                None => ChainVerdict::Intact {
                    rows: u64::try_from(now.id).unwrap_or(0),
                },
            }
        };
        let mut reader = self.reader()?;
        let found = AuditVerification {
            chain,
            heads: self.external_findings(&mut reader)?,
            facility: None,
        };
        if let ChainVerdict::Intact { .. } = found.verdict() {
            self.seal_external_heads()?;
        }
        Ok(found)
    }

    /// Records that the database was just replaced by the backup `backup_name` (an audit row naming the head
    /// before and after), then re-seals the external heads to the restored chain: the one way to move them
    /// back, and it leaves a trace.
    pub fn record_restore(
        &self,
        backup_name: &str,
        actor: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let before = match self.heads.read_file(&self.keys)? {
            Stored::Sealed(h) => h.id.to_string(),
            Stored::Absent => "none".into(),
            Stored::Forged => "unreadable".into(),
        };
        let mut conn = self.conn();
        let restored = tip(&conn)?;
        let entry = AuditEntry {
            actor: actor.to_string(),
            action: "store_restored".into(),
            detail: Some(format!(
                "store restored from backup {backup_name}, head was {before} now {}",
                restored.id
            )),
            ..AuditEntry::default()
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = append_in(&tx, &self.keys, &entry, now)?;
        tx.commit()?;
        self.seal_external_heads_locked(&conn, true)?;
        Ok(id)
    }

    fn external_findings(&self, conn: &mut Connection) -> Result<Vec<HeadFinding>, StoreError> {
        let expected = in_database_flag(conn, &self.keys)?;
        let mut found = vec![HeadFinding {
            place: HeadPlace::File(self.heads.file.clone()),
            state: compare(conn, &self.heads.read_file(&self.keys)?, expected)?,
        }];
        if let (Some(stored), Some((_, name))) =
            (self.heads.read_keyring(&self.keys)?, &self.heads.keyring)
        {
            found.push(HeadFinding {
                place: HeadPlace::Keyring(name.clone()),
                state: compare(conn, &stored, false)?,
            });
        }
        Ok(found)
    }
}

/// Every row's link, hash and seal, ids without gaps, and the database's own sealed head.
fn scan_chain(
    conn: &Connection,
    keys: &DataKeys,
    progress: &mut dyn FnMut(u64),
) -> Result<ChainVerdict, StoreError> {
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
        let expected_id = last.as_ref().map_or(1, |(id, _)| id + 1);
        if let Some(problem) = row_problem(&row, &expected_prev, expected_id, keys) {
            return broken(row.id, problem);
        }
        expected_prev = row.hash.clone();
        last = Some((row.id, row.hash));
        count += 1;
        if count.is_multiple_of(1000) {
            progress(count);
        }
    }
    Ok(match internal_head(conn, keys, last)? {
        Some(b) => ChainVerdict::Broken(b),
        None => ChainVerdict::Intact { rows: count },
    })
}

/// What is wrong with one row of a chain, given the hash it must follow and the id it must have; the same
/// checks for a terminal's own log and for each terminal's chain in the facility-wide store.
fn row_problem(
    row: &RawRow,
    expected_prev: &[u8],
    expected_id: i64,
    keys: &DataKeys,
) -> Option<&'static str> {
    if row.prev_hash != expected_prev {
        return Some(
            "does not follow the row before it: a row was deleted or inserted before it, or its link edited",
        );
    }
    // Ids come from one counter that never skips: a gap is a row removed from the end before the next
    // append (whose link then still holds).
    if row.id != expected_id {
        return Some(
            "a row is missing before it (ids jump): rows were removed from the end before it was written",
        );
    }
    let hash = chain_hash(&row.prev_hash, row.id, row.at, row.texts());
    if row.hash != hash {
        return Some("its content was changed after it was written");
    }
    if row.seal != keys.audit_seal(&hash) {
        return Some("it was rewritten without the terminal's key (seal does not match)");
    }
    None
}

/// One terminal's chain as the facility-wide store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalChain {
    pub terminal_id: String,
    pub verdict: ChainVerdict,
}

/// Checks every terminal's chain in rows ordered by terminal, then id (columns: terminal_id, then
/// [`ROW_COLUMNS`], then the terminal's sealed head from `audit_heads`; a terminal with a head and no rows
/// comes as one row whose row columns are NULL), then each chain's newest row against its sealed head, in
/// the words of the local log's own head check.
fn scan_terminal_chains(
    rows: &[tokio_postgres::Row],
    keys: &DataKeys,
) -> Result<Vec<TerminalChain>, StoreError> {
    struct Scan {
        chain: TerminalChain,
        head: Option<Vec<u8>>,
        last: Option<(i64, Vec<u8>)>,
    }
    let get = |e: tokio_postgres::Error| StoreError::Corrupt(format!("a shared audit row: {e}"));
    let mut scans: Vec<Scan> = Vec::new();
    let mut expected_prev = GENESIS.to_vec();
    let mut expected_id = 1;
    for r in rows {
        let terminal_id: String = r.try_get(0).map_err(get)?;
        if scans
            .last()
            .is_none_or(|s| s.chain.terminal_id != terminal_id)
        {
            scans.push(Scan {
                chain: TerminalChain {
                    terminal_id,
                    verdict: ChainVerdict::Intact { rows: 0 },
                },
                head: r.try_get(13).map_err(get)?,
                last: None,
            });
            expected_prev = GENESIS.to_vec();
            expected_id = 1;
        }
        let Some(scan) = scans.last_mut() else {
            continue;
        };
        if r.try_get::<_, Option<i64>>(1).map_err(get)?.is_none() {
            continue;
        }
        let (_, row) = pg_raw_row(r)?;
        let ChainVerdict::Intact { rows } = scan.chain.verdict else {
            continue;
        };
        match row_problem(&row, &expected_prev, expected_id, keys) {
            Some(problem) => {
                scan.chain.verdict = ChainVerdict::Broken(ChainBreak {
                    row_id: row.id,
                    problem: problem.to_string(),
                })
            }
            None => {
                scan.chain.verdict = ChainVerdict::Intact { rows: rows + 1 };
                expected_prev = row.hash.clone();
                expected_id = row.id + 1;
                scan.last = Some((row.id, row.hash));
            }
        }
    }
    Ok(scans
        .into_iter()
        .map(|mut scan| {
            if let ChainVerdict::Intact { .. } = scan.chain.verdict
                && let Some(b) = shared_head_problem(scan.head.as_deref(), scan.last, keys)
            {
                scan.chain.verdict = ChainVerdict::Broken(b);
            }
            scan.chain
        })
        .collect())
}

/// A terminal chain's newest row in the facility-wide store against the head the terminal sealed when it
/// copied it; `None` when they agree.
fn shared_head_problem(
    stored: Option<&[u8]>,
    last: Option<(i64, Vec<u8>)>,
    keys: &DataKeys,
) -> Option<ChainBreak> {
    let broken = |row_id: i64, problem: &str| {
        Some(ChainBreak {
            row_id,
            problem: problem.to_string(),
        })
    };
    let Some(stored) = stored else {
        return match last {
            None => None,
            Some((id, _)) => broken(id, "the chain head is missing"),
        };
    };
    let head = match head::decode(keys, stored) {
        Stored::Sealed(head) => head,
        _ => return broken(0, "the chain head was rewritten without the terminal's key"),
    };
    match last {
        None => broken(head.id, "every row of the log was removed"),
        Some((id, hash)) if id == head.id && hash == head.hash => None,
        Some((id, _)) if id < head.id => broken(id + 1, "rows at the end of the log were removed"),
        Some((id, _)) => broken(id, "the newest row is not the recorded chain head"),
    }
}

/// The database's own sealed head against its newest row; `None` when they agree.
fn internal_head(
    conn: &Connection,
    keys: &DataKeys,
    last: Option<(i64, Vec<u8>)>,
) -> Result<Option<ChainBreak>, StoreError> {
    let broken = |row_id: i64, problem: &str| {
        Ok(Some(ChainBreak {
            row_id,
            problem: problem.to_string(),
        }))
    };
    let stored: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(stored) = stored else {
        // Every store has a sealed head from its creation on (the genesis head of an empty log).
        return match last {
            None => broken(
                0,
                "the log and its sealed head are gone: the audit log was wiped",
            ),
            Some((id, _)) => broken(id, "the chain head is missing"),
        };
    };
    let head = match head::decode(keys, &stored) {
        Stored::Sealed(head) => head,
        _ => return broken(0, "the chain head was rewritten without the terminal's key"),
    };
    match last {
        None if head.id == 0 && head.hash == GENESIS => Ok(None),
        None => broken(head.id, "every row of the log was removed"),
        Some((id, hash)) if id == head.id && hash == head.hash => Ok(None),
        Some((id, _)) if id < head.id => broken(id + 1, "rows at the end of the log were removed"),
        Some((id, _)) => broken(id, "the newest row is not the recorded chain head"),
    }
}

/// Seals the genesis head of an empty log, once: for a new store, and for a store from a version that wrote
/// no head before the first row. A log with rows and no head is left as it is (broken).
pub(crate) fn seal_genesis_if_pending(
    conn: &mut Connection,
    keys: &DataKeys,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let pending = tx
        .query_row(
            "SELECT 1 FROM meta WHERE key = 'audit_head_unsealed'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if pending {
        let rows: i64 = tx.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))?;
        if rows == 0 {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('audit_head', ?1) ON CONFLICT (key) DO NOTHING",
                [head::encode_flagged(
                    keys,
                    Head {
                        id: 0,
                        hash: GENESIS,
                    },
                    false,
                )],
            )?;
        }
        tx.execute("DELETE FROM meta WHERE key = 'audit_head_unsealed'", [])?;
    }
    tx.commit()?;
    Ok(())
}

/// An audit row and the terminal that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalAuditRecord {
    /// The terminal's id in the facility (`[store] terminal_id`); `None` on a terminal without a
    /// facility-wide store, where every row is this terminal's.
    pub terminal_id: Option<String>,
    pub record: AuditRecord,
}

/// Which terminals' rows a facility-wide read covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCoverage {
    /// No facility-wide store is configured: this terminal is the facility.
    SingleTerminal,
    /// This terminal's rows and every other terminal's rows in the facility-wide store.
    Facility,
    /// A facility-wide store is configured but could not be read: only this terminal's rows (the reason,
    /// for the log and the operator).
    ThisTerminalOnly { reason: String },
}

/// Audit rows across the facility (a patient's, or the emergency views of a period), oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientAudit {
    pub rows: Vec<TerminalAuditRecord>,
    pub coverage: AuditCoverage,
}

fn pg_raw_row(r: &tokio_postgres::Row) -> Result<(String, RawRow), StoreError> {
    let get = |e: tokio_postgres::Error| StoreError::Corrupt(format!("a shared audit row: {e}"));
    Ok((
        r.try_get(0).map_err(get)?,
        RawRow {
            id: r.try_get(1).map_err(get)?,
            at: r.try_get(2).map_err(get)?,
            actor: r.try_get(3).map_err(get)?,
            action: r.try_get(4).map_err(get)?,
            patient_ref: r.try_get(5).map_err(get)?,
            items: r.try_get(6).map_err(get)?,
            method: r.try_get(7).map_err(get)?,
            reason: r.try_get(8).map_err(get)?,
            detail: r.try_get(9).map_err(get)?,
            prev_hash: r.try_get(10).map_err(get)?,
            hash: r.try_get(11).map_err(get)?,
            seal: r.try_get(12).map_err(get)?,
        },
    ))
}

impl Store {
    /// The rows about one patient reference at every terminal of the facility, oldest first, each with the
    /// terminal that wrote it: this terminal's rows from its own log, the other terminals' rows from the
    /// facility-wide store. Without a facility-wide store, this terminal's rows
    /// ([`AuditCoverage::SingleTerminal`]); with one that cannot be reached, this terminal's rows and
    /// [`AuditCoverage::ThisTerminalOnly`] (never a silently partial answer).
    pub fn patient_audit(&self, patient_ref: &str) -> Result<PatientAudit, StoreError> {
        let own = self.audit_records_for_patient(patient_ref)?;
        self.with_other_terminals(own, |link| {
            link.query(
                "SELECT terminal_id, id, at, actor, action, patient_ref, items, method, reason, detail,
                        prev_hash, hash, seal
                 FROM audit_log WHERE patient_ref = $1 AND terminal_id <> $2",
                vec![
                    Box::new(patient_ref.to_owned()),
                    Box::new(link.terminal_id.clone()),
                ],
            )
        })
    }

    /// Every terminal's rows of `actions` logged in `[from, to)` (the emergency-view review), each with its
    /// terminal id, oldest first; like [`Store::patient_audit`], this terminal's rows alone (and says so)
    /// when PostgreSQL cannot be read.
    pub fn facility_audit_between(
        &self,
        actions: &[&str],
        from: i64,
        to: i64,
    ) -> Result<PatientAudit, StoreError> {
        let own = self.audit_records_between(actions, from, to)?;
        let actions: Vec<String> = actions.iter().map(|a| (*a).to_owned()).collect();
        self.with_other_terminals(own, |link| {
            link.query(
                "SELECT terminal_id, id, at, actor, action, patient_ref, items, method, reason, detail,
                        prev_hash, hash, seal
                 FROM audit_log WHERE action = ANY($1) AND at >= $2 AND at < $3 AND terminal_id <> $4",
                vec![
                    Box::new(actions),
                    Box::new(from),
                    Box::new(to),
                    Box::new(link.terminal_id.clone()),
                ],
            )
        })
    }

    /// This terminal's `own` rows with the other terminals' rows `others` reads from PostgreSQL, oldest
    /// first, and what they cover.
    fn with_other_terminals(
        &self,
        own: Vec<AuditRecord>,
        others: impl FnOnce(&crate::shared::SharedLink) -> Option<crate::shared::PgRows>,
    ) -> Result<PatientAudit, StoreError> {
        let Some(link) = self.shared.as_ref() else {
            return Ok(PatientAudit {
                rows: own
                    .into_iter()
                    .map(|record| TerminalAuditRecord {
                        terminal_id: None,
                        record,
                    })
                    .collect(),
                coverage: AuditCoverage::SingleTerminal,
            });
        };
        let mut rows: Vec<TerminalAuditRecord> = own
            .into_iter()
            .map(|record| TerminalAuditRecord {
                terminal_id: Some(link.terminal_id.clone()),
                record,
            })
            .collect();
        let coverage = match others(link) {
            None => AuditCoverage::ThisTerminalOnly {
                reason: link
                    .last_error()
                    .unwrap_or_else(|| "the facility server is unreachable".into()),
            },
            Some(found) => {
                for r in &found {
                    let (terminal, raw) = pg_raw_row(r)?;
                    rows.push(TerminalAuditRecord {
                        terminal_id: Some(terminal),
                        record: raw.into_record(),
                    });
                }
                AuditCoverage::Facility
            }
        };
        rows.sort_by(|a, b| {
            (a.record.at, &a.terminal_id, a.record.id).cmp(&(
                b.record.at,
                &b.terminal_id,
                b.record.id,
            ))
        });
        Ok(PatientAudit { rows, coverage })
    }

    /// Rows about one patient reference, oldest first (the patient's "who looked at my data" inquiry).
    pub fn audit_records_for_patient(
        &self,
        patient_ref: &str,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit_where("patient_ref = ?1 ORDER BY id", params![patient_ref])
    }

    /// Rows of the given actions logged in `[from, to)` (ms since the epoch), oldest first: the regular
    /// review of emergency views.
    pub fn audit_records_between(
        &self,
        actions: &[&str],
        from: i64,
        to: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let list = serde_json::to_string(actions)
            .map_err(|e| StoreError::Corrupt(format!("action list: {e}")))?;
        self.audit_where(
            "at >= ?1 AND at < ?2 AND action IN (SELECT value FROM json_each(?3)) ORDER BY id",
            params![from, to, list],
        )
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::StaticKeyProvider;

    const T0: i64 = 1_735_689_600_000;

    fn entry(i: usize) -> AuditEntry {
        AuditEntry {
            actor: format!("user{i}"),
            action: "view_medical_info".into(),
            patient_ref: Some(format!("p{}", i % 7)),
            ..AuditEntry::default()
        }
    }

    #[test]
    fn a_long_verify_does_not_hold_the_connection_writers_need() {
        const ROWS: usize = 50_000;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(
                dir.path().join("f.sqlite3"),
                &StaticKeyProvider::random().unwrap(),
            )
            .unwrap(),
        );
        {
            let mut conn = store.conn();
            let tx = conn.transaction().unwrap();
            for i in 0..ROWS {
                append_in(&tx, &store.keys, &entry(i), T0 + i as i64).unwrap();
            }
            tx.commit().unwrap();
        }
        store.seal_external_heads().unwrap();

        // The verify pauses inside its scan (after the first 1,000 rows) until the writer is done: with a
        // verify that held the store's connection, the writer could not finish and `done` never arrives.
        let (started_tx, started_rx) = mpsc::channel();
        let (resume_tx, resume_rx) = mpsc::channel::<()>();
        let verifier = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut first = true;
                store.verify_with_progress(&mut |_| {
                    if std::mem::take(&mut first) {
                        started_tx.send(()).unwrap();
                        let _ = resume_rx.recv();
                    }
                })
            })
        };
        started_rx.recv().unwrap();
        let (done_tx, done_rx) = mpsc::channel();
        let writer = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store
                    .outbox_receive("req-1.xml", "check", "processing/req-1.xml", T0)
                    .unwrap();
                let id = store.append_audit(&entry(0), T0 + ROWS as i64).unwrap();
                done_tx.send(id).unwrap();
            })
        };
        // A generous bound that only turns the old deadlock into a failure; the order is what is asserted.
        let appended = done_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the write completed while the verify was still scanning");
        assert_eq!(appended, ROWS as i64 + 1);
        resume_tx.send(()).unwrap();
        writer.join().unwrap();
        let found = verifier.join().unwrap().unwrap();
        // The verify read its snapshot; the head file that moved on meanwhile is not a rollback.
        assert_eq!(found.chain, ChainVerdict::Intact { rows: ROWS as u64 });
        assert_eq!(found.verdict(), ChainVerdict::Intact { rows: ROWS as u64 });
        assert_eq!(
            store.verify_audit_chain().unwrap(),
            ChainVerdict::Intact {
                rows: ROWS as u64 + 1
            }
        );
    }
}
