//! The facility-wide store on PostgreSQL (`[store] shared = "…"`), behind the same [`Store`] API.
//!
//! The local SQLite file stays the write-ahead: every write lands there first, and in the same SQLite
//! transaction a row of `shared_outbox` names what changed (a check-in by id, a consent by its local row
//! id). A drainer thread copies those rows to PostgreSQL, keyed by this terminal's id and the local key
//! (`ON CONFLICT … DO UPDATE / DO NOTHING`), commits, and only then deletes the outbox rows: a crash or a
//! `kill -9` between the two sends them again, and the keys make the second copy a no-op, so each record is
//! present once. While PostgreSQL is unreachable the outbox grows and the terminal serves from its own rows.
//!
//! Reads that are facility-wide ([`Store::check_ins_between`], [`Store::check_in`], the consents) return this
//! terminal's rows from SQLite and the other terminals' rows from PostgreSQL, so nothing waits for the
//! drainer; with PostgreSQL down they return this terminal's rows only ([`SharedStatus::reachable`] tells the
//! app to say so).
//!
//! Identifiers are copied as they are sealed locally (ChaCha20-Poly1305 under the facility data key, bound to
//! the column and the check-in id), so every terminal must be given the same data key at set-up; PostgreSQL
//! holds only the key's check value, and a terminal with another key refuses to use the shared database.
//!
//! The PostgreSQL client (tokio-postgres) runs on a small runtime of its own, so the store's callers stay
//! synchronous and may call from any thread; every call has a deadline, so a PostgreSQL that hangs costs a
//! reader [`QUERY_TIMEOUT`] once, after which the link is marked down until the drainer reconnects.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::StoreError;

/// How long one PostgreSQL statement (or connecting) may take before the link counts as down.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the drainer looks again when nothing woke it (and how long it waits before reconnecting).
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// Outbox rows sent in one PostgreSQL transaction.
const BATCH: i64 = 200;

/// Where the facility-wide store is and who this terminal is in it.
#[derive(Clone)]
pub struct SharedConfig {
    /// A libpq connection string or URL (`host=/run/postgresql dbname=oqs user=oqs`,
    /// `postgres://oqs@db.clinic.lan/oqs`).
    pub url: String,
    /// This terminal's id in the shared tables (unique in the facility; the idempotency keys start with it).
    pub terminal_id: String,
    /// The facility's CA certificate(s), PEM: with it the server is reached over TLS, trusting this CA alone
    /// (no system roots) and checking the server's name; without it only a Unix socket or this machine.
    pub ca: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SharedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password.
        f.debug_struct("SharedConfig")
            .field("terminal_id", &self.terminal_id)
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

/// The link to the facility-wide store, for the status line and the app's banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedStatus {
    /// PostgreSQL answered the last call.
    pub reachable: bool,
    /// Local changes not yet in PostgreSQL.
    pub pending: u64,
}

/// Why the shared store could not be used (kept as text for the status line and the log).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SharedError {
    #[error("the facility server (PostgreSQL) is unreachable: {0}")]
    Unreachable(String),
    #[error(
        "the facility server holds another data key's data: this terminal was not given the facility's key"
    )]
    KeyMismatch,
    #[error(
        "the facility server's schema is newer ({found}) than this program knows ({supported})"
    )]
    NewerSchema { found: i64, supported: i64 },
}

struct LinkState {
    client: Mutex<Option<Arc<Client>>>,
    reachable: AtomicBool,
    pending: AtomicU64,
    stop: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Ids of check-ins another terminal wrote or changed, as PostgreSQL announces them.
    notices: tokio::sync::broadcast::Sender<String>,
    /// The cache of the facility's accounts and settings may be behind PostgreSQL (at start, after a
    /// reconnection, after an announcement on `oqs_accounts` / `oqs_settings`): the drainer refreshes it.
    cache_stale: AtomicBool,
}

/// The running link: the runtime of the PostgreSQL client and the drainer thread.
pub(crate) struct SharedLink {
    pub(crate) terminal_id: String,
    runtime: Option<tokio::runtime::Runtime>,
    state: Arc<LinkState>,
    wake: Mutex<Sender<()>>,
    pg_config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    key_check: [u8; 32],
    /// The connection of [`AuthorityTx`], apart from the drainer's so that their transactions never mix;
    /// its lock is this terminal's turn for such a change.
    authority: Mutex<Option<Arc<Client>>>,
}

impl Drop for SharedLink {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.nudge();
        if let Some(runtime) = self.runtime.take() {
            // May be dropped inside an async context (the daemon's shutdown): never block there.
            runtime.shutdown_background();
        }
    }
}

/// A value read from PostgreSQL by [`SharedLink::query`].
pub(crate) type PgRows = Vec<tokio_postgres::Row>;

impl SharedLink {
    /// Starts the link: the runtime and the drainer, which connects (and migrates) in the background, so
    /// a terminal whose PostgreSQL is down still starts.
    pub(crate) fn start(
        config: SharedConfig,
        database: &std::path::Path,
        keys: crate::crypto::DataKeys,
    ) -> Result<Self, StoreError> {
        let key_check = keys.check_value();
        let mut pg_config = tokio_postgres::Config::from_str(&config.url)
            .map_err(|e| StoreError::SharedConfig(format!("the connection string: {e}")))?;
        let tls = transport(&mut pg_config, config.ca.as_deref())?;
        if config.terminal_id.is_empty()
            || !config
                .terminal_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(StoreError::SharedConfig(format!(
                "the terminal id {:?}: ASCII letters, digits, '-', '_' and '.' only",
                config.terminal_id
            )));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("oqs-shared-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::SharedConfig(format!("starting the client runtime: {e}")))?;
        let state = Arc::new(LinkState {
            client: Mutex::new(None),
            reachable: AtomicBool::new(false),
            pending: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            last_error: Mutex::new(None),
            notices: tokio::sync::broadcast::channel(256).0,
            cache_stale: AtomicBool::new(true),
        });
        let (wake, woken) = channel();
        runtime.spawn(listen(
            pg_config.clone(),
            tls.clone(),
            state.clone(),
            config.terminal_id.clone(),
            wake.clone(),
        ));
        let drainer = Drainer {
            handle: runtime.handle().clone(),
            state: state.clone(),
            pg_config: pg_config.clone(),
            tls: tls.clone(),
            key_check,
            keys,
            terminal_id: config.terminal_id.clone(),
            sqlite: open_sqlite(database)?,
            audit_synced: 0,
            head_sent: false,
        };
        std::thread::Builder::new()
            .name("oqs-shared-drain".into())
            .spawn(move || drainer.run(woken))
            .map_err(|e| StoreError::SharedConfig(format!("starting the drainer: {e}")))?;
        Ok(Self {
            terminal_id: config.terminal_id,
            runtime: Some(runtime),
            state,
            wake: Mutex::new(wake),
            pg_config,
            tls,
            key_check,
            authority: Mutex::new(None),
        })
    }

    /// Opens a transaction on the facility server for a change it must hold before this terminal does
    /// (accounts, facility settings), holding the facility's lock for such changes, so terminals make them
    /// one at a time. Connects (and migrates) on its own if needed, so a tool that opened the store a moment
    /// ago does not depend on the drainer having connected. `Err` says why PostgreSQL could not be used.
    pub(crate) fn begin_authority(&self) -> Result<AuthorityTx<'_>, String> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| "the client runtime is stopped".to_owned())?;
        let handle = runtime.handle().clone();
        let mut turn = lock(&self.authority);
        loop {
            let kept = turn.as_ref().filter(|c| !c.is_closed()).cloned();
            let reused = kept.is_some();
            let client = match kept {
                Some(client) => client,
                None => {
                    *turn = None;
                    let config = self.pg_config.clone();
                    let tls = self.tls.clone();
                    let key_check = self.key_check.to_vec();
                    let spawner = handle.clone();
                    block_on(&handle, async move {
                        let (mut client, connection) =
                            config.connect(tls).await.map_err(|e| with_causes(&e))?;
                        spawner.spawn(connection);
                        crate::migrations::migrate_shared(&mut client, &key_check).await?;
                        Ok(Arc::new(client))
                    })?
                }
            };
            let c = client.clone();
            let begun = block_on(&handle, async move {
                c.batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({});",
                    crate::migrations::AUTHORITY_LOCK
                ))
                .await
                .map_err(|e| e.to_string())
            });
            match begun {
                Ok(()) => {
                    *turn = Some(client.clone());
                    return Ok(AuthorityTx {
                        handle,
                        client,
                        turn,
                        open: true,
                    });
                }
                Err(e) => {
                    *turn = None;
                    // A kept connection may have died with a restart of PostgreSQL before the client
                    // noticed: one more try on a new connection. A new one failing is the answer.
                    if !reused {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Tells the drainer there is something new in the outbox.
    pub(crate) fn nudge(&self) {
        let _ = lock(&self.wake).send(());
    }

    /// Ids of check-ins other terminals write or change, from now on.
    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.state.notices.subscribe()
    }

    pub(crate) fn status(&self) -> SharedStatus {
        SharedStatus {
            reachable: self.state.reachable.load(Ordering::SeqCst),
            pending: self.state.pending.load(Ordering::SeqCst),
        }
    }

    /// Waits until the drainer's first attempt to connect has an outcome (for a short-lived tool that
    /// opened the store a moment ago): `true` when PostgreSQL answered, `false` when the attempt failed or
    /// `timeout` passed.
    pub(crate) fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.state.reachable.load(Ordering::SeqCst) {
                return true;
            }
            if lock(&self.state.last_error).is_some() || std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        lock(&self.state.last_error).clone()
    }

    /// Runs one query on PostgreSQL; `None` when the link is down (the caller then shows local rows only).
    pub(crate) fn query(
        &self,
        sql: &'static str,
        params: Vec<Box<dyn tokio_postgres::types::ToSql + Send + Sync>>,
    ) -> Option<PgRows> {
        if !self.state.reachable.load(Ordering::SeqCst) {
            return None;
        }
        let client = lock(&self.state.client).clone()?;
        let runtime = self.runtime.as_ref()?;
        let result = block_on(runtime.handle(), async move {
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            client.query(sql, &refs).await.map_err(|e| e.to_string())
        });
        match result {
            Ok(rows) => Some(rows),
            Err(e) => {
                mark_down(&self.state, e);
                None
            }
        }
    }
}

/// An open PostgreSQL transaction of [`SharedLink::begin_authority`]; rolled back unless committed.
pub(crate) struct AuthorityTx<'a> {
    handle: tokio::runtime::Handle,
    client: Arc<Client>,
    turn: std::sync::MutexGuard<'a, Option<Arc<Client>>>,
    open: bool,
}

impl AuthorityTx<'_> {
    /// Runs one step of the transaction; a failure closes the connection (PostgreSQL then rolls back).
    fn run<T: Send + 'static, F>(
        &mut self,
        step: impl FnOnce(Arc<Client>) -> F,
    ) -> Result<T, String>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        let future = step(self.client.clone());
        let out = block_on(&self.handle, async move {
            future.await.map_err(|e| e.to_string())
        });
        if out.is_err() {
            self.open = false;
            *self.turn = None;
        }
        out
    }

    /// The facility's accounts (the table is locked against other writers until the end).
    pub(crate) fn accounts(&mut self) -> Result<Vec<crate::shared_accounts::AccountRow>, String> {
        self.run(|c| async move { crate::shared_accounts::facility_accounts(&c).await })
    }

    /// Sends the rows of `after` that differ from `before` (what [`AuthorityTx::accounts`] gave).
    pub(crate) fn put_accounts(
        &mut self,
        before: Vec<crate::shared_accounts::AccountRow>,
        after: Vec<crate::shared_accounts::AccountRow>,
    ) -> Result<(), String> {
        if before == after {
            return Ok(());
        }
        self.run(|c| async move {
            crate::shared_accounts::put_facility_accounts(&c, &before, &after).await
        })
    }

    /// One facility setting's value.
    pub(crate) fn setting(&mut self, key: &str) -> Result<Option<String>, String> {
        let key = key.to_owned();
        self.run(|c| async move {
            c.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
                .await
                .map(|row| row.map(|r| r.get(0)))
        })
    }

    pub(crate) fn put_setting(&mut self, key: &str, value: &str, at: i64) -> Result<(), String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.run(|c| async move {
            c.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3",
                &[&key, &value, &at],
            )
            .await
        })
        .map(|_| ())
    }

    /// Commits on PostgreSQL; the caller commits its SQLite transaction after this, never before.
    pub(crate) fn commit(mut self) -> Result<(), String> {
        self.run(|c| async move { c.batch_execute("COMMIT").await })?;
        self.open = false;
        Ok(())
    }
}

impl Drop for AuthorityTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let rollback = self.run(|c| async move { c.batch_execute("ROLLBACK").await });
            if rollback.is_err() {
                *self.turn = None;
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn mark_down(state: &LinkState, error: String) {
    state.reachable.store(false, Ordering::SeqCst);
    *lock(&state.client) = None;
    *lock(&state.last_error) = Some(error);
}

/// Runs `future` on the link's runtime and waits for it from any thread (also from inside another
/// runtime's task, where `block_on` would panic), at most [`QUERY_TIMEOUT`].
fn block_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    future: impl Future<Output = Result<T, String>> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx): (SyncSender<Result<T, String>>, Receiver<_>) = sync_channel(1);
    handle.spawn(async move {
        let out = match tokio::time::timeout(QUERY_TIMEOUT, future).await {
            Ok(out) => out,
            Err(_) => Err(format!("no answer within {QUERY_TIMEOUT:?}")),
        };
        let _ = tx.send(out);
    });
    rx.recv_timeout(QUERY_TIMEOUT + Duration::from_secs(1))
        .unwrap_or_else(|_| Err("the client runtime did not answer".into()))
}

/// Listens on `oqs_check_ins` on a connection of its own (reconnecting while PostgreSQL is away) and passes
/// the other terminals' check-in ids to the subscribers.
async fn listen(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    state: Arc<LinkState>,
    me: String,
    wake: Sender<()>,
) {
    use futures_util::StreamExt;
    use tokio_postgres::AsyncMessage;
    while !state.stop.load(Ordering::SeqCst) {
        let connected = tokio::time::timeout(QUERY_TIMEOUT, config.connect(tls.clone())).await;
        if let Ok(Ok((client, mut connection))) = connected {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let driver = tokio::spawn(async move {
                let mut messages =
                    futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                while let Some(Ok(message)) = messages.next().await {
                    if let AsyncMessage::Notification(n) = message {
                        let text = match n.channel() {
                            "oqs_check_ins" => n.payload().to_owned(),
                            // Accounts or settings changed: an empty line tells the loop below.
                            _ => String::new(),
                        };
                        if tx.send(text).is_err() {
                            return;
                        }
                    }
                }
            });
            if client
                .batch_execute("LISTEN oqs_check_ins; LISTEN oqs_accounts; LISTEN oqs_settings;")
                .await
                .is_ok()
            {
                // Announcements missed while this connection was away: the cache is refreshed anyway.
                state.cache_stale.store(true, Ordering::SeqCst);
                let _ = wake.send(());
                while let Some(payload) = rx.recv().await {
                    if payload.is_empty() {
                        state.cache_stale.store(true, Ordering::SeqCst);
                        let _ = wake.send(());
                    } else if let Some((terminal, id)) = payload.split_once(' ')
                        && terminal != me
                    {
                        let _ = state.notices.send(id.to_owned());
                    }
                }
            }
            driver.abort();
        }
        tokio::time::sleep(IDLE_WAIT).await;
    }
}

/// An error with its causes (`error performing TLS handshake: invalid peer certificate: UnknownIssuer`):
/// tokio-postgres names only the kind, and the cause is what an administrator needs to read.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// How this terminal reaches PostgreSQL. Without a CA: in the clear, and only where nothing travels over a
/// network (a Unix socket or this machine); TLS is then off whatever the string says. With the facility's
/// CA (`[store] shared_ca`): TLS is required on every TCP host, the server's certificate must chain to that
/// CA alone (no system roots, so a certificate any public CA issued is refused) and name the host as given
/// in `host` (`hostaddr` may give the address). A CA with a Unix socket is refused: PostgreSQL has no TLS
/// there, so the setting would promise what it cannot keep.
fn transport(
    config: &mut tokio_postgres::Config,
    ca: Option<&std::path::Path>,
) -> Result<MakeRustlsConnect, StoreError> {
    use tokio_postgres::config::{Host, SslMode};
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return Err(StoreError::SharedConfig(
            "the connection string names no host (give host=/run/postgresql or a URL)".into(),
        ));
    }
    let Some(ca) = ca else {
        for host in config.get_hosts() {
            let local = match host {
                #[cfg(unix)]
                Host::Unix(_) => true,
                Host::Tcp(name) => matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1"),
            };
            if !local {
                return Err(StoreError::SharedConfig(format!(
                    "{host:?} is another machine: set [store] shared_ca to the facility's CA certificate \
                     so that the connection is TLS to that server alone"
                )));
            }
        }
        for addr in config.get_hostaddrs() {
            if !addr.is_loopback() {
                return Err(StoreError::SharedConfig(format!(
                    "hostaddr {addr} is another machine: set [store] shared_ca to the facility's CA \
                     certificate so that the connection is TLS to that server alone"
                )));
            }
        }
        config.ssl_mode(SslMode::Disable);
        return tls_trusting(rustls::RootCertStore::empty());
    };
    // Windows has no Unix sockets in tokio-postgres: every host is TCP there.
    #[cfg(unix)]
    if let Some(socket) = config
        .get_hosts()
        .iter()
        .find(|h| matches!(h, Host::Unix(_)))
    {
        return Err(StoreError::SharedConfig(format!(
            "[store] shared_ca is set but {socket:?} is a Unix socket, where PostgreSQL has no TLS: name the \
             server by its host name, or remove shared_ca"
        )));
    }
    if config.get_hosts().is_empty() {
        return Err(StoreError::SharedConfig(
            "with [store] shared_ca the connection string must name the server (host=…), the name its \
             certificate is checked against"
                .into(),
        ));
    }
    let pem = std::fs::read(ca)
        .map_err(|e| StoreError::SharedConfig(format!("the facility CA {}: {e}", ca.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            StoreError::SharedConfig(format!("the facility CA {}: {e}", ca.display()))
        })?;
        roots.add(cert).map_err(|e| {
            StoreError::SharedConfig(format!("the facility CA {}: {e}", ca.display()))
        })?;
    }
    if roots.is_empty() {
        return Err(StoreError::SharedConfig(format!(
            "the facility CA {} holds no certificate (PEM, -----BEGIN CERTIFICATE-----)",
            ca.display()
        )));
    }
    config.ssl_mode(SslMode::Require);
    tls_trusting(roots)
}

fn tls_trusting(roots: rustls::RootCertStore) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::SharedConfig(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn open_sqlite(path: &std::path::Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

/// Records that a row must reach PostgreSQL; called inside the transaction of the local write.
pub(crate) fn enqueue(conn: &Connection, kind: &str, row_key: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO shared_outbox (kind, row_key) VALUES (?1, ?2)",
        params![kind, row_key],
    )?;
    Ok(())
}

struct Drainer {
    handle: tokio::runtime::Handle,
    state: Arc<LinkState>,
    pg_config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    key_check: [u8; 32],
    /// Seals the head of the chain as copied (`audit_heads`).
    keys: crate::crypto::DataKeys,
    terminal_id: String,
    sqlite: Connection,
    /// The newest of this terminal's audit rows known to be in PostgreSQL.
    audit_synced: i64,
    /// This process has made sure PostgreSQL holds the head of the chain as copied (a database from before
    /// `audit_heads`, or rows copied by another process, get theirs at the first round).
    head_sent: bool,
}

/// One change for PostgreSQL, read from the local store.
enum Change {
    CheckIn {
        check_in_id: String,
        row: Option<CheckInCopy>,
    },
    Consent {
        local_id: i64,
        row: Option<ConsentCopy>,
    },
}

struct CheckInCopy {
    at: i64,
    reader: String,
    method: String,
    status: String,
    patient_key: Option<Vec<u8>>,
    patient_enc: Option<Vec<u8>>,
    result_enc: Option<Vec<u8>>,
    local_name_enc: Option<Vec<u8>>,
    visit: String,
    updated_at: i64,
    certificate_expiry: Option<i64>,
}

struct AuditCopy {
    id: i64,
    at: i64,
    /// actor, action, patient_ref, items, method, reason, detail.
    texts: [Option<String>; 7],
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    seal: Vec<u8>,
}

struct ConsentCopy {
    patient_key: Vec<u8>,
    item: String,
    granted_at: i64,
    expires_at: i64,
    check_in_id: Option<String>,
}

impl Drainer {
    fn run(mut self, woken: Receiver<()>) {
        loop {
            if self.state.stop.load(Ordering::SeqCst) {
                return;
            }
            let more = match self.drain_once() {
                Ok(more) => more,
                Err(e) => {
                    mark_down(&self.state, e);
                    false
                }
            };
            if more {
                continue;
            }
            match woken.recv_timeout(IDLE_WAIT) {
                Ok(()) => while woken.try_recv().is_ok() {},
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn client(&mut self) -> Result<Arc<Client>, String> {
        if let Some(client) = lock(&self.state.client).clone()
            && !client.is_closed()
        {
            return Ok(client);
        }
        let config = self.pg_config.clone();
        let tls = self.tls.clone();
        let key_check = self.key_check.to_vec();
        let handle = self.handle.clone();
        let client = block_on(&self.handle, async move {
            let (mut client, connection) =
                config.connect(tls).await.map_err(|e| with_causes(&e))?;
            handle.spawn(connection);
            crate::migrations::migrate_shared(&mut client, &key_check).await?;
            Ok(Arc::new(client))
        })?;
        *lock(&self.state.client) = Some(client.clone());
        self.state.reachable.store(true, Ordering::SeqCst);
        self.state.cache_stale.store(true, Ordering::SeqCst);
        *lock(&self.state.last_error) = None;
        Ok(client)
    }

    /// Makes this terminal's cache of accounts and facility settings what PostgreSQL holds. A facility server
    /// without accounts is given this terminal's first (under the authority lock, so two terminals starting
    /// together do not both do it).
    fn refresh_cache(&mut self, client: &Arc<Client>) -> Result<(), String> {
        use crate::shared_accounts as sa;
        let own = sa::local_accounts(&self.sqlite).map_err(|e| format!("reading accounts: {e}"))?;
        let c = client.clone();
        let (accounts, settings) = block_on(&self.handle, async move {
            let err = |e: tokio_postgres::Error| e.to_string();
            c.batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({});",
                crate::migrations::AUTHORITY_LOCK
            ))
            .await
            .map_err(err)?;
            let result = async {
                let mut accounts = sa::facility_accounts(&c).await?;
                if accounts.is_empty() && !own.is_empty() {
                    sa::put_facility_accounts(&c, &[], &own).await?;
                    accounts = own;
                }
                let settings = sa::facility_settings(&c).await?;
                c.batch_execute("COMMIT").await?;
                Ok((accounts, settings))
            }
            .await;
            if result.is_err() {
                let _ = c.batch_execute("ROLLBACK").await;
            }
            result.map_err(err)
        })?;
        let tx = self
            .sqlite
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .and_then(|tx| {
                sa::replace_local_accounts(&tx, &accounts)?;
                sa::cache_settings(&tx, &settings)?;
                tx.commit()
            });
        tx.map_err(|e| format!("refreshing the cache of accounts: {e}"))
    }

    /// What is not yet in PostgreSQL: outbox rows, and audit rows after the last one known to be there.
    fn count_pending(&self) -> Result<i64, String> {
        self.sqlite
            .query_row(
                "SELECT (SELECT count(*) FROM shared_outbox)
                      + (SELECT count(*) FROM audit_log WHERE id > ?1)",
                [self.audit_synced],
                |r| r.get(0),
            )
            .map_err(|e| format!("reading the shared outbox: {e}"))
    }

    /// Sends one batch of the outbox and one of the audit log; `Ok(true)` when more is waiting.
    fn drain_once(&mut self) -> Result<bool, String> {
        let pending = self.count_pending()?;
        self.state.pending.store(pending as u64, Ordering::SeqCst);
        let client = self.client()?;
        if self.state.cache_stale.swap(false, Ordering::SeqCst)
            && let Err(e) = self.refresh_cache(&client)
        {
            self.state.cache_stale.store(true, Ordering::SeqCst);
            return Err(e);
        }
        if pending == 0 {
            return Ok(false);
        }
        let (ids, changes) = self
            .read_batch()
            .map_err(|e| format!("reading the shared outbox: {e}"))?;
        if !ids.is_empty() {
            let terminal = self.terminal_id.clone();
            let c = client.clone();
            block_on(
                &self.handle,
                async move { send(&c, &terminal, changes).await },
            )?;
            crash_point_sent();
            let last = ids.iter().copied().max().unwrap_or(0);
            self.sqlite
                .execute("DELETE FROM shared_outbox WHERE id <= ?1", [last])
                .map_err(|e| format!("clearing the shared outbox: {e}"))?;
        }
        self.sync_audit(&client)?;
        let left = self.count_pending()?;
        self.state.pending.store(left as u64, Ordering::SeqCst);
        Ok(left > 0)
    }

    /// Copies this terminal's audit rows after the newest one PostgreSQL has (the key (terminal, id) makes
    /// a second copy a no-op), one batch at a time.
    fn sync_audit(&mut self, client: &Arc<Client>) -> Result<(), String> {
        let terminal = self.terminal_id.clone();
        let c = client.clone();
        self.audit_synced = block_on(&self.handle, async move {
            c.query_one(
                "SELECT COALESCE(max(id), 0)::bigint FROM audit_log WHERE terminal_id = $1",
                &[&terminal],
            )
            .await
            .map(|r| r.get::<_, i64>(0))
            .map_err(|e| e.to_string())
        })?;
        let rows: Vec<AuditCopy> = self
            .sqlite
            .prepare(
                "SELECT id, at, actor, action, patient_ref, items, method, reason, detail, prev_hash, hash, seal
                 FROM audit_log WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map([self.audit_synced, BATCH], |r| {
                    Ok(AuditCopy {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        texts: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?],
                        prev_hash: r.get(9)?,
                        hash: r.get(10)?,
                        seal: r.get(11)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| format!("reading the audit log: {e}"))?;
        let Some(last) = rows.last().map(|r| r.id) else {
            return self.send_head_once(client);
        };
        let head = rows.last().map(|r| self.sealed_head(r.id, &r.hash));
        let terminal = self.terminal_id.clone();
        let c = client.clone();
        block_on(&self.handle, async move {
            let err = |e: tokio_postgres::Error| e.to_string();
            c.batch_execute("BEGIN").await.map_err(err)?;
            if let Some(head) = &head
                && let Err(e) = put_head(&c, &terminal, last, head).await
            {
                let _ = c.batch_execute("ROLLBACK").await;
                return Err(err(e));
            }
            for row in &rows {
                let [actor, action, patient_ref, items, method, reason, detail] = &row.texts;
                if let Err(e) = c
                    .execute(
                        "INSERT INTO audit_log (terminal_id, id, at, actor, action, patient_ref, items, method,
                             reason, detail, prev_hash, hash, seal)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                         ON CONFLICT (terminal_id, id) DO NOTHING",
                        &[
                            &terminal, &row.id, &row.at, actor, action, patient_ref, items, method, reason,
                            detail, &row.prev_hash, &row.hash, &row.seal,
                        ],
                    )
                    .await
                {
                    let _ = c.batch_execute("ROLLBACK").await;
                    return Err(err(e));
                }
            }
            c.batch_execute("COMMIT").await.map_err(err)
        })?;
        self.audit_synced = last;
        self.head_sent = true;
        Ok(())
    }

    /// The head naming row `id` with `hash`, sealed as the head file is.
    fn sealed_head(&self, id: i64, hash: &[u8]) -> Vec<u8> {
        let mut head = [0u8; 32];
        if hash.len() == 32 {
            head.copy_from_slice(hash);
        }
        crate::head::encode(&self.keys, crate::head::Head { id, hash: head })
    }

    /// Once per process, with nothing to copy: the head of the rows PostgreSQL already holds.
    fn send_head_once(&mut self, client: &Arc<Client>) -> Result<(), String> {
        if self.head_sent || self.audit_synced == 0 {
            return Ok(());
        }
        let hash: Option<Vec<u8>> = self
            .sqlite
            .query_row(
                "SELECT hash FROM audit_log WHERE id = ?1",
                [self.audit_synced],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| format!("reading the audit log: {e}"))?;
        let Some(hash) = hash else {
            return Ok(());
        };
        let head = self.sealed_head(self.audit_synced, &hash);
        let (terminal, id, c) = (self.terminal_id.clone(), self.audit_synced, client.clone());
        block_on(&self.handle, async move {
            put_head(&c, &terminal, id, &head)
                .await
                .map_err(|e| e.to_string())
        })?;
        self.head_sent = true;
        Ok(())
    }

    fn read_batch(&self) -> rusqlite::Result<(Vec<i64>, Vec<Change>)> {
        let entries: Vec<(i64, String, String)> = self
            .sqlite
            .prepare("SELECT id, kind, row_key FROM shared_outbox ORDER BY id LIMIT ?1")?
            .query_map([BATCH], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut ids = Vec::new();
        let mut changes = Vec::new();
        for (id, kind, key) in entries {
            ids.push(id);
            match kind.as_str() {
                "check_in" => {
                    let row = self
                        .sqlite
                        .query_row(
                            "SELECT at, reader, method, status, patient_key, patient_enc, result_enc,
                                    local_name_enc, updated_at, visit, certificate_expiry
                             FROM check_ins WHERE check_in_id = ?1",
                            [&key],
                            |r| {
                                Ok(CheckInCopy {
                                    at: r.get(0)?,
                                    reader: r.get(1)?,
                                    method: r.get(2)?,
                                    status: r.get(3)?,
                                    patient_key: r.get(4)?,
                                    patient_enc: r.get(5)?,
                                    result_enc: r.get(6)?,
                                    local_name_enc: r.get(7)?,
                                    updated_at: r.get(8)?,
                                    visit: r.get(9)?,
                                    certificate_expiry: r.get(10)?,
                                })
                            },
                        )
                        .optional()?;
                    changes.push(Change::CheckIn {
                        check_in_id: key,
                        row,
                    });
                }
                "consent" => {
                    let Ok(local_id) = key.parse::<i64>() else {
                        continue;
                    };
                    let row = self
                        .sqlite
                        .query_row(
                            "SELECT patient_key, item, granted_at, expires_at, check_in_id FROM consents
                             WHERE id = ?1",
                            [local_id],
                            |r| {
                                Ok(ConsentCopy {
                                    patient_key: r.get(0)?,
                                    item: r.get(1)?,
                                    granted_at: r.get(2)?,
                                    expires_at: r.get(3)?,
                                    check_in_id: r.get(4)?,
                                })
                            },
                        )
                        .optional()?;
                    changes.push(Change::Consent { local_id, row });
                }
                // A kind of a newer build: dropped, not retried forever.
                _ => {}
            }
        }
        Ok((ids, changes))
    }
}

/// Records the head of `terminal`'s chain as copied; never moves it back (a second process copying the same
/// log with an older view, e.g. `oqs audit report` beside the daemon, leaves the newer head).
async fn put_head(
    client: &Client,
    terminal: &str,
    id: i64,
    head: &[u8],
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO audit_heads (terminal_id, head_id, head) VALUES ($1, $2, $3)
             ON CONFLICT (terminal_id) DO UPDATE SET head_id = $2, head = $3
             WHERE audit_heads.head_id < $2",
            &[&terminal, &id, &head],
        )
        .await
}

/// Writes a batch in one PostgreSQL transaction, idempotently: the same batch twice leaves one copy.
async fn send(client: &Client, terminal: &str, changes: Vec<Change>) -> Result<(), String> {
    let err = |e: tokio_postgres::Error| e.to_string();
    client.batch_execute("BEGIN").await.map_err(err)?;
    let result = async {
        for change in &changes {
            match change {
                Change::CheckIn {
                    check_in_id,
                    row: Some(c),
                } => {
                    client
                        .execute(
                            "INSERT INTO check_ins (terminal_id, check_in_id, at, reader, method, status,
                                 patient_key, patient_enc, result_enc, local_name_enc, updated_at, visit,
                                 certificate_expiry)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                             ON CONFLICT (terminal_id, check_in_id) DO UPDATE SET at = $3, reader = $4,
                                 method = $5, status = $6, patient_key = $7, patient_enc = $8, result_enc = $9,
                                 local_name_enc = $10, updated_at = $11, visit = $12,
                                 certificate_expiry = $13",
                            &[
                                &terminal,
                                check_in_id,
                                &c.at,
                                &c.reader,
                                &c.method,
                                &c.status,
                                &c.patient_key,
                                &c.patient_enc,
                                &c.result_enc,
                                &c.local_name_enc,
                                &c.updated_at,
                                &c.visit,
                                &c.certificate_expiry,
                            ],
                        )
                        .await?;
                }
                Change::CheckIn {
                    check_in_id,
                    row: None,
                } => {
                    client
                        .execute(
                            "DELETE FROM check_ins WHERE terminal_id = $1 AND check_in_id = $2",
                            &[&terminal, check_in_id],
                        )
                        .await?;
                }
                Change::Consent {
                    local_id,
                    row: Some(c),
                } => {
                    client
                        .execute(
                            "INSERT INTO consents (terminal_id, local_id, patient_key, item, granted_at,
                                 expires_at, check_in_id)
                             VALUES ($1, $2, $3, $4, $5, $6, $7)
                             ON CONFLICT (terminal_id, local_id) DO NOTHING",
                            &[
                                &terminal,
                                local_id,
                                &c.patient_key,
                                &c.item,
                                &c.granted_at,
                                &c.expires_at,
                                &c.check_in_id,
                            ],
                        )
                        .await?;
                }
                Change::Consent {
                    local_id,
                    row: None,
                } => {
                    client
                        .execute(
                            "DELETE FROM consents WHERE terminal_id = $1 AND local_id = $2",
                            &[&terminal, local_id],
                        )
                        .await?;
                }
            }
        }
        client.batch_execute("COMMIT").await
    }
    .await;
    if let Err(e) = result {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(err(e));
    }
    Ok(())
}

/// The daemon's fault-injection tests (`FAILPOINTS=shared::sent=return`, feature `failpoints`) end the
/// process here: after PostgreSQL committed a batch, before the local outbox forgets it.
fn crash_point_sent() {
    fail::fail_point!("shared::sent", |_| std::process::abort());
}
