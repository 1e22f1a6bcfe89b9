//! Who may talk to the running daemon: the real `oqs-readerd`, its real socket, and clients that should be
//! turned away. The daemon's own user with the keyring token gets in; a client without the token, with a
//! wrong token, or of another protocol version is refused with its reason; a second OS user cannot reach
//! the socket, and is still refused by the peer-uid check when the folder permissions are opened up by
//! mistake.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{Daemon, MockCentral, bin, in_keyutils_session};
use serde_json::{Value, json};
use terminal_ipc::IpcToken;

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
