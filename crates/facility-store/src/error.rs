//! The crate's error type.

/// Errors of the facility store, worded for the IT vendor who will read them in the daemon's log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the facility database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot prepare the database file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the database has schema version {found}, newer than this program knows ({supported}); update the \
         terminal software instead of downgrading it"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error(
        "the data key of this database is missing from the OS keyring; encrypted patient data cannot be read \
         until the key is restored from the facility's backup"
    )]
    KeyMissing,
    #[error(
        "the data key in the OS keyring does not belong to this database (another terminal's key, or replaced)"
    )]
    KeyMismatch,
    #[error("the OS keyring failed: {0}")]
    Keyring(#[from] os_keyring::KeyringError),
    #[error("an encrypted value ({0}) could not be decrypted: wrong key or a tampered row")]
    Decrypt(String),
    #[error("the outbox entry {request_name} is {from} and cannot become {to}")]
    InvalidTransition {
        request_name: String,
        from: String,
        to: &'static str,
    },
    #[error("not found: {0}")]
    NotFound(String),
    /// The row is no longer in a state that allows the change (e.g. a 要再確認 entry already resolved).
    #[error("cannot change {0}")]
    Conflict(String),
    #[error("an account named '{0}' already exists")]
    AccountExists(String),
    /// A second factor is enrolled; only a two-factor session may replace it ([`crate::Store::replace_totp`]).
    #[error("the account '{0}' already has a one-time password enrolled")]
    TotpAlreadyEnrolled(String),
    /// The change would leave the facility without an enabled administrator account.
    #[error("the change would leave no enabled administrator")]
    LastAdministrator,
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("the database holds a value this program cannot read: {0}")]
    Corrupt(String),
    /// Another connection kept the database locked for too long.
    #[error("the facility database is busy: {0}")]
    Busy(String),
    /// With `[store] shared`, accounts and the facility's settings change on the facility server first; it
    /// could not be reached, so nothing was changed (logins still work from this terminal's cache).
    #[error(
        "院内サーバに接続できないため、アカウントと施設の設定は変更できません。The facility server (PostgreSQL) \
         cannot be reached, so accounts and facility settings cannot be changed now; nothing was changed: {0}"
    )]
    SharedUnavailable(String),
    /// [`crate::Store::create_first_administrator`]: the facility already has an enabled administrator.
    #[error("an administrator account ('{0}') already exists")]
    AdministratorExists(String),
    #[error("the facility-wide store is misconfigured ([store] shared): {0}")]
    SharedConfig(String),
    #[error("the operating system's random number source failed: {0}")]
    Random(String),
}
