//! Harness for the end-to-end tests: starts the real binaries of the workspace (the mock central service,
//! `oqs-readerd`) in private temporary folders, on free loopback ports, and stops them afterwards.
//!
//! The binaries are found next to the test executable (`target/<profile>/`); `cargo nextest run
//! --workspace` and `cargo test --workspace` build them before any test runs. A missing binary is a
//! failure with the command that builds it, never a skip.
//!
//! Tests that start the daemon call [`os_keyring::testing::in_keyutils_session`] first, so the daemon (a
//! child process) stores its keys in a private keyutils session keyring that outlives its restarts.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod app;
pub mod central;
pub mod faces;
pub mod kiosk;
pub mod staff;
pub mod wine;

static SERVES: AtomicU32 = AtomicU32::new(0);

pub use os_keyring::testing::in_keyutils_session;

/// `target/<profile>/<name>`, found from a test (`target/<profile>/deps/<test>`) or from a binary of this
/// package (`target/<profile>/<bin>`).
/// The tests' clock: pinned at `OQS_TEST_NOW` (or the default) when the test process first asks, advancing in
/// real time. Every process a test starts (mock central `--now`, daemon `[clock] pinned`, card issuance) is
/// handed this clock's reading at its start, so they all read the same calendar.
pub fn clock() -> &'static oqs_clock::Clock {
    static CLOCK: std::sync::OnceLock<oqs_clock::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(oqs_clock::test_clock)
}

/// [`clock`]'s reading now, as the setting another process is pinned with.
pub fn now_setting() -> String {
    oqs_clock::rfc3339(clock().now())
}

pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let here = exe.parent().expect("folder of the executable");
    let dir = if here.join(name).exists() {
        here
    } else {
        here.parent().expect("target/<profile> folder")
    };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing; build it with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

/// How a test starts the project's programs: the Linux build, or the Windows build under Wine.
#[derive(Clone, Default)]
pub enum Runner {
    #[default]
    Native,
    Wine(Arc<wine::Wine>),
}

impl Runner {
    /// The program `name` (`oqs-readerd`, `oqs`, …), ready for its arguments.
    pub fn command(&self, name: &str) -> Command {
        match self {
            Self::Native => Command::new(bin(name)),
            Self::Wine(wine) => wine.command(name),
        }
    }

    /// `path` as the program sees it.
    pub fn path(&self, path: &Path) -> String {
        match self {
            Self::Native => path.display().to_string(),
            Self::Wine(_) => wine::Wine::path(path),
        }
    }
}

/// The workspace root (for test data).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Polls `check` every 10 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process that is killed when dropped, with its stderr in a file.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
    /// Spawned as the leader of its own process group ([`Process::spawn_group`]): signals go to the group.
    group: bool,
}

impl Process {
    pub fn spawn(mut cmd: Command, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Self {
            child,
            log,
            group: false,
        }
    }

    /// As [`Process::spawn`], the process and everything it starts in a process group of their own, signalled
    /// together: for a program run under a wrapper (`strace …`), which on SIGTERM or SIGKILL would otherwise
    /// leave the wrapped program running, orphaned, after its test.
    pub fn spawn_group(mut cmd: Command, log: PathBuf) -> Self {
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut process = Self::spawn(cmd, log);
        process.group = true;
        process
    }

    /// Sends `signal` (`TERM`, `KILL`) to the process, or to its whole group.
    fn signal(&self, signal: &str) {
        // Through the `kill` command, to keep the crate free of unsafe code.
        let target = if self.group {
            format!("-{}", self.child.id())
        } else {
            self.child.id().to_string()
        };
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), "--", &target])
            .status();
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// The process id (the group id too, when it was spawned as its own group leader).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        if self.group {
            self.signal("KILL");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait.
    pub fn terminate(&mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The mock central service with its data folder.
pub struct MockCentral {
    pub dir: PathBuf,
    pub port: u16,
    pub facility_code: String,
    /// Extra `serve` arguments for the next starts (e.g. `--bulk-delay-secs 3600`).
    pub serve_args: Vec<String>,
    /// The instant the next start is pinned at (`--now`); [`now_setting`] when `None`.
    pub now: Option<String>,
    process: Option<Process>,
    _tmp: Option<tempfile::TempDir>,
}

impl MockCentral {
    /// `init` a population of `population` people into a new temporary folder (cards linked from
    /// `cards`, if given) and serve it.
    pub fn start(population: u32, cards: Option<&Path>) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("central");
        let mut init = Command::new(bin("oqs-mock-central"));
        init.args(["init", "--dir"]).arg(&dir).args([
            "--population",
            &population.to_string(),
            "--seed",
            "7",
        ]);
        if let Some(cards) = cards {
            init.arg("--cards").arg(cards);
        }
        let out = init.output().expect("run oqs-mock-central init");
        assert!(
            out.status.success(),
            "oqs-mock-central init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("central.json")).expect("central.json"))
                .expect("central.json is JSON");
        let facility_code = meta["facility_code"]
            .as_str()
            .expect("facility_code")
            .to_owned();
        let mut central = Self {
            dir,
            port: free_port(),
            facility_code,
            serve_args: Vec::new(),
            now: None,
            process: None,
            _tmp: Some(tmp),
        };
        central.serve();
        central
    }

    /// (Re)starts the server on the same port.
    pub fn serve(&mut self) {
        let mut cmd = Command::new(bin("oqs-mock-central"));
        cmd.args(["serve", "--dir"])
            .arg(&self.dir)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--now", &self.now.clone().unwrap_or_else(now_setting)])
            .args(&self.serve_args);
        let log = self.dir.join(format!(
            "serve-{}.log",
            SERVES.fetch_add(1, Ordering::SeqCst)
        ));
        let mut process = Process::spawn(cmd, log);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        wait_for(
            "the mock central service to listen",
            Duration::from_secs(30),
            || {
                assert!(
                    process.is_running(),
                    "mock central exited:\n{}",
                    process.log_text()
                );
                TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()
            },
        );
        self.process = Some(process);
    }

    /// Stops the server: connections are refused until [`MockCentral::serve`].
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
}

/// An `oqs-readerd` with its own folders and configuration.
pub struct Daemon {
    pub root: PathBuf,
    pub config: PathBuf,
    process: Option<Process>,
    starts: u32,
    /// A program the daemon is started under (e.g. `strace …`), for the next starts.
    pub wrapper: Vec<String>,
    /// The Linux daemon, or the Windows one under Wine.
    pub runner: Runner,
    _tmp: tempfile::TempDir,
}

impl Daemon {
    /// Writes a configuration pointing at `central` (plus `extra` TOML appended) and starts the daemon.
    pub fn start(central: &MockCentral, extra: &str) -> Self {
        Self::start_on(Runner::Native, central, extra)
    }

    /// As [`Daemon::start`], the daemon started by `runner`.
    pub fn start_on(runner: Runner, central: &MockCentral, extra: &str) -> Self {
        // A daemon watches only the reader its test leased: another test's card is none of its business.
        let extra = if extra.contains("[readers]") {
            extra.to_owned()
        } else {
            format!("{extra}\n[readers]\nnames = [\"no reader leased\"]\n")
        };
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().to_path_buf();
        let config = root.join("oqs-readerd.toml");
        let file = |name: &str| runner.path(&central.dir.join(name));
        let text = format!(
            "[facility]\nmedical_institution_code = \"{code}\"\n\
             [central]\nurl = \"{url}\"\nca_cert = '{ca}'\nterminal_cert = '{cert}'\n\
             terminal_key = '{key}'\nprobe_interval_ms = 100\nrequest_timeout_ms = 5000\n\
             connect_timeout_ms = 1000\n\
             [clock]\npinned = \"\"\n\
             [relay]\nrescan_interval_ms = 500\nsettle_ms = 200\n{extra}\n",
            code = central.facility_code,
            url = central.url(),
            ca = file("ca.crt"),
            cert = file("terminal.crt"),
            key = file("terminal.key"),
        );
        std::fs::write(&config, text).expect("write config");
        let mut daemon = Self {
            root,
            config,
            process: None,
            starts: 0,
            wrapper: Vec::new(),
            runner,
            _tmp: tmp,
        };
        daemon.restart();
        daemon
    }

    /// Starts the daemon (again) and waits until it says it started.
    pub fn restart(&mut self) {
        assert!(
            self.restart_with_env(&[]),
            "oqs-readerd exited:\n{}",
            self.logs()
        );
    }

    /// Starts the daemon (again) with extra environment variables (e.g. `FAILPOINTS`) and waits until it
    /// says it started or exits. True if it is running; false if it exited (a crash point hit early).
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) -> bool {
        self.repin_clock();
        self.starts += 1;
        let log = self.root.join(format!("readerd-{}.log", self.starts));
        let mut cmd = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin("oqs-readerd"));
                c
            }
            None => self.runner.command("oqs-readerd"),
        };
        cmd.arg("--config")
            .arg(self.runner.path(&self.config))
            .env("OQS_LOG", "debug");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut process = if self.wrapper.is_empty() {
            Process::spawn(cmd, log)
        } else {
            Process::spawn_group(cmd, log)
        };
        let running = wait_for("oqs-readerd to start", Duration::from_secs(30), || {
            if !process.is_running() {
                return Some(false);
            }
            process
                .log_text()
                .contains("oqs-readerd started")
                .then_some(true)
        });
        self.process = Some(process);
        running
    }

    /// Waits until the daemon process exits (e.g. at a crash point); false if it still runs after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let running = self.process.as_mut().is_some_and(Process::is_running);
            if !running {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// Sets `[clock] pinned` to the tests' clock as it reads now, so that a restarted daemon goes on from
    /// where the test's calendar is (see [`clock`]).
    fn repin_clock(&self) {
        let text = std::fs::read_to_string(&self.config).expect("read config");
        let pinned = format!("pinned = \"{}\"", now_setting());
        let text: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("pinned = ") {
                    pinned.clone()
                } else {
                    l.to_owned()
                }
            })
            .collect();
        std::fs::write(&self.config, text.join("\n") + "\n").expect("write config");
    }

    /// The running daemon's process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.terminate();
        }
    }

    pub fn req(&self) -> PathBuf {
        self.root.join("req")
    }
    pub fn res(&self) -> PathBuf {
        self.root.join("res")
    }
    pub fn face(&self) -> PathBuf {
        self.root.join("face")
    }
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// Every log the daemon wrote in this test, all runs together.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for n in 1..=self.starts {
            if let Ok(s) = std::fs::read_to_string(self.root.join(format!("readerd-{n}.log"))) {
                all.push_str(&s);
            }
        }
        all
    }

    /// Drops a request the way a careful receipt computer does: write a temporary name, then rename.
    pub fn drop_request(&self, name: &str, bytes: &[u8]) {
        let tmp = self.req().join(format!("{name}.tmp"));
        std::fs::write(&tmp, bytes).expect("write request");
        std::fs::rename(&tmp, self.req().join(name)).expect("rename request");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A single-check request for `facility` with a free id, in UTF-8.
pub fn single_check_request(facility: &str, id: &str) -> (String, Vec<u8>) {
    let name = format!("OQSsiquc01req_{id}.xml");
    let today = clock().ymd_jst();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<XmlMsg><MessageHeader>\
         <QualificationConfirmationDate>{today}</QualificationConfirmationDate>\
         <MedicalInstitutionCode>{facility}</MedicalInstitutionCode>\
         <ArbitraryFileIdentifier>{id}</ArbitraryFileIdentifier></MessageHeader><MessageBody>\
         <QualificationConfirmSearchInfo><InsurerNumber>06139992</InsurerNumber>\
         <InsuredIdentificationNumber>4260</InsuredIdentificationNumber><Birthdate>20010327</Birthdate>\
         <LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>\
         </QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n"
    );
    (name, xml.into_bytes())
}

/// Drops a single check (`OQSsiquc01req_<id>.xml`) into `req/` and waits for its result in `res/`: the
/// encoding the result reads in, and the start of its bytes (the XML declaration) for the failure message.
pub fn relayed_result_encoding(
    daemon: &Daemon,
    facility: &str,
    id: &str,
) -> (oqs_protocol::Encoding, String) {
    let (name, bytes) = single_check_request(facility, id);
    daemon.drop_request(&name, &bytes);
    let result = name.replace("req_", "res_");
    let path = daemon.res().join(&result);
    let bytes = wait_for(&result, Duration::from_secs(60), || {
        std::fs::read(&path).ok()
    });
    let declaration = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
    let decoded = oqs_protocol::read_file(&result, &bytes)
        .unwrap_or_else(|e| panic!("{result} does not read: {e} ({declaration})"));
    (decoded.encoding, declaration)
}

/// Counts the deliveries into one folder from the kernel's events (inotify), not from the names present
/// at the end: a result delivered twice under the same name, or written in place where the receipt
/// computer could read half of it, leaves the same set of names as a correct run.
///
/// A delivery is a rename into the folder (`IN_MOVED_TO`). A final name (see [`Deliveries::is_final`]) that
/// is created, modified or closed after writing in the folder itself was written in place: that is a
/// defect, recorded in [`Deliveries::written_in_place`]. Events wait in the kernel's queue until a method
/// reads them, so the watch sees everything from [`Deliveries::watch`] on, whatever the test does meanwhile.
pub struct Deliveries {
    dir: PathBuf,
    inner: std::sync::Mutex<DeliveriesInner>,
}

struct DeliveriesInner {
    inotify: inotify::Inotify,
    moved_in: std::collections::BTreeMap<String, u32>,
    written_in_place: std::collections::BTreeSet<String>,
}

impl Deliveries {
    /// Starts watching `dir` (which must exist). Only what happens from now on is counted.
    pub fn watch(dir: &Path) -> Self {
        use inotify::WatchMask;
        let inotify = inotify::Inotify::init().expect("inotify instance");
        inotify
            .watches()
            .add(
                dir,
                WatchMask::MOVED_TO
                    | WatchMask::CLOSE_WRITE
                    | WatchMask::MODIFY
                    | WatchMask::CREATE,
            )
            .unwrap_or_else(|e| panic!("cannot watch {}: {e}", dir.display()));
        Self {
            dir: dir.to_owned(),
            inner: std::sync::Mutex::new(DeliveriesInner {
                inotify,
                moved_in: Default::default(),
                written_in_place: Default::default(),
            }),
        }
    }

    /// Names the receipt computer reads: not hidden, not a writer's temporary file.
    pub fn is_final(name: &str) -> bool {
        !name.starts_with('.') && !name.ends_with(".tmp") && !name.ends_with('~')
    }

    fn drain(&self) -> std::sync::MutexGuard<'_, DeliveriesInner> {
        use inotify::EventMask;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let inner = &mut *inner;
            let events = match inner.inotify.read_events(&mut buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("reading inotify events of {}: {e}", self.dir.display()),
            };
            for event in events {
                assert!(
                    !event.mask.contains(EventMask::Q_OVERFLOW),
                    "inotify queue of {} overflowed: deliveries cannot be counted",
                    self.dir.display()
                );
                let Some(name) = event.name.and_then(|n| n.to_str()).map(str::to_owned) else {
                    continue;
                };
                if event.mask.contains(EventMask::ISDIR) || !Self::is_final(&name) {
                    continue;
                }
                if event.mask.contains(EventMask::MOVED_TO) {
                    *inner.moved_in.entry(name).or_default() += 1;
                } else {
                    inner.written_in_place.insert(name);
                }
            }
        }
        inner
    }

    /// How often `name` was delivered so far.
    pub fn count(&self, name: &str) -> u32 {
        self.drain().moved_in.get(name).copied().unwrap_or(0)
    }

    /// Every name delivered so far, with how often.
    pub fn counts(&self) -> std::collections::BTreeMap<String, u32> {
        self.drain().moved_in.clone()
    }

    /// Names delivered more than once.
    pub fn duplicates(&self) -> Vec<(String, u32)> {
        self.counts().into_iter().filter(|(_, n)| *n > 1).collect()
    }

    /// Final names that were created, modified or closed after writing in the folder (not renamed in).
    pub fn written_in_place(&self) -> Vec<String> {
        self.drain().written_in_place.iter().cloned().collect()
    }

    /// Waits until `name` was delivered at least once; panics after `timeout`.
    pub fn wait_for(&self, name: &str, timeout: Duration) {
        wait_for(
            &format!("{name} to be delivered into {}", self.dir.display()),
            timeout,
            || (self.count(name) > 0).then_some(()),
        );
    }

    /// Panics unless every name in `expected` was delivered exactly once, nothing else was delivered, and
    /// nothing was written in place.
    pub fn assert_exactly_once<S: AsRef<str>>(&self, expected: &[S]) {
        let counts = self.counts();
        let wanted: std::collections::BTreeSet<&str> = expected.iter().map(AsRef::as_ref).collect();
        let wrong: Vec<_> = counts
            .iter()
            .filter(|(name, n)| **n != 1 || !wanted.contains(name.as_str()))
            .collect();
        let missing: Vec<_> = wanted
            .iter()
            .filter(|name| !counts.contains_key(**name))
            .collect();
        let in_place = self.written_in_place();
        assert!(
            wrong.is_empty() && missing.is_empty() && in_place.is_empty(),
            "deliveries into {}: delivered not exactly once or unexpected {wrong:?}; never delivered \
             {missing:?}; written in place {in_place:?}",
            self.dir.display()
        );
    }
}

#[cfg(test)]
mod deliveries_tests {
    use super::*;

    #[test]
    fn counts_renames_and_flags_writes_in_place() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let deliveries = Deliveries::watch(dir);
        // Correct: temporary name, then rename. Twice under the same name is two deliveries.
        for _ in 0..2 {
            std::fs::write(dir.join("a.xml.tmp"), b"x").unwrap();
            std::fs::rename(dir.join("a.xml.tmp"), dir.join("a.xml")).unwrap();
        }
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("b.xml"), b"x").unwrap();
        std::fs::rename(outside.path().join("b.xml"), dir.join("b.xml")).unwrap();
        assert_eq!(deliveries.count("a.xml"), 2);
        assert_eq!(deliveries.duplicates(), vec![("a.xml".to_owned(), 2)]);
        assert!(deliveries.written_in_place().is_empty());
        let twice =
            std::panic::catch_unwind(|| deliveries.assert_exactly_once(&["a.xml", "b.xml"]));
        assert!(twice.is_err(), "a name delivered twice must fail the check");
    }

    #[test]
    #[should_panic(expected = "written in place")]
    fn a_write_in_place_fails_the_check() {
        let tmp = tempfile::tempdir().unwrap();
        let deliveries = Deliveries::watch(tmp.path());
        std::fs::write(tmp.path().join("c.xml"), b"half").unwrap();
        assert_eq!(deliveries.written_in_place(), vec!["c.xml".to_owned()]);
        deliveries.assert_exactly_once(&["c.xml"]);
    }
}
