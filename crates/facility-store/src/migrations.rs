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
    // 6: what must still reach the facility-wide store (`[store] shared`), written in the transaction of
    // the local change; empty on a terminal without one. kind 'check_in' names a check-in id, 'consent' a
    // consents row id.
    r#"
    CREATE TABLE shared_outbox (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        kind    TEXT NOT NULL,
        row_key TEXT NOT NULL
    ) STRICT;
    "#,
    // 7: 受診区分 of a visit as reception tagged it (`outpatient` 外来, `home_visit` 訪問, `online` オンライン);
    // the 閲覧 requests made for the visit carry the matching `MedicalTreatmentFlag`.
    r#"
    ALTER TABLE check_ins ADD COLUMN visit TEXT NOT NULL DEFAULT 'outpatient';
    "#,
    // 8: 要再確認: visits whose qualification could not be confirmed (無効, 該当資格なし, reader fault,
    // outage), the path reception took under 保発0710第1号 and the numbers to check again (encrypted), until a
    // re-check confirms them or a staff member closes them. `state` is `open`, `confirmed` or `closed`.
    r#"
    CREATE TABLE unconfirmed (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        opened_at       INTEGER NOT NULL,
        opened_by       TEXT NOT NULL,
        check_in_id     TEXT,
        reason          TEXT NOT NULL,
        path            TEXT NOT NULL,
        share           INTEGER,
        patient_key     BLOB,
        claim_enc       BLOB NOT NULL,
        state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'confirmed', 'closed')),
        checks          INTEGER NOT NULL DEFAULT 0,
        last_checked_at INTEGER,
        last_outcome    TEXT,
        outcome_enc     BLOB,
        resolved_at     INTEGER,
        resolved_by     TEXT,
        resolution      TEXT
    ) STRICT;
    CREATE INDEX unconfirmed_state ON unconfirmed (state, opened_at);
    "#,
    // 9: the facility-wide stores this terminal has joined (by its terminal id there): the check-ins and
    // consents it held before are queued for it once, at the first start with `[store] shared`.
    r#"
    CREATE TABLE shared_joined (
        terminal_id TEXT PRIMARY KEY,
        joined_at   INTEGER NOT NULL
    ) STRICT;
    "#,
    // 10: when the card's 利用者証明用 certificate expires (ms), for the renewal slip: the card's own date,
    // not an identifier of the patient.
    r#"
    ALTER TABLE check_ins ADD COLUMN certificate_expiry INTEGER;
    "#,
];

/// The facility-wide store's schema on PostgreSQL, versioned like [`MIGRATIONS`] (in `schema_version`).
/// Rows are keyed by the terminal that wrote them and that terminal's own key, which makes every copy from
/// a terminal's outbox idempotent. Identifiers are the terminal's sealed bytes as they are (`*_enc`).
const SHARED_MIGRATIONS: &[&str] = &[
    // 1: check-ins and consents of every terminal.
    r#"
    CREATE TABLE facility (
        key   TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
    CREATE TABLE check_ins (
        terminal_id    TEXT NOT NULL,
        check_in_id    TEXT NOT NULL,
        at             BIGINT NOT NULL,
        reader         TEXT NOT NULL,
        method         TEXT NOT NULL,
        status         TEXT NOT NULL,
        patient_key    BYTEA,
        patient_enc    BYTEA,
        result_enc     BYTEA,
        local_name_enc BYTEA,
        updated_at     BIGINT NOT NULL,
        PRIMARY KEY (terminal_id, check_in_id)
    );
    CREATE INDEX check_ins_at ON check_ins (at);
    CREATE INDEX check_ins_id ON check_ins (check_in_id);
    CREATE INDEX check_ins_patient ON check_ins (patient_key);
    CREATE TABLE consents (
        terminal_id TEXT NOT NULL,
        local_id    BIGINT NOT NULL,
        patient_key BYTEA NOT NULL,
        item        TEXT NOT NULL,
        granted_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL,
        check_in_id TEXT,
        PRIMARY KEY (terminal_id, local_id)
    );
    CREATE INDEX consents_patient ON consents (patient_key, expires_at);
    CREATE INDEX consents_expiry ON consents (expires_at);
    "#,
    // 2: every terminal's audit chain, rows as the terminal wrote them (hash and seal included), so that
    // each chain can be verified on its own; append-only like the local log.
    r#"
    CREATE TABLE audit_log (
        terminal_id TEXT NOT NULL,
        id          BIGINT NOT NULL,
        at          BIGINT NOT NULL,
        actor       TEXT NOT NULL,
        action      TEXT NOT NULL,
        patient_ref TEXT,
        items       TEXT,
        method      TEXT,
        reason      TEXT,
        detail      TEXT,
        prev_hash   BYTEA NOT NULL,
        hash        BYTEA NOT NULL,
        seal        BYTEA NOT NULL,
        PRIMARY KEY (terminal_id, id)
    );
    CREATE INDEX audit_log_patient ON audit_log (patient_ref);
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    "#,
    // 3: a check-in written or changed at any terminal is announced on channel `oqs_check_ins` (payload
    // `<terminal id> <check-in id>`), so the other terminals' reception windows show it at once.
    r#"
    CREATE FUNCTION check_ins_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('oqs_check_ins', NEW.terminal_id || ' ' || NEW.check_in_id); RETURN NEW; END $$;
    CREATE TRIGGER check_ins_notify AFTER INSERT OR UPDATE ON check_ins
        FOR EACH ROW EXECUTE FUNCTION check_ins_notify();
    "#,
    // 4: 受診区分 of each check-in, as in the terminal's migration 7.
    r#"
    ALTER TABLE check_ins ADD COLUMN visit TEXT NOT NULL DEFAULT 'outpatient';
    "#,
    // 5: each terminal's chain head as it copied it (id and hash of its newest row in `audit_log`, sealed
    // with the audit key), so that rows removed from the end of a chain are found like the local log's.
    r#"
    CREATE TABLE audit_heads (
        terminal_id TEXT PRIMARY KEY,
        head_id     BIGINT NOT NULL,
        head        BYTEA NOT NULL
    );
    "#,
    // 6: the facility's accounts and the settings its administrators choose. Here they are authoritative:
    // every terminal's `accounts` table is a cache of this one (the same columns; password hashes and
    // TOTP secrets as the terminals seal them, never in clear), and a change reaches this table before any
    // terminal's. Writers take turns through `pg_advisory_xact_lock(7361627)`. Each change is announced on
    // `oqs_accounts` / `oqs_settings`, so every terminal refreshes its cache at once.
    r#"
    CREATE TABLE accounts (
        id                   BIGINT PRIMARY KEY,
        login                TEXT NOT NULL UNIQUE,
        display_name         TEXT NOT NULL,
        role                 TEXT NOT NULL CHECK (role IN ('staff', 'administrator', 'medical_information_viewer',
                                                           'master', 'master_reset')),
        emergency_permission BOOLEAN NOT NULL DEFAULT false,
        password_hash        TEXT NOT NULL,
        totp_secret_enc      BYTEA,
        failed_attempts      BIGINT NOT NULL DEFAULT 0,
        locked_until         BIGINT,
        disabled             BOOLEAN NOT NULL DEFAULT false,
        created_at           BIGINT NOT NULL,
        updated_at           BIGINT NOT NULL,
        totp_last_step       BIGINT,
        must_change_password BOOLEAN NOT NULL DEFAULT false,
        last_login_at        BIGINT
    );
    CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE FUNCTION accounts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('oqs_accounts', ''); RETURN NULL; END $$;
    CREATE TRIGGER accounts_notify AFTER INSERT OR UPDATE OR DELETE ON accounts
        FOR EACH STATEMENT EXECUTE FUNCTION accounts_notify();
    CREATE FUNCTION settings_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('oqs_settings', ''); RETURN NULL; END $$;
    CREATE TRIGGER settings_notify AFTER INSERT OR UPDATE OR DELETE ON settings
        FOR EACH STATEMENT EXECUTE FUNCTION settings_notify();
    "#,
    // 7: the emergency-view review reads every terminal's rows of some actions in a period.
    r#"
    CREATE INDEX audit_log_action_at ON audit_log (action, at);
    "#,
    // 8: the card certificate's expiry of a check-in, as the terminal's migration 10.
    r#"
    ALTER TABLE check_ins ADD COLUMN certificate_expiry BIGINT;
    "#,
];

/// The advisory lock under which accounts and facility settings change on the facility server.
pub(crate) const AUTHORITY_LOCK: i64 = 7361627;

/// The facility-wide schema version this build writes.
pub const SHARED_SCHEMA_VERSION: i64 = SHARED_MIGRATIONS.len() as i64;

/// Brings the facility-wide schema up to [`SHARED_SCHEMA_VERSION`] (terminals starting together take turns
/// through an advisory lock) and checks that the database belongs to this data key: the first terminal
/// records the key's check value, every other one must match it.
pub(crate) async fn migrate_shared(
    client: &mut tokio_postgres::Client,
    key_check: &[u8],
) -> Result<(), String> {
    let err = |e: tokio_postgres::Error| e.to_string();
    let tx = client.transaction().await.map_err(err)?;
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(7361626);
         CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);",
    )
    .await
    .map_err(err)?;
    let current: i64 = tx
        .query_opt("SELECT version FROM schema_version", &[])
        .await
        .map_err(err)?
        .map(|r| r.get(0))
        .unwrap_or(0);
    if current > SHARED_SCHEMA_VERSION {
        return Err(crate::shared::SharedError::NewerSchema {
            found: current,
            supported: SHARED_SCHEMA_VERSION,
        }
        .to_string());
    }
    for sql in SHARED_MIGRATIONS.iter().skip(current.max(0) as usize) {
        tx.batch_execute(sql).await.map_err(err)?;
    }
    tx.execute("DELETE FROM schema_version", &[])
        .await
        .map_err(err)?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&SHARED_SCHEMA_VERSION.max(current)],
    )
    .await
    .map_err(err)?;
    tx.execute(
        "INSERT INTO facility (key, value) VALUES ('key_check', $1) ON CONFLICT (key) DO NOTHING",
        &[&key_check],
    )
    .await
    .map_err(err)?;
    let stored: Vec<u8> = tx
        .query_one("SELECT value FROM facility WHERE key = 'key_check'", &[])
        .await
        .map_err(err)?
        .get(0);
    if stored != key_check {
        return Err(crate::shared::SharedError::KeyMismatch.to_string());
    }
    tx.commit().await.map_err(err)
}

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
