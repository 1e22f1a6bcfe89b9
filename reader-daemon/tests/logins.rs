//! Staff logins over a real local socket, with the daemon's own account handling and a real store (issue 13,
//! items 1–3): parallel guesses cannot outrun the lockout, refused logins all look alike, a password alone
//! cannot replace the second factor, and a used one-time code stays used across a restart.
//!
//! Only the account requests are routed (the card, relay and central parts of the daemon are not needed).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use facility_store::{StaticKeyProvider, Store};
use oqs_clock::Clock;
use os_keyring::SecretBytes;
use reader_daemon::accounts::{AccountChange, AccountSettings, Accounts};
use terminal_ipc::{
    ErrorBody, ErrorCode, Handler, IpcClient, IpcError, IpcServer, IpcToken, PeerInfo, Request,
    Response, Role, Secret, ServerConfig,
};
use tokio::sync::oneshot;

const ADMIN_PW: &str = "admin-password-1";
const DR_PW: &str = "doctor-password-1";
const MAX_FAILURES: u32 = 5;

struct AccountRequests(Accounts);

impl Handler for AccountRequests {
    fn disconnected(&self, peer: &PeerInfo) {
        self.0.disconnected(peer.connection_id);
    }

    async fn handle(&self, peer: &PeerInfo, request: Request) -> Result<Response, ErrorBody> {
        let a = &self.0;
        match request {
            Request::Login {
                account,
                password,
                totp,
            } => a.login(peer, account, password, totp).await,
            Request::BeginTotpEnrolment { session } => a.begin_totp(peer, &session).await,
            Request::ConfirmTotpEnrolment { session, code } => {
                a.confirm_totp(peer, &session, &code).await
            }
            Request::CreateAccount {
                session,
                account,
                display_name,
                role,
                password,
            } => {
                a.create(peer, &session, account, display_name, role, password)
                    .await
            }
            Request::SetAccountDisabled {
                session,
                account,
                disabled,
            } => {
                a.change(peer, &session, account, AccountChange::Disabled(disabled))
                    .await
            }
            Request::ResetTotp { session, account } => {
                a.change(peer, &session, account, AccountChange::ResetTotp)
                    .await
            }
            Request::ListAccounts { session } => a.list(peer, &session).await,
            Request::ResetPassword {
                session,
                account,
                password,
            } => {
                a.change(peer, &session, account, AccountChange::Password(password))
                    .await
            }
            Request::UnlockAccount { session, account } => {
                a.change(peer, &session, account, AccountChange::Unlock)
                    .await
            }
            Request::SetEmergencyPermission {
                session,
                account,
                granted,
            } => {
                let change = AccountChange::EmergencyPermission(granted);
                a.change(peer, &session, account, change).await
            }
            Request::ChangePassword {
                session,
                current,
                new_password,
            } => {
                a.change_password(peer, &session, current, new_password)
                    .await
            }
            _ => Err(ErrorBody::new(ErrorCode::Unsupported, "not in this test")),
        }
    }
}

fn key() -> StaticKeyProvider {
    StaticKeyProvider::new(SecretBytes::new(vec![7; 32]))
}

fn open_store(path: &Path, clock: &Clock) -> Arc<Store> {
    let settings = AccountSettings {
        max_failures: MAX_FAILURES,
        ..AccountSettings::default()
    };
    Arc::new(
        Store::open(path, &key())
            .unwrap()
            .with_lockout_policy(settings.lockout_policy())
            .with_clock(clock.clone()),
    )
}

struct Daemon {
    store: Arc<Store>,
    socket: PathBuf,
    token: IpcToken,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Daemon {
    async fn start(dir: &Path, clock: &Clock) -> Self {
        let store = open_store(&dir.join("facility.sqlite3"), clock);
        let settings = AccountSettings {
            max_failures: MAX_FAILURES,
            ..AccountSettings::default()
        };
        let socket = dir.join("run").join("readerd.sock");
        let token = IpcToken::generate().unwrap();
        let mut config = ServerConfig::new(&socket, token.clone());
        config.max_connections = 128;
        let server = IpcServer::bind(config).await.unwrap();
        let handler = Arc::new(AccountRequests(Accounts::new(store.clone(), settings)));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(handler, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            store,
            socket,
            token,
            stop: Some(stop),
            task,
        }
    }

    async fn connect(&self) -> IpcClient {
        IpcClient::connect(&self.socket, &self.token).await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap();
    }
}

fn login_request(account: &str, password: &str, totp: Option<String>) -> Request {
    Request::Login {
        account: account.into(),
        password: Secret::new(password),
        totp: totp.map(Secret::new),
    }
}

async fn login(client: &IpcClient, account: &str, password: &str, totp: Option<String>) -> Secret {
    match client
        .request(login_request(account, password, totp))
        .await
        .unwrap()
    {
        Response::LoggedIn { session, .. } => session,
        other => panic!("{other:?}"),
    }
}

async fn refused(client: &IpcClient, request: Request) -> (ErrorCode, String) {
    match client.request(request).await {
        Err(IpcError::Remote(e)) => (e.code, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn totp(secret_base32: &str) -> totp_rs::TOTP {
    let bytes = totp_rs::Secret::Encoded(secret_base32.into())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "dr".into())
}

fn clock() -> Clock {
    // 2026-03-31T12:00:10Z, away from a step boundary; the test advances it by whole steps.
    Clock::manual(SystemTime::UNIX_EPOCH + Duration::from_secs(1_774_958_410))
}

/// The administrator (made as at set-up) and a doctor created over the socket.
async fn accounts(daemon: &Daemon) -> (IpcClient, Secret) {
    reader_daemon::accounts::create_first_admin(&daemon.store, "admin", "管理者", ADMIN_PW)
        .unwrap();
    let admin = daemon.connect().await;
    let session = login(&admin, "admin", ADMIN_PW, None).await;
    let created = admin
        .request(Request::CreateAccount {
            session: session.clone(),
            account: "dr".into(),
            display_name: "医師".into(),
            role: Role::MedicalInformationViewer,
            password: Secret::new(DR_PW),
        })
        .await
        .unwrap();
    assert!(matches!(created, Response::Account { .. }), "{created:?}");
    (admin, session)
}

/// Begins and confirms an enrolment on `client`'s session; the authenticator's TOTP.
async fn enrol(client: &IpcClient, session: &Secret, clock: &Clock) -> totp_rs::TOTP {
    let Response::TotpEnrolment { secret_base32, .. } = client
        .request(Request::BeginTotpEnrolment {
            session: session.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("no enrolment")
    };
    let totp = totp(secret_base32.expose());
    let confirmed = client
        .request(Request::ConfirmTotpEnrolment {
            session: session.clone(),
            code: Secret::new(totp.generate(clock.now_secs())),
        })
        .await
        .unwrap();
    assert!(
        matches!(&confirmed, Response::Account { account } if account.totp_enrolled),
        "{confirmed:?}"
    );
    totp
}

/// Item 2: the lock used to be checked before the slow hash and the failure counted after it, so 64
/// parallel wrong passwords all got checked. Now at most `max_failures` reach the hash, and then even the
/// right password is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_parallel_wrong_passwords_get_at_most_max_failures_checks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let daemon = Daemon::start(dir.path(), &clock).await;
    let (_admin, _) = accounts(&daemon).await;
    let mut clients = Vec::new();
    for _ in 0..64 {
        clients.push(daemon.connect().await);
    }
    let before = daemon.store.password_verifications();
    let guesses = clients.into_iter().enumerate().map(|(i, client)| {
        tokio::spawn(async move {
            let answer =
                refused(&client, login_request("dr", &format!("guess {i:02}"), None)).await;
            (client, answer)
        })
    });
    let answers = futures_join(guesses).await;
    let checked = daemon.store.password_verifications() - before;
    assert!(
        checked <= u64::from(MAX_FAILURES),
        "{checked} of 64 parallel wrong passwords reached Argon2; the lockout allows {MAX_FAILURES}"
    );
    let first = &answers[0].1;
    for (_, answer) in &answers {
        assert_eq!(answer, first, "every refusal is the same");
    }
    assert_eq!(first.0, ErrorCode::Unauthenticated);
    // Locked: the right password is refused, with the same answer, and never checked.
    let before = daemon.store.password_verifications();
    let answer = refused(&answers[0].0, login_request("dr", DR_PW, None)).await;
    assert_eq!(&answer, first, "locked looks like a wrong password");
    assert_eq!(daemon.store.password_verifications(), before);
    let account = daemon.store.account("dr").unwrap().unwrap();
    assert!(account.locked_until.is_some());
    assert!(account.failed_attempts <= MAX_FAILURES);
    daemon.stop().await;
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

/// Item 3: wrong password, unknown account, locked and disabled get one code and one message; each costs
/// one Argon2 verification (the figures are printed; timing is not asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_all_look_alike() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let daemon = Daemon::start(dir.path(), &clock).await;
    let (admin, admin_session) = accounts(&daemon).await;
    // Two more accounts straight into the store (create_first_admin makes the first administrator only).
    for (login, name, password) in [
        ("locked", "L", "locked-password-1"),
        ("off", "D", "off-password-11"),
    ] {
        daemon
            .store
            .create_account(
                &facility_store::NewAccount {
                    login,
                    display_name: name,
                    role: facility_store::Role::Administrator,
                    password,
                },
                "test",
                daemon.store.now_millis(),
            )
            .unwrap();
    }
    let client = daemon.connect().await;
    for _ in 0..MAX_FAILURES {
        refused(&client, login_request("locked", "not it at all", None)).await;
    }
    admin
        .request(Request::SetAccountDisabled {
            session: admin_session,
            account: "off".into(),
            disabled: true,
        })
        .await
        .unwrap();
    let mut answers = Vec::new();
    for (case, request) in [
        (
            "wrong password",
            login_request("dr", "not the password", None),
        ),
        (
            "unknown account",
            login_request("typed-a-password-here", "whatever pw", None),
        ),
        ("locked", login_request("locked", "locked-password-1", None)),
        ("disabled", login_request("off", "off-password-11", None)),
    ] {
        let started = Instant::now();
        let answer = refused(&client, request).await;
        eprintln!("{case}: {:?}", started.elapsed());
        answers.push((case, answer));
    }
    for (case, answer) in &answers {
        assert_eq!(
            answer, &answers[0].1,
            "{case} differs from a wrong password"
        );
    }
    assert_eq!(answers[0].1.0, ErrorCode::Unauthenticated);
    // The audit log keeps the real reasons.
    let reasons: Vec<String> = daemon
        .store
        .audit_records(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == "login_failed")
        .filter_map(|r| r.entry.detail)
        .collect();
    // What was typed for an unknown account (perhaps a password in the wrong field) is never written down.
    let records = daemon.store.audit_records(0, 1000).unwrap();
    assert!(
        records
            .iter()
            .all(|r| !format!("{:?}", r.entry).contains("typed-a-password-here")),
        "the text typed for an unknown account is in the audit log"
    );
    assert!(
        records
            .iter()
            .any(|r| r.entry.actor == reader_daemon::accounts::UNKNOWN_ACTOR)
    );
    for reason in [
        "wrong password",
        "unknown account",
        "account locked",
        "account disabled",
    ] {
        assert!(reasons.iter().any(|r| r == reason), "{reason}: {reasons:?}");
    }
    daemon.stop().await;
}

/// Item 1: anyone with the doctor's password could enrol their own authenticator over the doctor's. Now a
/// password-only session may only make the first enrolment; replacing needs both factors or an
/// administrator's reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_alone_cannot_replace_the_second_factor() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let daemon = Daemon::start(dir.path(), &clock).await;
    let (admin, admin_session) = accounts(&daemon).await;

    // Two password-only sessions begin an enrolment; the first to confirm wins, the second is refused.
    let doctor = daemon.connect().await;
    let dr = login(&doctor, "dr", DR_PW, None).await;
    let thief = daemon.connect().await;
    let stolen = login(&thief, "dr", DR_PW, None).await;
    let Response::TotpEnrolment {
        secret_base32: thief_secret,
        ..
    } = thief
        .request(Request::BeginTotpEnrolment {
            session: stolen.clone(),
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    let dr_totp = enrol(&doctor, &dr, &clock).await;
    let enrolled = daemon.store.totp_secret("dr").unwrap().unwrap();
    clock.advance(Duration::from_secs(30));
    let (code, _) = refused(
        &thief,
        Request::ConfirmTotpEnrolment {
            session: stolen.clone(),
            code: Secret::new(totp(thief_secret.expose()).generate(clock.now_secs())),
        },
    )
    .await;
    assert_eq!(code, ErrorCode::SecondFactorRequired);

    // A new password-only session cannot even begin.
    let thief = daemon.connect().await;
    let stolen = login(&thief, "dr", DR_PW, None).await;
    let (code, message) = refused(
        &thief,
        Request::BeginTotpEnrolment {
            session: stolen.clone(),
        },
    )
    .await;
    assert_eq!(code, ErrorCode::SecondFactorRequired, "{message}");
    assert_eq!(
        daemon.store.totp_secret("dr").unwrap().unwrap().expose(),
        enrolled.expose(),
        "the doctor's authenticator is still the enrolled one"
    );

    // The doctor, logged in with both factors, may replace it.
    clock.advance(Duration::from_secs(30));
    let doctor = daemon.connect().await;
    let dr2 = login(
        &doctor,
        "dr",
        DR_PW,
        Some(dr_totp.generate(clock.now_secs())),
    )
    .await;
    clock.advance(Duration::from_secs(30));
    enrol(&doctor, &dr2, &clock).await;
    assert_ne!(
        daemon.store.totp_secret("dr").unwrap().unwrap().expose(),
        enrolled.expose()
    );

    // After an administrator's reset, a password session makes the first enrolment again.
    admin
        .request(Request::ResetTotp {
            session: admin_session,
            account: "dr".into(),
        })
        .await
        .unwrap();
    clock.advance(Duration::from_secs(30));
    let doctor = daemon.connect().await;
    let dr3 = login(&doctor, "dr", DR_PW, None).await;
    enrol(&doctor, &dr3, &clock).await;

    let rows: Vec<(String, String, Option<String>)> = daemon
        .store
        .audit_records(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action.starts_with("totp_"))
        .map(|r| (r.entry.actor, r.entry.action, r.entry.detail))
        .collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        actions,
        [
            "totp_enrolled",
            "totp_enrolment_refused",
            "totp_enrolled",
            "totp_reset",
            "totp_enrolled"
        ],
        "{rows:?}"
    );
    daemon.stop().await;
}

/// Item 3: the last accepted step was kept in memory only, so a code seen over a shoulder could be used
/// again after a restart of the daemon. It is now kept per account in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_code_is_refused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let daemon = Daemon::start(dir.path(), &clock).await;
    accounts(&daemon).await;
    let doctor = daemon.connect().await;
    let dr = login(&doctor, "dr", DR_PW, None).await;
    let dr_totp = enrol(&doctor, &dr, &clock).await;
    clock.advance(Duration::from_secs(30));
    let code = dr_totp.generate(clock.now_secs());
    login(&doctor, "dr", DR_PW, Some(code.clone())).await;
    let (again, _) = refused(&doctor, login_request("dr", DR_PW, Some(code.clone()))).await;
    assert_eq!(again, ErrorCode::Unauthenticated);
    drop(doctor);
    daemon.stop().await;

    // Same 30-second step, a new daemon on the same store.
    let daemon = Daemon::start(dir.path(), &clock).await;
    let doctor = daemon.connect().await;
    let (after_restart, _) = refused(&doctor, login_request("dr", DR_PW, Some(code))).await;
    assert_eq!(
        after_restart,
        ErrorCode::Unauthenticated,
        "a used code is refused after a restart"
    );
    clock.advance(Duration::from_secs(30));
    login(
        &doctor,
        "dr",
        DR_PW,
        Some(dr_totp.generate(clock.now_secs())),
    )
    .await;
    daemon.stop().await;
}

// ---- issue 14: the account kinds of the national system ----

const MASTER: &str = reader_daemon::accounts::MASTER_LOGIN;
const RESET: &str = reader_daemon::accounts::MASTER_RESET_LOGIN;
const MASTER_FIRST_PW: &str = "master-first-pw";

fn reset_password(session: &Secret, account: &str, password: &str) -> Request {
    Request::ResetPassword {
        session: session.clone(),
        account: account.into(),
        password: Secret::new(password),
    }
}

/// The master logs in with the set-up password and may do nothing but change it; then it administers
/// accounts (creates an administrator, sees IDs) and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_must_change_its_first_password_then_administers_accounts_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let daemon = Daemon::start(dir.path(), &clock).await;
    reader_daemon::accounts::create_master_accounts(&daemon.store, MASTER_FIRST_PW, "4821")
        .unwrap();
    let client = daemon.connect().await;
    let Response::LoggedIn {
        session,
        role,
        must_change_password,
        ..
    } = client
        .request(login_request(MASTER, MASTER_FIRST_PW, None))
        .await
        .unwrap()
    else {
        panic!("no login")
    };
    assert_eq!((role, must_change_password), (Role::Master, true));
    let (code, _) = refused(
        &client,
        Request::ListAccounts {
            session: session.clone(),
        },
    )
    .await;
    assert_eq!(code, ErrorCode::PasswordChangeRequired);

    // A wrong current password is refused and counted.
    let (code, _) = refused(
        &client,
        Request::ChangePassword {
            session: session.clone(),
            current: Secret::new("not the password"),
            new_password: Secret::new("master-second-pw"),
        },
    )
    .await;
    assert_eq!(code, ErrorCode::Unauthenticated);
    assert_eq!(
        daemon
            .store
            .account(MASTER)
            .unwrap()
            .unwrap()
            .failed_attempts,
        1
    );
    let changed = client
        .request(Request::ChangePassword {
            session: session.clone(),
            current: Secret::new(MASTER_FIRST_PW),
            new_password: Secret::new("master-second-pw"),
        })
        .await
        .unwrap();
    assert!(
        matches!(&changed, Response::Account { account } if !account.must_change_password),
        "{changed:?}"
    );

    // Now the master sees every account (IDs, never passwords) and creates an administrator.
    let Response::Accounts { accounts } = client
        .request(Request::ListAccounts {
            session: session.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("no list")
    };
    let ids: Vec<_> = accounts.iter().map(|a| a.account.as_str()).collect();
    assert_eq!(ids, [MASTER, RESET]);
    let created = client
        .request(Request::CreateAccount {
            session: session.clone(),
            account: "admin".into(),
            display_name: "管理者".into(),
            role: Role::Administrator,
            password: Secret::new(ADMIN_PW),
        })
        .await
        .unwrap();
    assert!(matches!(created, Response::Account { .. }), "{created:?}");
    // No one makes another master, and the master does no staff work.
    let (code, _) = refused(
        &client,
        Request::CreateAccount {
            session: session.clone(),
            account: "m2".into(),
            display_name: "m2".into(),
            role: Role::Master,
            password: Secret::new(ADMIN_PW),
        },
    )
    .await;
    assert_eq!(code, ErrorCode::BadRequest);
    let (code, _) = refused(&client, Request::BeginTotpEnrolment { session }).await;
    assert_eq!(code, ErrorCode::Forbidden);

    // An administrator cannot touch the master accounts, but may unlock the reset account.
    let admin = daemon.connect().await;
    let admin_session = login(&admin, "admin", ADMIN_PW, None).await;
    let (code, _) = refused(
        &admin,
        reset_password(&admin_session, MASTER, "whatever-long-pw"),
    )
    .await;
    assert_eq!(code, ErrorCode::Forbidden);
    let unlocked = admin
        .request(Request::UnlockAccount {
            session: admin_session.clone(),
            account: RESET.into(),
        })
        .await
        .unwrap();
    assert!(matches!(unlocked, Response::Account { .. }), "{unlocked:?}");
    daemon.stop().await;
}

/// The リセット用アカウント: wrong 秘密の番号 are counted and lock it for a day; with the right one it resets
/// the master's password (which must then be changed) and can do nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_account_only_resets_the_master_and_its_wrong_numbers_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let daemon = Daemon::start(dir.path(), &clock).await;
    reader_daemon::accounts::create_master_accounts(&daemon.store, MASTER_FIRST_PW, "4821")
        .unwrap();
    reader_daemon::accounts::create_first_admin(&daemon.store, "admin", "管理者", ADMIN_PW)
        .unwrap();
    let client = daemon.connect().await;
    let (code, _) = refused(&client, login_request(RESET, "0000", None)).await;
    assert_eq!(code, ErrorCode::Unauthenticated);
    assert_eq!(
        daemon
            .store
            .account(RESET)
            .unwrap()
            .unwrap()
            .failed_attempts,
        1
    );

    let session = login(&client, RESET, "4821", None).await;
    assert_eq!(
        daemon
            .store
            .account(RESET)
            .unwrap()
            .unwrap()
            .failed_attempts,
        0
    );
    for request in [
        Request::ListAccounts {
            session: session.clone(),
        },
        reset_password(&session, "admin", "new-admin-password"),
        Request::SetEmergencyPermission {
            session: session.clone(),
            account: "admin".into(),
            granted: true,
        },
    ] {
        let (code, _) = refused(&client, request).await;
        assert_eq!(code, ErrorCode::Forbidden);
    }
    let reset = client
        .request(reset_password(&session, MASTER, "temporary-master-pw"))
        .await
        .unwrap();
    assert!(
        matches!(&reset, Response::Account { account } if account.must_change_password),
        "{reset:?}"
    );
    let (code, _) = refused(&client, login_request(MASTER, MASTER_FIRST_PW, None)).await;
    assert_eq!(code, ErrorCode::Unauthenticated);
    let master = daemon.connect().await;
    let Response::LoggedIn {
        must_change_password,
        ..
    } = master
        .request(login_request(MASTER, "temporary-master-pw", None))
        .await
        .unwrap()
    else {
        panic!("no login")
    };
    assert!(must_change_password);

    // Five wrong numbers lock the reset account, for a day rather than a quarter of an hour.
    for _ in 0..MAX_FAILURES {
        let _ = refused(&client, login_request(RESET, "1111", None)).await;
    }
    let account = daemon.store.account(RESET).unwrap().unwrap();
    let until = account.locked_until.expect("locked");
    assert!(
        until - daemon.store.now_millis() >= facility_store::SECRET_NUMBER_LOCK_MILLIS - 1000,
        "locked for a day"
    );
    let (code, _) = refused(&client, login_request(RESET, "4821", None)).await;
    assert_eq!(code, ErrorCode::Unauthenticated);
    daemon.stop().await;
}
