//! Staff accounts for the tests, set up as a facility would: the first administrator with
//! `oqs-readerd --create-admin`, the others over the socket, TOTP enrolled from the QR code's secret.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use terminal_ipc::{ErrorCode, IpcClient, IpcError, IpcToken, Request, Response, Role, Secret};

use crate::{Daemon, bin};

pub const ADMIN_PW: &str = "admin-password-1";
pub const DR_PW: &str = "doctor-password-1";
pub const NS_PW: &str = "nurse-password-1";

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn socket(daemon: &Daemon) -> PathBuf {
    daemon.root.join("run/oqs-readerd.sock")
}

pub fn store_path(daemon: &Daemon) -> PathBuf {
    daemon.root.join("work/facility.sqlite3")
}

pub async fn connect(daemon: &Daemon) -> IpcClient {
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto).unwrap();
    let token = IpcToken::load(&keyring).unwrap();
    IpcClient::connect(socket(daemon), &token).await.unwrap()
}

/// A connection as the patient's screen of kiosk `reader` makes it (the kiosk scope).
pub async fn connect_kiosk(daemon: &Daemon, reader: &str) -> IpcClient {
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto).unwrap();
    let token = IpcToken::load(&keyring).unwrap();
    let options = terminal_ipc::ClientOptions {
        client_name: "e2e-kiosk".into(),
        scope: terminal_ipc::Scope::Kiosk {
            reader: Some(reader.to_owned()),
        },
        ..terminal_ipc::ClientOptions::default()
    };
    IpcClient::connect_with(socket(daemon), Some(&token), options)
        .await
        .unwrap()
}

/// The error code of a refused request.
pub async fn refused(client: &IpcClient, request: Request) -> (ErrorCode, String) {
    match client.request(request).await {
        Err(IpcError::Remote(e)) => (e.code, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

pub async fn login(client: &IpcClient, account: &str, pw: &str, totp: Option<String>) -> Secret {
    match client
        .request(Request::Login {
            account: account.into(),
            password: Secret::new(pw),
            totp: totp.map(Secret::new),
        })
        .await
        .unwrap()
    {
        Response::LoggedIn { session, .. } => session,
        other => panic!("{other:?}"),
    }
}

pub fn unix_now() -> u64 {
    crate::clock().now_secs()
}

pub fn totp(secret_base32: &str) -> totp_rs::TOTP {
    let bytes = totp_rs::Secret::Encoded(secret_base32.into())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        "dr-tanaka".into(),
    )
}

/// Every row of the daemon's audit log, read from its store with the key in the OS keyring (the test's keyutils
/// session). The daemon may keep running.
pub fn audit_rows(daemon: &Daemon) -> Vec<facility_store::AuditRecord> {
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto).expect("the keyring");
    let keys = facility_store::KeyringKeyProvider::new(keyring, "facility-store-key");
    let store = facility_store::Store::open(store_path(daemon), &keys).expect("the store");
    store.audit_records(0, 10_000).expect("the audit log")
}

pub fn create_admin(daemon: &Daemon) {
    let mut child = Command::new(bin("oqs-readerd"))
        .arg("--config")
        .arg(&daemon.config)
        .args(["--create-admin", "admin", "--display-name", "管理者"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{ADMIN_PW}\n{ADMIN_PW}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "--create-admin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The facility's accounts: an administrator session, a doctor (viewer, TOTP enrolled, not yet granted the
/// emergency permission) and a nurse (staff). Returns the admin client + session and the TOTP of the doctor.
pub async fn set_up_accounts(daemon: &Daemon) -> (IpcClient, Secret, totp_rs::TOTP) {
    create_admin(daemon);
    let admin = connect(daemon).await;
    let admin_session = login(&admin, "admin", ADMIN_PW, None).await;
    for (account, name, role, pw) in [
        (
            "dr-tanaka",
            "田中 医師",
            Role::MedicalInformationViewer,
            DR_PW,
        ),
        ("ns-sato", "佐藤 看護師", Role::Staff, NS_PW),
    ] {
        let created = admin
            .request(Request::CreateAccount {
                session: admin_session.clone(),
                account: account.into(),
                display_name: name.into(),
                role,
                password: Secret::new(pw),
            })
            .await
            .unwrap();
        assert!(matches!(created, Response::Account { .. }), "{created:?}");
    }
    // Staff cannot administer accounts.
    let nurse = connect(daemon).await;
    let ns = login(&nurse, "ns-sato", NS_PW, None).await;
    let (code, _) = refused(&nurse, Request::ListAccounts { session: ns }).await;
    assert_eq!(code, ErrorCode::Forbidden);

    // The doctor enrols a second factor from the QR code's secret.
    let dr_client = connect(daemon).await;
    let dr = login(&dr_client, "dr-tanaka", DR_PW, None).await;
    let Response::TotpEnrolment {
        secret_base32,
        otpauth_uri,
        qr_svg,
    } = dr_client
        .request(Request::BeginTotpEnrolment {
            session: dr.clone(),
        })
        .await
        .unwrap()
    else {
        panic!("no enrolment")
    };
    assert!(otpauth_uri.expose().starts_with("otpauth://totp/"));
    assert!(qr_svg.expose().contains("<svg"), "the QR code is SVG");
    let totp = totp(secret_base32.expose());
    let confirmed = dr_client
        .request(Request::ConfirmTotpEnrolment {
            session: dr,
            code: Secret::new(totp.generate(unix_now())),
        })
        .await
        .unwrap();
    let Response::Account { account } = confirmed else {
        panic!("{confirmed:?}")
    };
    assert!(account.totp_enrolled && !account.emergency_permission);
    (admin, admin_session, totp)
}

pub async fn grant(admin: &IpcClient, session: &Secret, granted: bool) {
    admin
        .request(Request::SetEmergencyPermission {
            session: session.clone(),
            account: "dr-tanaka".into(),
            granted,
        })
        .await
        .unwrap();
}
