//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each entry moves the schema from version `i` to `i + 1` inside one transaction. Never edit a released entry:
//! add a new one.

use rusqlite::Connection;

use crate::error::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;

    -- Request files of the relay. request_name (the file name) is the idempotency key.
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        request_name    TEXT NOT NULL UNIQUE,
        kind            TEXT NOT NULL,
        processing_path TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('received', 'sending', 'answered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        received_at     INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        last_error      TEXT,
        result_name     TEXT
    ) STRICT;
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

    -- Results of relay requests; the body holds identifiers and is encrypted.
    CREATE TABLE query_results (
        request_name TEXT PRIMARY KEY,
        kind         TEXT NOT NULL,
        answered_at  INTEGER NOT NULL,
        status       TEXT NOT NULL,
        result_name  TEXT,
        body_enc     BLOB NOT NULL
    ) STRICT;

    -- Kiosk check-ins. Identifiers and the result document are encrypted; patient_key is a keyed HMAC of
    -- insurer number + 記号 + 番号 + birth date for lookups without decryption.
    CREATE TABLE check_ins (
        check_in_id  TEXT PRIMARY KEY,
        at           INTEGER NOT NULL,
        reader       TEXT NOT NULL,
        method       TEXT NOT NULL,
        status       TEXT NOT NULL,
        patient_key  BLOB,
        patient_enc  BLOB,
        result_enc   BLOB,
        updated_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX check_ins_at ON check_ins (at);
    CREATE INDEX check_ins_status ON check_ins (status);
    CREATE INDEX check_ins_patient ON check_ins (patient_key);

    CREATE TABLE consents (
        id          INTEGER PRIMARY KEY,
        patient_key BLOB NOT NULL,
        item        TEXT NOT NULL,
        granted_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        check_in_id TEXT
    ) STRICT;
    CREATE INDEX consents_patient ON consents (patient_key, expires_at);

    CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE accounts (
        id                   INTEGER PRIMARY KEY,
        login                TEXT NOT NULL UNIQUE,
        display_name         TEXT NOT NULL,
        role                 TEXT NOT NULL CHECK (role IN ('staff', 'administrator', 'medical_information_viewer')),
        emergency_permission INTEGER NOT NULL DEFAULT 0,
        password_hash        TEXT NOT NULL,
        totp_secret_enc      BLOB,
        failed_attempts      INTEGER NOT NULL DEFAULT 0,
        locked_until         INTEGER,
        disabled             INTEGER NOT NULL DEFAULT 0,
        created_at           INTEGER NOT NULL,
        updated_at           INTEGER NOT NULL
    ) STRICT;

    -- Append-only, hash-chained. hash = SHA-256(prev_hash || row fields); seal = keyed HMAC of hash, so the
    -- chain cannot be recomputed by someone who can edit the file but has no data key.
    CREATE TABLE audit_log (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          INTEGER NOT NULL,
        actor       TEXT NOT NULL,
        action      TEXT NOT NULL,
        patient_ref TEXT,
        items       TEXT,
        method      TEXT,
        reason      TEXT,
        detail      TEXT,
        prev_hash   BLOB NOT NULL,
        hash        BLOB NOT NULL,
        seal        BLOB NOT NULL
    ) STRICT;
    CREATE INDEX audit_patient ON audit_log (patient_ref);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    "#,
    // 2: a name typed at reception for a check-in whose name the central service showed with ● (外字);
    // encrypted like the other identifiers.
    r#"
    ALTER TABLE check_ins ADD COLUMN local_name_enc BLOB;
    "#,
    // 3: every store has a sealed audit head from now on, the genesis head for an empty log. Sealing needs the
    // data key, so the migration only marks the store; `Store::open` seals once it has the key.
    r#"
    INSERT INTO meta (key, value) VALUES ('audit_head_unsealed', x'01') ON CONFLICT (key) DO NOTHING;
    "#,
    // 4: the TOTP step of the last accepted code, so a code is not accepted twice, even across a
    // restart of the daemon.
    r#"
    ALTER TABLE accounts ADD COLUMN totp_last_step INTEGER;
    "#,
    // 5: the account kinds of the national system (マスタアカウント and its リセット用アカウント), a password
    // that must be changed at the next login, and the last login. SQLite cannot change a CHECK, so the table
    // is rebuilt; nothing refers to it by key.
    r#"
    CREATE TABLE accounts_v5 (
        id                   INTEGER PRIMARY KEY,
        login                TEXT NOT NULL UNIQUE,
        display_name         TEXT NOT NULL,
        role                 TEXT NOT NULL CHECK (role IN ('staff', 'administrator', 'medical_information_viewer',
                                                           'master', 'master_reset')),
        emergency_permission INTEGER NOT NULL DEFAULT 0,
        password_hash        TEXT NOT NULL,
        totp_secret_enc      BLOB,
        failed_attempts      INTEGER NOT NULL DEFAULT 0,
        locked_until         INTEGER,
        disabled             INTEGER NOT NULL DEFAULT 0,
        created_at           INTEGER NOT NULL,
        updated_at           INTEGER NOT NULL,
        totp_last_step       INTEGER,
        must_change_password INTEGER NOT NULL DEFAULT 0,
        last_login_at        INTEGER
    ) STRICT;
    INSERT INTO accounts_v5 (id, login, display_name, role, emergency_permission, password_hash, totp_secret_enc,
                             failed_attempts, locked_until, disabled, created_at, updated_at, totp_last_step)
        SELECT id, login, display_name, role, emergency_permission, password_hash, totp_secret_enc,
               failed_attempts, locked_until, disabled, created_at, updated_at, totp_last_step FROM accounts;
    DROP TABLE accounts;
    ALTER TABLE accounts_v5 RENAME TO accounts;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`SCHEMA_VERSION`]; refuses a database from a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 5 rebuilds `accounts`: the accounts of a version-4 store keep every field, need no password
    /// change, and the table then takes the master roles.
    #[test]
    fn accounts_survive_the_rebuild_of_migration_5() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO accounts (login, display_name, role, emergency_permission, password_hash,
                                   failed_attempts, locked_until, disabled, created_at, updated_at, totp_last_step)
             VALUES ('dr', '医師', 'medical_information_viewer', 1, '$argon2id$x', 2, 99, 0, 10, 11, 7)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let row: (
            String,
            bool,
            u32,
            Option<i64>,
            Option<i64>,
            bool,
            Option<i64>,
        ) = conn
            .query_row(
                "SELECT role, emergency_permission, failed_attempts, locked_until, totp_last_step,
                        must_change_password, last_login_at FROM accounts WHERE login = 'dr'",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            row,
            (
                "medical_information_viewer".into(),
                true,
                2,
                Some(99),
                Some(7),
                false,
                None
            )
        );
        conn.execute(
            "INSERT INTO accounts (login, display_name, role, password_hash, created_at, updated_at)
             VALUES ('m', 'm', 'master', 'h', 1, 1)",
            [],
        )
        .unwrap();
    }
}
