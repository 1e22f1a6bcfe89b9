//! Test-only harness: a private PostgreSQL server for one test, the way `pcsc-harness` gives a test its pcscd.
//!
//! [`PgServer::start`] runs `initdb` into a temporary folder (trust authentication, user `postgres`,
//! UTF-8), then `postgres` in the foreground with TCP off and its Unix socket in a folder of its own, so
//! parallel test processes never share a server or compete for a port. [`PgServer::stop`] and
//! [`PgServer::start_again`] take the same server down and up again (the outage tests); drop stops it and
//! removes everything.
//!
//! [`PgServer::start_tls`] is a server as on another machine of the facility: it also listens on
//! 127.0.0.1 (a free port) with TLS on, and its `pg_hba.conf` accepts TCP connections only over TLS
//! (`hostssl`), so a client that connects at all proved it spoke TLS. [`PgServer::tls_url`] names it by a
//! host name of the test's choosing (the one in its certificate) with `hostaddr=127.0.0.1`.
//!
//! The binaries are looked for in `OQS_PG_BIN`, `/usr/lib/postgresql/<newest>/bin` (where Debian's
//! `postgresql` package puts them) and `/usr/local/bin`. PostgreSQL refuses to run as root, so under root
//! the server runs as `nobody`. Anything missing is a panic with a message saying what to install: a test
//! on PostgreSQL never skips.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
const STEP: Duration = Duration::from_millis(50);
/// The socket's "port": only names the socket file (`.s.PGSQL.<port>`), no TCP port is opened.
const SOCKET_PORT: u16 = 5432;

/// Where the PostgreSQL server binaries are.
pub fn bin_dir() -> PathBuf {
    let has_all = |dir: &Path| ["initdb", "postgres"].iter().all(|b| dir.join(b).is_file());
    if let Some(dir) = std::env::var_os("OQS_PG_BIN").map(PathBuf::from) {
        assert!(
            has_all(&dir),
            "OQS_PG_BIN={} has no initdb and postgres",
            dir.display()
        );
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|(_, dir)| dir)
        .chain([PathBuf::from("/usr/local/bin"), PathBuf::from("/usr/bin")])
        .find(|dir| has_all(dir))
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin, \
                 /usr/local/bin or /usr/bin: install the Debian package `postgresql` \
                 (scripts/setup-debian.sh) or set OQS_PG_BIN"
            )
        })
}

/// A private PostgreSQL server; stopped and removed at drop.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
    /// The TCP port of a TLS server ([`PgServer::start_tls`]); `None`: the Unix socket only.
    tls_port: Option<u16>,
}

impl std::fmt::Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgServer")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl PgServer {
    /// Creates a new cluster and starts it; panics (with the server's log) if it does not come up.
    pub fn start() -> Self {
        let mut server = Self::create();
        server.start_again();
        server
    }

    /// A server that also listens on 127.0.0.1 with TLS, presenting `cert_pem` (the chain, leaf first)
    /// with `key_pem`; TCP clients must use TLS (`hostssl` only), the Unix socket stays for the test's own
    /// checks.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        let mut server = Self::create();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free TCP port for PostgreSQL: {e}"));
        server.tls_port = Some(port);
        server.write_private("server.crt", cert_pem);
        server.write_private("server.key", key_pem);
        server.write_private(
            "pg_hba.conf",
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        );
        server.start_again();
        server
    }

    /// Writes a file into the data folder, mode 0600, owned by the server's user.
    fn write_private(&self, name: &str, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.data_dir().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {name}: {e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("chmod of {name}: {e}"));
        if let Some((uid, gid)) = self.run_as {
            nix::unistd::chown(&path, Some(uid.into()), Some(gid.into()))
                .unwrap_or_else(|e| panic!("chown of {name}: {e}"));
        }
    }

    /// A libpq connection string for `database` over TLS to a server started with
    /// [`PgServer::start_tls`], naming it `host` (checked against its certificate) at 127.0.0.1.
    pub fn tls_url(&self, database: &str, host: &str) -> String {
        let port = self
            .tls_port
            .unwrap_or_else(|| panic!("tls_url of a server started without TLS"));
        format!("host={host} hostaddr=127.0.0.1 port={port} user=postgres dbname={database}")
    }

    fn create() -> Self {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("oqs-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a folder for PostgreSQL: {e}"));
        let run_as = Uid::effective().is_root().then(|| {
            let nobody = User::from_name("nobody").ok().flatten().unwrap_or_else(|| {
                panic!("running as root, and there is no user `nobody` to run PostgreSQL as")
            });
            (nobody.uid.as_raw(), nobody.gid.as_raw())
        });
        let server = Self {
            dir,
            bin,
            run_as,
            child: None,
            tls_port: None,
        };
        for sub in ["data", "socket"] {
            std::fs::create_dir(server.dir.path().join(sub))
                .unwrap_or_else(|e| panic!("cannot create {sub}: {e}"));
        }
        if let Some((uid, gid)) = run_as {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("chmod of the PostgreSQL folder: {e}"));
            for sub in ["data", "socket"] {
                nix::unistd::chown(
                    &server.dir.path().join(sub),
                    Some(uid.into()),
                    Some(gid.into()),
                )
                .unwrap_or_else(|e| panic!("chown of the PostgreSQL {sub} folder: {e}"));
            }
        }
        let output = server
            .command("initdb")
            .args(["-D"])
            .arg(server.data_dir())
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", server.bin.join("initdb").display()));
        assert!(
            output.status.success(),
            "initdb failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        server
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.run_as {
            // std drops the supplementary groups too when it changes the uid of a root process.
            command.uid(uid).gid(gid);
        }
        command
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The folder of the server's Unix socket (libpq's `host`).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the server is running (started and not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the server (again, after [`PgServer::stop`]) and waits until it accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "PostgreSQL is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot open the PostgreSQL log: {e}"));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot open the PostgreSQL log: {e}"));
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-k")
            .arg(self.socket_dir())
            .args(["-c", "fsync=off", "-c", "max_connections=200"]);
        match self.tls_port {
            None => command.args(["-p", &SOCKET_PORT.to_string(), "-c", "listen_addresses="]),
            Some(port) => command.args(["-p", &port.to_string()]).args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
                "-c",
                "ssl_cert_file=server.crt",
                "-c",
                "ssl_key_file=server.key",
            ]),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {}: {e}", self.bin.join("postgres").display())
            });
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!("PostgreSQL exited at start ({status}):\n{}", self.log());
            }
            if self.try_connect("postgres").is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not accept connections within {READY_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(STEP);
        }
    }

    /// Stops the server (fast shutdown: open sessions are ended) and waits for it to exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGINT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(STEP),
                _ => {
                    // Immediate shutdown, then the whole group (the server's children) by its id.
                    let _ = kill(pid, Signal::SIGQUIT);
                    let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
                    let _ = child.wait();
                    return;
                }
            }
        }
    }

    /// A libpq connection string for `database` over the server's socket, as user `postgres`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={database}",
            self.socket_dir().display(),
            self.tls_port.unwrap_or(SOCKET_PORT)
        )
    }

    /// Creates database `name` (owned by `postgres`) and returns its connection string.
    pub fn create_database(&self, name: &str) -> String {
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "database name {name:?}: letters, digits and _ only"
        );
        self.execute("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Runs SQL statements on `database` (panics on error): for a test's checks.
    pub fn execute(&self, database: &str, sql: &str) {
        let sql = sql.to_owned();
        self.with_client(database, move |client| async move {
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"));
        })
    }

    /// Runs SQL statements on `database`; the server's error as text (a test that expects a refusal).
    pub fn try_execute(&self, database: &str, sql: &str) -> Result<(), String> {
        let sql = sql.to_owned();
        self.with_client(database, move |client| async move {
            client.batch_execute(&sql).await.map_err(|e| {
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            })
        })
    }

    /// Rows of a query on `database`, every column read as text (`::text` casts in the query).
    pub fn query_strings(&self, database: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        let sql = sql.to_owned();
        self.with_client(database, move |client| async move {
            let rows = client
                .query(&sql, &[])
                .await
                .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"));
            rows.iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.get::<_, Option<String>>(i))
                        .collect()
                })
                .collect()
        })
    }

    /// One number from a query such as `SELECT count(*) FROM t`.
    pub fn query_i64(&self, database: &str, sql: &str) -> i64 {
        let sql = sql.to_owned();
        self.with_client(database, move |client| async move {
            client
                .query_one(&sql, &[])
                .await
                .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
                .get::<_, i64>(0)
        })
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
    }

    fn try_connect(&self, database: &str) -> Result<(), tokio_postgres::Error> {
        let url = self.url(database);
        Self::runtime().block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            drop(connection);
            drop(client);
            Ok(())
        })
    }

    fn with_client<F, Fut, T>(&self, database: &str, f: F) -> T
    where
        F: FnOnce(tokio_postgres::Client) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        assert!(self.is_running(), "PostgreSQL is stopped");
        let url = self.url(database);
        Self::runtime().block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
            let driver = tokio::spawn(connection);
            let out = f(client).await;
            driver.abort();
            out
        })
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_server_starts_stops_and_starts_again_with_its_data() {
        let mut pg = PgServer::start();
        pg.create_database("t1");
        pg.execute("t1", "CREATE TABLE x (v int); INSERT INTO x VALUES (7)");
        pg.stop();
        assert!(!pg.is_running());
        assert!(
            pg.try_connect("t1").is_err(),
            "a stopped server still answers"
        );
        pg.start_again();
        assert_eq!(pg.query_i64("t1", "SELECT sum(v)::bigint FROM x"), 7);
        let dir = pg.dir.path().to_path_buf();
        drop(pg);
        assert!(!dir.exists(), "the cluster's folder is left behind");
    }
}
