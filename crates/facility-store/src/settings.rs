//! Facility settings as key/value text (environment settings fetched from the central service, local choices).

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::audit::{AuditEntry, append_in};
use crate::error::StoreError;

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

    /// Sets a setting and logs the change (actor, key, old and new value) in the audit log, in one
    /// transaction: a change is never made without its audit row.
    pub fn set_setting(
        &self,
        key: &str,
        value: &str,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let old: Option<String> = tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
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
        tx.commit()?;
        drop(conn);
        self.follow_head();
        Ok(())
    }
}
