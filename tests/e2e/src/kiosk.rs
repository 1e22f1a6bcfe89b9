//! Helpers for the kiosk tests: synthetic cards inserted into a vpcd reader of the harness's pcscd, and the
//! `oqs` tool driving the kiosk over the daemon's socket.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{Daemon, MockCentral, Process, Runner, bin, wait_for};

/// Card profiles issued by `oqs-virtual-card issue --variant mixed`: card N has variant N (1-based).
pub const NORMAL: u32 = 1;
pub const PIN_BLOCKED: u32 = 2;
pub const FACE_ONLY: u32 = 3;
pub const REVOKED: u32 = 6;

/// A folder of issued card profiles (and the mock JPKI CA they chain to).
pub struct Cards {
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Cards {
    /// Issues `count` cards cycling through every variant (normal, pin-blocked, face-only, cert-expired,
    /// cert-expiring, revoked, smartphone).
    pub fn issue(count: u32) -> Self {
        Self::issue_with_photo(count, None)
    }

    /// As [`Cards::issue`], every card carrying `photo` (PNG, converted to JPEG 2000 by the issuer).
    pub fn issue_with_photo(count: u32, photo: Option<&Path>) -> Self {
        Self::issue_range(1, count, "mixed", photo)
    }

    /// `count` cards of `variant` (`normal`, `face-only`, …) with indices from `first`, so that card N is linked
    /// to the mock central's person N (fixtures such as `population::fixtures::MEDICAL_AID`).
    pub fn issue_for_people(first: u32, count: u32, variant: &str) -> Self {
        Self::issue_range(first, count, variant, None)
    }

    fn issue_range(first: u32, count: u32, variant: &str, photo: Option<&Path>) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let cards = Self {
            dir: tmp.path().join("cards"),
            _tmp: tmp,
        };
        cards.issue_into(first, count, variant, photo, crate::clock().now_secs());
        cards
    }

    /// More cards into the same folder (the same JPKI CA), issued at `issued_at` (UNIX seconds): a normal
    /// certificate runs from a year before it to four years after, so an old issue gives an expired one.
    pub fn issue_more(&self, first: u32, count: u32, variant: &str, issued_at: u64) {
        self.issue_into(first, count, variant, None, issued_at);
    }

    fn issue_into(
        &self,
        first: u32,
        count: u32,
        variant: &str,
        photo: Option<&Path>,
        issued_at: u64,
    ) {
        let dir = &self.dir;
        let mut cmd = Command::new(bin("oqs-virtual-card"));
        cmd.args(["issue", "--out"]).arg(dir).args([
            "--first",
            &first.to_string(),
            "--count",
            &count.to_string(),
            "--variant",
            variant,
            "--seed",
            "7",
            "--issued-at",
            &issued_at.to_string(),
        ]);
        if let Some(photo) = photo {
            cmd.arg("--photo").arg(photo);
        }
        let out = cmd.output().expect("run oqs-virtual-card issue");
        assert!(
            out.status.success(),
            "oqs-virtual-card issue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn profile(&self, index: u32) -> PathBuf {
        self.dir.join(format!("card-{index:04}.toml"))
    }

    fn value(&self, index: u32) -> toml::Table {
        let text = std::fs::read_to_string(self.profile(index)).expect("read profile");
        text.parse().expect("profile is TOML")
    }

    /// The card's authentication PIN.
    pub fn pin(&self, index: u32) -> String {
        self.value(index)["auth_pin"]
            .as_str()
            .expect("card has a PIN")
            .to_owned()
    }

    /// Name, kana and birth date (YYYY-MM-DD) of the holder.
    pub fn holder(&self, index: u32) -> (String, String, String) {
        let v = self.value(index);
        let h = v["holder"].as_table().expect("holder");
        let s = |k: &str| h[k].as_str().unwrap_or_default().to_owned();
        (s("name"), s("kana"), s("birth_date"))
    }
}

/// A virtual card inserted into a vpcd reader by `oqs-virtual-card serve`; removed when dropped.
pub struct InsertedCard {
    child: Child,
    log: PathBuf,
}

impl InsertedCard {
    pub fn insert(cards: &Cards, index: u32, port: u16, log_dir: &Path) -> Self {
        Self::insert_with(cards, index, port, log_dir, &[])
    }

    /// As [`InsertedCard::insert`], with more `oqs-virtual-card serve` arguments (e.g. `--plain-reader`).
    pub fn insert_with(
        cards: &Cards,
        index: u32,
        port: u16,
        log_dir: &Path,
        extra: &[&str],
    ) -> Self {
        let log = log_dir.join(format!("card-{index}-{}.log", std::process::id()));
        let file = std::fs::File::create(&log).expect("card log");
        let child = Command::new(bin("oqs-virtual-card"))
            .args(["serve", "--profile"])
            .arg(cards.profile(index))
            .args(["--port", &port.to_string()])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start oqs-virtual-card serve");
        let card = Self { child, log };
        wait_for("the card to be inserted", Duration::from_secs(20), || {
            std::fs::read_to_string(&card.log)
                .ok()
                .filter(|t| t.contains("inserted into vpcd"))
        });
        card
    }

    /// Takes the card out (closes the server's stdin) and waits for the server to end; fails the test if
    /// the card saw any command naming a 個人番号 EF while it was in (the virtual card records them
    /// whatever the APDU encoding, and `serve` logs each one).
    pub fn remove(mut self) {
        self.stop();
        let alerts = self.my_number_ef_accesses();
        assert!(
            alerts.is_empty(),
            "the card saw commands naming a 個人番号 EF: {alerts:?}"
        );
    }

    /// The card's log lines reporting a command that named a 個人番号 EF (empty when none did).
    pub fn my_number_ef_accesses(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("MY-NUMBER-EF-ACCESS"))
            .map(str::to_owned)
            .collect()
    }

    fn stop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for InsertedCard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `oqs` tool, pointed at one daemon's socket.
pub struct Oqs {
    pub socket: PathBuf,
    /// The kiosk (reader or kiosk of several readers) that screens are read from and `oqs kiosk …` goes
    /// to; the first reader when `None`.
    pub kiosk: Option<String>,
    /// The Linux `oqs`, or `oqs.exe` under Wine.
    pub runner: Runner,
}

impl Oqs {
    pub fn new(daemon_root: &Path) -> Self {
        Self {
            socket: daemon_root.join("run/oqs-readerd.sock"),
            kiosk: None,
            runner: Runner::Native,
        }
    }

    /// The same tool, for the kiosk called `name`.
    pub fn for_kiosk(daemon_root: &Path, name: &str) -> Self {
        Self {
            kiosk: Some(name.to_owned()),
            ..Self::new(daemon_root)
        }
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut args: Vec<&str> = args.to_vec();
        if let (Some(kiosk), Some(&"kiosk")) = (&self.kiosk, args.first()) {
            args.splice(1..1, ["--reader", kiosk.as_str()]);
        }
        let mut child = self
            .runner
            .command("oqs")
            .args(&args)
            .env("OQS_SOCKET", &self.socket)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start oqs");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("oqs output")
    }

    /// Runs `oqs`, panicking with its stderr when it fails.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "oqs {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `oqs emergency review` of a daemon's store for `from`..=`to` (and its files into `out`): the table.
    pub fn emergency_review(
        &self,
        config: &Path,
        from: &str,
        to: &str,
        out: Option<&Path>,
    ) -> String {
        let config = config.to_str().expect("config path");
        let mut args = vec![
            "emergency",
            "review",
            "--config",
            config,
            "--from",
            from,
            "--to",
            to,
        ];
        if let Some(out) = out {
            args.extend(["--out", out.to_str().expect("out path")]);
        }
        self.ok(&args, None)
    }

    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status"], None)).expect("status is JSON")
    }

    /// The kiosk screen of [`Oqs::kiosk`] (else the first reader), e.g. `{"screen":"pin_entry","tries_left":3}`.
    pub fn screen(&self) -> serde_json::Value {
        let status = self.status();
        match &self.kiosk {
            None => status["readers"][0]["kiosk"].clone(),
            Some(name) => status["readers"]
                .as_array()
                .and_then(|all| all.iter().find(|r| r["name"] == name.as_str()))
                .map(|r| r["kiosk"].clone())
                .unwrap_or(serde_json::Value::Null),
        }
    }

    /// Waits until the kiosk shows `screen` (by name) and returns it.
    pub fn wait_screen(&self, screen: &str) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s["screen"] == screen {
                return s;
            }
            if s != last {
                last = s;
            }
            assert!(
                Instant::now() < deadline,
                "the kiosk did not show `{screen}` within 30 s; it shows {last}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Answers every consent screen with `yes`/`no` until the kiosk leaves them; returns how many.
    pub fn answer_consents(&self, answer: &str) -> usize {
        let mut n = 0;
        loop {
            let deadline = Instant::now() + Duration::from_secs(30);
            let s = loop {
                let s = self.screen();
                if s["screen"] != "card_present" && s["screen"] != "pin_entry" {
                    break s;
                }
                assert!(Instant::now() < deadline, "kiosk stuck in {s}");
                std::thread::sleep(Duration::from_millis(20));
            };
            if s["screen"] != "consent" {
                return n;
            }
            self.ok(&["kiosk", "consent", answer], None);
            n += 1;
        }
    }

    /// `oqs watch` in the background, its JSON lines in a file.
    pub fn watch(&self, out: &Path) -> Process {
        let mut cmd = Command::new(bin("oqs"));
        cmd.arg("watch").env("OQS_SOCKET", &self.socket);
        let mut p = Process::spawn(cmd, out.to_owned());
        wait_for("oqs watch to subscribe", Duration::from_secs(20), || {
            assert!(p.is_running(), "oqs watch exited: {}", p.log_text());
            p.log_text().contains("watching events").then_some(())
        });
        p
    }
}

/// The JSON lines an `oqs watch` wrote so far.
pub fn watched(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Files in `dir` (not `.tmp`), sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `text` contains `digits` as a number of its own (not inside a longer run of digits).
pub fn contains_standalone_digits(text: &str, digits: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(digits) {
        let start = from + pos;
        let end = start + digits.len();
        let before = start > 0 && bytes[start - 1].is_ascii_digit();
        let after = end < bytes.len() && bytes[end].is_ascii_digit();
        if !before && !after {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Places the card, chooses PIN, enters it, answers every consent with yes; returns the result screen.
pub fn pin_checkin(oqs: &Oqs, cards: &Cards, index: u32) -> serde_json::Value {
    let (consents, screen) = pin_checkin_answering(oqs, cards, index, "yes");
    assert!(consents >= 1, "no consent screen was shown");
    screen
}

/// Chooses PIN on the placed card, enters it, answers every consent screen with `answer` (`yes` / `no`);
/// returns how many consent screens there were and the screen after them.
pub fn pin_checkin_answering(
    oqs: &Oqs,
    cards: &Cards,
    index: u32,
    answer: &str,
) -> (usize, serde_json::Value) {
    let choice = oqs.wait_screen("method_choice");
    assert!(
        choice["methods"]
            .as_array()
            .expect("methods")
            .contains(&"pin".into()),
        "{choice}"
    );
    oqs.ok(&["kiosk", "method", "pin"], None);
    let entry = oqs.wait_screen("pin_entry");
    assert_eq!(entry["tries_left"], 3, "{entry}");
    oqs.ok(&["kiosk", "pin"], Some(&format!("{}\n", cards.pin(index))));
    let consents = oqs.answer_consents(answer);
    (consents, oqs.screen())
}

/// Mock central with `cards` linked, and a daemon watching only the leased reader (kiosk timeout long enough
/// for a slow test machine), with an `oqs` client for its socket.
pub fn start_kiosk(cards: &Cards, lease: &pcsc_harness::ReaderLease) -> (MockCentral, Daemon, Oqs) {
    let central = MockCentral::start(100, Some(&cards.dir));
    let daemon = kiosk_daemon(&central, lease);
    let oqs = Oqs::new(&daemon.root);
    (central, daemon, oqs)
}

/// A daemon on `central` watching only the leased reader, with a kiosk timeout long enough for a slow test
/// machine (for tests that change the central's settings before the daemon starts).
pub fn kiosk_daemon(central: &MockCentral, lease: &pcsc_harness::ReaderLease) -> Daemon {
    Daemon::start(
        central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n",
            lease.reader
        ),
    )
}

/// The named pipe the Windows daemon serves in the Wine tests (each Wine prefix has its own pipe namespace).
pub const WINE_PIPE: &str = r"\\.\pipe\oqs-readerd-test";

/// A daemon on `central`, started by `runner`, whose readers are the sub-folders of `readers` (a test build's
/// virtual readers: `readers.virtual_dir`), with `extra` TOML; and an `oqs` for its socket, which under Wine is
/// [`WINE_PIPE`] (Windows has no Unix socket).
pub fn virtual_reader_daemon(
    runner: Runner,
    central: &MockCentral,
    readers: &Path,
    extra: &str,
) -> (Daemon, Oqs) {
    let ipc = match runner {
        Runner::Native => String::new(),
        Runner::Wine(_) => format!("[ipc]\nsocket = '{WINE_PIPE}'\n"),
    };
    let daemon = Daemon::start_on(
        runner.clone(),
        central,
        &format!(
            "{ipc}[readers]\nvirtual_dir = '{}'\n{extra}",
            runner.path(readers)
        ),
    );
    let oqs = Oqs {
        socket: match runner {
            Runner::Native => daemon.root.join("run/oqs-readerd.sock"),
            Runner::Wine(_) => PathBuf::from(WINE_PIPE),
        },
        kiosk: None,
        runner,
    };
    (daemon, oqs)
}

/// A PIN check-in with a card placed in the daemon's virtual reader folder (`readers.virtual_dir`, a test
/// build's in-process card) instead of a vpcd reader: everything above the card transport is the
/// production path, so the same scenario runs on Linux and on the Windows build under Wine. Checks the
/// result screen, the `face/` file, and that taking the card out ends the flow.
pub fn virtual_reader_checkin(runner: Runner) {
    let cards = Cards::issue(1);
    let central = MockCentral::start(100, Some(&cards.dir));
    let readers = tempfile::tempdir().expect("temp dir");
    let reader = readers.path().join("kiosk");
    std::fs::create_dir(&reader).expect("reader folder");
    let (daemon, oqs) = virtual_reader_daemon(
        runner,
        &central,
        readers.path(),
        "[kiosk]\ninactivity_timeout_secs = 120\n",
    );
    oqs.wait_screen("idle");

    // Placed the careful way: written under another name, then renamed.
    let staged = reader.join("card.toml.tmp");
    std::fs::copy(cards.profile(NORMAL), &staged).expect("copy the card profile");
    std::fs::rename(&staged, reader.join("card.toml")).expect("place the card");
    pin_checkin(&oqs, &cards, NORMAL);
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "{result}");
    let id = result["check_in_id"].as_str().expect("check-in id");
    assert_eq!(
        files(&daemon.face()),
        vec![format!("OQSsiquc01res_{id}.xml")],
        "one result file for the receipt computer"
    );
    let logs = daemon.logs();
    assert!(
        !contains_standalone_digits(&logs, &cards.pin(NORMAL)),
        "the PIN is in the daemon's log"
    );

    std::fs::remove_file(reader.join("card.toml")).expect("take the card out");
    oqs.wait_screen("idle");
}
