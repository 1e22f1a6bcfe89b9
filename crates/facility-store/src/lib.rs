//! The facility's local store: one SQLite file (bundled SQLite, WAL, mode 0600) holding what the reader daemon
//! must not lose or must be able to prove.
//!
//! - **Outbox** ([`OutboxEntry`]): every request file of the relay, keyed by its file name, through
//!   `received → sending → answered | failed`, with attempt counts and the next attempt time. Rows caught in
//!   `sending` by a crash go back to `received` at start ([`Store::outbox_recover_in_flight`]).
//! - **Check-ins** and **query results**, including check-ins taken during an outage (`pending_outage`).
//! - **Consents** with their expiry, **settings**, and **accounts** (roles, emergency permission, Argon2id
//!   password hashes, encrypted TOTP secrets, failed-attempt counter and lockout).
//! - **Audit log**: append-only (triggers refuse UPDATE and DELETE) and chained by SHA-256; each row is also
//!   sealed with a key only the terminal has, so [`Store::verify_audit_chain`] names the first row that was
//!   edited, deleted or inserted even by someone who dropped the triggers and recomputed the hashes. The
//!   chain's head is sealed from the store's creation on (an empty log has a genesis head, so a wiped log is
//!   broken, not "intact with 0 rows") and kept outside the database as well, in a head file beside it and in
//!   the OS keyring ([`Store::with_head_keyring`]): an older copy of the database put back is "behind its
//!   head", which [`Store::check_audit_heads`] (the daemon's start) and [`Store::verify_audit`] report. The
//!   one way back to a backup is [`Store::record_restore`], which logs the restore and re-seals. Verification
//!   reads on a connection of its own, so it never stalls the writers.
//!
//! Names, kana, insurance numbers and birth dates are encrypted with ChaCha20-Poly1305 under a data key from a
//! [`KeyProvider`] (the OS keyring, [`KeyringKeyProvider`], or for a system service a private key file,
//! [`FileKeyProvider`]); lookups use keyed HMAC columns
//! ([`PatientKey`]) so nothing has to be decrypted to find a patient. The 個人番号 has no column anywhere.
//!
//! [`backup_database`] copies the live database with SQLite's online backup API. [`Store::open_configured`]
//! opens a store the way a terminal is configured (key file or keyring), for the daemon and the tools alike.
//!
//! All times are milliseconds since the Unix epoch, passed in by the caller so that expiry and lockout are
//! testable. The store carries the [`Clock`] its owner runs on ([`Store::clock`], the system clock unless
//! [`Store::with_clock`] pinned one), so every part of the daemon that holds the store reads the same "now".

mod accounts;
mod audit;
mod backup;
mod crypto;
mod error;
mod head;
mod key_file;
mod migrations;
mod outbox;
mod records;
mod settings;
mod shared;
mod shared_accounts;
mod unconfirmed;
mod usage;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub use accounts::{
    Account, LockoutPolicy, LoginOutcome, NewAccount, Role, SECRET_NUMBER_LOCK_MILLIS,
};
pub use audit::{
    AuditCoverage, AuditEntry, AuditRecord, AuditVerification, ChainBreak, ChainVerdict,
    HeadFinding, HeadPlace, HeadState, PatientAudit, TerminalAuditRecord, TerminalChain,
};
pub use backup::{BackupSummary, backup_database};
pub use crypto::{DEFAULT_KEY_NAME, KeyProvider, KeyringKeyProvider, StaticKeyProvider};
pub use error::StoreError;
pub use key_file::FileKeyProvider;
pub use migrations::{SCHEMA_VERSION, SHARED_SCHEMA_VERSION};
pub use outbox::{OutboxCounts, OutboxEntry, OutboxState, Received};
pub use records::{
    CheckIn, CheckInStatus, Consent, Document, PatientIdentity, PatientKey, QueryResult,
};
pub use shared::{QUERY_TIMEOUT as SHARED_QUERY_TIMEOUT, SharedConfig, SharedError, SharedStatus};
pub use unconfirmed::{
    Claim, NewUnconfirmed, RecheckMarks, RecheckOutcome, Unconfirmed, UnconfirmedState,
};
pub use usage::{MonthUsage, Tally, Usage, YearMonth, usage_of};

use crypto::DataKeys;
use head::ExternalHeads;

pub use oqs_clock::Clock;

/// An open facility store. `Send + Sync`: share it behind an `Arc`; calls are serialised on one connection
/// (they are short; call them from `spawn_blocking` in async code).
pub struct Store {
    conn: Mutex<Connection>,
    keys: DataKeys,
    path: PathBuf,
    lockout: LockoutPolicy,
    clock: Clock,
    heads: ExternalHeads,
    /// See [`Store::password_verifications`].
    password_verifications: AtomicU64,
    /// The facility-wide store, when `[store] shared` is set ([`Store::with_shared`]).
    shared: Option<shared::SharedLink>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and checks the data key.
    ///
    /// A new database gets a new key from `keys` (or the provider's existing one); an existing database
    /// requires the key it was created with: [`StoreError::KeyMissing`] or [`StoreError::KeyMismatch`] otherwise.
    pub fn open(path: impl AsRef<Path>, keys: &dyn KeyProvider) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_private_file(&path)?;
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "the database refused WAL mode (journal mode {mode})"
            )));
        }
        // FULL: a committed outbox transition survives a power cut, not only a crash of the daemon.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        migrations::migrate(&mut conn)?;
        let keys = unlock(&mut conn, keys)?;
        audit::seal_genesis_if_pending(&mut conn, &keys)?;
        let heads = ExternalHeads {
            file: head::head_file_path(&path),
            keyring: None,
        };
        Ok(Self {
            conn: Mutex::new(conn),
            keys,
            path,
            lockout: LockoutPolicy::default(),
            clock: Clock::system(),
            password_verifications: AtomicU64::new(0),
            heads,
            shared: None,
        })
    }

    /// Also keeps a copy of the audit chain's head in `keyring` (checked by [`Store::verify_audit`] and
    /// [`Store::check_audit_heads`]), under a name derived from this store's key and path.
    pub fn with_head_keyring(mut self, keyring: os_keyring::Keyring) -> Self {
        let name = head::keyring_name(&self.keys.check_value(), &self.path);
        self.heads.keyring = Some((keyring, name));
        self
    }

    /// The head file kept beside the database (`<database>.audit-head`): back it up and restore it with
    /// [`Store::record_restore`], never by copying an old one over it.
    pub fn head_file(&self) -> &Path {
        &self.heads.file
    }

    /// Opens the store the way a terminal is configured: the data key from `key_file` when there is one (a
    /// system service), else from `keyring` under `key_secret`; the audit head's keyring copy goes to
    /// `keyring` whenever there is one. The daemon and the administrator's tools share this, so they cannot
    /// disagree on where the key is.
    pub fn open_configured(
        path: impl AsRef<Path>,
        key_file: Option<&Path>,
        key_secret: &str,
        keyring: Option<&os_keyring::Keyring>,
    ) -> Result<Self, StoreError> {
        let store = match (key_file, keyring) {
            (Some(file), _) => Self::open(path, &FileKeyProvider::new(file))?,
            (None, Some(keyring)) => {
                Self::open(path, &KeyringKeyProvider::new(keyring.clone(), key_secret))?
            }
            (None, None) => return Err(StoreError::KeyMissing),
        };
        Ok(match keyring {
            Some(keyring) => store.with_head_keyring(keyring.clone()),
            None => store,
        })
    }

    /// Also keeps the facility-wide store on PostgreSQL: this terminal's check-ins and consents are copied
    /// there through the local outbox, and the lists read every terminal's rows (see the `shared` module);
    /// accounts and facility settings are PostgreSQL's, this store their cache (the `shared_accounts` module).
    /// Returns at once: connecting happens in the background, and a PostgreSQL that is down only means
    /// [`Store::shared_status`] says so. Fails only on a configuration that can never work.
    pub fn with_shared(mut self, config: SharedConfig) -> Result<Self, StoreError> {
        self.queue_rows_from_before(&config.terminal_id)?;
        let link = shared::SharedLink::start(config, &self.path, self.keys.clone())?;
        self.shared = Some(link);
        Ok(self)
    }

    /// A terminal that ran alone before (a clinic that grew from one PC) joins the facility with its
    /// history: at the first start as `terminal_id`, every check-in and consent it holds is queued in the
    /// outbox (check-ins first, so each consent's check-in is there before it), in one transaction with the
    /// record that it joined, so it happens once. The idempotent keys make a row already sent a no-op.
    /// The audit chain needs nothing of this: the drainer copies it from its first row.
    fn queue_rows_from_before(&self, terminal_id: &str) -> Result<(), StoreError> {
        let now = self.clock.now_millis();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let joined = tx.execute(
            "INSERT INTO shared_joined (terminal_id, joined_at) VALUES (?1, ?2)
             ON CONFLICT (terminal_id) DO NOTHING",
            rusqlite::params![terminal_id, now],
        )?;
        if joined == 1 {
            tx.execute(
                "INSERT INTO shared_outbox (kind, row_key)
                 SELECT 'check_in', check_in_id FROM check_ins ORDER BY at, check_in_id",
                [],
            )?;
            tx.execute(
                "INSERT INTO shared_outbox (kind, row_key)
                 SELECT 'consent', CAST(id AS TEXT) FROM consents ORDER BY id",
                [],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The link to the facility-wide store; `None` on a terminal without one.
    pub fn shared_status(&self) -> Option<SharedStatus> {
        self.shared.as_ref().map(|s| s.status())
    }

    /// For a tool that just opened the store: waits (at most `timeout`) until the first attempt to reach the
    /// facility-wide store has an outcome, so its first facility-wide read does not find the link merely not
    /// yet connected. `None` without a facility-wide store; `Some(reachable)` otherwise.
    pub fn wait_for_shared(&self, timeout: std::time::Duration) -> Option<bool> {
        self.shared.as_ref().map(|s| s.wait_connected(timeout))
    }

    /// Ids of the check-ins other terminals write or change from now on (PostgreSQL's LISTEN/NOTIFY): the
    /// daemon reads each with [`Store::check_in`] and shows it on its reception windows. `None` without a
    /// facility-wide store. While PostgreSQL is away nothing arrives; the lists catch up when read.
    pub fn shared_check_ins_feed(&self) -> Option<tokio::sync::broadcast::Receiver<String>> {
        self.shared.as_ref().map(|s| s.subscribe())
    }

    /// Why the facility-wide store was last unreachable (for the log), if it is.
    pub fn shared_error(&self) -> Option<String> {
        self.shared.as_ref().and_then(|s| s.last_error())
    }

    /// Records, in the caller's transaction, that a row must reach the facility-wide store.
    fn enqueue_shared(&self, conn: &Connection, kind: &str, key: &str) -> Result<(), StoreError> {
        match &self.shared {
            Some(_) => shared::enqueue(conn, kind, key),
            None => Ok(()),
        }
    }

    /// After a commit that enqueued something: the drainer sends it now rather than at its next look.
    fn nudge_shared(&self) {
        if let Some(link) = &self.shared {
            link.nudge();
        }
    }

    /// Replaces the lockout policy (default: 5 failures lock for 15 minutes).
    pub fn with_lockout_policy(mut self, policy: LockoutPolicy) -> Self {
        self.lockout = policy;
        self
    }

    /// Runs the store's owner on `clock` (tests pin it; a terminal uses the system clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock every holder of this store reads "now" from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Milliseconds since the Unix epoch by [`Store::clock`].
    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back on drop).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read-only connection of its own, for long reads that must not hold [`Store::conn`]'s lock (WAL
    /// lets it read a consistent snapshot while the store's connection writes).
    fn reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(conn)
    }

    /// SQLite's own consistency check; `Ok(())` when the file is sound.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let result: String = self
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(result))
        }
    }
}

fn unlock(conn: &mut Connection, provider: &dyn KeyProvider) -> Result<DataKeys, StoreError> {
    let stored: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
            r.get(0)
        })
        .optional()?;
    match stored {
        Some(check) => {
            let master = provider.load()?.ok_or(StoreError::KeyMissing)?;
            let keys = DataKeys::derive(&master)?;
            if keys.check_value().as_slice() != check.as_slice() {
                return Err(StoreError::KeyMismatch);
            }
            Ok(keys)
        }
        None => {
            let master = match provider.load()? {
                Some(existing) => existing,
                None => provider.create()?,
            };
            let keys = DataKeys::derive(&master)?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', ?1)",
                [keys.check_value().as_slice()],
            )?;
            Ok(keys)
        }
    }
}

/// Creates the database file with mode 0600 before SQLite sees it (SQLite gives its WAL and shared-memory
/// files the same mode), and tightens the mode of an existing file.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let file_error = |source| StoreError::File {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        options.open(path).map_err(file_error)?;
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .map_err(file_error)?;
            }
        }
    }
    #[cfg(not(unix))]
    {
        // On Windows the file inherits the ACL of the daemon's private data folder, set by the installer.
        options.open(path).map_err(file_error)?;
    }
    Ok(())
}
