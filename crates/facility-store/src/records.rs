//! Check-ins, query results and consents: the records whose identifiers are encrypted at rest.

use std::fmt;

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Store;
use crate::error::StoreError;

/// A patient's identifiers as read from the card or the central answer. Never includes the 個人番号.
/// Zeroized on drop; `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PatientIdentity {
    pub name: String,
    pub kana: String,
    /// `1` male, `2` female, as in the interface's code table.
    pub sex: String,
    /// `YYYYMMDD`.
    pub birth_date: String,
    /// 保険者番号.
    pub insurer_number: String,
    /// 記号.
    pub symbol: String,
    /// 番号.
    pub number: String,
    /// 枝番.
    pub branch: String,
}

impl fmt::Debug for PatientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PatientIdentity(<redacted>)")
    }
}

/// A keyed digest of insurer number + 記号 + 番号 + birth date: finds a patient's rows without decrypting
/// anything, and serves as the pseudonymous patient reference in the audit log. Meaningless without the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatientKey([u8; 32]);

impl PatientKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, as stored in the audit log's `patient_ref`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, StoreError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("patient key of {} bytes", bytes.len())))?;
        Ok(Self(array))
    }
}

impl fmt::Debug for PatientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell keys apart in a log and reveals nothing without the data key.
        write!(f, "PatientKey({}…)", &self.to_hex()[..8])
    }
}

/// Fold full-width ASCII (as typed on a Japanese IME) to ASCII and drop spaces and hyphens, so the same
/// numbers typed two ways give the same key.
fn normalise(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c as u32 {
                0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                0x3000 => ' ',
                _ => c,
            };
            (!matches!(c, ' ' | '\t' | '-' | '‐' | '−')).then_some(c)
        })
        .collect()
}

/// A stored document (result XML) that holds identifiers. Zeroized on drop; `Debug` shows only its size.
#[derive(Clone, PartialEq, Eq)]
pub struct Document(Zeroizing<Vec<u8>>);

impl Document {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Document {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Document(<{} bytes>)", self.0.len())
    }
}

/// Eligibility state of a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckInStatus {
    /// 有効
    Valid,
    /// 無効
    Invalid,
    /// 該当資格なし
    NoQualification,
    /// 未確認 (通信障害): taken during an outage, to be completed when the central service is back.
    PendingOutage,
    /// The central service answered with an error.
    Error,
}

impl CheckInStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckInStatus::Valid => "valid",
            CheckInStatus::Invalid => "invalid",
            CheckInStatus::NoQualification => "no_qualification",
            CheckInStatus::PendingOutage => "pending_outage",
            CheckInStatus::Error => "error",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "valid" => CheckInStatus::Valid,
            "invalid" => CheckInStatus::Invalid,
            "no_qualification" => CheckInStatus::NoQualification,
            "pending_outage" => CheckInStatus::PendingOutage,
            "error" => CheckInStatus::Error,
            other => return Err(StoreError::Corrupt(format!("check-in status '{other}'"))),
        })
    }
}

/// One kiosk check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    pub check_in_id: String,
    pub at: i64,
    pub reader: String,
    /// `pin`, `face`, `staff_visual`, or `insurance_numbers` (a check by numbers at reception).
    pub method: String,
    pub status: CheckInStatus,
    pub patient: Option<PatientIdentity>,
    /// The result document (OQSsiquc01res-shaped XML); holds identifiers, so encrypted at rest.
    pub result_document: Option<Document>,
    pub updated_at: i64,
}

/// The answer to one relay request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    pub request_name: String,
    pub kind: String,
    pub answered_at: i64,
    /// `ok`, `error`, … as the relay decides.
    pub status: String,
    pub result_name: Option<String>,
    pub body: Document,
}

/// A consent given at the kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub patient: PatientKey,
    /// `medical_and_medication`, `surgery`, `health_checkup`, …
    pub item: String,
    pub granted_at: i64,
    pub expires_at: i64,
    pub check_in_id: Option<String>,
}

const CHECK_IN_COLUMNS: &str =
    "check_in_id, at, reader, method, status, patient_enc, result_enc, updated_at";

struct CheckInRow {
    check_in_id: String,
    at: i64,
    reader: String,
    method: String,
    status: String,
    patient_enc: Option<Vec<u8>>,
    result_enc: Option<Vec<u8>>,
    updated_at: i64,
}

fn check_in_row(row: &Row<'_>) -> rusqlite::Result<CheckInRow> {
    Ok(CheckInRow {
        check_in_id: row.get(0)?,
        at: row.get(1)?,
        reader: row.get(2)?,
        method: row.get(3)?,
        status: row.get(4)?,
        patient_enc: row.get(5)?,
        result_enc: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

impl Store {
    /// The search key of a patient's numbers; see [`PatientKey`].
    pub fn patient_key(
        &self,
        insurer_number: &str,
        symbol: &str,
        number: &str,
        birth_date: &str,
    ) -> PatientKey {
        let parts = [insurer_number, symbol, number, birth_date].map(normalise);
        let refs = [
            parts[0].as_str(),
            parts[1].as_str(),
            parts[2].as_str(),
            parts[3].as_str(),
        ];
        PatientKey(self.keys.lookup("patient", &refs))
    }

    /// The search key of a [`PatientIdentity`].
    pub fn patient_key_of(&self, p: &PatientIdentity) -> PatientKey {
        self.patient_key(&p.insurer_number, &p.symbol, &p.number, &p.birth_date)
    }

    /// Stores a new check-in (identifiers and document encrypted). Fails if the id exists.
    pub fn insert_check_in(&self, check_in: &CheckIn) -> Result<(), StoreError> {
        self.insert_card_check_in(check_in, None)
    }

    /// [`Store::insert_check_in`] of a card or phone check-in, with when its 利用者証明用 certificate expires
    /// (ms since the epoch; `None` when it could not be read), for the renewal slip reception prints. In the
    /// same row and transaction, so the kiosk's write-ahead stays one commit and one outbox row.
    pub fn insert_card_check_in(
        &self,
        check_in: &CheckIn,
        certificate_expiry: Option<i64>,
    ) -> Result<(), StoreError> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            self.insert_check_in_on(&tx, check_in, certificate_expiry)?;
            tx.commit()?;
        }
        self.nudge_shared();
        Ok(())
    }

    /// Stores a check-in a staff member made (a check by numbers at reception) and its audit row, in one
    /// transaction: neither exists without the other.
    pub fn insert_check_in_audited(
        &self,
        check_in: &CheckIn,
        entry: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        self.audited(entry, self.now_millis(), |tx| {
            self.insert_check_in_on(tx, check_in, None)
        })?;
        self.nudge_shared();
        Ok(())
    }

    fn insert_check_in_on(
        &self,
        conn: &rusqlite::Connection,
        check_in: &CheckIn,
        certificate_expiry: Option<i64>,
    ) -> Result<(), StoreError> {
        let id = &check_in.check_in_id;
        let patient_key = check_in
            .patient
            .as_ref()
            .map(|p| self.patient_key_of(p).0.to_vec());
        let patient_enc = check_in
            .patient
            .as_ref()
            .map(|p| self.seal_json("check_ins.patient", id, p))
            .transpose()?;
        let result_enc = check_in
            .result_document
            .as_ref()
            .map(|d| self.keys.seal("check_ins.result", id, d.as_bytes()))
            .transpose()?;
        conn.execute(
            "INSERT INTO check_ins (check_in_id, at, reader, method, status, patient_key, patient_enc, result_enc, updated_at,
                                    certificate_expiry)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                check_in.at,
                check_in.reader,
                check_in.method,
                check_in.status.as_str(),
                patient_key,
                patient_enc,
                result_enc,
                check_in.updated_at,
                certificate_expiry
            ],
        )?;
        self.enqueue_shared(conn, "check_in", id)?;
        Ok(())
    }

    /// Completes a check-in (e.g. a pending one after the outage), replacing status, identifiers and document.
    pub fn complete_check_in(
        &self,
        check_in_id: &str,
        status: CheckInStatus,
        patient: Option<&PatientIdentity>,
        result_document: Option<&[u8]>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.record_answer(
            check_in_id,
            status,
            patient,
            result_document,
            &[],
            false,
            now,
        )?;
        Ok(())
    }

    /// Records the central service's answer to a check-in written ahead ([`Store::insert_check_in`]): its
    /// status, identifiers, document and the consents given with it, in one transaction, so that a crash
    /// leaves either the pending row (sent again) or the answered row with all its consents.
    ///
    /// Only a row still 未確認 is answered: `false` means another answer was recorded first (its `face/` file
    /// is that answer's to deliver, so the caller delivers nothing).
    pub fn answer_check_in(
        &self,
        check_in_id: &str,
        status: CheckInStatus,
        patient: Option<&PatientIdentity>,
        result_document: &[u8],
        consents: &[Consent],
        now: i64,
    ) -> Result<bool, StoreError> {
        self.record_answer(
            check_in_id,
            status,
            patient,
            Some(result_document),
            consents,
            true,
            now,
        )
    }

    /// The one place a check-in row gets its answer: identifiers and document sealed, what is not given
    /// kept, and the consents inserted in the same transaction. With `pending_only`, a row already answered is
    /// left as it is and `false` returned.
    #[allow(clippy::too_many_arguments)]
    fn record_answer(
        &self,
        check_in_id: &str,
        status: CheckInStatus,
        patient: Option<&PatientIdentity>,
        result_document: Option<&[u8]>,
        consents: &[Consent],
        pending_only: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let patient_key = patient.map(|p| self.patient_key_of(p).0.to_vec());
        let patient_enc = patient
            .map(|p| self.seal_json("check_ins.patient", check_in_id, p))
            .transpose()?;
        let result_enc = result_document
            .map(|d| self.keys.seal("check_ins.result", check_in_id, d))
            .transpose()?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE check_ins SET status = ?2,
                    patient_key = COALESCE(?3, patient_key), patient_enc = COALESCE(?4, patient_enc),
                    result_enc = COALESCE(?5, result_enc), updated_at = ?6
             WHERE check_in_id = ?1 AND (?7 = 0 OR status = 'pending_outage')",
            params![
                check_in_id,
                status.as_str(),
                patient_key,
                patient_enc,
                result_enc,
                now,
                pending_only
            ],
        )?;
        if changed == 0 {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM check_ins WHERE check_in_id = ?1",
                    [check_in_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if exists {
                return Ok(false);
            }
            return Err(StoreError::NotFound(format!("check-in {check_in_id}")));
        }
        self.enqueue_shared(&tx, "check_in", check_in_id)?;
        for consent in consents {
            self.insert_consent_on(&tx, consent)?;
        }
        tx.commit()?;
        drop(conn);
        self.nudge_shared();
        Ok(true)
    }

    /// Withdraws a check-in written ahead that the central service refused: it never happened, so it is not
    /// listed at reception (the kiosk told the patient). Only a row still 未確認 can be withdrawn.
    pub fn withdraw_check_in(&self, check_in_id: &str) -> Result<(), StoreError> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let deleted = tx.execute(
                "DELETE FROM check_ins WHERE check_in_id = ?1 AND status = 'pending_outage'",
                [check_in_id],
            )?;
            if deleted > 0 {
                self.enqueue_shared(&tx, "check_in", check_in_id)?;
            }
            tx.commit()?;
        }
        self.nudge_shared();
        Ok(())
    }

    pub fn check_in(&self, check_in_id: &str) -> Result<Option<CheckIn>, StoreError> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {CHECK_IN_COLUMNS} FROM check_ins WHERE check_in_id = ?1"),
                [check_in_id],
                check_in_row,
            )
            .optional()?;
        let row = match row {
            Some(row) => Some(row),
            // Another terminal's check-in, from the facility-wide store.
            None => self
                .shared_check_ins(
                    "SELECT check_in_id, at, reader, method, status, patient_enc, result_enc, updated_at
                     FROM check_ins WHERE terminal_id <> $1 AND check_in_id = $2
                     ORDER BY updated_at DESC LIMIT 1",
                    vec![Box::new(check_in_id.to_owned())],
                )
                .into_iter()
                .next(),
        };
        row.map(|r| self.decrypt_check_in(r)).transpose()
    }

    /// Check-ins with `from <= at < to`, newest first (today's list at reception); every terminal's with a
    /// facility-wide store.
    pub fn check_ins_between(&self, from: i64, to: i64) -> Result<Vec<CheckIn>, StoreError> {
        let mut rows = self.check_in_rows_where("at >= ?1 AND at < ?2", params![from, to])?;
        rows.extend(self.shared_check_ins(
            "SELECT check_in_id, at, reader, method, status, patient_enc, result_enc, updated_at
             FROM check_ins WHERE terminal_id <> $1 AND at >= $2 AND at < $3",
            vec![Box::new(from), Box::new(to)],
        ));
        rows.sort_by_key(|r| std::cmp::Reverse(r.at));
        rows.into_iter().map(|r| self.decrypt_check_in(r)).collect()
    }

    /// Rows of the other terminals from the facility-wide store (none without one, or while it is
    /// unreachable). `sql` takes this terminal's id as `$1`, `params` from `$2` on.
    fn shared_check_ins(
        &self,
        sql: &'static str,
        params: Vec<Box<dyn tokio_postgres::types::ToSql + Send + Sync>>,
    ) -> Vec<CheckInRow> {
        let Some(rows) = self.shared_query(sql, params) else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|r| {
                Some(CheckInRow {
                    check_in_id: r.try_get(0).ok()?,
                    at: r.try_get(1).ok()?,
                    reader: r.try_get(2).ok()?,
                    method: r.try_get(3).ok()?,
                    status: r.try_get(4).ok()?,
                    patient_enc: r.try_get(5).ok()?,
                    result_enc: r.try_get(6).ok()?,
                    updated_at: r.try_get(7).ok()?,
                })
            })
            .collect()
    }

    fn shared_query(
        &self,
        sql: &'static str,
        mut params: Vec<Box<dyn tokio_postgres::types::ToSql + Send + Sync>>,
    ) -> Option<Vec<tokio_postgres::Row>> {
        let link = self.shared.as_ref()?;
        params.insert(0, Box::new(link.terminal_id.clone()));
        link.query(sql, params)
    }

    /// Check-ins taken during an outage and not yet completed, oldest first.
    pub fn pending_outage_check_ins(&self) -> Result<Vec<CheckIn>, StoreError> {
        self.check_ins_where("status = 'pending_outage' ORDER BY at", params![])
    }

    /// A patient's check-ins, newest first, found by key without decrypting other rows.
    pub fn check_ins_of_patient(&self, patient: &PatientKey) -> Result<Vec<CheckIn>, StoreError> {
        let mut rows =
            self.check_in_rows_where("patient_key = ?1", params![patient.0.as_slice()])?;
        rows.extend(self.shared_check_ins(
            "SELECT check_in_id, at, reader, method, status, patient_enc, result_enc, updated_at
             FROM check_ins WHERE terminal_id <> $1 AND patient_key = $2",
            vec![Box::new(patient.0.to_vec())],
        ));
        rows.sort_by_key(|r| std::cmp::Reverse(r.at));
        rows.into_iter().map(|r| self.decrypt_check_in(r)).collect()
    }

    fn check_ins_where(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<CheckIn>, StoreError> {
        let rows = self.check_in_rows_where(clause, params)?;
        rows.into_iter().map(|r| self.decrypt_check_in(r)).collect()
    }

    fn check_in_rows_where(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<CheckInRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {CHECK_IN_COLUMNS} FROM check_ins WHERE {clause}"
        ))?;
        Ok(stmt
            .query_map(params, check_in_row)?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn decrypt_check_in(&self, row: CheckInRow) -> Result<CheckIn, StoreError> {
        let id = &row.check_in_id;
        let patient = row
            .patient_enc
            .map(|enc| self.open_json("check_ins.patient", id, &enc))
            .transpose()?;
        let result_document = row
            .result_enc
            .map(|enc| self.keys.open("check_ins.result", id, &enc).map(Document))
            .transpose()?;
        Ok(CheckIn {
            status: CheckInStatus::parse(&row.status)?,
            check_in_id: row.check_in_id,
            at: row.at,
            reader: row.reader,
            method: row.method,
            patient,
            result_document,
            updated_at: row.updated_at,
        })
    }

    /// Sets (or with `None` clears) the name reception typed for a check-in whose name the central service
    /// could not show (外字). The central answer and the `face/` file are not changed.
    pub fn set_local_name(
        &self,
        check_in_id: &str,
        name: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sealed = name
            .map(|n| {
                self.keys
                    .seal("check_ins.local_name", check_in_id, n.as_bytes())
            })
            .transpose()?;
        self.update_check_in(
            check_in_id,
            "UPDATE check_ins SET local_name_enc = ?2, updated_at = ?3 WHERE check_in_id = ?1",
            &sealed,
            now,
        )
    }

    /// The local names (外字 overrides) of these check-ins, by check-in id; check-ins without one are absent.
    pub fn local_names(
        &self,
        check_in_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let sealed: std::collections::HashMap<String, Vec<u8>> = self.check_in_values(
            check_in_ids,
            "SELECT local_name_enc FROM check_ins WHERE check_in_id = ?1 AND local_name_enc IS NOT NULL",
            "SELECT check_in_id, local_name_enc FROM check_ins
             WHERE terminal_id <> $1 AND check_in_id = ANY($2) AND local_name_enc IS NOT NULL",
        )?;
        sealed
            .into_iter()
            .map(|(id, sealed)| {
                let bytes = self.keys.open("check_ins.local_name", &id, &sealed)?;
                let name = String::from_utf8(bytes.to_vec())
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((id, name))
            })
            .collect()
    }

    /// One column of these check-ins, by check-in id: this terminal's rows (`local_sql`, `?1` the id), then
    /// the facility-wide store's rows of the other terminals (`shared_sql`, `$1` this terminal, `$2` the ids
    /// not found here) when there is one and it answers. An id found nowhere is absent.
    fn check_in_values<V>(
        &self,
        check_in_ids: &[&str],
        local_sql: &str,
        shared_sql: &'static str,
    ) -> Result<std::collections::HashMap<String, V>, StoreError>
    where
        V: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>,
    {
        let mut out = std::collections::HashMap::new();
        {
            let conn = self.conn();
            let mut stmt = conn.prepare(local_sql)?;
            for id in check_in_ids {
                let value: Option<V> = stmt.query_row([id], |r| r.get(0)).optional()?;
                if let Some(v) = value {
                    out.insert((*id).to_owned(), v);
                }
            }
        }
        let others: Vec<String> = check_in_ids
            .iter()
            .filter(|id| !out.contains_key(**id))
            .map(|id| (*id).to_owned())
            .collect();
        if others.is_empty() {
            return Ok(out);
        }
        for row in self
            .shared_query(shared_sql, vec![Box::new(others)])
            .unwrap_or_default()
        {
            if let (Ok(id), Ok(v)) = (row.try_get::<_, String>(0), row.try_get::<_, V>(1)) {
                out.insert(id, v);
            }
        }
        Ok(out)
    }

    /// Tags a check-in's visit with its 受診区分 code (`outpatient`, `home_visit`, `online`: the daemon
    /// checks the code; the store keeps the text).
    pub fn set_visit(&self, check_in_id: &str, visit: &str, now: i64) -> Result<(), StoreError> {
        self.update_check_in(
            check_in_id,
            "UPDATE check_ins SET visit = ?2, updated_at = ?3 WHERE check_in_id = ?1",
            &visit,
            now,
        )
    }

    /// Sets one column of a check-in (`sql`: an UPDATE with ?1 the check-in id, ?2 the value, ?3 `now`) and
    /// queues the check-in for the facility-wide store in the same transaction.
    fn update_check_in(
        &self,
        check_in_id: &str,
        sql: &str,
        value: &dyn rusqlite::ToSql,
        now: i64,
    ) -> Result<(), StoreError> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let changed = tx.execute(sql, params![check_in_id, value, now])?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("check-in {check_in_id}")));
            }
            self.enqueue_shared(&tx, "check_in", check_in_id)?;
            tx.commit()?;
        }
        self.nudge_shared();
        Ok(())
    }

    /// The card certificates' expiries of these check-ins (ms), by check-in id, where known (this
    /// terminal's, then the facility-wide store's for the others).
    pub fn certificate_expiries(
        &self,
        check_in_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        self.check_in_values(
            check_in_ids,
            "SELECT certificate_expiry FROM check_ins
             WHERE check_in_id = ?1 AND certificate_expiry IS NOT NULL",
            "SELECT check_in_id, certificate_expiry FROM check_ins
             WHERE terminal_id <> $1 AND check_in_id = ANY($2) AND certificate_expiry IS NOT NULL",
        )
    }

    /// The 受診区分 of these check-ins, by check-in id (this terminal's, then the facility-wide store's for
    /// the others); an id found nowhere is absent, which callers read as 外来.
    pub fn visits(
        &self,
        check_in_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        self.check_in_values(
            check_in_ids,
            "SELECT visit FROM check_ins WHERE check_in_id = ?1",
            "SELECT check_in_id, visit FROM check_ins WHERE terminal_id <> $1 AND check_in_id = ANY($2)",
        )
    }

    /// Stores (or replaces) the answer to a relay request.
    pub fn put_query_result(&self, result: &QueryResult) -> Result<(), StoreError> {
        let body_enc = self.keys.seal(
            "query_results.body",
            &result.request_name,
            result.body.as_bytes(),
        )?;
        self.conn().execute(
            "INSERT INTO query_results (request_name, kind, answered_at, status, result_name, body_enc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (request_name) DO UPDATE SET kind = ?2, answered_at = ?3, status = ?4, result_name = ?5,
                                                     body_enc = ?6",
            params![result.request_name, result.kind, result.answered_at, result.status, result.result_name, body_enc],
        )?;
        Ok(())
    }

    pub fn query_result(&self, request_name: &str) -> Result<Option<QueryResult>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT request_name, kind, answered_at, status, result_name, body_enc FROM query_results
                 WHERE request_name = ?1",
                [request_name],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Vec<u8>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((request_name, kind, answered_at, status, result_name, body_enc)) = row else {
            return Ok(None);
        };
        let body = self
            .keys
            .open("query_results.body", &request_name, &body_enc)
            .map(Document)?;
        Ok(Some(QueryResult {
            request_name,
            kind,
            answered_at,
            status,
            result_name,
            body,
        }))
    }

    /// Records a consent given at the kiosk, valid until `expires_at` (24 hours after, per AvailableTime).
    pub fn grant_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            self.insert_consent_on(&tx, consent)?;
            tx.commit()?;
        }
        self.nudge_shared();
        Ok(())
    }

    fn insert_consent_on(
        &self,
        conn: &rusqlite::Connection,
        consent: &Consent,
    ) -> Result<(), StoreError> {
        conn.execute(
            "INSERT INTO consents (patient_key, item, granted_at, expires_at, check_in_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![consent.patient.0.as_slice(), consent.item, consent.granted_at, consent.expires_at, consent.check_in_id],
        )?;
        self.enqueue_shared(conn, "consent", &conn.last_insert_rowid().to_string())
    }

    /// The patient's consents still valid at `now`, latest expiry first.
    pub fn valid_consents(
        &self,
        patient: &PatientKey,
        now: i64,
    ) -> Result<Vec<Consent>, StoreError> {
        let mut consents = self.consents_where(
            "patient_key = ?1 AND expires_at > ?2",
            params![patient.0.as_slice(), now],
        )?;
        consents.extend(self.shared_consents(
            "SELECT patient_key, item, granted_at, expires_at, check_in_id FROM consents
             WHERE terminal_id <> $1 AND patient_key = $2 AND expires_at > $3",
            vec![Box::new(patient.0.to_vec()), Box::new(now)],
        )?);
        consents.sort_by_key(|c| std::cmp::Reverse(c.expires_at));
        Ok(consents)
    }

    /// Every consent still valid at `now` (the consented-patient list).
    pub fn all_valid_consents(&self, now: i64) -> Result<Vec<Consent>, StoreError> {
        let mut consents = self.consents_where("expires_at > ?1", params![now])?;
        consents.extend(self.shared_consents(
            "SELECT patient_key, item, granted_at, expires_at, check_in_id FROM consents
             WHERE terminal_id <> $1 AND expires_at > $2",
            vec![Box::new(now)],
        )?);
        consents.sort_by_key(|c| std::cmp::Reverse(c.granted_at));
        Ok(consents)
    }

    /// The other terminals' consents from the facility-wide store; `sql` as for `shared_check_ins`.
    fn shared_consents(
        &self,
        sql: &'static str,
        params: Vec<Box<dyn tokio_postgres::types::ToSql + Send + Sync>>,
    ) -> Result<Vec<Consent>, StoreError> {
        let Some(rows) = self.shared_query(sql, params) else {
            return Ok(Vec::new());
        };
        rows.iter()
            .map(|r| {
                let get = |e: tokio_postgres::Error| {
                    StoreError::Corrupt(format!("a shared consent: {e}"))
                };
                let key: Vec<u8> = r.try_get(0).map_err(get)?;
                Ok(Consent {
                    patient: PatientKey::from_slice(&key)?,
                    item: r.try_get(1).map_err(get)?,
                    granted_at: r.try_get(2).map_err(get)?,
                    expires_at: r.try_get(3).map_err(get)?,
                    check_in_id: r.try_get(4).map_err(get)?,
                })
            })
            .collect()
    }

    /// Deletes consents that expired before `now`; returns how many.
    pub fn purge_expired_consents(&self, now: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM consents WHERE expires_at <= ?1", [now])?)
    }

    fn consents_where(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Consent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT patient_key, item, granted_at, expires_at, check_in_id FROM consents WHERE {clause}"
        ))?;
        let rows = stmt.query_map(params, |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })?;
        rows.map(|row| {
            let (key, item, granted_at, expires_at, check_in_id) = row?;
            Ok(Consent {
                patient: PatientKey::from_slice(&key)?,
                item,
                granted_at,
                expires_at,
                check_in_id,
            })
        })
        .collect()
    }

    pub(crate) fn seal_json<T: Serialize>(
        &self,
        column: &str,
        row_key: &str,
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let json = Zeroizing::new(
            serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        self.keys.seal(column, row_key, &json)
    }

    pub(crate) fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        column: &str,
        row_key: &str,
        sealed: &[u8],
    ) -> Result<T, StoreError> {
        let json = self.keys.open(column, row_key, sealed)?;
        serde_json::from_slice(&json)
            .map_err(|_| StoreError::Decrypt(format!("{column} (not a valid record)")))
    }
}

#[cfg(test)]
mod local_name_tests {
    use super::*;
    use crate::StaticKeyProvider;

    #[test]
    fn a_local_name_is_kept_encrypted_and_can_be_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let keys = StaticKeyProvider::random().unwrap();
        let store = Store::open(dir.path().join("s.sqlite3"), &keys).unwrap();
        let check_in = CheckIn {
            check_in_id: "face_1".into(),
            at: 1,
            reader: "r".into(),
            method: "pin".into(),
            status: CheckInStatus::Valid,
            patient: None,
            result_document: None,
            updated_at: 1,
        };
        store.insert_check_in(&check_in).unwrap();
        assert!(store.local_names(&["face_1"]).unwrap().is_empty());
        store
            .set_local_name("face_1", Some("髙﨑 太郎"), 2)
            .unwrap();
        assert_eq!(
            store.local_names(&["face_1", "face_2"]).unwrap()["face_1"],
            "髙﨑 太郎"
        );
        let raw = std::fs::read(dir.path().join("s.sqlite3")).unwrap();
        assert!(
            !String::from_utf8_lossy(&raw).contains("髙﨑"),
            "the name is stored in clear"
        );
        store.set_local_name("face_1", None, 3).unwrap();
        assert!(store.local_names(&["face_1"]).unwrap().is_empty());
        assert!(matches!(
            store.set_local_name("nope", Some("x"), 4),
            Err(StoreError::NotFound(_))
        ));
    }
}

#[cfg(test)]
mod audited_check_in_tests {
    use super::*;
    use crate::{AuditEntry, StaticKeyProvider};

    #[test]
    fn a_check_by_numbers_and_its_audit_row_are_written_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let keys = StaticKeyProvider::random().unwrap();
        let store = Store::open(dir.path().join("s.sqlite3"), &keys).unwrap();
        let check_in = CheckIn {
            check_in_id: "numbers_1".into(),
            at: 1,
            reader: "reception".into(),
            method: "insurance_numbers".into(),
            status: CheckInStatus::Invalid,
            patient: None,
            result_document: None,
            updated_at: 1,
        };
        let entry = AuditEntry {
            actor: "reception".into(),
            action: "manual_check".into(),
            patient_ref: None,
            items: vec!["eligibility".into()],
            method: Some("insurance_numbers".into()),
            reason: None,
            detail: None,
        };
        store.insert_check_in_audited(&check_in, &entry).unwrap();
        assert_eq!(
            store.check_in("numbers_1").unwrap().unwrap().method,
            "insurance_numbers"
        );
        assert_eq!(store.audit_records(0, 10).unwrap().len(), 1);
        // The same check-in again fails, and leaves no audit row behind.
        assert!(store.insert_check_in_audited(&check_in, &entry).is_err());
        assert_eq!(store.audit_records(0, 10).unwrap().len(), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn normalise_folds_full_width_and_separators() {
        assert_eq!(normalise("０６１３ ００１２"), "06130012");
        assert_eq!(normalise("12-34"), "1234");
        assert_eq!(normalise("記号　Ａ"), "記号A");
    }
}
