//! Accounts and the administrators' facility settings on the facility server (`[store] shared`): the rows as
//! they travel between a terminal's SQLite cache and PostgreSQL, which is their authority.
//!
//! - A change (a new account, a role, a password, a second factor, disabled, unlocked; a facility setting)
//!   is made inside a PostgreSQL transaction holding [`crate::migrations::AUTHORITY_LOCK`]: the terminal
//!   loads the facility's rows into its cache, makes the change there with the same code as a single
//!   terminal, sends what differs, and commits PostgreSQL before its own SQLite. With PostgreSQL away the
//!   change is refused ([`crate::StoreError::SharedUnavailable`]) and nothing is written.
//! - Logins count failures and lock accounts facility-wide the same way (five wrong passwords spread over
//!   five terminals lock the account everywhere); while PostgreSQL is away they count on this terminal's
//!   cache, which the facility's rows replace when it returns.
//! - Every terminal refreshes its cache when it connects and whenever PostgreSQL announces a change
//!   (`oqs_accounts`, `oqs_settings`), so lists and sessions see another terminal's change at once.
//! - The first terminal to reach a facility server without accounts gives it its own (a clinic growing into
//!   several terminals keeps its accounts); from then on a terminal's own rows give way to the facility's.

use rusqlite::{Connection, params};
use tokio_postgres::Client;

/// One `accounts` row, every column, as both tables hold it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccountRow {
    id: i64,
    login: String,
    display_name: String,
    role: String,
    emergency_permission: bool,
    password_hash: String,
    totp_secret_enc: Option<Vec<u8>>,
    failed_attempts: i64,
    locked_until: Option<i64>,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
    totp_last_step: Option<i64>,
    must_change_password: bool,
    last_login_at: Option<i64>,
}

const COLUMNS: &str = "id, login, display_name, role, emergency_permission, password_hash, totp_secret_enc, \
                       failed_attempts, locked_until, disabled, created_at, updated_at, totp_last_step, \
                       must_change_password, last_login_at";

/// This terminal's cached accounts, by id.
pub(crate) fn local_accounts(conn: &Connection) -> rusqlite::Result<Vec<AccountRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM accounts ORDER BY id"))?;
    let rows = stmt.query_map([], |r| {
        Ok(AccountRow {
            id: r.get(0)?,
            login: r.get(1)?,
            display_name: r.get(2)?,
            role: r.get(3)?,
            emergency_permission: r.get(4)?,
            password_hash: r.get(5)?,
            totp_secret_enc: r.get(6)?,
            failed_attempts: r.get(7)?,
            locked_until: r.get(8)?,
            disabled: r.get(9)?,
            created_at: r.get(10)?,
            updated_at: r.get(11)?,
            totp_last_step: r.get(12)?,
            must_change_password: r.get(13)?,
            last_login_at: r.get(14)?,
        })
    })?;
    rows.collect()
}

/// Makes the cache hold exactly `rows` (inside the caller's transaction); nothing is written when it does.
pub(crate) fn replace_local_accounts(
    conn: &Connection,
    rows: &[AccountRow],
) -> rusqlite::Result<()> {
    if local_accounts(conn)? == rows {
        return Ok(());
    }
    conn.execute("DELETE FROM accounts", [])?;
    let mut insert = conn.prepare(&format!(
        "INSERT INTO accounts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))?;
    for a in rows {
        insert.execute(params![
            a.id,
            a.login,
            a.display_name,
            a.role,
            a.emergency_permission,
            a.password_hash,
            a.totp_secret_enc,
            a.failed_attempts,
            a.locked_until,
            a.disabled,
            a.created_at,
            a.updated_at,
            a.totp_last_step,
            a.must_change_password,
            a.last_login_at,
        ])?;
    }
    Ok(())
}

/// The facility's accounts, by id.
pub(crate) async fn facility_accounts(
    client: &Client,
) -> Result<Vec<AccountRow>, tokio_postgres::Error> {
    let rows = client
        .query(&format!("SELECT {COLUMNS} FROM accounts ORDER BY id"), &[])
        .await?;
    Ok(rows
        .iter()
        .map(|r| AccountRow {
            id: r.get(0),
            login: r.get(1),
            display_name: r.get(2),
            role: r.get(3),
            emergency_permission: r.get(4),
            password_hash: r.get(5),
            totp_secret_enc: r.get(6),
            failed_attempts: r.get(7),
            locked_until: r.get(8),
            disabled: r.get(9),
            created_at: r.get(10),
            updated_at: r.get(11),
            totp_last_step: r.get(12),
            must_change_password: r.get(13),
            last_login_at: r.get(14),
        })
        .collect())
}

/// Sends what differs between `before` (the facility's rows) and `after` (the cache once changed): new and
/// changed rows, and the ids that are gone.
pub(crate) async fn put_facility_accounts(
    client: &Client,
    before: &[AccountRow],
    after: &[AccountRow],
) -> Result<(), tokio_postgres::Error> {
    for gone in before
        .iter()
        .filter(|b| !after.iter().any(|a| a.id == b.id))
    {
        client
            .execute("DELETE FROM accounts WHERE id = $1", &[&gone.id])
            .await?;
    }
    for a in after.iter().filter(|a| !before.contains(a)) {
        client
            .execute(
                &format!(
                    "INSERT INTO accounts ({COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                     ON CONFLICT (id) DO UPDATE SET login = $2, display_name = $3, role = $4,
                         emergency_permission = $5, password_hash = $6, totp_secret_enc = $7,
                         failed_attempts = $8, locked_until = $9, disabled = $10, created_at = $11,
                         updated_at = $12, totp_last_step = $13, must_change_password = $14,
                         last_login_at = $15"
                ),
                &[
                    &a.id,
                    &a.login,
                    &a.display_name,
                    &a.role,
                    &a.emergency_permission,
                    &a.password_hash,
                    &a.totp_secret_enc,
                    &a.failed_attempts,
                    &a.locked_until,
                    &a.disabled,
                    &a.created_at,
                    &a.updated_at,
                    &a.totp_last_step,
                    &a.must_change_password,
                    &a.last_login_at,
                ],
            )
            .await?;
    }
    Ok(())
}

/// Every facility setting: (key, value, updated_at).
pub(crate) type SettingRow = (String, String, i64);

pub(crate) async fn facility_settings(
    client: &Client,
) -> Result<Vec<SettingRow>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT key, value, updated_at FROM settings ORDER BY key",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Puts the facility's settings into this terminal's settings table (the terminal's own keys stay).
pub(crate) fn cache_settings(conn: &Connection, rows: &[SettingRow]) -> rusqlite::Result<()> {
    let mut upsert = conn.prepare(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3
         WHERE settings.value IS NOT ?2 OR settings.updated_at IS NOT ?3",
    )?;
    for (key, value, at) in rows {
        upsert.execute(params![key, value, at])?;
    }
    Ok(())
}
