//! Test-only harness: one private pcscd with several vsmartcard vpcd readers, shared by many test processes.
//!
//! pcscd's socket path (`/run/pcscd/pcscd.comm`) is fixed at build time, so only one pcscd can run on a
//! machine, while `cargo nextest` runs every test in its own process. This crate coordinates them through
//! lock files in [`state_dir`]:
//!
//! - `setup.lock` (exclusive, short): whoever holds it makes sure our pcscd runs. A pcscd started by the
//!   package (found by `/run/pcscd/pcscd.pid`) is stopped by that pid, never by name; then
//!   `pcscd -f -a -c <state_dir>/reader.conf.d` is started with [`READER_ENTRIES`] vpcd entries. Entry `i`
//!   has `DEVICENAME /dev/null:0xNNNN` and `CHANNELID 0xNNNN` with NNNN = [`BASE_PORT`] + 2i; the vpcd
//!   driver then listens on NNNN (slot `00`) and NNNN+1 (slot `01`). vpcd supports one entry per pcscd
//!   (see [`READER_ENTRIES`]), so there are two readers and at most two card tests run at once; the others
//!   wait for a free reader. [`readers`] takes several at once, all or none.
//! - `users.lock`: every [`ReaderLease`] holds it shared; [`exclusive`] holds it exclusively, so a test that
//!   stops or restarts pcscd never runs while another test uses a reader.
//! - `slot-K.lock`: one per reader, held exclusively by the test that uses that reader.
//!
//! The pcscd keeps running after the tests (the next test process reuses it); `scripts/pcscd-vpcd.sh stop`
//! or [`stop_pcscd`] ends it. Everything fails loudly (panics with a message) when something is missing:
//! tests must never skip.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// First vpcd TCP port used by the harness (away from the packaged 35963 so a demo can run beside it).
pub const BASE_PORT: u16 = 40100;
/// reader.conf entries; each gives two readers. Only ONE works: vsmartcard-vpcd 3.3 keeps its per-slot
/// state in a table indexed by the slot number alone (`Lun & 0xFFFF`), so every further entry overwrites
/// the slots of the previous one and only the last entry's ports accept cards (verified with pcscd 1.9.9:
/// with four entries on 40100/40102/40104/40106, only 40106 and 40107 ever got an ATR request).
pub const READER_ENTRIES: u16 = 1;
/// Readers available to tests.
pub const READERS: u16 = READER_ENTRIES * 2;
/// Where package-started pcscd keeps its pid.
pub const SYSTEM_PID_FILE: &str = "/run/pcscd/pcscd.pid";

const READY_TIMEOUT: Duration = Duration::from_secs(15);
const LEASE_TIMEOUT: Duration = Duration::from_secs(300);
const STEP: Duration = Duration::from_millis(20);

/// The harness's working directory (override with `OQS_PCSC_HARNESS_DIR`).
pub fn state_dir() -> PathBuf {
    std::env::var_os("OQS_PCSC_HARNESS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("oqs-pcsc-harness"))
}

fn conf_dir() -> PathBuf {
    state_dir().join("reader.conf.d")
}

fn pid_file() -> PathBuf {
    state_dir().join("pcscd.pid")
}

/// The friendly name of reader.conf entry `i`.
fn friendly_name(i: u16) -> String {
    format!("OQS vpcd {i}")
}

fn lock_file(name: &str) -> File {
    let dir = state_dir();
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join(name);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open lock file {}: {e}", path.display()))
}

fn flock(name: &str, arg: FlockArg) -> Flock<File> {
    Flock::lock(lock_file(name), arg)
        .unwrap_or_else(|(_, e)| panic!("cannot lock {name} in the harness directory: {e}"))
}

fn alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped by the test process that spawned it) is not a running pcscd.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn terminate(pid: i32, what: &str) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        if Instant::now() > deadline {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let kill_deadline = Instant::now() + Duration::from_secs(2);
            while alive(pid) {
                assert!(
                    Instant::now() < kill_deadline,
                    "{what} (pid {pid}) does not exit"
                );
                std::thread::sleep(STEP);
            }
            break;
        }
        std::thread::sleep(STEP);
    }
}

fn ours_running() -> Option<i32> {
    let pid = read_pid(&pid_file())?;
    if !alive(pid) {
        return None;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let conf = conf_dir();
    let conf = conf.to_string_lossy();
    String::from_utf8_lossy(&cmdline)
        .contains(conf.as_ref())
        .then_some(pid)
}

fn write_conf() {
    let dir = conf_dir();
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let driver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
    assert!(
        Path::new(driver).exists(),
        "{driver} is missing: apt-get install -y --no-install-recommends pcscd vsmartcard-vpcd"
    );
    let mut text = String::new();
    for i in 0..READER_ENTRIES {
        let port = BASE_PORT + 2 * i;
        text.push_str(&format!(
            "FRIENDLYNAME \"{}\"\nDEVICENAME /dev/null:0x{port:04X}\nLIBPATH {driver}\nCHANNELID 0x{port:04X}\n\n",
            friendly_name(i)
        ));
    }
    let path = dir.join("vpcd");
    fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The readers our pcscd offers: (name, vpcd port), in slot order, once all of them are visible.
fn visible_readers() -> Option<Vec<(String, u16)>> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).ok()?;
    let names: Vec<String> = ctx
        .list_readers_owned()
        .ok()?
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    for i in 0..READER_ENTRIES {
        for slot in 0..2u16 {
            let prefix = format!("{} ", friendly_name(i));
            let suffix = format!(" {slot:02}");
            let name = names
                .iter()
                .find(|n| n.starts_with(&prefix) && n.ends_with(&suffix))?;
            out.push((name.clone(), BASE_PORT + 2 * i + slot));
        }
    }
    Some(out)
}

fn wait_ready() -> Vec<(String, u16)> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(r) = visible_readers() {
            return r;
        }
        if Instant::now() > deadline {
            let log = fs::read_to_string(state_dir().join("pcscd.log")).unwrap_or_default();
            panic!(
                "pcscd did not offer the vpcd readers within {READY_TIMEOUT:?}; its log:\n{log}"
            );
        }
        std::thread::sleep(STEP);
    }
}

fn start_locked() {
    if ours_running().is_some() {
        return;
    }
    if let Some(pid) = read_pid(Path::new(SYSTEM_PID_FILE))
        && alive(pid)
    {
        terminate(pid, "the package-started pcscd");
    }
    write_conf();
    let log = File::create(state_dir().join("pcscd.log")).expect("cannot create the pcscd log");
    let log2 = log
        .try_clone()
        .expect("cannot duplicate the pcscd log handle");
    let child = Command::new("pcscd")
        .arg("-f")
        .arg("-a")
        .arg("-c")
        .arg(conf_dir())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        // Its own process group: a Ctrl-C or a killed test must not take pcscd down with it.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start pcscd ({e}): apt-get install -y --no-install-recommends pcscd")
        });
    fs::write(pid_file(), child.id().to_string()).expect("cannot write the harness pid file");
    // Reap it if it exits while this process lives (no zombie that looks alive); if this process ends
    // first, pcscd is re-parented and keeps serving the next test process.
    let mut child = child;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

/// Makes sure our pcscd runs and offers every reader; returns (reader name, vpcd port) pairs.
pub fn ensure_pcscd() -> Vec<(String, u16)> {
    let _setup = flock("setup.lock", FlockArg::LockExclusive);
    start_locked();
    wait_ready()
}

/// Stops our pcscd (if running). Used by `exclusive` tests and by the stop script.
pub fn stop_pcscd() {
    let _setup = flock("setup.lock", FlockArg::LockExclusive);
    if let Some(pid) = ours_running() {
        terminate(pid, "the harness pcscd");
    }
}

/// One reader reserved for the calling test for as long as the lease lives.
pub struct ReaderLease {
    /// PC/SC reader name.
    pub reader: String,
    /// vpcd TCP port a virtual card connects to, to be inserted into this reader.
    pub port: u16,
    _slot: Flock<File>,
    _users: Flock<File>,
}

/// Reserves a free reader of a running private pcscd (starting it if needed). Waits while an exclusive test
/// (pcscd restart) runs or while every reader is taken.
pub fn reader() -> ReaderLease {
    let users = flock("users.lock", FlockArg::LockShared);
    let readers = ensure_pcscd();
    let deadline = Instant::now() + LEASE_TIMEOUT;
    loop {
        for (k, (name, port)) in readers.iter().enumerate() {
            if let Ok(slot) = Flock::lock(
                lock_file(&format!("slot-{k}.lock")),
                FlockArg::LockExclusiveNonblock,
            ) {
                return ReaderLease {
                    reader: name.clone(),
                    port: *port,
                    _slot: slot,
                    _users: users,
                };
            }
        }
        assert!(
            Instant::now() < deadline,
            "no free vpcd reader within {LEASE_TIMEOUT:?}"
        );
        std::thread::sleep(STEP);
    }
}

/// Reserves `n` readers at once (a test of several terminals, each with its reader). All or none: free
/// slots are taken only while every one of them is free, and given back otherwise, so two tests each
/// waiting for a second reader never hold one apiece forever.
pub fn readers(n: usize) -> Vec<ReaderLease> {
    assert!(
        n <= READERS as usize,
        "{n} readers asked for; the harness has {READERS}"
    );
    // As in `reader`: no exclusive test may stop pcscd between starting it and taking the slots; each
    // lease then holds a shared lock of its own.
    let _users = flock("users.lock", FlockArg::LockShared);
    let readers = ensure_pcscd();
    let deadline = Instant::now() + LEASE_TIMEOUT;
    loop {
        let mut taken = Vec::new();
        for (k, (name, port)) in readers.iter().enumerate() {
            if taken.len() == n {
                break;
            }
            if let Ok(slot) = Flock::lock(
                lock_file(&format!("slot-{k}.lock")),
                FlockArg::LockExclusiveNonblock,
            ) {
                taken.push(ReaderLease {
                    reader: name.clone(),
                    port: *port,
                    _slot: slot,
                    _users: flock("users.lock", FlockArg::LockShared),
                });
            }
        }
        if taken.len() == n {
            return taken;
        }
        drop(taken);
        assert!(
            Instant::now() < deadline,
            "{n} free vpcd readers not found within {LEASE_TIMEOUT:?}"
        );
        std::thread::sleep(STEP);
    }
}

/// Two readers at once ([`readers`]`(2)`), in slot order: a test of two terminals, or of one kiosk with a
/// card reader and an NFC reader.
pub fn two_readers() -> (ReaderLease, ReaderLease) {
    let mut leases = readers(2).into_iter();
    match (leases.next(), leases.next()) {
        (Some(first), Some(second)) => (first, second),
        _ => panic!("readers(2) gave fewer than two readers"),
    }
}

/// Sole use of pcscd: no other harness test runs while this lives. For tests that stop or restart pcscd.
pub struct ExclusiveLease {
    _users: Flock<File>,
}

pub fn exclusive() -> ExclusiveLease {
    let users = flock("users.lock", FlockArg::LockExclusive);
    ExclusiveLease { _users: users }
}

impl ExclusiveLease {
    /// Starts pcscd if needed; returns its readers.
    pub fn start(&self) -> Vec<(String, u16)> {
        ensure_pcscd()
    }

    pub fn stop(&self) {
        stop_pcscd();
    }

    /// The pid of the running harness pcscd.
    pub fn pid(&self) -> Option<i32> {
        ours_running()
    }
}

/// Reader name as a C string, for the `pcsc` crate.
pub fn cstring(name: &str) -> CString {
    CString::new(name).expect("reader names have no NUL")
}
