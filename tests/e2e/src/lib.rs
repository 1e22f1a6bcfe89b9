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
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod app;
pub mod deliveries;
pub mod kiosk;
pub mod staff;

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
        Self { child, log }
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait.
    pub fn terminate(&mut self) {
        // SAFETY-free: send the signal through the `kill` command to keep the crate free of unsafe code.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
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
            .args(["--now", &now_setting()]);
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
    _tmp: tempfile::TempDir,
}

impl Daemon {
    /// Writes a configuration pointing at `central` (plus `extra` TOML appended) and starts the daemon.
    pub fn start(central: &MockCentral, extra: &str) -> Self {
        // A daemon watches only the reader its test leased: another test's card is none of its business.
        let extra = if extra.contains("[readers]") {
            extra.to_owned()
        } else {
            format!("{extra}\n[readers]\nnames = [\"no reader leased\"]\n")
        };
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().to_path_buf();
        let config = root.join("oqs-readerd.toml");
        let d = central.dir.display();
        let text = format!(
            "[facility]\nmedical_institution_code = \"{code}\"\n\
             [central]\nurl = \"{url}\"\nca_cert = \"{d}/ca.crt\"\nterminal_cert = \"{d}/terminal.crt\"\n\
             terminal_key = \"{d}/terminal.key\"\nprobe_interval_ms = 100\nrequest_timeout_ms = 5000\n\
             connect_timeout_ms = 1000\n\
             [clock]\npinned = \"\"\n\
             [relay]\nrescan_interval_ms = 500\nsettle_ms = 200\n{extra}\n",
            code = central.facility_code,
            url = central.url(),
        );
        std::fs::write(&config, text).expect("write config");
        let mut daemon = Self {
            root,
            config,
            process: None,
            starts: 0,
            _tmp: tmp,
        };
        daemon.restart();
        daemon
    }

    /// Starts the daemon (again) and waits until it says it started.
    pub fn restart(&mut self) {
        self.restart_with_env(&[]);
    }

    /// As [`Daemon::restart`], with extra environment variables (e.g. `FAILPOINTS` for a crash test).
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) {
        self.repin_clock();
        self.starts += 1;
        let log = self.root.join(format!("readerd-{}.log", self.starts));
        let mut cmd = Command::new(bin("oqs-readerd"));
        cmd.arg("--config")
            .arg(&self.config)
            .env("OQS_LOG", "debug")
            .envs(env.iter().copied());
        let mut process = Process::spawn(cmd, log);
        wait_for("oqs-readerd to start", Duration::from_secs(30), || {
            assert!(
                process.is_running(),
                "oqs-readerd exited:\n{}",
                process.log_text()
            );
            process
                .log_text()
                .contains("oqs-readerd started")
                .then_some(())
        });
        self.process = Some(process);
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

    /// Waits until the daemon process has ended by itself (a crash point fired); true if it did in time.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let running = self.process.as_mut().is_some_and(|p| p.is_running());
            if !running {
                self.process = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
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
