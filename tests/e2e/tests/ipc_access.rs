//! Who may talk to the running daemon: the real `oqs-readerd`, its real socket, and clients that should be
//! turned away. The daemon's own user with the keyring token gets in; a client without the token, with a
//! wrong token, or of another protocol version is refused with its reason; a second OS user cannot reach
//! the socket, and is still refused by the peer-uid check when the folder permissions are opened up by
//! mistake. A connection with the kiosk scope (the patient's screen) gets the kiosk and nothing else; a check
//! by insurance numbers is an audit row.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{Daemon, MockCentral, bin, in_keyutils_session};
use serde_json::{Value, json};
use terminal_ipc::{
    AuthMethod, ClientOptions, ErrorCode, InsuranceNumbers, IpcClient, IpcError, IpcToken,
    KioskAction, PatientLookup, Request, Response, Scope, Secret, Sensitive, Topic,
};

const OTHER_USER: &str = "oqs-e2e-other";

/// Creates (once) a system user with no login, and returns its uid and gid.
fn other_user() -> (u32, u32) {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, OTHER_USER]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    if id("-u").is_none() {
        let out = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                OTHER_USER,
            ])
            .output()
            .expect("useradd (the e2e tests run as root to create a throwaway user)");
        assert!(
            out.status.success() || id("-u").is_some(),
            "useradd failed: {out:?}"
        );
    }
    (id("-u").expect("uid"), id("-g").expect("gid"))
}

/// Runs `ipc-probe` (copied where any user can run it) as `uid`, handing it `token`, and returns its line.
fn probe_as(probe: &Path, uid: u32, gid: u32, socket: &Path, token: Option<&IpcToken>) -> Value {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        format!("--reuid={uid}"),
        format!("--regid={gid}"),
        "--clear-groups".into(),
        "--".into(),
    ])
    .arg(probe)
    .arg("--socket")
    .arg(socket);
    match token {
        Some(token) => {
            cmd.args(["--token-env", "OQS_PROBE_TOKEN"])
                .env("OQS_PROBE_TOKEN", token.expose());
        }
        None => {
            cmd.arg("--no-token");
        }
    }
    let out = cmd.output().expect("setpriv (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "ipc-probe printed: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Sends a raw hello with any protocol number and returns the daemon's handshake reply.
fn raw_hello(socket: &Path, protocol: u32, token: &IpcToken) -> Value {
    let mut stream = UnixStream::connect(socket).expect("connect to the daemon socket");
    let hello = serde_json::to_vec(&json!({
        "type": "hello",
        "protocol": protocol,
        "token": token.expose(),
        "client": "e2e raw client",
    }))
    .unwrap();
    stream
        .write_all(&(hello.len() as u32).to_be_bytes())
        .unwrap();
    stream.write_all(&hello).unwrap();
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("a handshake reply");
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).expect("the reply is JSON")
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn only_the_daemons_user_with_the_token_and_protocol_gets_in() {
    if !in_keyutils_session("only_the_daemons_user_with_the_token_and_protocol_gets_in") {
        return;
    }
    let central = MockCentral::start(50, None);
    let daemon = Daemon::start(&central, "");
    let socket: PathBuf = daemon.root.join("run/oqs-readerd.sock");
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto).unwrap();
    let token = IpcToken::load(&keyring).expect("the daemon stored its token in the keyring");

    // A copy of ipc-probe any user can execute (the build tree may be closed to others).
    let bin_dir = tempfile::tempdir().unwrap();
    chmod(bin_dir.path(), 0o755);
    let probe = bin_dir.path().join("ipc-probe");
    std::fs::copy(bin("ipc-probe"), &probe)
        .expect("ipc-probe is built with the workspace binaries");
    chmod(&probe, 0o755);

    // The daemon's own user, with the token from the keyring (no token given: the probe reads the keyring).
    let out = Command::new(&probe)
        .arg("--socket")
        .arg(&socket)
        .output()
        .unwrap();
    let welcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(welcome["result"], "welcome", "{welcome}");
    assert!(welcome["status"].is_object(), "{welcome}");

    // Same user, no token / a wrong token.
    let reply = probe_as(&probe, 0, 0, &socket, None);
    assert_eq!(
        (reply["result"].as_str(), reply["reason"].as_str()),
        (Some("refused"), Some("missing_token")),
        "{reply}"
    );
    let wrong = IpcToken::from_text("00".repeat(32));
    let reply = probe_as(&probe, 0, 0, &socket, Some(&wrong));
    assert_eq!(reply["reason"], "wrong_token", "{reply}");

    // Another protocol version, older and newer: a clear refusal naming the versions the daemon speaks.
    for (version, reason) in [(0, "client_too_old"), (999, "client_too_new")] {
        let reply = raw_hello(&socket, version, &token);
        assert_eq!(reply["type"], "refused", "{reply}");
        assert_eq!(reply["reason"], reason, "{reply}");
        assert_eq!(reply["server_protocol_max"], 1, "{reply}");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("protocol {version}")) && message.contains("更新"),
            "the refusal should say which side to update: {reply}"
        );
    }

    // A second OS user, even holding the token: the private run folder keeps it from the socket.
    let (uid, gid) = other_user();
    chmod(&daemon.root, 0o755);
    let reply = probe_as(&probe, uid, gid, &socket, Some(&token));
    assert_eq!(reply["result"], "permission_denied", "{reply}");

    // Folder and socket opened up by mistake: the daemon's peer-uid check still refuses.
    chmod(socket.parent().unwrap(), 0o755);
    chmod(&socket, 0o666);
    let reply = probe_as(&probe, uid, gid, &socket, Some(&token));
    assert_eq!(
        (reply["result"].as_str(), reply["reason"].as_str()),
        (Some("refused"), Some("wrong_user")),
        "{reply}"
    );

    // The refusals are logged with their reason, and the daemon still serves its own user.
    let logs = daemon.logs();
    let squashed = logs.to_lowercase().replace('_', "");
    for reason in ["wronguser", "missingtoken", "wrongtoken", "clienttoonew"] {
        assert!(
            squashed.contains(reason),
            "no log line names the refusal {reason}:\n{logs}"
        );
    }
    assert!(
        !logs.contains(token.expose()),
        "the token must never be logged"
    );
    let out = Command::new(&probe)
        .arg("--socket")
        .arg(&socket)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// The numbers of a person the mock central service knows, birth date as `YYYY-MM-DD`.
fn known_numbers(central: &MockCentral) -> InsuranceNumbers {
    let db = rusqlite::Connection::open(central.dir.join("central.sqlite3")).expect("central db");
    let [insurer, symbol, number, branch, birth]: [String; 5] = db
        .query_row(
            "SELECT insurer_number, symbol, number, branch, birth FROM qualifications \
             WHERE person_id = 1 AND disq_date IS NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
        )
        .expect("person 1 has a qualification");
    let digits: String = birth.chars().filter(char::is_ascii_digit).collect();
    InsuranceNumbers {
        insurer_number: Sensitive::new(insurer.trim()),
        symbol: Sensitive::new(symbol),
        number: Sensitive::new(number),
        branch: Sensitive::new(branch),
        birth_date: Sensitive::new(format!(
            "{}-{}-{}",
            &digits[..4],
            &digits[4..6],
            &digits[6..8]
        )),
    }
}

#[test]
fn a_kiosk_connection_gets_only_the_kiosk_and_checks_by_numbers_are_audited() {
    if !in_keyutils_session(
        "a_kiosk_connection_gets_only_the_kiosk_and_checks_by_numbers_are_audited",
    ) {
        return;
    }
    let central = MockCentral::start(50, None);
    let daemon = Daemon::start(&central, "");
    let socket: PathBuf = daemon.root.join("run/oqs-readerd.sock");
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto).unwrap();
    let token = IpcToken::load(&keyring).unwrap();
    let numbers = known_numbers(&central);
    let rt = e2e::staff::rt();
    rt.block_on(async {
        let options = |scope| ClientOptions {
            client_name: "e2e".into(),
            scope,
            ..ClientOptions::default()
        };
        let kiosk = IpcClient::connect_with(
            &socket,
            Some(&token),
            options(Scope::Kiosk { reader: None }),
        )
        .await
        .unwrap();
        assert!(matches!(
            kiosk.request(Request::Status).await,
            Ok(Response::Status(_))
        ));
        let session = Secret::new("not-a-session");
        let staff_requests = [
            Request::TodayCheckIns,
            Request::ManualCheck {
                numbers: numbers.clone(),
                session: None,
                ahead: false,
            },
            Request::CheckInDetail {
                check_in_id: "x".into(),
            },
            Request::OutboxSummary,
            Request::Login {
                account: "admin".into(),
                password: Secret::new("x"),
                totp: None,
            },
            Request::DisasterStatus,
            Request::EmergencyLookup {
                session: session.clone(),
                reason: "r".into(),
                patient: PatientLookup::Card { reader: "r".into() },
            },
            Request::VerifyAudit {
                session: session.clone(),
            },
            Request::Kiosk {
                reader: None,
                action: KioskAction::StartStaffVisualCheck {
                    session: session.clone(),
                },
            },
            Request::Subscribe {
                topics: vec![Topic::CheckIn],
            },
            Request::Subscribe { topics: vec![] },
        ];
        for request in staff_requests {
            let name = format!("{request:?}");
            match kiosk.request(request).await {
                Err(IpcError::Remote(e)) => assert_eq!(e.code, ErrorCode::Forbidden, "{name}: {e}"),
                other => panic!("a kiosk connection got {name} answered: {other:?}"),
            }
        }
        // The patient's own answers pass the scope (the kiosk then says there is no card).
        match kiosk
            .request(Request::Kiosk {
                reader: None,
                action: KioskAction::ChooseMethod {
                    method: AuthMethod::Pin,
                },
            })
            .await
        {
            Err(IpcError::Remote(e)) => assert_ne!(e.code, ErrorCode::Forbidden, "{e}"),
            other => assert!(other.is_ok(), "{other:?}"),
        }

        // A staff connection checks by numbers, and the check is an audit row.
        let staff = IpcClient::connect_with(&socket, Some(&token), options(Scope::Staff))
            .await
            .unwrap();
        let answer = staff
            .request(Request::ManualCheck {
                numbers: numbers.clone(),
                session: None,
                ahead: false,
            })
            .await
            .unwrap();
        assert!(matches!(answer, Response::Eligibility { .. }), "{answer:?}");
        // With a session that is not one, nothing is checked.
        match staff
            .request(Request::ManualCheck {
                numbers: numbers.clone(),
                session: Some(session.clone()),
                ahead: false,
            })
            .await
        {
            Err(IpcError::Remote(e)) => assert_eq!(e.code, ErrorCode::Unauthenticated, "{e}"),
            other => panic!("{other:?}"),
        }
    });

    let keys = facility_store::KeyringKeyProvider::new(keyring, "facility-store-key");
    let store =
        facility_store::Store::open(daemon.root.join("work/facility.sqlite3"), &keys).unwrap();
    let rows = store.audit_records(0, 10_000).unwrap();
    let checks: Vec<_> = rows
        .iter()
        .filter(|r| r.entry.action.starts_with("manual_check"))
        .collect();
    assert_eq!(checks.len(), 1, "one audited check: {rows:?}");
    let row = &checks[0].entry;
    assert_eq!(row.action, "manual_check");
    assert_eq!(row.actor, "reception");
    assert_eq!(row.method.as_deref(), Some("insurance_numbers"));
    assert!(
        row.patient_ref.as_deref().is_some_and(|r| r.len() >= 32),
        "{row:?}"
    );
    let detail = row.detail.clone().unwrap_or_default();
    assert!(
        detail.contains("\"uid\":0"),
        "the connection's OS user: {detail}"
    );
    let all = format!("{rows:?}");
    for identifier in [
        numbers.number.expose(),
        numbers.birth_date.expose(),
        &numbers.birth_date.expose().replace('-', ""),
    ] {
        // A number of one to three digits (some synthetic 番号 are that short) matches counters and ids
        // anywhere; the birth date (8 digits) is always checked.
        if identifier.len() < 4 {
            continue;
        }
        assert!(
            !all.contains(identifier),
            "the audit log shows {identifier}"
        );
    }
}
