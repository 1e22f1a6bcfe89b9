//! Staff accounts: roles, the emergency-viewing permission, Argon2id passwords, an encrypted TOTP secret, and
//! lockout after repeated failures.
//!
//! Verifying the TOTP code itself is the caller's job (it holds the clock and the TOTP library); failures of
//! either factor count towards the same lockout through [`Store::record_login_failure`].

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use os_keyring::SecretBytes;
use rusqlite::{OptionalExtension, Row, params};

use crate::Store;
use crate::error::StoreError;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Staff,
    Administrator,
    /// 医療情報閲覧者: may view consented medical information.
    MedicalInformationViewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Administrator => "administrator",
            Role::MedicalInformationViewer => "medical_information_viewer",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "staff" => Role::Staff,
            "administrator" => Role::Administrator,
            "medical_information_viewer" => Role::MedicalInformationViewer,
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
                               failed_attempts, locked_until, disabled, created_at";

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

/// A hash to verify against when the account does not exist, so the answer takes the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such account").unwrap_or_default())
}

impl Store {
    /// Creates an account with an Argon2id hash of `password`.
    pub fn create_account(&self, new: &NewAccount<'_>, now: i64) -> Result<Account, StoreError> {
        let hash = hash_password(new.password)?;
        let inserted = self.conn().execute(
            "INSERT INTO accounts (login, display_name, role, password_hash, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (login) DO NOTHING",
            params![new.login, new.display_name, new.role.as_str(), hash, now],
        )?;
        if inserted == 0 {
            return Err(StoreError::AccountExists(new.login.to_string()));
        }
        self.account(new.login)?
            .ok_or_else(|| StoreError::NotFound(format!("account {}", new.login)))
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

    /// Like [`Store::verify_password`], but a right password leaves the failure counter as it is: for the
    /// first of two factors, so that failures of the second factor cannot be wiped by retyping the password.
    /// Call [`Store::record_login_success`] once the login is complete.
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
        self.update_account(
            login,
            "failed_attempts = 0, locked_until = NULL, updated_at = ?2",
            params![login, now],
        )
    }

    fn check_password(
        &self,
        login: &str,
        password: &str,
        now: i64,
        reset: bool,
    ) -> Result<LoginOutcome, StoreError> {
        let stored: Option<String> = self
            .conn()
            .query_row(
                "SELECT password_hash FROM accounts WHERE login = ?1",
                [login],
                |r| r.get(0),
            )
            .optional()?;
        let Some(stored) = stored else {
            let _ = password_matches(password, dummy_hash());
            return Ok(LoginOutcome::UnknownAccount);
        };
        let account = self
            .account(login)?
            .ok_or_else(|| StoreError::NotFound(format!("account {login}")))?;
        if account.disabled {
            return Ok(LoginOutcome::Disabled);
        }
        if let Some(until) = account.locked_until.filter(|&until| until > now) {
            return Ok(LoginOutcome::LockedOut { until });
        }
        if password_matches(password, &stored)? {
            if reset {
                self.conn().execute(
                    "UPDATE accounts SET failed_attempts = 0, locked_until = NULL WHERE login = ?1",
                    [login],
                )?;
            }
            let account = self
                .account(login)?
                .ok_or_else(|| StoreError::NotFound(format!("account {login}")))?;
            return Ok(LoginOutcome::PasswordAccepted(account));
        }
        self.record_login_failure(login, now)
    }

    /// Counts a failed factor (wrong password, wrong TOTP code) and locks the account when the policy says so.
    pub fn record_login_failure(&self, login: &str, now: i64) -> Result<LoginOutcome, StoreError> {
        let policy = self.lockout;
        let row: Option<(u32, Option<i64>)> = self
            .conn()
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
        if let Some(until) = locked_until.filter(|&until| until > now) {
            return Ok(LoginOutcome::LockedOut { until });
        }
        if failures >= policy.max_failures {
            let until = now.saturating_add(policy.lock_millis);
            self.conn().execute(
                "UPDATE accounts SET locked_until = ?2 WHERE login = ?1",
                params![login, until],
            )?;
            return Ok(LoginOutcome::LockedOut { until });
        }
        Ok(LoginOutcome::Rejected {
            attempts_left: policy.max_failures - failures,
        })
    }

    /// An administrator lifts a lockout.
    pub fn unlock_account(&self, login: &str, now: i64) -> Result<(), StoreError> {
        self.update_account(
            login,
            "failed_attempts = 0, locked_until = NULL, updated_at = ?2",
            params![login, now],
        )
    }

    pub fn set_password(&self, login: &str, password: &str, now: i64) -> Result<(), StoreError> {
        let hash = hash_password(password)?;
        self.update_account(
            login,
            "password_hash = ?2, updated_at = ?3",
            params![login, hash, now],
        )
    }

    /// Grants or revokes 救急時医療情報閲覧権限.
    pub fn set_emergency_permission(
        &self,
        login: &str,
        granted: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        self.update_account(
            login,
            "emergency_permission = ?2, updated_at = ?3",
            params![login, granted, now],
        )
    }

    pub fn set_role(&self, login: &str, role: Role, now: i64) -> Result<(), StoreError> {
        self.update_account(
            login,
            "role = ?2, updated_at = ?3",
            params![login, role.as_str(), now],
        )
    }

    pub fn set_disabled(&self, login: &str, disabled: bool, now: i64) -> Result<(), StoreError> {
        self.update_account(
            login,
            "disabled = ?2, updated_at = ?3",
            params![login, disabled, now],
        )
    }

    /// Stores the TOTP secret, encrypted and bound to this account.
    pub fn set_totp_secret(
        &self,
        login: &str,
        secret: &SecretBytes,
        now: i64,
    ) -> Result<(), StoreError> {
        let sealed = self
            .keys
            .seal("accounts.totp_secret", login, secret.expose())?;
        self.update_account(
            login,
            "totp_secret_enc = ?2, updated_at = ?3",
            params![login, sealed, now],
        )
    }

    /// Removes the TOTP secret (a lost phone); the account enrols again.
    pub fn clear_totp_secret(&self, login: &str, now: i64) -> Result<(), StoreError> {
        self.update_account(
            login,
            "totp_secret_enc = NULL, updated_at = ?2",
            params![login, now],
        )
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

    fn update_account(
        &self,
        login: &str,
        set: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            &format!("UPDATE accounts SET {set} WHERE login = ?1"),
            params,
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("account {login}")));
        }
        Ok(())
    }
}
