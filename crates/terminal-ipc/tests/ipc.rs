//! The protocol over a real Unix socket: round trips, events, refusals, bad frames, and a second OS user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use os_keyring::testing::in_keyutils_session;
use os_keyring::{Backend, Keyring};
use serde_json::{Value, json};
use terminal_ipc::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

struct TestHandler;

impl Handler for TestHandler {
    async fn handle(&self, _peer: &PeerInfo, request: Request) -> Result<Response, ErrorBody> {
        match request {
            Request::Status => Ok(Response::Status(StatusReport {
                role: Default::default(),
                shared_store: None,
                daemon_version: "test".into(),
                protocol: PROTOCOL_VERSION,
                readers: vec![],
                central: CentralLink::Up,
                outbox: OutboxCounts::default(),
                uptime_secs: 0,
                started_at: None,
                last_central_contact: None,
            })),
            Request::Kiosk {
                action: KioskAction::EnterPin { pin },
                ..
            } if pin.digits() == "1234" => Ok(Response::Accepted),
            Request::Kiosk { .. } => Err(ErrorBody::new(
                ErrorCode::InvalidState,
                "no card in the reader",
            )),
            Request::CheckInDetail { check_in_id } => {
                // Slow on purpose, so concurrent requests overtake each other.
                let n: u64 = check_in_id.parse().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(50 - n % 50)).await;
                Err(ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("no check-in {check_in_id}"),
                ))
            }
            _ => Err(ErrorBody::new(ErrorCode::Unsupported, "not in this test")),
        }
    }
}

struct Running {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    token: IpcToken,
    events: EventPublisher,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), IpcError>>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
        assert!(!self.socket.exists(), "socket removed at shutdown");
    }
}

async fn start(token: IpcToken) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("readerd.sock");
    start_at(dir, socket, token).await
}

async fn start_at(dir: tempfile::TempDir, socket: PathBuf, token: IpcToken) -> Running {
    let config = ServerConfig::new(&socket, token);
    start_with(dir, config).await
}

async fn start_with(dir: tempfile::TempDir, mut config: ServerConfig) -> Running {
    let socket = config.socket_path.clone();
    let token = config.token.clone();
    config.hello_timeout = Duration::from_secs(2);
    let server = IpcServer::bind(config).await.unwrap();
    let events = server.publisher();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(Arc::new(TestHandler), async move {
        let _ = stopped.await;
    }));
    Running {
        _dir: dir,
        socket,
        token,
        events,
        stop: Some(stop),
        task,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn raw_frame(stream: &mut UnixStream, body: &[u8]) {
    stream
        .write_all(&(body.len() as u32).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(body).await.unwrap();
}

/// Reads one frame as plain JSON, as a client of any version would; `None` at end of stream.
async fn read_raw(stream: &mut UnixStream) -> Option<Value> {
    let mut len = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut len))
        .await
        .unwrap()
        .ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await.unwrap();
    Some(serde_json::from_slice(&body).unwrap())
}

async fn raw_authenticated(server: &Running) -> UnixStream {
    let mut stream = UnixStream::connect(&server.socket).await.unwrap();
    let hello = json!({"type": "hello", "protocol": PROTOCOL_VERSION, "token": server.token.expose(), "client": "raw"});
    raw_frame(&mut stream, hello.to_string().as_bytes()).await;
    assert_eq!(read_raw(&mut stream).await.unwrap()["type"], "welcome");
    stream
}

async fn refusal_for(server: &Running, hello: &[u8]) -> Value {
    let mut stream = UnixStream::connect(&server.socket).await.unwrap();
    raw_frame(&mut stream, hello).await;
    let reply = read_raw(&mut stream).await.unwrap();
    assert_eq!(reply["type"], "refused", "{reply}");
    assert!(
        read_raw(&mut stream).await.is_none(),
        "connection closed after a refusal"
    );
    reply
}

#[test]
fn round_trip_with_token_from_keyring() {
    if !in_keyutils_session("round_trip_with_token_from_keyring") {
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let keyring = Keyring::open(Backend::Keyutils).unwrap();
        let server = start(IpcToken::load_or_create(&keyring).unwrap()).await;
        assert_eq!(mode(server.socket.parent().unwrap()), 0o700);
        assert_eq!(mode(&server.socket), 0o600);

        let client_token = IpcToken::load(&keyring).unwrap();
        let client = Arc::new(
            IpcClient::connect(&server.socket, &client_token)
                .await
                .unwrap(),
        );
        assert!(client.server().starts_with("terminal-ipc"));

        match client.request(Request::Status).await.unwrap() {
            Response::Status(status) => assert_eq!(status.protocol, PROTOCOL_VERSION),
            other => panic!("unexpected {other:?}"),
        }
        let pin = |d: &str| Request::Kiosk {
            reader: None,
            action: KioskAction::EnterPin {
                pin: Pin::new(d).unwrap(),
            },
        };
        assert_eq!(
            client.request(pin("1234")).await.unwrap(),
            Response::Accepted
        );
        match client.request(pin("9999")).await {
            Err(IpcError::Remote(e)) => assert_eq!(e.code, ErrorCode::InvalidState),
            other => panic!("unexpected {other:?}"),
        }

        // Concurrent requests each get their own answer, even when they finish out of order.
        let mut tasks = Vec::new();
        for n in 0..20u64 {
            let client = Arc::clone(&client);
            tasks.push(tokio::spawn(async move {
                (
                    n,
                    client
                        .request(Request::CheckInDetail {
                            check_in_id: n.to_string(),
                        })
                        .await,
                )
            }));
        }
        for task in tasks {
            let (n, result) = task.await.unwrap();
            match result {
                Err(IpcError::Remote(e)) => assert_eq!(e.message, format!("no check-in {n}")),
                other => panic!("unexpected {other:?}"),
            }
        }

        // Events: only the subscribed topics arrive, in order.
        let mut events = client
            .subscribe(&[Topic::CheckIn, Topic::Outbox])
            .await
            .unwrap();
        server.events.publish(Event::Reader {
            reader: "r1".into(),
            change: ReaderChange::CardInserted,
        });
        server.events.publish(Event::Outbox {
            counts: OutboxCounts {
                received: 3,
                ..Default::default()
            },
        });
        let check_in = CheckInRecord {
            check_in_id: "c1".into(),
            at: "2025-01-01T09:00:00+09:00".into(),
            reader: "r1".into(),
            method: AuthMethod::Pin,
            outcome: CheckInOutcome::PendingOutage,
            patient: None,
            consents: vec![ConsentItem::Surgery],
            validity: None,
            certificate: None,
            visit: Visit::HomeVisit,
            certificate_expires_on: None,
            certificate_grace_until: None,
        };
        server.events.publish(Event::CheckIn {
            check_in: check_in.clone(),
        });
        assert_eq!(
            events.next().await.unwrap(),
            Event::Outbox {
                counts: OutboxCounts {
                    received: 3,
                    ..Default::default()
                }
            }
        );
        assert_eq!(events.next().await.unwrap(), Event::CheckIn { check_in });

        // A second client is independent of the first.
        let other = IpcClient::connect(&server.socket, &client_token)
            .await
            .unwrap();
        assert!(matches!(
            other.request(Request::TodayCheckIns).await,
            Err(IpcError::Remote(ErrorBody {
                code: ErrorCode::Unsupported,
                ..
            }))
        ));
        drop(client);
        drop(events);
        other.close().await;
        server.stop().await;
    });
}

#[tokio::test]
async fn missing_and_wrong_tokens_are_refused() {
    let server = start(IpcToken::generate().unwrap()).await;
    match IpcClient::connect_with(&server.socket, None, ClientOptions::default()).await {
        Err(IpcError::Refused(r)) => assert_eq!(r.reason, RefusalReason::MissingToken),
        other => panic!("unexpected {other:?}"),
    }
    let wrong = IpcToken::generate().unwrap();
    match IpcClient::connect(&server.socket, &wrong).await {
        Err(IpcError::Refused(r)) => {
            assert_eq!(r.reason, RefusalReason::WrongToken);
            assert!(
                !r.message.contains(wrong.expose()) && !r.message.contains(server.token.expose())
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let empty = IpcToken::from_text("");
    match IpcClient::connect(&server.socket, &empty).await {
        Err(IpcError::Refused(r)) => assert_eq!(r.reason, RefusalReason::MissingToken),
        other => panic!("unexpected {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn other_protocol_versions_get_a_readable_refusal() {
    let server = start(IpcToken::generate().unwrap()).await;
    let token = server.token.expose().to_string();
    let older = refusal_for(
        &server,
        json!({"type": "hello", "protocol": 0, "token": token})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(older["reason"], "client_too_old");
    // A future client may send fields we do not know and omit ones we require; it still learns the version.
    let newer = json!({"type": "hello", "protocol": 7, "auth": {"scheme": "v7"}, "caps": [1, 2]});
    let newer = refusal_for(&server, newer.to_string().as_bytes()).await;
    assert_eq!(newer["reason"], "client_too_new");
    assert_eq!(newer["server_protocol_max"], PROTOCOL_VERSION);
    assert!(
        newer["message"]
            .as_str()
            .unwrap()
            .contains("Update the reader daemon")
    );
    server.stop().await;
}

#[tokio::test]
async fn garbage_hellos_are_refused() {
    let server = start(IpcToken::generate().unwrap()).await;
    for garbage in [
        &b"\x00\xff\xfe not json"[..],
        b"[]",
        b"{\"type\":\"request\",\"id\":1}",
        b"{\"type\":\"hello\"}",
    ] {
        let reply = refusal_for(&server, garbage).await;
        assert_eq!(reply["reason"], "bad_hello");
    }
    // A length prefix far over the hello limit is refused without reading the body.
    let mut stream = UnixStream::connect(&server.socket).await.unwrap();
    stream.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    assert_eq!(read_raw(&mut stream).await.unwrap()["reason"], "bad_hello");
    // Silence: refused after the hello timeout, not left hanging.
    let mut stream = UnixStream::connect(&server.socket).await.unwrap();
    assert_eq!(read_raw(&mut stream).await.unwrap()["reason"], "bad_hello");
    server.stop().await;
}

#[tokio::test]
async fn garbage_after_the_handshake_is_answered_and_the_connection_survives() {
    let server = start(IpcToken::generate().unwrap()).await;
    let mut stream = raw_authenticated(&server).await;
    raw_frame(&mut stream, b"definitely { not json").await;
    let reply = read_raw(&mut stream).await.unwrap();
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["error"]["code"], "bad_request");
    raw_frame(
        &mut stream,
        br#"{"type":"request","id":7,"request":{"kind":"launch_rockets"}}"#,
    )
    .await;
    let reply = read_raw(&mut stream).await.unwrap();
    assert_eq!(
        (reply["type"].as_str(), reply["id"].as_u64()),
        (Some("response"), Some(7))
    );
    assert_eq!(reply["outcome"]["error"]["code"], "bad_request");
    // A PIN that is not 4 digits never reaches the handler.
    raw_frame(&mut stream, br#"{"type":"request","id":8,"request":{"kind":"kiosk","action":{"action":"enter_pin","pin":"12345"}}}"#).await;
    let reply = read_raw(&mut stream).await.unwrap();
    assert_eq!(reply["outcome"]["error"]["code"], "bad_request");
    assert!(
        !reply.to_string().contains("12345"),
        "the rejected PIN is not echoed: {reply}"
    );
    raw_frame(
        &mut stream,
        br#"{"type":"request","id":9,"request":{"kind":"status"}}"#,
    )
    .await;
    let reply = read_raw(&mut stream).await.unwrap();
    assert_eq!(reply["outcome"]["response"]["kind"], "status");
    server.stop().await;
}

#[tokio::test]
async fn oversize_frames_close_the_connection_with_a_reason() {
    let server = start(IpcToken::generate().unwrap()).await;
    let mut stream = raw_authenticated(&server).await;
    stream
        .write_all(&((MAX_FRAME_LEN + 1) as u32).to_be_bytes())
        .await
        .unwrap();
    let reply = read_raw(&mut stream).await.unwrap();
    assert_eq!(reply["type"], "error");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit")
    );
    assert!(read_raw(&mut stream).await.is_none());
    // The server is unaffected.
    let client = IpcClient::connect(&server.socket, &server.token)
        .await
        .unwrap();
    assert!(client.request(Request::Status).await.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn a_second_daemon_does_not_steal_a_live_socket_but_replaces_a_stale_one() {
    let server = start(IpcToken::generate().unwrap()).await;
    let config = ServerConfig::new(&server.socket, IpcToken::generate().unwrap());
    assert!(matches!(
        IpcServer::bind(config).await,
        Err(IpcError::AlreadyRunning(_))
    ));
    let socket = server.socket.clone();
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("rt").join("s.sock");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let replaced = start_at(dir, stale, IpcToken::generate().unwrap()).await;
    let client = IpcClient::connect(&replaced.socket, &replaced.token)
        .await
        .unwrap();
    assert!(client.request(Request::Status).await.is_ok());
    replaced.stop().await;
    server.stop().await;
    assert!(!socket.exists());
}

// ---- a second OS user ----

const OTHER_USER: &str = "oqs-ipc-test";

fn other_user_ids() -> (u32, u32) {
    let lookup = || {
        std::process::Command::new("id")
            .args(["-u", OTHER_USER])
            .output()
            .unwrap()
    };
    if !lookup().status.success() {
        let out = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                OTHER_USER,
            ])
            .output()
            .expect("useradd (this test runs as root to create a throwaway user)");
        // Another test binary may have created it at the same moment.
        assert!(
            out.status.success() || lookup().status.success(),
            "useradd failed: {out:?}"
        );
    }
    let id = |flag: &str| -> u32 {
        let out = std::process::Command::new("id")
            .args([flag, OTHER_USER])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    (id("-u"), id("-g"))
}

/// Runs `ipc-probe` as `uid`/`gid` (via setpriv) with the right token and returns its JSON line.
async fn probe_as(uid: u32, gid: u32, probe: &Path, socket: &Path, token: &IpcToken) -> Value {
    let out = tokio::process::Command::new("setpriv")
        .args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".into(),
            "--".into(),
        ])
        .arg(probe)
        .arg("--socket")
        .arg(socket)
        .args(["--token-env", "OQS_PROBE_TOKEN"])
        .env("OQS_PROBE_TOKEN", token.expose())
        .output()
        .await
        .expect("setpriv (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "probe output: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A copy of `ipc-probe` that any user can run (the build tree may not be reachable by others).
fn probe_for_everyone() -> (tempfile::TempDir, PathBuf) {
    assert_eq!(
        rustix::process::geteuid().as_raw(),
        0,
        "this test must run as root to switch to a second user"
    );
    let bin_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let probe = bin_dir.path().join("ipc-probe");
    std::fs::copy(env!("CARGO_BIN_EXE_ipc-probe"), &probe).unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin_dir, probe)
}

#[tokio::test]
async fn a_second_os_user_is_refused_even_with_the_token() {
    let (_bin_dir, probe) = probe_for_everyone();
    let (uid, gid) = other_user_ids();

    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("run").join("readerd.sock");
    let server = start_at(dir, socket.clone(), IpcToken::generate().unwrap()).await;

    // The daemon's own user gets in with the same probe.
    assert_eq!(
        probe_as(0, 0, &probe, &socket, &server.token).await["result"],
        "welcome"
    );

    // First layer: the private directory keeps the other user from reaching the socket at all.
    let reply = probe_as(uid, gid, &probe, &socket, &server.token).await;
    assert_eq!(reply["result"], "permission_denied", "{reply}");

    // Misconfigured permissions: the peer-uid check still refuses, with a reason the client can show.
    std::fs::set_permissions(
        socket.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let reply = probe_as(uid, gid, &probe, &socket, &server.token).await;
    assert_eq!(reply["result"], "refused", "{reply}");
    assert_eq!(reply["reason"], "wrong_user", "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn members_of_the_configured_group_are_admitted() {
    use std::os::unix::fs::MetadataExt;
    let (_bin_dir, probe) = probe_for_everyone();
    let (uid, gid) = other_user_ids();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("run").join("readerd.sock");
    let mut config = ServerConfig::new(&socket, IpcToken::generate().unwrap());
    config.policy = PeerPolicy {
        uid: 0,
        group: Some(gid),
    };
    let server = start_with(dir, config).await;
    let run_dir = socket.parent().unwrap();
    assert_eq!(
        (mode(run_dir), std::fs::metadata(run_dir).unwrap().gid()),
        (0o750, gid)
    );
    assert_eq!(
        (mode(&socket), std::fs::metadata(&socket).unwrap().gid()),
        (0o660, gid)
    );

    let reply = probe_as(uid, gid, &probe, &socket, &server.token).await;
    assert_eq!(reply["result"], "welcome", "{reply}");
    // The same user outside the group cannot even reach the socket.
    let reply = probe_as(uid, 65534, &probe, &socket, &server.token).await;
    assert_eq!(reply["result"], "permission_denied", "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("readerd.sock");
    let mut config = ServerConfig::new(&socket, IpcToken::generate().unwrap());
    config.max_connections = 1;
    let server = start_with(dir, config).await;
    let first = IpcClient::connect(&server.socket, &server.token)
        .await
        .unwrap();
    match IpcClient::connect(&server.socket, &server.token).await {
        Err(IpcError::Refused(r)) => assert_eq!(r.reason, RefusalReason::Unavailable),
        other => panic!("unexpected {other:?}"),
    }
    first.close().await;
    // The slot is freed when the server sees the close; retry until then, within a deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match IpcClient::connect(&server.socket, &server.token).await {
            Ok(client) => {
                assert!(client.request(Request::Status).await.is_ok());
                break;
            }
            Err(IpcError::Refused(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(e) => panic!("slot never freed: {e}"),
        }
    }
    server.stop().await;
}

// ---- the client checks the socket before it sends the token ----

/// Whether `listener` has a connection waiting, and if so every byte the client sent on it.
fn what_the_listener_got(listener: &std::os::unix::net::UnixListener) -> Option<Vec<u8>> {
    use std::io::Read;
    listener.set_nonblocking(true).unwrap();
    let (mut stream, _) = match listener.accept() {
        Ok(accepted) => accepted,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
        Err(e) => panic!("accept: {e}"),
    };
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    Some(got)
}

async fn refused_as_untrusted(socket: &Path, token: &IpcToken, because: &str) {
    match IpcClient::connect(socket, token).await {
        Err(IpcError::UntrustedSocket { reason, .. }) => {
            assert!(reason.contains(because), "{reason}")
        }
        other => panic!("expected an untrusted socket ({because}), got {other:?}"),
    }
}

#[tokio::test]
async fn the_client_refuses_a_planted_socket_before_sending_the_token() {
    use std::os::unix::net::UnixListener;
    let (uid, gid) = other_user_ids();
    let token = IpcToken::generate().unwrap();

    // A socket in a folder every user may write to (a shared /tmp): anyone could have put it there.
    let open_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open_dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let socket = open_dir.path().join("readerd.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    refused_as_untrusted(&socket, &token, "writable by other users").await;
    assert!(
        what_the_listener_got(&listener).is_none(),
        "not even a connection"
    );
    // Group-writable is no better.
    std::fs::set_permissions(open_dir.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
    refused_as_untrusted(&socket, &token, "writable by other users").await;

    // A private folder, but the socket belongs to another user.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("readerd.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::os::unix::fs::chown(&socket, Some(uid), Some(gid)).unwrap();
    refused_as_untrusted(&socket, &token, &format!("owned by uid {uid}")).await;
    assert!(what_the_listener_got(&listener).is_none());
    // A folder of another user.
    std::os::unix::fs::chown(&socket, Some(0), Some(0)).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    refused_as_untrusted(&socket, &token, "folder is owned by uid").await;
    std::os::unix::fs::chown(dir.path(), Some(0), Some(0)).unwrap();
    // Something that is not a socket (a symlink to the real one).
    let link = dir.path().join("link.sock");
    std::os::unix::fs::symlink(&socket, &link).unwrap();
    refused_as_untrusted(&link, &token, "not a socket").await;
    assert!(what_the_listener_got(&listener).is_none());

    // Every file looks right (a root-owned socket in a private folder), but the process listening on it is
    // another user's: a hard link to that user's socket. Only SO_PEERCRED tells; the token never leaves.
    let theirs = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(theirs.path(), Some(uid), Some(gid)).unwrap();
    let their_socket = theirs.path().join("trap.sock");
    let bind_path = their_socket.clone();
    let trap = std::thread::spawn(move || {
        // Only this thread becomes the other user (the raw syscalls, not the process-wide libc ones).
        rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid)).unwrap();
        rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid)).unwrap();
        UnixListener::bind(&bind_path).unwrap()
    })
    .join()
    .unwrap();
    let planted = dir.path().join("planted.sock");
    std::fs::hard_link(&their_socket, &planted).unwrap();
    std::os::unix::fs::chown(&planted, Some(0), Some(0)).unwrap();
    refused_as_untrusted(&planted, &token, &format!("runs as uid {uid}")).await;
    assert_eq!(
        what_the_listener_got(&trap),
        Some(Vec::new()),
        "the client connected but sent nothing"
    );

    // The daemon's own service user is trusted when the token came from its token file.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token.expose()).unwrap();
    std::os::unix::fs::chown(&token_file, Some(uid), Some(gid)).unwrap();
    let from_file = IpcToken::read_file(&token_file).unwrap();
    assert_eq!(from_file.issuer_uid(), Some(uid));
    let client = tokio::time::timeout(
        Duration::from_millis(300),
        IpcClient::connect(&planted, &from_file),
    );
    // The trap answers nothing, so the handshake times out or fails; what matters is that the hello went.
    let _ = client.await;
    let sent = what_the_listener_got(&trap).expect("a connection");
    assert!(
        String::from_utf8_lossy(&sent).contains("\"hello\""),
        "the hello was sent to the daemon's user"
    );
}
