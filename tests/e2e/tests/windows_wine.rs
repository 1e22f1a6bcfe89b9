//! The Windows build (`make windows`) under Wine: the daemon `oqs-readerd.exe` relays request files to the
//! (Linux) mock central service over mutual TLS, serves its named pipe to `oqs.exe`, which finds the daemon's
//! token in Credential Manager, refuses a client with the wrong token, keeps its store key in Credential
//! Manager across a restart, and runs a kiosk PIN check-in with a virtual card through the in-process
//! transport (Wine's `winscard.dll` is only stubs, so the PC/SC transport is checked on a real Windows PC:
//! installer/windows/README.md). `make test-windows` runs this file; nothing here is skipped.

use std::time::Duration;

use e2e::kiosk::{Oqs, WINE_PIPE, files, virtual_reader_checkin, virtual_reader_daemon};
use e2e::wine::{self, Wine};
use e2e::{Daemon, MockCentral, Runner, single_check_request};

/// A fresh Wine prefix, the (Linux) mock central service, and the Windows daemon started in a console on
/// them, serving [`WINE_PIPE`], with a virtual reader folder (no PC/SC under Wine); and an `oqs.exe` for the pipe.
struct WineDaemon {
    wine: std::sync::Arc<Wine>,
    runner: Runner,
    central: MockCentral,
    daemon: Daemon,
    oqs: Oqs,
    /// The virtual reader folder, kept for the test's life.
    readers: tempfile::TempDir,
}

fn wine_daemon() -> WineDaemon {
    let wine = Wine::start();
    let runner = Runner::Wine(wine.clone());
    let central = MockCentral::start(100, None);
    let readers = tempfile::tempdir().expect("temp dir");
    let (daemon, oqs) = virtual_reader_daemon(runner.clone(), &central, readers.path(), "");
    WineDaemon {
        wine,
        runner,
        central,
        daemon,
        oqs,
        readers,
    }
}

/// Drops a request into the daemon's `req/` and waits for its result in `res/`.
fn relay_one(daemon: &Daemon, central: &MockCentral, id: &str) {
    let (name, body) = single_check_request(&central.facility_code, id);
    daemon.drop_request(&name, &body);
    let result = name.replace("req_", "res_");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !files(&daemon.res()).contains(&result) {
        assert!(
            std::time::Instant::now() < deadline,
            "no result in res/ after 60 s; req/ {:?}, res/ {:?}; the daemon's console log:\n{}",
            files(&daemon.req()),
            files(&daemon.res()),
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!daemon.req().join(&name).exists(), "the request is taken");
}

#[test]
fn relay_pipe_and_credential_manager_under_wine() {
    let WineDaemon {
        runner,
        central,
        mut daemon,
        oqs,
        readers: _readers,
        ..
    } = wine_daemon();

    // A request file in req/ comes back as a result file in res/.
    relay_one(&daemon, &central, "wine0001");

    // `oqs.exe status` over the pipe, with the token the daemon put in Credential Manager.
    let status = oqs.status();
    assert!(
        status["daemon_version"]
            .as_str()
            .is_some_and(|d| d.starts_with("oqs-readerd")),
        "{status}"
    );

    // A client with another token is refused by the daemon.
    let wrong = daemon.root.join("wrong.token");
    std::fs::write(&wrong, "0".repeat(64)).expect("write a wrong token");
    let client_config = daemon.root.join("client.toml");
    std::fs::write(
        &client_config,
        format!(
            "[ipc]\nsocket = '{WINE_PIPE}'\ntoken_file = '{}'\n",
            runner.path(&wrong)
        ),
    )
    .expect("write the client's configuration");
    let out = runner
        .command("oqs")
        .args(["status", "--config", &runner.path(&client_config)])
        .output()
        .expect("run oqs.exe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a wrong token was let in");
    assert!(
        stderr.contains("refused the connection (WrongToken)"),
        "{stderr}"
    );

    // Restarted, the daemon opens the same store with the key kept in Credential Manager (a key it could not
    // read back would leave the encrypted store unreadable), and still answers.
    daemon.stop();
    daemon.restart();
    assert!(!oqs.status().is_null());
    let logs = daemon.logs();
    assert!(
        logs.matches("oqs-readerd started").count() == 2,
        "two starts: {logs}"
    );
}

#[test]
fn a_pin_check_in_with_an_in_process_virtual_card_under_wine() {
    virtual_reader_checkin(Runner::Wine(Wine::start()));
}

/// `sc.exe` and the service control manager under Wine: the installed service's command line
/// (`oqs-readerd.exe --service --config …`, as src-tauri/windows/hooks.nsh creates it) starts the daemon
/// through `windows_service.rs`, which relays and serves its pipe, and `sc.exe stop` stops it cleanly.
/// (Wine runs the service as the prefix's user; the service's virtual account and `start= delayed-auto` are
/// for the Windows PC checklist.)
#[test]
fn the_daemon_runs_as_a_service_under_wine() {
    // The harness starts the daemon in a console first (it writes the configuration and proves it valid);
    // that one is stopped and the service takes over the same folders.
    let WineDaemon {
        wine,
        runner,
        central,
        mut daemon,
        oqs,
        readers: _readers,
        ..
    } = wine_daemon();
    daemon.stop();
    let exe = wine::windows_bin_dir().join("oqs-readerd.exe");
    let bin_path = format!(
        "\"{}\" --service --config \"{}\"",
        Wine::path(&exe),
        runner.path(&daemon.config)
    );
    let sc = |args: &[&str]| {
        let out = wine
            .system_command("sc")
            .args(args)
            .output()
            .expect("run sc.exe");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (created, text) = sc(&["create", "oqs-readerd", "binPath=", &bin_path]);
    assert!(created, "sc create: {text}");
    let (started, text) = sc(&["start", "oqs-readerd"]);
    assert!(started, "sc start: {text}");

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !oqs.run(&["status"], None).status.success() {
        assert!(
            std::time::Instant::now() < deadline,
            "the service did not answer on its pipe; sc query: {}",
            sc(&["query", "oqs-readerd"]).1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    relay_one(&daemon, &central, "wine0002");

    let (stopped, text) = sc(&["stop", "oqs-readerd"]);
    assert!(stopped, "sc stop: {text}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, state) = sc(&["query", "oqs-readerd"]);
        if state.contains("STOPPED") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the service did not stop: {state}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !oqs.run(&["status"], None).status.success(),
        "the pipe is gone with the service"
    );
    // A service's stderr goes nowhere: its log is the file beside the configuration.
    let log = std::fs::read_to_string(daemon.root.join("logs/oqs-readerd.log"))
        .expect("the service's log file");
    assert!(log.contains("oqs-readerd started"), "{log}");
    assert!(log.contains("asked to stop; stopping"), "{log}");
}
