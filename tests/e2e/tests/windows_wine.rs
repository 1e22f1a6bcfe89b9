//! The Windows build (`make windows`) under Wine: the daemon `oqs-readerd.exe` relays request files to the
//! (Linux) mock central service over mutual TLS, serves its named pipe to `oqs.exe`, which finds the daemon's
//! token in Credential Manager, refuses a client with the wrong token, keeps its store key in Credential
//! Manager across a restart, and runs a kiosk PIN check-in with a virtual card through the in-process
//! transport (Wine's `winscard.dll` is only stubs, so the PC/SC transport is checked on a real Windows PC:
//! installer/windows/README.md). `make test-windows` runs this file; nothing here is skipped.

use std::path::PathBuf;
use std::time::Duration;

use e2e::kiosk::{Oqs, files, virtual_reader_checkin};
use e2e::wine::Wine;
use e2e::{Daemon, MockCentral, Runner, single_check_request};

const PIPE: &str = r"\\.\pipe\oqs-readerd-test";

#[test]
fn relay_pipe_and_credential_manager_under_wine() {
    let wine = Wine::start();
    let runner = Runner::Wine(wine.clone());
    let central = MockCentral::start(100, None);
    let readers = tempfile::tempdir().expect("temp dir");
    let mut daemon = Daemon::start_on(
        runner.clone(),
        &central,
        &format!(
            "[ipc]\nsocket = '{PIPE}'\n[readers]\nvirtual_dir = '{}'\n",
            runner.path(readers.path())
        ),
    );

    // A request file in req/ comes back as a result file in res/.
    let (name, body) = single_check_request(&central.facility_code, "wine0001");
    daemon.drop_request(&name, &body);
    let result = name.replace("req_", "res_");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !files(&daemon.res()).contains(&result) {
        assert!(
            std::time::Instant::now() < deadline,
            "no result in res/ after 60 s; req/ {:?}, res/ {:?}; the daemon's log:\n{}",
            files(&daemon.req()),
            files(&daemon.res()),
            daemon.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!daemon.req().join(&name).exists(), "the request is taken");

    // `oqs.exe status` over the pipe, with the token the daemon put in Credential Manager.
    let oqs = Oqs {
        socket: PathBuf::from(PIPE),
        kiosk: None,
        runner: runner.clone(),
    };
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
            "[ipc]\nsocket = '{PIPE}'\ntoken_file = '{}'\n",
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
