//! Staff accounts: roles, the emergency-viewing permission, Argon2id passwords, an encrypted TOTP secret, and
//! lockout after repeated failures.
//!
//! Verifying the TOTP code itself is the caller's job (it holds the clock and the TOTP library); failures of
//! either factor count towards the same lockout through [`Store::record_login_failure`].

use std::sync::atomic::Ordering;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use os_keyring::SecretBytes;
use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, params};
use zeroize::Zeroizing;

use crate::Store;
use crate::audit::{AuditEntry, append_in};
use crate::error::StoreError;

/// What an account may do (the account kinds of seeds 001/003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 受付: reception staff.
    Staff,
    /// 管理アカウント.
    Administrator,
    /// 医療情報閲覧者: may view consented medical information.
    MedicalInformationViewer,
    /// マスタアカウント: made at set-up; administers the other accounts (sees their IDs, resets their
    /// passwords) and nothing else.
    Master,
    /// マスタアカウントリセット用アカウント: its password is the 4-digit 秘密の番号; it can only reset the
    /// master's password.
    MasterReset,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Administrator => "administrator",
            Role::MedicalInformationViewer => "medical_information_viewer",
            Role::Master => "master",
            Role::MasterReset => "master_reset",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "staff" => Role::Staff,
            "administrator" => Role::Administrator,
            "medical_information_viewer" => Role::MedicalInformationViewer,
            "master" => Role::Master,
            "master_reset" => Role::MasterReset,
            other => return Err(StoreError::Corrupt(format!("account role '{other}'"))),
        })
    }
}

/// An account as the application sees it (no hash, no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// 救急時医療情報閲覧権限, granted by an administrator.
    pub emergency_permission: bool,
    pub totp_enrolled: bool,
    pub failed_attempts: u32,
    pub locked_until: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
    /// The password was set by someone else (set-up or a reset): the next login may only change it.
    pub must_change_password: bool,
    /// The last complete login (ms since the epoch).
    pub last_login_at: Option<i64>,
}

/// Input of [`Store::create_account`].
pub struct NewAccount<'a> {
    pub login: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password: &'a str,
}

impl std::fmt::Debug for NewAccount<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("login", &self.login)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// After `max_failures` consecutive failures the account is locked for `lock_millis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_millis: i64,
}

/// How long the リセット用アカウント stays locked at least: its password has only 10,000 values, so it may
/// be tried a few times a day, not a few times every quarter of an hour.
pub const SECRET_NUMBER_LOCK_MILLIS: i64 = 24 * 60 * 60 * 1000;

impl LockoutPolicy {
    /// The policy of the リセット用アカウント: the same count of tries, a lock of at least a day.
    pub fn for_secret_number(self) -> Self {
        Self {
            max_failures: self.max_failures,
            lock_millis: self.lock_millis.max(SECRET_NUMBER_LOCK_MILLIS),
        }
    }
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            lock_millis: 15 * 60 * 1000,
        }
    }
}

/// The result of a password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The password is right; the failure counter was reset. The second factor is still to be checked.
    PasswordAccepted(Account),
    /// Wrong password (or wrong second factor); `attempts_left` before the account locks.
    Rejected {
        attempts_left: u32,
    },
    /// Locked until this time, whatever the password.
    LockedOut {
        until: i64,
    },
    /// No such account. Takes as long as a wrong password, so logins cannot be probed by timing.
    UnknownAccount,
    Disabled,
}

const ACCOUNT_COLUMNS: &str = "id, login, display_name, role, emergency_permission, totp_secret_enc IS NOT NULL, \
                               failed_attempts, locked_until, disabled, created_at, must_change_password, \
                               last_login_at";

fn account_row(row: &Row<'_>) -> rusqlite::Result<(Account, String)> {
    let role: String = row.get(3)?;
    Ok((
        Account {
            id: row.get(0)?,
            login: row.get(1)?,
            display_name: row.get(2)?,
            role: Role::Staff,
            emergency_permission: row.get(4)?,
            totp_enrolled: row.get(5)?,
            failed_attempts: row.get(6)?,
            locked_until: row.get(7)?,
            disabled: row.get(8)?,
            created_at: row.get(9)?,
            must_change_password: row.get(10)?,
            last_login_at: row.get(11)?,
        },
        role,
    ))
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::PasswordHash(e.to_string()))
}

fn password_matches(password: &str, stored: &str) -> Result<bool, StoreError> {
    let parsed = PasswordHash::new(stored)
        .map_err(|e| StoreError::Corrupt(format!("password hash: {e}")))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A hash to verify against when the account does not exist, is disabled or is locked, so that every refused
/// login costs one Argon2 verification like a wrong password does. Made with `Argon2::default()` (the
/// parameters of real hashes; a unit test keeps them in step), fixed so that the first unknown login does not
/// pay for hashing it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3FzLWR1bW15LXNhbHQ$Wx7wQ2tC1mD1Wm6w7Vl9B8xq6mVq0b5m1m0sJ8m5u2s";

/// Spends the time of one password verification without looking at any account.
fn dummy_verification(password: &str) {
    let _ = password_matches(password, DUMMY_HASH);
}

/// What [`Store::reserve_attempt`] found.
enum Reservation {
    /// This attempt is already counted as a failure; `hash` is the stored password hash to check.
    Counted {
        hash: Zeroizing<String>,
        failures: u32,
        locked_until: Option<i64>,
    },
    /// Refused without checking the password.
    Refused(LoginOutcome),
}

/// An audit row for a change to `login`'s account.
fn account_entry(actor: &str, action: &str, login: &str, detail: &str) -> AuditEntry {
    AuditEntry {
        actor: actor.to_string(),
        action: action.to_string(),
        detail: Some(if detail.is_empty() {
            format!("account={login}")
        } else {
            format!("account={login} {detail}")
        }),
        ..AuditEntry::default()
    }
}

/// Runs one UPDATE of `login`'s row inside `tx`; an unknown account is [`StoreError::NotFound`].
fn update_in(
    tx: &Transaction<'_>,
    login: &str,
    set: &str,
    params: impl rusqlite::Params,
) -> Result<(), StoreError> {
    let changed = tx.execute(
        &format!("UPDATE accounts SET {set} WHERE login = ?1"),
        params,
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {login}")));
    }
    Ok(())
}

fn account_in(tx: &Transaction<'_>, login: &str) -> Result<Account, StoreError> {
    let (mut account, role) = tx
        .query_row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login = ?1"),
            [login],
            account_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("account {login}")))?;
    account.role = Role::parse(&role)?;
    Ok(account)
}

/// Where a change to the accounts is made when the store is facility-wide (see `shared_accounts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authority {
    /// A change of an account by an administrator or its owner: on the facility server first; refused with
    /// [`StoreError::SharedUnavailable`] while it cannot be reached.
    Required,
    /// A login's bookkeeping (failures, lock, last login, the used one-time code): facility-wide when the
    /// facility server answers, on this terminal's cache when it does not, so that logins go on.
    Preferred,
}

impl Store {
    /// An account change and its audit row in one transaction (see [`Store::audited`]); with a
    /// facility-wide store, made on the facility server first and refused while it cannot be reached.
    fn account_change<T>(
        &self,
        entry: &AuditEntry,
        now: i64,
        change: impl Fn(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.account_tx(Authority::Required, Some(entry), now, change)
    }

    /// Runs `change` on the accounts table (with `entry` appended to the audit log) in one transaction.
    ///
    /// With a facility-wide store: inside a PostgreSQL transaction that holds the facility's lock for
    /// account changes, the cache is first made what PostgreSQL holds, `change` runs on it with the same
    /// code (and checks, such as the last administrator) as on a single terminal, the rows that differ go to
    /// PostgreSQL, which commits, and only then SQLite. PostgreSQL away: `Required` is refused with nothing
    /// written; `Preferred` runs on the cache alone. (Should SQLite fail to commit after PostgreSQL did, the
    /// change is in the facility's table without this terminal's audit row; the other order would leave a
    /// change written only here, which the design forbids.)
    fn account_tx<T>(
        &self,
        authority: Authority,
        entry: Option<&AuditEntry>,
        now: i64,
        change: impl Fn(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(link) = &self.shared else {
            return self.local_account_tx(entry, now, &change);
        };
        if authority == Authority::Preferred && !link.status().reachable {
            return self.local_account_tx(entry, now, &change);
        }
        let unreachable = |reason: String| match authority {
            Authority::Required => Err(StoreError::SharedUnavailable(reason)),
            Authority::Preferred => self.local_account_tx(entry, now, &change),
        };
        let mut pg = match link.begin_authority() {
            Ok(pg) => pg,
            Err(e) => return unreachable(e),
        };
        let facility = match pg.accounts() {
            Ok(rows) => rows,
            Err(e) => {
                drop(pg);
                return unreachable(e);
            }
        };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // A facility server without accounts takes this terminal's (see `shared_accounts`).
        if !facility.is_empty() {
            crate::shared_accounts::replace_local_accounts(&tx, &facility)?;
        }
        let out = change(&tx)?;
        if let Some(entry) = entry {
            append_in(&tx, &self.keys, entry, now)?;
        }
        let after = crate::shared_accounts::local_accounts(&tx)?;
        let sent = pg.put_accounts(facility, after).and_then(|()| pg.commit());
        if let Err(e) = sent {
            drop(tx);
            drop(conn);
            return unreachable(e);
        }
        tx.commit()?;
        if entry.is_some() {
            self.follow_head_locked(&conn);
        }
        Ok(out)
    }

    /// [`Store::account_tx`] on this terminal's table alone.
    fn local_account_tx<T>(
        &self,
        entry: Option<&AuditEntry>,
        now: i64,
        change: &impl Fn(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = change(&tx)?;
        if let Some(entry) = entry {
            append_in(&tx, &self.keys, entry, now)?;
        }
        tx.commit()?;
        if entry.is_some() {
            self.follow_head_locked(&conn);
        }
        Ok(out)
    }

    /// Runs `change` and appends `entry` to the audit log in one transaction: if either fails, nothing
    /// changes (a change is never made without its audit row, nor logged without being made).
    pub(crate) fn audited<T>(
        &self,
        entry: &AuditEntry,
        now: i64,
        change: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = change(&tx)?;
        append_in(&tx, &self.keys, entry, now)?;
        tx.commit()?;
        // The head kept outside the database follows the new row (see `Store::follow_head_locked`).
        self.follow_head_locked(&conn);
        Ok(out)
    }

    /// Creates an account with an Argon2id hash of `password`, and its audit row (`account_created`, by
    /// `actor`).
    pub fn create_account(
        &self,
        new: &NewAccount<'_>,
        actor: &str,
        now: i64,
    ) -> Result<Account, StoreError> {
        let hash = Zeroizing::new(hash_password(new.password)?);
        let entry = account_entry(
            actor,
            "account_created",
            new.login,
            &format!("role={}", new.role.as_str()),
        );
        self.account_change(&entry, now, |tx| {
            let inserted = tx.execute(
                "INSERT INTO accounts (login, display_name, role, password_hash, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (login) DO NOTHING",
                params![
                    new.login,
                    new.display_name,
                    new.role.as_str(),
                    hash.as_str(),
                    now
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::AccountExists(new.login.to_string()));
            }
            account_in(tx, new.login)
        })
    }

    /// The facility's first administrator (set-up, before anyone can log in): [`Store::create_account`]
    /// with the role administrator, refused with [`StoreError::AdministratorExists`] when an enabled
    /// administrator exists. With a facility-wide store "first" is first in the facility: checked on the
    /// facility server's accounts, in the change's own transaction.
    pub fn create_first_administrator(
        &self,
        login: &str,
        display_name: &str,
        password: &str,
        actor: &str,
        now: i64,
    ) -> Result<Account, StoreError> {
        let hash = Zeroizing::new(hash_password(password)?);
        let entry = account_entry(actor, "account_created", login, "role=administrator");
        self.account_change(&entry, now, |tx| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT login FROM accounts WHERE role = 'administrator' AND disabled = 0
                     ORDER BY id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(existing) = existing {
                return Err(StoreError::AdministratorExists(existing));
            }
            let inserted = tx.execute(
                "INSERT INTO accounts (login, display_name, role, password_hash, created_at, updated_at)
                 VALUES (?1, ?2, 'administrator', ?3, ?4, ?4) ON CONFLICT (login) DO NOTHING",
                params![login, display_name, hash.as_str(), now],
            )?;
            if inserted == 0 {
                return Err(StoreError::AccountExists(login.to_string()));
            }
            account_in(tx, login)
        })
    }

    pub fn account(&self, login: &str) -> Result<Option<Account>, StoreError> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login = ?1"),
                [login],
                account_row,
            )
            .optional()?;
        row.map(|(mut a, role)| {
            a.role = Role::parse(&role)?;
            Ok(a)
        })
        .transpose()
    }

    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY login"
        ))?;
        let rows = stmt.query_map([], account_row)?;
        rows.map(|row| {
            let (mut a, role) = row?;
            a.role = Role::parse(&role)?;
            Ok(a)
        })
        .collect()
    }

    /// How many stored password hashes have been checked since the store was opened (refused logins that
    /// never reach a hash are not counted): what the lockout limits, for tests and diagnostics.
    pub fn password_verifications(&self) -> u64 {
        self.password_verifications.load(Ordering::Relaxed)
    }

    /// Checks `password`, counting failures and locking the account per the [`LockoutPolicy`]; a right
    /// password resets the failure counter.
    pub fn verify_password(
        &self,
        login: &str,
        password: &str,
        now: i64,
    ) -> Result<LoginOutcome, StoreError> {
        self.check_password(login, password, now, true)
    }

    /// The first of two factors. The attempt is counted as a failure before the password is checked (see
    /// [`Store::verify_password`]), and a right password leaves it counted: the caller ends the login with
    /// - [`Store::record_login_success`] once the login is complete (both factors, or an account without a
    ///   second factor),
    /// - [`Store::second_factor_failed`] when the one-time code is wrong (the counted attempt is that failure),
    /// - [`Store::release_login_attempt`] for a password-only session of an account with a second factor
    ///   (failures of the second factor stay counted: retyping the password does not wipe them).
    ///
    /// So parallel logins never test more passwords or codes than the policy allows.
    pub fn verify_first_factor(
        &self,
        login: &str,
        password: &str,
        now: i64,
    ) -> Result<LoginOutcome, StoreError> {
        self.check_password(login, password, now, false)
    }

    /// A complete login: the failure counter goes back to zero.
    pub fn record_login_success(&self, login: &str, now: i64) -> Result<(), StoreError> {
        self.account_tx(Authority::Preferred, None, now, |tx| {
            update_in(
                tx,
                login,
                "failed_attempts = 0, locked_until = NULL, last_login_at = ?2, updated_at = ?2",
                params![login, now],
            )
        })
    }

    /// Gives back the attempt a right password of [`Store::verify_first_factor`] counted; lifts the lock
    /// that attempt set, and no other.
    pub fn release_login_attempt(&self, login: &str, now: i64) -> Result<(), StoreError> {
        self.account_tx(Authority::Preferred, None, now, |tx| {
            update_in(
                tx,
                login,
                "failed_attempts = MAX(failed_attempts - 1, 0),
                 locked_until = CASE WHEN failed_attempts - 1 < ?3 THEN NULL ELSE locked_until END,
                 last_login_at = ?2, updated_at = ?2",
                params![login, now, self.lockout.max_failures],
            )
        })
    }

    /// A wrong one-time code after [`Store::verify_first_factor`] accepted the password: the attempt that
    /// call counted is this failure. Answers whether the account is now locked.
    pub fn second_factor_failed(&self, login: &str, now: i64) -> Result<LoginOutcome, StoreError> {
        let row: Option<(u32, Option<i64>)> = self
            .conn()
            .query_row(
                "SELECT failed_attempts, locked_until FROM accounts WHERE login = ?1",
                [login],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((failures, locked_until)) = row else {
            return Ok(LoginOutcome::UnknownAccount);
        };
        Ok(match locked_until.filter(|&until| until > now) {
            Some(until) => LoginOutcome::LockedOut { until },
            None => LoginOutcome::Rejected {
                attempts_left: self.lockout.max_failures.saturating_sub(failures),
            },
        })
    }

    /// Counts one attempt as failed before its password is checked, in one transaction, so that logins
    /// running in parallel cannot all pass a lock check made before any of them failed.
    fn reserve_attempt(&self, login: &str, now: i64) -> Result<Reservation, StoreError> {
        self.account_tx(Authority::Preferred, None, now, |tx| {
            self.reserve_attempt_in(tx, login, now)
        })
    }

    fn reserve_attempt_in(
        &self,
        tx: &Transaction<'_>,
        login: &str,
        now: i64,
    ) -> Result<Reservation, StoreError> {
        let policy = self.lockout;
        let row: Option<(String, bool, u32, Option<i64>, String)> = tx
            .query_row(
                "SELECT password_hash, disabled, failed_attempts, locked_until, role FROM accounts WHERE login = ?1",
                [login],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((hash, disabled, failures, locked_until, role)) = row else {
            return Ok(Reservation::Refused(LoginOutcome::UnknownAccount));
        };
        let policy = if role == Role::MasterReset.as_str() {
            policy.for_secret_number()
        } else {
            policy
        };
        let hash = Zeroizing::new(hash);
        if disabled {
            return Ok(Reservation::Refused(LoginOutcome::Disabled));
        }
        if let Some(until) = locked_until.filter(|&until| until > now) {
            return Ok(Reservation::Refused(LoginOutcome::LockedOut { until }));
        }
        // An expired lock starts a new count.
        let before = if locked_until.is_some() { 0 } else { failures };
        let failures = before.saturating_add(1);
        if failures > policy.max_failures {
            // Only after the policy was lowered: lock without checking.
            let until = now.saturating_add(policy.lock_millis);
            tx.execute(
                "UPDATE accounts SET locked_until = ?2, updated_at = ?3 WHERE login = ?1",
                params![login, until, now],
            )?;
            return Ok(Reservation::Refused(LoginOutcome::LockedOut { until }));
        }
        // The last allowed attempt locks at once; a right password lifts it again.
        let locked_until =
            (failures >= policy.max_failures).then(|| now.saturating_add(policy.lock_millis));
        tx.execute(
            "UPDATE accounts SET failed_attempts = ?2, locked_until = ?3, updated_at = ?4 WHERE login = ?1",
            params![login, failures, locked_until, now],
        )?;
        Ok(Reservation::Counted {
            hash,
            failures,
            locked_until,
        })
    }

    fn check_password(
        &self,
        login: &str,
        password: &str,
        now: i64,
        reset: bool,
    ) -> Result<LoginOutcome, StoreError> {
        let (hash, failures, locked_until) = match self.reserve_attempt(login, now)? {
            Reservation::Refused(outcome) => {
                dummy_verification(password);
                return Ok(outcome);
            }
            Reservation::Counted {
                hash,
                failures,
                locked_until,
            } => (hash, failures, locked_until),
        };
        // The slow hash runs outside the connection's lock: other requests are not held up by it.
        self.password_verifications.fetch_add(1, Ordering::Relaxed);
        if password_matches(password, &hash)? {
            if reset {
                self.record_login_success(login, now)?;
            }
            let account = self
                .account(login)?
                .ok_or_else(|| StoreError::NotFound(format!("account {login}")))?;
            return Ok(LoginOutcome::PasswordAccepted(account));
        }
        Ok(match locked_until {
            Some(until) => LoginOutcome::LockedOut { until },
            None => LoginOutcome::Rejected {
                attempts_left: self.lockout.max_failures.saturating_sub(failures),
            },
        })
    }

    /// Counts a failed factor outside a login begun with [`Store::verify_first_factor`], and locks the
    /// account when the policy says so.
    pub fn record_login_failure(&self, login: &str, now: i64) -> Result<LoginOutcome, StoreError> {
        let policy = self.lockout;
        self.account_tx(Authority::Preferred, None, now, |tx| {
            let row: Option<(u32, Option<i64>)> = tx
                .query_row(
                    "UPDATE accounts SET
                        failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 THEN 1
                                               ELSE failed_attempts + 1 END,
                        locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 THEN NULL
                                            ELSE locked_until END,
                        updated_at = ?2
                     WHERE login = ?1 RETURNING failed_attempts, locked_until",
                    params![login, now],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((failures, locked_until)) = row else {
                return Ok(LoginOutcome::UnknownAccount);
            };
            Ok(if let Some(until) = locked_until.filter(|&until| until > now) {
                LoginOutcome::LockedOut { until }
            } else if failures >= policy.max_failures {
                let until = now.saturating_add(policy.lock_millis);
                tx.execute(
                    "UPDATE accounts SET locked_until = ?2 WHERE login = ?1",
                    params![login, until],
                )?;
                LoginOutcome::LockedOut { until }
            } else {
                LoginOutcome::Rejected {
                    attempts_left: policy.max_failures - failures,
                }
            })
        })
    }

    /// Records the TOTP step of an accepted code, if it is newer than the last one accepted for this account;
    /// `false` means the code (or an older one) was already used, even before a restart of the daemon.
    pub fn claim_totp_step(&self, login: &str, step: u64) -> Result<bool, StoreError> {
        let step = i64::try_from(step).map_err(|_| StoreError::Corrupt("TOTP step".into()))?;
        // Facility-wide when the facility server answers: a code used at one terminal is used at all.
        self.account_tx(Authority::Preferred, None, self.now_millis(), |tx| {
            let changed = tx.execute(
                "UPDATE accounts SET totp_last_step = ?2
                 WHERE login = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
                params![login, step],
            )?;
            Ok(changed == 1)
        })
    }

    /// An administrator lifts a lockout (audited as `account_unlocked` by `actor`).
    pub fn unlock_account(&self, login: &str, actor: &str, now: i64) -> Result<(), StoreError> {
        let entry = account_entry(actor, "account_unlocked", login, "");
        self.account_change(&entry, now, |tx| {
            update_in(
                tx,
                login,
                "failed_attempts = 0, locked_until = NULL, updated_at = ?2",
                params![login, now],
            )
        })
    }

    /// Sets a password chosen by someone else (audited as `password_reset` by `actor`): the owner must change
    /// it at the next login, and a lock from failed logins is lifted (the reset is the way back in).
    pub fn set_password(
        &self,
        login: &str,
        password: &str,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let hash = Zeroizing::new(hash_password(password)?);
        let entry = account_entry(actor, "password_reset", login, "");
        self.account_change(&entry, now, |tx| {
            update_in(
                tx,
                login,
                "password_hash = ?2, must_change_password = 1, failed_attempts = 0, locked_until = NULL,
                 updated_at = ?3",
                params![login, hash.as_str(), now],
            )
        })
    }

    /// The owner changes their own password (audited as `password_changed`); the duty to change it ends.
    /// The caller has checked the current password.
    pub fn change_own_password(
        &self,
        login: &str,
        password: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let hash = Zeroizing::new(hash_password(password)?);
        let entry = account_entry(login, "password_changed", login, "");
        self.account_change(&entry, now, |tx| {
            update_in(
                tx,
                login,
                "password_hash = ?2, must_change_password = 0, updated_at = ?3",
                params![login, hash.as_str(), now],
            )
        })
    }

    /// The set-up of a facility: the マスタアカウント (`master_login`, its password to be changed at the first
    /// login) and the リセット用アカウント (`reset_login`, whose password is the 秘密の番号), both or neither,
    /// with one audit row `master_accounts_created` by `setup`.
    pub fn create_master_accounts(
        &self,
        master_login: &str,
        master_password: &str,
        reset_login: &str,
        secret_number: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let master_hash = Zeroizing::new(hash_password(master_password)?);
        let reset_hash = Zeroizing::new(hash_password(secret_number)?);
        let entry = AuditEntry {
            actor: "setup".into(),
            action: "master_accounts_created".into(),
            detail: Some(format!("account={master_login} account={reset_login}")),
            ..AuditEntry::default()
        };
        self.account_change(&entry, now, |tx| {
            for (login, role, hash, must_change) in [
                (master_login, Role::Master, &master_hash, true),
                (reset_login, Role::MasterReset, &reset_hash, false),
            ] {
                let inserted = tx.execute(
                    "INSERT INTO accounts (login, display_name, role, password_hash, must_change_password,
                                           created_at, updated_at)
                     VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (login) DO NOTHING",
                    params![login, role.as_str(), hash.as_str(), must_change, now],
                )?;
                if inserted == 0 {
                    return Err(StoreError::AccountExists(login.to_string()));
                }
            }
            Ok(())
        })
    }

    /// Grants or revokes 救急時医療情報閲覧権限 (audited as `permission_granted` / `permission_revoked`).
    pub fn set_emergency_permission(
        &self,
        login: &str,
        granted: bool,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let action = if granted {
            "permission_granted"
        } else {
            "permission_revoked"
        };
        let entry = account_entry(actor, action, login, "救急時医療情報閲覧権限");
        self.account_change(&entry, now, |tx| {
            update_in(
                tx,
                login,
                "emergency_permission = ?2, updated_at = ?3",
                params![login, granted, now],
            )
        })
    }

    /// Changes the role (audited as `role_changed`). Refused with [`StoreError::LastAdministrator`] when no
    /// enabled administrator would be left: checked in the change's own (immediate) transaction, so two
    /// administrators demoting each other at the same moment cannot both succeed.
    pub fn set_role(
        &self,
        login: &str,
        role: Role,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let entry = account_entry(
            actor,
            "role_changed",
            login,
            &format!("role={}", role.as_str()),
        );
        self.account_change(&entry, now, |tx| {
            let before = administrators(tx)?;
            update_in(
                tx,
                login,
                "role = ?2, updated_at = ?3",
                params![login, role.as_str(), now],
            )?;
            keeps_an_administrator(tx, before)
        })
    }

    /// Disables or enables the account (audited as `account_disabled`); refused like [`Store::set_role`]
    /// when no enabled administrator would be left.
    pub fn set_disabled(
        &self,
        login: &str,
        disabled: bool,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let entry = account_entry(
            actor,
            "account_disabled",
            login,
            &format!("disabled={disabled}"),
        );
        self.account_change(&entry, now, |tx| {
            let before = administrators(tx)?;
            update_in(
                tx,
                login,
                "disabled = ?2, updated_at = ?3",
                params![login, disabled, now],
            )?;
            keeps_an_administrator(tx, before)
        })
    }

    /// The first TOTP secret of an account, confirmed by a code of step `confirmed_step` (which can then not
    /// be used to log in). Refused with [`StoreError::TotpAlreadyEnrolled`] when a secret is enrolled: a
    /// password alone must not replace the second factor (see [`Store::replace_totp`]).
    pub fn enrol_first_totp(
        &self,
        login: &str,
        secret: &SecretBytes,
        confirmed_step: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.store_totp(login, secret, confirmed_step, now, false)
    }

    /// Replaces an enrolled TOTP secret. Only for a session that logged in with both factors: the daemon
    /// checks that, the store cannot. Audited as `totp_enrolled` with `detail` saying it replaced one.
    pub fn replace_totp(
        &self,
        login: &str,
        secret: &SecretBytes,
        confirmed_step: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.store_totp(login, secret, confirmed_step, now, true)
    }

    fn store_totp(
        &self,
        login: &str,
        secret: &SecretBytes,
        confirmed_step: u64,
        now: i64,
        replace: bool,
    ) -> Result<(), StoreError> {
        let sealed = self
            .keys
            .seal("accounts.totp_secret", login, secret.expose())?;
        let step =
            i64::try_from(confirmed_step).map_err(|_| StoreError::Corrupt("TOTP step".into()))?;
        let entry = AuditEntry {
            actor: login.to_string(),
            action: "totp_enrolled".into(),
            method: Some("password+totp".into()).filter(|_| replace),
            detail: Some(
                if replace {
                    "re-enrolled by a two-factor session"
                } else {
                    "first enrolment"
                }
                .into(),
            ),
            ..AuditEntry::default()
        };
        self.account_change(&entry, now, |tx| {
            let enrolled: Option<bool> = tx
                .query_row(
                    "SELECT totp_secret_enc IS NOT NULL FROM accounts WHERE login = ?1",
                    [login],
                    |r| r.get(0),
                )
                .optional()?;
            match enrolled {
                None => return Err(StoreError::NotFound(format!("account {login}"))),
                Some(true) if !replace => {
                    return Err(StoreError::TotpAlreadyEnrolled(login.to_string()));
                }
                Some(_) => {}
            }
            update_in(
                tx,
                login,
                "totp_secret_enc = ?2, totp_last_step = MAX(COALESCE(totp_last_step, 0), ?3), updated_at = ?4",
                params![login, sealed, step, now],
            )
        })
    }

    /// Removes the TOTP secret (a lost phone); the account enrols again after a password login. Audited as
    /// `totp_reset` by `actor`.
    pub fn reset_totp(&self, login: &str, actor: &str, now: i64) -> Result<(), StoreError> {
        let entry = account_entry(actor, "totp_reset", login, "");
        self.account_change(&entry, now, |tx| {
            update_in(
                tx,
                login,
                "totp_secret_enc = NULL, updated_at = ?2",
                params![login, now],
            )
        })
    }

    /// The decrypted TOTP secret, if enrolled.
    pub fn totp_secret(&self, login: &str) -> Result<Option<SecretBytes>, StoreError> {
        let sealed: Option<Option<Vec<u8>>> = self
            .conn()
            .query_row(
                "SELECT totp_secret_enc FROM accounts WHERE login = ?1",
                [login],
                |r| r.get(0),
            )
            .optional()?;
        let Some(sealed) = sealed else {
            return Err(StoreError::NotFound(format!("account {login}")));
        };
        sealed
            .map(|s| {
                self.keys
                    .open("accounts.totp_secret", login, &s)
                    .map(|plain| SecretBytes::new(plain.to_vec()))
            })
            .transpose()
    }
}

/// Enabled administrator accounts.
fn administrators(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx.query_row(
        "SELECT COUNT(*) FROM accounts WHERE role = 'administrator' AND disabled = 0",
        [],
        |r| r.get(0),
    )?)
}

/// Fails the transaction's change when it took the last enabled administrator away (`before`: how many
/// there were). A facility run by its マスタアカウント alone, with no administrator, is not affected.
fn keeps_an_administrator(tx: &Transaction<'_>, before: i64) -> Result<(), StoreError> {
    if before > 0 && administrators(tx)? == 0 {
        return Err(StoreError::LastAdministrator);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_text = hash_password("x").unwrap();
        let real = PasswordHash::new(&real_text).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
    }
}
