//! `oqs doctor` against real parts: the mock central service over mutual TLS, a private pcscd with a vpcd
//! reader leased from the harness and a virtual card in it, the store the real daemon created, real folders.
//! It passes when everything is in place, and for each broken part it fails on the right item with its fix.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e::kiosk::{Cards, InsertedCard, NORMAL};
use e2e::{Daemon, MockCentral, bin, in_keyutils_session};

/// Runs `oqs doctor --json` (plus `extra`) on `config`; returns the exit code and the report.
fn doctor(config: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(bin("oqs"))
        .arg("doctor")
        .arg("--config")
        .arg(config)
        .arg("--json")
        .args(extra)
        .output()
        .expect("run oqs doctor");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oqs doctor printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn item<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no item {id} in {report:#}"))
}

fn failed(report: &serde_json::Value) -> Vec<String> {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["verdict"] == "fail")
        .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts that exactly `id` failed (exit 1) and that its fix, in both languages, contains the given words.
fn assert_fails_with(config: &Path, id: &str, fix_en: &str, fix_ja: &str) -> serde_json::Value {
    let (code, report) = doctor(config, &[]);
    assert_eq!(code, 1, "{id}: exit code; report: {report:#}");
    assert_eq!(report["ready"], false);
    assert_eq!(failed(&report), vec![id.to_owned()], "{report:#}");
    let it = item(&report, id);
    let en = it["fix_en"].as_str().unwrap_or_default();
    let ja = it["fix_ja"].as_str().unwrap_or_default();
    assert!(en.contains(fix_en), "{id}: fix_en `{en}` lacks `{fix_en}`");
    assert!(ja.contains(fix_ja), "{id}: fix_ja `{ja}` lacks `{fix_ja}`");
    report
}

/// The daemon's configuration with `edit` applied, written next to it under `name`.
fn variant(daemon: &Daemon, name: &str, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    let text = std::fs::read_to_string(&daemon.config).expect("daemon config");
    let mut table: toml::Table = text.parse().expect("config is TOML");
    edit(&mut table);
    let path = daemon.root.join(name);
    std::fs::write(&path, toml::to_string(&table).expect("TOML")).expect("write variant");
    path
}

fn section<'a>(t: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
    t.entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("a table")
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn doctor_passes_with_everything_in_place_and_names_the_fix_for_each_broken_part() {
    if !in_keyutils_session(
        "doctor_passes_with_everything_in_place_and_names_the_fix_for_each_broken_part",
    ) {
        return;
    }
    let cards = Cards::issue(1);
    let lease = pcsc_harness::reader();
    let mut central = MockCentral::start(100, Some(&cards.dir));
    // The daemon creates the store (with its key in a file, as the Linux package configures it) and the
    // folders; then it stops, so the card test below has the reader to itself.
    let mut daemon = Daemon::start(
        &central,
        &format!(
            "[store]\nkey_file = \"keys/store.key\"\n[readers]\nnames = [\"{}\"]\n",
            lease.reader
        ),
    );
    daemon.stop();
    for dir in [daemon.req(), daemon.res(), daemon.face(), daemon.work()] {
        set_mode(&dir, 0o2770);
    }
    let config = daemon.config.clone();

    // A fresh store has no administrator.
    assert_fails_with(
        &config,
        "administrator",
        "create-admin",
        "管理者アカウントを作成",
    );

    let mut create = Command::new(bin("oqs"))
        .args(["account", "create-admin", "--config"])
        .arg(&config)
        .args(["--login", "admin", "--name", "院長"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run oqs account create-admin");
    {
        use std::io::Write;
        let mut stdin = create.stdin.take().expect("stdin");
        stdin
            .write_all(b"a long admin passphrase\n")
            .expect("write password");
    }
    let out = create.wait_with_output().expect("create-admin ends");
    assert!(
        out.status.success(),
        "create-admin: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Everything in place, with a card in the reader: ready (the camera is only a warning here).
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    let (code, report) = doctor(&config, &["--card-test", "--card-wait", "20"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ready"], true);
    for i in report["items"].as_array().expect("items") {
        // No camera here; the tests' daemon runs on a pinned clock (its own item says so).
        let expected = if i["id"] == "camera" || i["id"] == "clock-pinned" {
            ["pass", "warning"].as_slice()
        } else {
            &["pass"]
        };
        assert!(
            expected.iter().any(|v| i["verdict"] == *v),
            "{} is {}: {i:#}",
            i["id"],
            i["verdict"]
        );
    }
    assert!(
        item(&report, "card-test")["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("My Number Card"),
        "{report:#}"
    );
    assert!(
        item(&report, "central-link")["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(" ms")
    );
    card.remove();

    // Missing certificate.
    let missing = variant(&daemon, "missing-cert.toml", |t| {
        section(t, "central").insert("terminal_cert".into(), "/nonexistent/terminal.crt".into());
    });
    let report = assert_fails_with(
        &missing,
        "certificate-installed",
        "Install this PC's electronic certificate",
        "電子証明書",
    );
    assert_eq!(item(&report, "central-link")["verdict"], "skipped");

    // Expired certificate (the mock CA's, expired 30 days ago): it still chains, but has expired.
    let dir = central.dir.clone();
    let expired = variant(&daemon, "expired-cert.toml", |t| {
        let c = section(t, "central");
        c.insert(
            "terminal_cert".into(),
            dir.join("terminal-expired.crt")
                .display()
                .to_string()
                .into(),
        );
        c.insert(
            "terminal_key".into(),
            dir.join("terminal-expired.key")
                .display()
                .to_string()
                .into(),
        );
    });
    let report = assert_fails_with(&expired, "certificate-expiry", "renewal", "更新");
    assert_eq!(item(&report, "certificate-chain")["verdict"], "pass");
    assert!(
        item(&report, "certificate-expiry")["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("expired on")
    );

    // No reader: the configured reader is not connected.
    let no_reader = variant(&daemon, "no-reader.toml", |t| {
        section(t, "readers").insert(
            "names".into(),
            toml::Value::Array(vec!["Absent reader 00 00".into()]),
        );
    });
    assert_fails_with(
        &no_reader,
        "readers",
        "Connect the card reader",
        "カードリーダーを USB で接続",
    );

    // Unwritable folder.
    set_mode(&daemon.req(), 0o0550);
    assert_fails_with(&config, "folder-req", "chmod 2770", "chmod 2770");
    set_mode(&daemon.req(), 0o2770);
    // Open to every user.
    set_mode(&daemon.res(), 0o0755);
    let report = assert_fails_with(&config, "folder-res", "chmod 2770", "権限");
    assert!(
        item(&report, "folder-res")["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("every user")
    );
    set_mode(&daemon.res(), 0o2770);

    // Central unreachable.
    central.stop();
    let report = assert_fails_with(&config, "central-link", "closed-network line", "閉域網");
    assert_eq!(item(&report, "environment-settings")["verdict"], "skipped");

    // Back to ready once the service is back.
    central.serve();
    let (code, report) = doctor(&config, &[]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn doctor_without_a_configuration_says_why_and_exits_2() {
    let out = Command::new(bin("oqs"))
        .args(["doctor", "--config", "/nonexistent/oqs-readerd.toml"])
        .output()
        .expect("run oqs doctor");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/oqs-readerd.toml"));
}
