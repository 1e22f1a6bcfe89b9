//! Settings as key/value text. Two kinds share the table: the facility's settings an administrator chooses
//! ([`Store::set_facility_setting`]; facility-wide with `[store] shared`, where PostgreSQL is their authority
//! and this table their cache) and what a terminal keeps for itself ([`Store::set_setting`]: environment
//! settings last fetched from the central service, the re-check marks), which never leave it.

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::audit::{AuditEntry, append_in};
use crate::error::StoreError;
use crate::shared::AuthorityTx;

impl Store {
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every setting, by key.
    pub fn settings(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT key, value FROM settings ORDER BY key")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Sets one of this terminal's own settings (what it learnt or keeps for itself, e.g. the consent
    /// screens and 利用文字コード last fetched from the central service) and logs the change (actor, key, old
    /// and new value) in the audit log, in one transaction: a change is never made without its audit row.
    /// Never leaves the terminal, so it works while the facility server is away.
    pub fn set_setting(
        &self,
        key: &str,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write_setting(key, value, actor, now, None)
    }

    /// Sets a facility setting an administrator chooses (e.g. the 救急専用端末, the emergency summary's order
    /// and period), audited like [`Store::set_setting`]. With a facility-wide store it is written on the
    /// facility server first and read from every terminal's cache ([`Store::setting`]); while the server
    /// cannot be reached it is refused with [`StoreError::SharedUnavailable`] and nothing is written. On a
    /// single terminal it is [`Store::set_setting`].
    pub fn set_facility_setting(
        &self,
        key: &str,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let Some(link) = &self.shared else {
            return self.write_setting(key, value, actor, now, None);
        };
        let pg = link
            .begin_authority()
            .map_err(StoreError::SharedUnavailable)?;
        self.write_setting(key, value, actor, now, Some(pg))
    }

    /// Writes the setting and its audit row; with `facility`, on the facility server too, which commits
    /// first (the old value in the audit row is then the facility's).
    fn write_setting(
        &self,
        key: &str,
        value: &str,
        actor: &str,
        now: i64,
        mut facility: Option<AuthorityTx<'_>>,
    ) -> Result<(), StoreError> {
        let facility_old = match facility.as_mut() {
            Some(pg) => Some(pg.setting(key).map_err(StoreError::SharedUnavailable)?),
            None => None,
        };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let old: Option<String> = match facility_old {
            Some(old) => old,
            None => tx
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
        };
        tx.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3",
            params![key, value, now],
        )?;
        let detail = serde_json::json!({ "key": key, "old": old, "new": value }).to_string();
        let entry = AuditEntry {
            actor: actor.to_string(),
            action: "setting_changed".into(),
            detail: Some(detail),
            ..AuditEntry::default()
        };
        append_in(&tx, &self.keys, &entry, now)?;
        if let Some(mut pg) = facility {
            pg.put_setting(key, value, now)
                .and_then(|()| pg.commit())
                .map_err(StoreError::SharedUnavailable)?;
        }
        tx.commit()?;
        self.follow_head_locked(&conn);
        Ok(())
    }
}
