//! The relay's outbox: one row per request file, keyed by its file name.
//!
//! ```text
//! received ──claim──▶ sending ──answered──▶ answered
//!    ▲                  │  │
//!    └──retry_later─────┘  └──failed──▶ failed        (received ──failed──▶ failed for files rejected early)
//!    └──recover_in_flight── sending   (at start, after a crash)
//! received ──staged_answered──▶ answered   (a staged delivery finished after its row was re-queued)
//! ```
//! Every transition is one statement guarded by the expected current state, so two workers cannot both claim
//! a row and a late answer cannot overwrite a failure.
//!
//! How the relay is meant to use it, so that a crash at any point loses nothing and duplicates nothing:
//! 1. rename `req/X` into the processing folder, then [`Store::outbox_receive`]`(X)`. At start, call it again
//!    for every file found in the processing folder: it is idempotent, so a crash between the two steps is
//!    repaired.
//! 2. At start, [`Store::outbox_recover_in_flight`]; then loop on [`Store::outbox_claim_due`].
//! 3. Write the result as temp file + rename to a name derived only from X, then
//!    [`Store::outbox_mark_answered`]. A crash between the two resends X later and replaces the same result
//!    file atomically, so there is never a second file.

use rusqlite::{OptionalExtension, Row, params};

use crate::Store;
use crate::error::StoreError;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Picked up and recorded; waiting for its (next) attempt.
    Received,
    /// Claimed by a sender; an attempt is under way.
    Sending,
    /// The result file was written.
    Answered,
    /// Given up: malformed, or rejected for good. An error result was written.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Received => "received",
            OutboxState::Sending => "sending",
            OutboxState::Answered => "answered",
            OutboxState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "received" => OutboxState::Received,
            "sending" => OutboxState::Sending,
            "answered" => OutboxState::Answered,
            "failed" => OutboxState::Failed,
            other => return Err(StoreError::Corrupt(format!("outbox state '{other}'"))),
        })
    }
}

/// One request file in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    /// The request file's name: the idempotency key.
    pub request_name: String,
    /// Message kind (e.g. `OQSsiquc01`).
    pub kind: String,
    /// Where the file sits while it is processed.
    pub processing_path: String,
    pub state: OutboxState,
    /// Attempts started so far.
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub received_at: i64,
    pub updated_at: i64,
    /// The last failure, in words for the log (never patient data).
    pub last_error: Option<String>,
    /// The result file's name once answered (or the error result's name once failed).
    pub result_name: Option<String>,
}

/// Whether [`Store::outbox_receive`] recorded a new request or found it already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    New(OutboxEntry),
    /// The same file name was recorded before (a rescan, or a restart after the pick-up): nothing changed.
    Existing(OutboxEntry),
}

impl Received {
    pub fn entry(&self) -> &OutboxEntry {
        match self {
            Received::New(e) | Received::Existing(e) => e,
        }
    }
}

/// Number of rows per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub received: u64,
    pub sending: u64,
    pub answered: u64,
    pub failed: u64,
}

const COLUMNS: &str = "id, request_name, kind, processing_path, state, attempts, next_attempt_at, received_at, \
                       updated_at, last_error, result_name";

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<(OutboxEntry, String)> {
    let state: String = row.get(4)?;
    Ok((
        OutboxEntry {
            id: row.get(0)?,
            request_name: row.get(1)?,
            kind: row.get(2)?,
            processing_path: row.get(3)?,
            state: OutboxState::Received,
            attempts: row.get(5)?,
            next_attempt_at: row.get(6)?,
            received_at: row.get(7)?,
            updated_at: row.get(8)?,
            last_error: row.get(9)?,
            result_name: row.get(10)?,
        },
        state,
    ))
}

fn finish((mut entry, state): (OutboxEntry, String)) -> Result<OutboxEntry, StoreError> {
    entry.state = OutboxState::parse(&state)?;
    Ok(entry)
}

impl Store {
    /// Records a picked-up request file, due at once. Idempotent by `request_name`.
    pub fn outbox_receive(
        &self,
        request_name: &str,
        kind: &str,
        processing_path: &str,
        now: i64,
    ) -> Result<Received, StoreError> {
        let conn = self.conn();
        let inserted = conn.execute(
            "INSERT INTO outbox (request_name, kind, processing_path, state, next_attempt_at, received_at, updated_at)
             VALUES (?1, ?2, ?3, 'received', ?4, ?4, ?4)
             ON CONFLICT (request_name) DO NOTHING",
            params![request_name, kind, processing_path, now],
        )?;
        drop(conn);
        let entry = self
            .outbox_get(request_name)?
            .ok_or_else(|| StoreError::NotFound(format!("outbox entry {request_name}")))?;
        Ok(if inserted == 1 {
            Received::New(entry)
        } else {
            Received::Existing(entry)
        })
    }

    pub fn outbox_get(&self, request_name: &str) -> Result<Option<OutboxEntry>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM outbox WHERE request_name = ?1"),
                [request_name],
                entry_from_row,
            )
            .optional()?;
        row.map(finish).transpose()
    }

    /// Claims up to `limit` requests that are due, oldest first: they become `sending` and their attempt
    /// count goes up. Done in one write transaction, so concurrent callers never claim the same row.
    pub fn outbox_claim_due(&self, now: i64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let claimed = {
            let mut stmt = tx.prepare(&format!(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?1
                 WHERE id IN (SELECT id FROM outbox WHERE state = 'received' AND next_attempt_at <= ?1
                              ORDER BY next_attempt_at, id LIMIT ?2)
                 RETURNING {COLUMNS}"
            ))?;
            let rows = stmt.query_map(params![now, limit as i64], entry_from_row)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(finish))
                .collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        let mut claimed = claimed;
        claimed.sort_by_key(|e| (e.next_attempt_at, e.id));
        Ok(claimed)
    }

    /// `sending → answered`, with the result file's name.
    pub fn outbox_mark_answered(
        &self,
        request_name: &str,
        result_name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.transition(
            request_name,
            "answered",
            "UPDATE outbox SET state = 'answered', result_name = ?2, last_error = NULL, updated_at = ?3
             WHERE request_name = ?1 AND state = 'sending'",
            params![request_name, result_name, now],
        )
    }

    /// `received → answered`, for a delivery the relay had staged (and so decided) before the row went back
    /// to the queue: its finish failed, and the sweep of the staging folder completes it. A fresh answer
    /// uses [`Store::outbox_mark_answered`], which only accepts `sending`.
    pub fn outbox_mark_staged_answered(
        &self,
        request_name: &str,
        result_name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.transition(
            request_name,
            "answered",
            "UPDATE outbox SET state = 'answered', result_name = ?2, last_error = NULL, updated_at = ?3
             WHERE request_name = ?1 AND state = 'received'",
            params![request_name, result_name, now],
        )
    }

    /// `sending → received`, due again at `next_attempt_at` (central unreachable, timeout …).
    pub fn outbox_retry_later(
        &self,
        request_name: &str,
        error: &str,
        next_attempt_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.transition(
            request_name,
            "received",
            "UPDATE outbox SET state = 'received', last_error = ?2, next_attempt_at = ?3, updated_at = ?4
             WHERE request_name = ?1 AND state = 'sending'",
            params![request_name, error, next_attempt_at, now],
        )
    }

    /// `received | sending → failed`, with the error result's name if one was written.
    pub fn outbox_mark_failed(
        &self,
        request_name: &str,
        error: &str,
        result_name: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.transition(
            request_name,
            "failed",
            "UPDATE outbox SET state = 'failed', last_error = ?2, result_name = ?3, updated_at = ?4
             WHERE request_name = ?1 AND state IN ('received', 'sending')",
            params![request_name, error, result_name, now],
        )
    }

    /// At start: rows left in `sending` by a crash are due again now. Returns how many.
    pub fn outbox_recover_in_flight(&self, now: i64) -> Result<usize, StoreError> {
        Ok(self.conn().execute(
            "UPDATE outbox SET state = 'received', next_attempt_at = ?1, updated_at = ?1,
                    last_error = 'interrupted by a restart'
             WHERE state = 'sending'",
            [now],
        )?)
    }

    /// Rows per state.
    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
        let mut counts = OutboxCounts::default();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            let n = u64::try_from(n).unwrap_or(0);
            match OutboxState::parse(&state)? {
                OutboxState::Received => counts.received = n,
                OutboxState::Sending => counts.sending = n,
                OutboxState::Answered => counts.answered = n,
                OutboxState::Failed => counts.failed = n,
            }
        }
        Ok(counts)
    }

    /// The earliest `next_attempt_at` of a waiting request, to know how long the sender may sleep.
    pub fn outbox_next_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'received'",
            [],
            |r| r.get(0),
        )?)
    }

    fn transition(
        &self,
        request_name: &str,
        to: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), StoreError> {
        let changed = self.conn().execute(sql, params)?;
        if changed == 1 {
            return Ok(());
        }
        match self.outbox_get(request_name)? {
            Some(entry) => Err(StoreError::InvalidTransition {
                request_name: request_name.to_string(),
                from: entry.state.as_str().to_string(),
                to,
            }),
            None => Err(StoreError::NotFound(format!("outbox entry {request_name}"))),
        }
    }
}
