//! Connection scopes over a real Unix socket: a kiosk connection (the patient's screen) is refused every
//! request outside its allow-list before the daemon's handler sees it, receives only its own reader's kiosk
//! and reader events, and cannot change its scope; a kiosk client will not talk to a daemon that does not
//! confirm the scope.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use terminal_ipc::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

/// Answers everything and remembers what reached it.
#[derive(Default, Clone)]
struct Recording {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Handler for Recording {
    async fn handle(&self, _peer: &PeerInfo, request: Request) -> Result<Response, ErrorBody> {
        self.seen.lock().unwrap().push(kind(&request));
        Ok(Response::Accepted)
    }
}

fn kind(request: &Request) -> String {
    serde_json::to_value(request).unwrap()["kind"]
        .as_str()
        .unwrap()
        .to_owned()
}

struct Server {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    token: IpcToken,
    events: EventPublisher,
    handler: Recording,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("readerd.sock");
    let token = IpcToken::generate().unwrap();
    let server = IpcServer::bind(ServerConfig::new(&socket, token.clone()))
        .await
        .unwrap();
    let events = server.publisher();
    let handler = Recording::default();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve(Arc::new(handler.clone()), async move {
        let _ = stopped.await;
    }));
    Server {
        _dir: dir,
        socket,
        token,
        events,
        handler,
        _stop: stop,
    }
}

const READER: &str = "Reader A";

fn kiosk_scope() -> Scope {
    Scope::Kiosk {
        reader: Some(READER.into()),
    }
}

async fn connect(server: &Server, scope: Scope) -> IpcClient {
    let options = ClientOptions {
        client_name: "scope test".into(),
        scope,
        ..ClientOptions::default()
    };
    IpcClient::connect_with(&server.socket, Some(&server.token), options)
        .await
        .unwrap()
}

fn secret() -> Secret {
    Secret::new("session")
}

fn numbers() -> InsuranceNumbers {
    InsuranceNumbers {
        insurer_number: Sensitive::new("06139876"),
        symbol: Sensitive::new("1"),
        number: Sensitive::new("2"),
        branch: Sensitive::new("01"),
        birth_date: Sensitive::new("1980-04-17"),
    }
}

fn kiosk(reader: &str, action: KioskAction) -> Request {
    Request::Kiosk {
        reader: Some(reader.into()),
        action,
    }
}

/// Position of a request kind. No wildcard arm: a new kind of request does not compile until it is given a
/// place here and an example in [`every_request`], whose test then checks that a kiosk is refused it.
fn kind_index(request: &Request) -> usize {
    match request {
        Request::Status => 0,
        Request::Subscribe { .. } => 1,
        Request::Unsubscribe => 2,
        Request::Kiosk { .. } => 3,
        Request::TodayCheckIns => 4,
        Request::CheckInDetail { .. } => 5,
        Request::ManualCheck { .. } => 6,
        Request::OutboxSummary => 7,
        Request::SetLocalName { .. } => 8,
        Request::ConsentedPatients { .. } => 9,
        Request::MedicalInfo { .. } => 10,
        Request::EnvironmentSettings { .. } => 11,
        Request::SetEnvironmentSettings { .. } => 12,
        Request::Login { .. } => 13,
        Request::Logout { .. } => 14,
        Request::EmergencyLookup { .. } => 15,
        Request::BeginTotpEnrolment { .. } => 16,
        Request::ConfirmTotpEnrolment { .. } => 17,
        Request::ListAccounts { .. } => 18,
        Request::CreateAccount { .. } => 19,
        Request::SetEmergencyPermission { .. } => 20,
        Request::SetAccountRole { .. } => 21,
        Request::SetAccountDisabled { .. } => 22,
        Request::UnlockAccount { .. } => 23,
        Request::ResetPassword { .. } => 24,
        Request::ResetTotp { .. } => 25,
        Request::ChangeSetting { .. } => 26,
        Request::DisasterStatus => 27,
        Request::DisasterLookup { .. } => 28,
        Request::VerifyAudit { .. } => 29,
        Request::CheckInsOfDay { .. } => 30,
        Request::Usage { .. } => 31,
        Request::ChangePassword { .. } => 32,
        Request::EmergencyReview { .. } => 33,
        Request::FacilityOptions { .. } => 34,
        Request::SetVisit { .. } => 35,
        Request::OpenUnconfirmed { .. } => 36,
        Request::UnconfirmedList { .. } => 37,
        Request::RecheckUnconfirmed => 38,
        Request::CloseUnconfirmed { .. } => 39,
        Request::ExportUnconfirmed { .. } => 40,
    }
}
const REQUEST_KINDS: usize = 41;

/// Same for kiosk actions.
fn action_index(action: &KioskAction) -> usize {
    match action {
        KioskAction::ChooseMethod { .. } => 0,
        KioskAction::EnterPin { .. } => 1,
        KioskAction::AnswerConsent { .. } => 2,
        KioskAction::Cancel => 3,
        KioskAction::StartStaffVisualCheck { .. } => 4,
        KioskAction::ConfirmStaffVisualCheck { .. } => 5,
        KioskAction::Continue => 6,
    }
}
const ACTION_KINDS: usize = 7;

fn every_action() -> Vec<KioskAction> {
    vec![
        KioskAction::ChooseMethod {
            method: AuthMethod::Pin,
        },
        KioskAction::EnterPin {
            pin: Pin::new("1234").unwrap(),
        },
        KioskAction::AnswerConsent {
            item: ConsentItem::MedicalAndMedication,
            agreed: true,
        },
        KioskAction::Cancel,
        KioskAction::StartStaffVisualCheck { session: secret() },
        KioskAction::Continue,
        KioskAction::ConfirmStaffVisualCheck {
            session: secret(),
            same_person: true,
        },
    ]
}

/// One request of every kind (and the kiosk request with every action, for its own reader and another).
fn every_request() -> Vec<Request> {
    let four_facts = PatientLookup::FourFacts {
        name: Sensitive::new("山田"),
        birth_date: Sensitive::new("1980-04-17"),
        sex: Sex::Female,
        insurer_or_address: Sensitive::new("06139876"),
    };
    let mut all = vec![
        Request::Status,
        Request::Subscribe {
            topics: vec![Topic::Kiosk],
        },
        Request::Subscribe {
            topics: vec![Topic::Reader, Topic::Kiosk],
        },
        Request::Subscribe { topics: vec![] },
        Request::Subscribe {
            topics: vec![Topic::Kiosk, Topic::CheckIn],
        },
        Request::Subscribe {
            topics: vec![Topic::Outbox],
        },
        Request::Unsubscribe,
        Request::TodayCheckIns,
        Request::CheckInDetail {
            check_in_id: "c1".into(),
        },
        Request::ManualCheck {
            numbers: numbers(),
            session: None,
            ahead: false,
        },
        Request::OutboxSummary,
        Request::SetLocalName {
            check_in_id: "c1".into(),
            name: Sensitive::new("山田"),
        },
        Request::SetVisit {
            check_in_id: "c1".into(),
            visit: Visit::HomeVisit,
        },
        Request::OpenUnconfirmed {
            check_in_id: Some("c1".into()),
            reason: UnconfirmedReason::NoQualification,
            path: FallbackPath::Declaration,
            share: Some(3),
            claim: ClaimedNumbers::default(),
        },
        Request::UnconfirmedList { days: Some(7) },
        Request::RecheckUnconfirmed,
        Request::CloseUnconfirmed {
            session: secret(),
            id: 1,
            resolution: "x".into(),
        },
        Request::ExportUnconfirmed { days: None },
        Request::ConsentedPatients { session: secret() },
        Request::MedicalInfo {
            session: secret(),
            patient_ref: "p".into(),
            info: MedicalInfoKind::Surgery,
            from: "2024-01-01".into(),
            to: "2024-02-01".into(),
        },
        Request::EnvironmentSettings { session: secret() },
        Request::SetEnvironmentSettings {
            session: secret(),
            credential: secret(),
            settings: json!({}),
        },
        Request::Login {
            account: "dr".into(),
            password: secret(),
            totp: None,
        },
        Request::Logout { session: secret() },
        Request::EmergencyLookup {
            session: secret(),
            reason: "r".into(),
            patient: PatientLookup::Card {
                reader: READER.into(),
            },
        },
        Request::BeginTotpEnrolment { session: secret() },
        Request::ConfirmTotpEnrolment {
            session: secret(),
            code: secret(),
        },
        Request::ListAccounts { session: secret() },
        Request::CreateAccount {
            session: secret(),
            account: "x".into(),
            display_name: "x".into(),
            role: Role::Administrator,
            password: secret(),
        },
        Request::SetEmergencyPermission {
            session: secret(),
            account: "x".into(),
            granted: true,
        },
        Request::SetAccountRole {
            session: secret(),
            account: "x".into(),
            role: Role::Administrator,
        },
        Request::SetAccountDisabled {
            session: secret(),
            account: "x".into(),
            disabled: false,
        },
        Request::UnlockAccount {
            session: secret(),
            account: "x".into(),
        },
        Request::ResetPassword {
            session: secret(),
            account: "x".into(),
            password: secret(),
        },
        Request::ResetTotp {
            session: secret(),
            account: "x".into(),
        },
        Request::ChangeSetting {
            session: secret(),
            key: "k".into(),
            value: "v".into(),
        },
        Request::FacilityOptions { session: secret() },
        Request::DisasterStatus,
        Request::DisasterLookup {
            session: secret(),
            consent: DisasterConsent::Oral,
            reason: None,
            patient: four_facts,
        },
        Request::VerifyAudit { session: secret() },
        Request::CheckInsOfDay {
            date: Some("2026-12-02".into()),
        },
        Request::Usage { months: 12 },
        Request::ChangePassword {
            session: secret(),
            current: secret(),
            new_password: secret(),
        },
        Request::EmergencyReview {
            session: secret(),
            from: "2026-01-01".into(),
            to: "2026-01-31".into(),
            export: false,
        },
    ];
    for action in every_action() {
        all.push(kiosk(READER, action.clone()));
        all.push(kiosk("Reader B", action.clone()));
        all.push(Request::Kiosk {
            reader: None,
            action,
        });
    }
    all
}

/// What a kiosk bound to [`READER`] may send, written out independently of the daemon's allow-list.
fn kiosk_may(request: &Request) -> bool {
    match request {
        Request::Status | Request::Unsubscribe => true,
        Request::Subscribe { topics } => {
            *topics == [Topic::Kiosk] || *topics == [Topic::Reader, Topic::Kiosk]
        }
        Request::Kiosk {
            reader: Some(reader),
            action,
        } => reader == READER && matches!(action_index(action), 0..=3 | 6),
        _ => false,
    }
}

#[test]
fn the_examples_cover_every_request_and_action() {
    let requests: BTreeSet<usize> = every_request().iter().map(kind_index).collect();
    assert_eq!(requests, (0..REQUEST_KINDS).collect());
    let actions: BTreeSet<usize> = every_action().iter().map(action_index).collect();
    assert_eq!(actions, (0..ACTION_KINDS).collect());
}

#[tokio::test]
async fn a_kiosk_connection_is_refused_every_request_outside_its_allow_list() {
    let server = start().await;
    let client = connect(&server, kiosk_scope()).await;
    let mut allowed = 0;
    for request in every_request() {
        let name = format!("{request:?}");
        let before = server.handler.seen.lock().unwrap().len();
        let answer = client.request(request.clone()).await;
        let reached = server.handler.seen.lock().unwrap().len() > before;
        if kiosk_may(&request) {
            allowed += 1;
            assert!(answer.is_ok(), "{name} should be allowed: {answer:?}");
        } else {
            match answer {
                Err(IpcError::Remote(e)) => {
                    assert_eq!(e.code, ErrorCode::Forbidden, "{name}: {e}");
                    assert!(e.message.contains("kiosk"), "{name}: {e}");
                }
                other => panic!("{name} should be forbidden to a kiosk, got {other:?}"),
            }
            assert!(!reached, "{name} reached the handler from a kiosk");
        }
    }
    assert_eq!(
        allowed, 9,
        "status, unsubscribe, two subscriptions, five patient actions (with 続ける)"
    );
    // The same requests from a staff connection all pass the scope (each then checks its own session).
    let staff = connect(&server, Scope::Staff).await;
    for request in every_request() {
        let name = format!("{request:?}");
        assert!(staff.request(request).await.is_ok(), "{name}");
    }
}

#[tokio::test]
async fn a_kiosk_sees_only_its_own_readers_kiosk_and_reader_events() {
    let server = start().await;
    let kiosk = connect(&server, kiosk_scope()).await;
    let mut kiosk_events = kiosk.subscribe(&Scope::KIOSK_TOPICS).await.unwrap();
    let staff = connect(&server, Scope::Staff).await;
    let mut staff_events = staff.subscribe(&[]).await.unwrap();

    let check_in = Event::CheckIn {
        check_in: CheckInRecord {
            check_in_id: "c1".into(),
            at: "2026-12-03T10:00:00+09:00".into(),
            reader: READER.into(),
            method: AuthMethod::Pin,
            outcome: CheckInOutcome::Valid,
            patient: None,
            consents: vec![],
            validity: None,
            certificate: None,
            visit: Visit::Outpatient,
            certificate_expires_on: None,
            certificate_grace_until: None,
        },
    };
    let screen = |reader: &str| Event::Kiosk {
        reader: reader.into(),
        screen: KioskScreen::Idle,
        display: Default::default(),
        countdown: None,
    };
    let attached = |reader: &str| Event::Reader {
        reader: reader.into(),
        change: ReaderChange::Attached,
    };
    for event in [
        check_in.clone(),
        Event::Outbox {
            counts: OutboxCounts::default(),
        },
        Event::CentralLink {
            link: CentralLink::Up,
        },
        screen("Reader B"),
        attached("Reader B"),
        screen(READER),
        check_in.clone(),
        attached(READER),
    ] {
        server.events.publish(event);
    }
    assert_eq!(next(&mut kiosk_events).await, screen(READER));
    assert_eq!(next(&mut kiosk_events).await, attached(READER));
    // The staff window gets everything, in order.
    assert_eq!(next(&mut staff_events).await, check_in);
    for _ in 0..6 {
        next(&mut staff_events).await;
    }
    assert_eq!(next(&mut staff_events).await, attached(READER));
    // And nothing more arrived at the kiosk than those two: the next one is a marker published now.
    server.events.publish(check_in.clone());
    server.events.publish(screen(READER));
    assert_eq!(next(&mut kiosk_events).await, screen(READER));
}

async fn next(events: &mut EventStream) -> Event {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
}

async fn raw_frame(stream: &mut UnixStream, body: &serde_json::Value) {
    let body = body.to_string().into_bytes();
    stream
        .write_all(&(body.len() as u32).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(&body).await.unwrap();
}

async fn read_raw(stream: &mut UnixStream) -> serde_json::Value {
    let mut len = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut len))
        .await
        .unwrap()
        .unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn a_kiosk_cannot_change_its_scope_and_an_unknown_scope_is_refused() {
    let server = start().await;
    let hello = |scope: serde_json::Value| {
        json!({"type": "hello", "protocol": PROTOCOL_VERSION, "token": server.token.expose(),
               "client": "raw", "scope": scope})
    };
    let mut stream = UnixStream::connect(&server.socket).await.unwrap();
    raw_frame(&mut stream, &hello(json!({"role": "kiosk"}))).await;
    let welcome = read_raw(&mut stream).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["scope"], json!({"role": "kiosk"}), "{welcome}");
    // A second hello asking for staff is not a request at all.
    raw_frame(&mut stream, &hello(json!({"role": "staff"}))).await;
    let reply = read_raw(&mut stream).await;
    assert_eq!(reply["error"]["code"], "bad_request", "{reply}");
    // Nor is a scope smuggled into a request.
    raw_frame(
        &mut stream,
        &json!({"type": "request", "id": 7, "scope": {"role": "staff"}, "request": {"kind": "today_check_ins"}}),
    )
    .await;
    let reply = read_raw(&mut stream).await;
    assert_eq!(reply["id"], 7, "{reply}");
    assert_eq!(reply["outcome"]["error"]["code"], "forbidden", "{reply}");
    assert!(server.handler.seen.lock().unwrap().is_empty());

    // A scope this daemon does not know gets no connection at all.
    let mut stream = UnixStream::connect(&server.socket).await.unwrap();
    raw_frame(&mut stream, &hello(json!({"role": "superuser"}))).await;
    let reply = read_raw(&mut stream).await;
    assert_eq!(reply["type"], "refused", "{reply}");
    assert_eq!(reply["reason"], "bad_hello", "{reply}");
}

#[tokio::test]
async fn a_kiosk_client_refuses_a_daemon_that_does_not_confirm_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = dir.path().join("old.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    // A daemon from before scopes: welcomes anyone with the token and says nothing of scopes.
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _hello = read_raw(&mut stream).await;
                raw_frame(
                    &mut stream,
                    &json!({"type": "welcome", "protocol": 1, "server": "old"}),
                )
                .await;
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest).await;
            });
        }
    });
    let token = IpcToken::generate().unwrap();
    let options = |scope| ClientOptions {
        scope,
        ..ClientOptions::default()
    };
    match IpcClient::connect_with(&socket, Some(&token), options(kiosk_scope())).await {
        Err(IpcError::ScopeNotGranted(_)) => {}
        other => panic!("a kiosk must not use a daemon that ignores scopes: {other:?}"),
    }
    // A staff client may: that daemon serves it what it asked for.
    IpcClient::connect_with(&socket, Some(&token), options(Scope::Staff))
        .await
        .unwrap();
}
