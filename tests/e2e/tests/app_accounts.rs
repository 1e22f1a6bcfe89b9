//! Staff accounts in the app's window, from a fresh install to an emergency view (issue 14, "Done when"):
//! set-up makes the master accounts → the master logs in and must change its password → it creates an
//! administrator → the administrator creates a doctor and grants 救急時医療情報閲覧権限 → the doctor logs in,
//! enrols the second factor from the QR screen (the test reads the secret shown and computes the codes) →
//! the doctor opens the emergency view by four facts → the administrator sees the doctor's second factor.

use std::time::Duration;

use e2e::app::{AppWindow, Display, Driver, pdf_pages, screenshot_dir, squeezed};
use e2e::kiosk::Oqs;
use e2e::staff::{connect, grant, login, refused, rt, set_up_accounts, totp, unix_now};
use e2e::{Daemon, MockCentral, bin, in_keyutils_session, wait_for};
use terminal_ipc::{ErrorCode, Request, Response, Secret};

const MASTER: &str = "マスタアカウント";
const ADMIN_PW: &str = "admin-password-1";
const DR_PW: &str = "doctor-password-1";
const VIEWER_PW: &str = "viewer-password-1";

/// Sets an input's value as typing would (for date fields, which WebDriver cannot type into reliably).
fn set_value(window: &AppWindow, css: &str, value: &str) {
    window.find(css);
    window.script(
        "const e = document.querySelector(arguments[0]); \
         const set = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(e), 'value').set; \
         set.call(e, arguments[1]); e.dispatchEvent(new Event('input', {bubbles: true}));",
        serde_json::json!([css, value]),
    );
}

fn choose(window: &AppWindow, css: &str, value: &str) {
    window.find(css);
    window.script(
        "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
         e.dispatchEvent(new Event('change', {bubbles: true}));",
        serde_json::json!([css, value]),
    );
}

fn log_in(window: &AppWindow, account: &str, password: &str) {
    window.type_into("[data-testid='admin-account']", account);
    window.type_into("[data-testid='admin-password']", password);
    window.click("[data-testid='admin-login']");
    window.find("[data-testid='admin-user']");
}

fn log_out(window: &AppWindow) {
    window.click("[data-testid='admin-logout']");
    window.find("[data-testid='admin-account']");
}

/// Fills the create form, then confirms.
fn create(
    window: &AppWindow,
    id: &str,
    name: &str,
    role: &str,
    password: &str,
    shot: Option<&str>,
) {
    window.type_into("[data-testid='acc-new-id']", id);
    window.type_into("[data-testid='acc-new-name']", name);
    choose(window, "[data-testid='acc-new-role']", role);
    window.type_into("[data-testid='acc-new-password']", password);
    window.click("[data-testid='acc-create']");
    window.find("[data-testid='acc-confirm']");
    if let Some(shot) = shot {
        window.screenshot(&screenshot_dir(), shot);
    }
    window.click("[data-testid='acc-confirm-yes']");
    window.find(&format!("[data-testid='acc-row'][data-account='{id}']"));
}

/// Set-up, as the installer runs it (daemon stopped): the マスタアカウント with its first password
/// `master-first-pw` and the リセット用アカウント with the 秘密の番号 4821.
fn set_up_master(daemon: &mut Daemon) {
    daemon.stop();
    Oqs::new(&daemon.root).ok(
        &[
            "account",
            "setup",
            "--config",
            daemon.config.to_str().expect("config path"),
        ],
        Some("master-first-pw\n4821\n"),
    );
    daemon.restart();
}

/// 災害時医療情報閲覧 as `account`: login, the notice (which must come before any input, with `shot` taken of it
/// when given), then the four facts of the test patient; returns the view's notice line.
fn disaster_lookup(
    window: &AppWindow,
    account: &str,
    password: &str,
    shot: Option<&str>,
) -> String {
    window.type_into("[data-testid='dis-account']", account);
    window.type_into("[data-testid='dis-password']", password);
    window.click("[data-testid='dis-login']");
    let notice = window.text("[data-testid='dis-notice']");
    assert!(
        notice.contains("災害時の特例的な運用") && notice.contains("閲覧のログが残ります"),
        "{notice}"
    );
    assert!(
        !window.exists("[data-testid='dis-name']"),
        "the notice comes before the input"
    );
    if let Some(shot) = shot {
        window.screenshot(&screenshot_dir(), &format!("{shot}-2-notice"));
    }
    window.click("[data-testid='dis-ack']");
    window.type_into("[data-testid='dis-name']", "石川　蓮");
    set_value(window, "[data-testid='dis-birth']", "1975-10-10");
    window.type_into("[data-testid='dis-fourth']", "珠洲");
    if let Some(shot) = shot {
        window.screenshot(&screenshot_dir(), &format!("{shot}-3-input"));
    }
    window.click("[data-testid='dis-lookup']");
    let shown = window.text("[data-testid='dis-view-notice']");
    assert!(window.text("[data-testid='dis-patient']").contains("石川"));
    shown
}

#[test]
fn from_a_fresh_install_to_an_emergency_view_in_the_window() {
    if !in_keyutils_session("from_a_fresh_install_to_an_emergency_view_in_the_window") {
        return;
    }
    let shots = screenshot_dir();
    let central = MockCentral::start(100, None);
    let mut daemon = Daemon::start(&central, "");
    set_up_master(&mut daemon);
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let display = Display::start(&daemon.root);
    let window = AppWindow::open(
        Driver::start(&display, &daemon.root),
        &["--socket", socket.to_str().expect("socket path")],
    );
    window.interactive_ms();
    window.click("[data-testid='tab-admin']");

    // The master must change its set-up password before anything else.
    log_in(&window, MASTER, "master-first-pw");
    window.find("[data-testid='pw-change-form']");
    assert!(!window.exists("[data-testid='accounts']"));
    window.screenshot(&shots, "accounts-1-master-must-change-password");
    window.type_into("[data-testid='pw-current']", "master-first-pw");
    window.type_into("[data-testid='pw-new']", "master-second-pw");
    window.type_into("[data-testid='pw-again']", "master-second-pw");
    window.click("[data-testid='pw-change']");
    window.find("[data-testid='acc-table']");
    // The master sees the accounts but has no second factor to enrol and no 環境設定情報.
    assert!(!window.exists("[data-testid='second-factor']"));
    create(
        &window,
        "admin",
        "管理者",
        "administrator",
        ADMIN_PW,
        Some("accounts-2-confirm-create"),
    );
    window.screenshot(&shots, "accounts-3-master-list");
    log_out(&window);

    // The administrator creates the doctor and grants 救急時医療情報閲覧権限, after a confirmation.
    log_in(&window, "admin", ADMIN_PW);
    create(
        &window,
        "dr-tanaka",
        "田中 医師",
        "medical_information_viewer",
        DR_PW,
        None,
    );
    let dr_row = "[data-testid='acc-row'][data-account='dr-tanaka']";
    window.click(&format!("{dr_row} [data-testid='acc-emergency']"));
    window.find("[data-testid='acc-confirm']");
    window.click("[data-testid='acc-confirm-yes']");
    window.find(&format!(
        "{dr_row}[data-emergency='true'][data-totp='false']"
    ));
    window.screenshot(&shots, "accounts-4-admin-granted");
    log_out(&window);

    // The doctor enrols the second factor from the QR screen: the secret is read off the screen.
    log_in(&window, "dr-tanaka", DR_PW);
    assert!(
        !window.exists("[data-testid='accounts']"),
        "no administration for a doctor"
    );
    window.click("[data-testid='tf-begin']");
    let qr = window
        .attribute("[data-testid='tf-qr']", "src")
        .unwrap_or_default();
    assert!(
        qr.starts_with("data:image/svg+xml"),
        "a local QR code: {qr:.40}"
    );
    let shown = window.text("[data-testid='tf-secret']");
    let groups: Vec<&str> = shown.split_whitespace().collect();
    assert!(
        groups.len() > 4 && groups[..groups.len() - 1].iter().all(|g| g.len() == 4),
        "the secret in groups of four: {shown}"
    );
    let authenticator = totp(&groups.concat());
    window.screenshot(&shots, "accounts-5-second-factor-qr");
    window.type_into(
        "[data-testid='tf-code']",
        &authenticator.generate(unix_now()),
    );
    window.click("[data-testid='tf-confirm']");
    window.find("[data-testid='tf-done']");
    window.screenshot(&shots, "accounts-6-second-factor-done");
    log_out(&window);

    // The doctor opens the emergency view by four facts, with the next step's code.
    window.click("[data-testid='emergency-button']");
    window.type_into("[data-testid='em-account']", "dr-tanaka");
    window.type_into("[data-testid='em-password']", DR_PW);
    window.type_into(
        "[data-testid='em-totp']",
        &authenticator.generate(unix_now() + 30),
    );
    window.click("[data-testid='em-login']");
    window.click("[data-testid='em-by-facts']");
    window.type_into("[data-testid='em-name']", "石川　蓮");
    set_value(&window, "[data-testid='em-birth']", "1975-10-10");
    window.type_into("[data-testid='em-fourth']", "珠洲");
    window.type_into("[data-testid='em-reason']", "意識障害で搬送、服薬の確認");
    window.click("[data-testid='em-lookup']");
    let notice = window.text("[data-testid='em-notice']");
    assert!(notice.contains("dr-tanaka"), "{notice}");
    window.screenshot(&shots, "accounts-7-emergency-view");

    // The administrator sees that the doctor may view in an emergency and has a second factor.
    window.click("[data-testid='tab-admin']");
    log_in(&window, "admin", ADMIN_PW);
    wait_for(
        "the doctor's second factor in the list",
        Duration::from_secs(10),
        || {
            window
                .exists(&format!(
                    "{dr_row}[data-emergency='true'][data-totp='true']"
                ))
                .then_some(())
        },
    );
    window.screenshot(&shots, "accounts-8-admin-list");

    // The administrator reviews the emergency views of the period and exports them as CSV and PDF. The
    // period is wide so the test does not depend on the pinned date.
    set_value(&window, "[data-testid='review-from']", "2000-01-01");
    set_value(&window, "[data-testid='review-to']", "2099-12-31");
    window.click("[data-testid='review-show']");
    let row = window.text("[data-testid='review-row']");
    assert!(
        row.contains("dr-tanaka") && row.contains("意識障害"),
        "{row}"
    );
    window.click("[data-testid='review-export']");
    let files = window.text("[data-testid='review-files']");
    window.screenshot(&shots, "accounts-9-emergency-review");
    window.close();
    let csv_path = daemon
        .root
        .join("work/reports/emergency-review-2000-01-01-2099-12-31.csv");
    assert!(
        files.contains("emergency-review-2000-01-01-2099-12-31.pdf"),
        "{files}"
    );
    let csv = std::fs::read_to_string(&csv_path).expect("the exported CSV");
    assert!(
        csv.contains("dr-tanaka") && csv.contains("患者参照"),
        "{csv}"
    );
    let pdf = std::fs::read(csv_path.with_extension("pdf")).expect("the exported PDF");
    assert!(pdf.starts_with(b"%PDF"));

    // The same review from a terminal.
    let out_dir = daemon.root.join("review-cli");
    let table = Oqs::new(&daemon.root).emergency_review(
        &daemon.config,
        "2000-01-01",
        "2099-12-31",
        Some(&out_dir),
    );
    assert!(table.contains("dr-tanaka"), "{table}");
    assert!(
        out_dir
            .join("emergency-review-2000-01-01-2099-12-31.pdf")
            .exists()
    );
    // A period without views lists none.
    let empty =
        Oqs::new(&daemon.root).emergency_review(&daemon.config, "2000-01-01", "2000-01-31", None);
    assert!(!empty.contains("dr-tanaka"), "{empty}");
}

/// 災害時医療情報閲覧 in the window (issue 14 item 5): no button while no disaster window covers the facility;
/// once `oqs-mock-central disaster open` opens one for its prefecture the button appears, and the notice that
/// this is the exceptional disaster-time operation and that the view is logged comes before any input. An
/// administrator and then a 医療情報閲覧者 look a patient up; the viewer saves 薬剤情報 and 特定健診情報 as a PDF,
/// which pdftotext reads back with every line of the screen.
#[test]
fn the_disaster_button_appears_with_a_window_and_the_notice_comes_first() {
    if !in_keyutils_session("the_disaster_button_appears_with_a_window_and_the_notice_comes_first")
    {
        return;
    }
    let shots = screenshot_dir();
    let central = MockCentral::start(100, None);
    let daemon = Daemon::start(&central, "");
    e2e::staff::create_admin(&daemon);
    // A 医療情報閲覧者 (no emergency permission, no second factor) as well as the administrator.
    e2e::staff::rt().block_on(async {
        let admin = e2e::staff::connect(&daemon).await;
        let session = e2e::staff::login(&admin, "admin", ADMIN_PW, None).await;
        let created = admin
            .request(terminal_ipc::Request::CreateAccount {
                session,
                account: "viewer-suzuki".into(),
                display_name: "鈴木 薬剤師".into(),
                role: terminal_ipc::Role::MedicalInformationViewer,
                password: terminal_ipc::Secret::new(VIEWER_PW),
            })
            .await
            .expect("create the viewer");
        assert!(
            matches!(created, terminal_ipc::Response::Account { .. }),
            "{created:?}"
        );
    });
    let forms_dir = daemon.root.join("forms");
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let display = Display::start(&daemon.root);
    let window = AppWindow::open(
        Driver::start_with_env(&display, &daemon.root, &[("OQS_FORMS_DIR", &forms_dir)]),
        &["--socket", socket.to_str().expect("socket path")],
    );
    window.interactive_ms();
    window.find_within("[data-disaster='closed']", Duration::from_secs(30));
    assert!(!window.exists("[data-testid='disaster-button']"));

    let status = || {
        e2e::staff::rt().block_on(async {
            let client = e2e::staff::connect(&daemon).await;
            match client
                .request(terminal_ipc::Request::DisasterStatus)
                .await
                .expect("disaster status")
            {
                terminal_ipc::Response::DisasterStatus(s) => s,
                other => panic!("{other:?}"),
            }
        })
    };
    let prefecture = status().prefecture.to_string();
    let municipality: String = rusqlite::Connection::open(central.dir.join("central.sqlite3"))
        .expect("central db")
        .query_row(
            "SELECT municipality FROM facilities WHERE code = ?1",
            [&central.facility_code],
            |r| r.get(0),
        )
        .expect("the facility's municipality");
    let open = |municipality: &str| {
        let out = std::process::Command::new(bin("oqs-mock-central"))
            .args(["disaster", "open", "--dir"])
            .arg(&central.dir)
            .args(["--pref", &prefecture, "--municipality", municipality])
            .args(["--from", "20000101000000", "--to", "20991231235959"])
            .output()
            .expect("oqs-mock-central disaster open");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A window for another municipality of the same prefecture does not cover the facility (seed 004: windows
    // per municipality, e.g. 山形県鶴岡市).
    open("どこか別の町");
    assert!(!status().open, "another municipality's window");
    open(&municipality);
    assert!(
        status().open,
        "the facility's municipality ({municipality})"
    );
    window.find_within("[data-testid='disaster-button']", Duration::from_secs(40));
    window.screenshot(&shots, "disaster-1-button");
    window.click("[data-testid='disaster-button']");
    let shown = disaster_lookup(&window, "admin", e2e::staff::ADMIN_PW, Some("disaster"));
    assert!(shown.contains("災害") && shown.contains("admin"), "{shown}");
    window.find("[data-testid='dis-form']");
    window.screenshot(&shots, "disaster-4-view");
    window.click("[data-testid='dis-close']");
    window.click("[data-testid='dis-logout']");

    // A 医療情報閲覧者 gets the same notice first, then saves 薬剤情報 and 特定健診情報 as a PDF.
    let shown = disaster_lookup(&window, "viewer-suzuki", VIEWER_PW, None);
    assert!(shown.contains("viewer-suzuki"), "{shown}");
    let rows = |testid: &str| -> Vec<Vec<String>> {
        let v = window.script(
            "return [...document.querySelectorAll(arguments[0])].map(r => \
               [...r.querySelectorAll('td')].map(c => c.textContent.trim()));",
            serde_json::json!([format!("[data-testid='dis-form'] [data-testid='{testid}']")]),
        );
        serde_json::from_value(v).expect("rows")
    };
    let medications = rows("dis-medication");
    let checkups = rows("dis-checkup");
    assert!(
        !medications.is_empty() && !checkups.is_empty(),
        "the test patient has 薬剤情報 and 特定健診情報: {medications:?} {checkups:?}"
    );
    window.click("[data-testid='dis-pdf']");
    let pdf = wait_for("the PDF to be saved", Duration::from_secs(30), || {
        if window.exists("[data-testid='dis-problem']") {
            panic!(
                "saving failed: {}",
                window.text("[data-testid='dis-problem']")
            );
        }
        window.attribute("[data-testid='dis-pdf-saved']", "data-path")
    });
    window.screenshot(&shots, "disaster-5-pdf-saved");
    window.close();
    assert!(
        pdf.starts_with(forms_dir.to_str().expect("forms dir")),
        "{pdf}"
    );
    let text = squeezed(&pdf_pages(&pdf).join(""));
    for needle in [
        "災害時薬剤情報・特定健診情報",
        "薬剤情報",
        "特定健診情報",
        "石川蓮",
        "閲覧者",
        "viewer-suzuki",
        "閲覧のログが残ります",
    ] {
        assert!(text.contains(needle), "the PDF lacks {needle}: {text}");
    }
    for cell in medications.iter().chain(&checkups).flatten() {
        assert!(
            text.contains(&squeezed(cell)),
            "the PDF lacks {cell:?} of the screen"
        );
    }
}

/// Waits until the row of `account` in アカウント管理 matches `attributes` (e.g. `[data-disabled='true']`).
fn row_becomes(window: &AppWindow, account: &str, attributes: &str) {
    let css = format!("[data-testid='acc-row'][data-account='{account}']{attributes}");
    wait_for(&css, Duration::from_secs(20), || {
        if window.exists("[data-testid='acc-problem']") {
            panic!("{}", window.text("[data-testid='acc-problem']"));
        }
        window.exists(&css).then_some(())
    });
}

/// Clicks `button` in the row of `account`, then 実行する in the confirmation.
fn confirm_in_row(window: &AppWindow, account: &str, button: &str) {
    window.click(&format!(
        "[data-testid='acc-row'][data-account='{account}'] [data-testid='{button}']"
    ));
    window.find("[data-testid='acc-confirm']");
    window.click("[data-testid='acc-confirm-yes']");
    window.find("[data-testid='acc-done']");
}

/// Password reset from the row: the new password, 初期化する, then the confirmation.
fn reset_password_in_row(window: &AppWindow, account: &str, password: &str) {
    window.click(&format!(
        "[data-testid='acc-row'][data-account='{account}'] [data-testid='acc-reset-password']"
    ));
    window.type_into("[data-testid='acc-reset-password-value']", password);
    window.click("[data-testid='acc-reset-password-go']");
    window.find("[data-testid='acc-confirm']");
    window.click("[data-testid='acc-confirm-yes']");
    window.find("[data-testid='acc-done']");
}

/// Every account action of アカウント管理 in the window (issue 14 item 2), each behind its confirmation, and the
/// audit row each one wrote: an administrator changes a role, disables and enables an account, unlocks a locked
/// one, resets a password (whose owner must change it at the next login), resets a doctor's second factor and
/// withdraws 救急時医療情報閲覧権限, and sets 救急時医療情報閲覧の設定; the マスタアカウント resets the administrator's
/// password.
#[test]
fn every_account_action_in_the_window_is_confirmed_and_audited() {
    if !in_keyutils_session("every_account_action_in_the_window_is_confirmed_and_audited") {
        return;
    }
    let shots = screenshot_dir();
    let central = MockCentral::start(100, None);
    let mut daemon = Daemon::start(&central, "[accounts]\nmax_failures = 3\n");
    set_up_master(&mut daemon);
    // The accounts as a facility has them after a while: an administrator, a doctor with a second factor and
    // 救急時権限, a nurse locked out by wrong passwords; the master's set-up password already changed.
    rt().block_on(async {
        let (admin, admin_session, _) = set_up_accounts(&daemon).await;
        grant(&admin, &admin_session, true).await;
        let master = connect(&daemon).await;
        let session = login(&master, MASTER, "master-first-pw", None).await;
        let changed = master
            .request(Request::ChangePassword {
                session,
                current: Secret::new("master-first-pw"),
                new_password: Secret::new("master-second-pw"),
            })
            .await
            .expect("the master's new password");
        assert!(matches!(changed, Response::Account { .. }), "{changed:?}");
        let guess = connect(&daemon).await;
        for _ in 0..3 {
            let (code, _) = refused(
                &guess,
                Request::Login {
                    account: "ns-sato".into(),
                    password: Secret::new("not-the-password"),
                    totp: None,
                },
            )
            .await;
            assert_eq!(code, ErrorCode::Unauthenticated);
        }
    });

    let socket = daemon.root.join("run/oqs-readerd.sock");
    let display = Display::start(&daemon.root);
    let window = AppWindow::open(
        Driver::start(&display, &daemon.root),
        &["--socket", socket.to_str().expect("socket path")],
    );
    window.interactive_ms();
    window.click("[data-testid='tab-admin']");
    log_in(&window, "admin", ADMIN_PW);
    row_becomes(&window, "ns-sato", "[data-role='staff']");
    window.find("[data-testid='acc-row'][data-account='ns-sato'] [data-testid='acc-unlock']");
    window.screenshot(&shots, "accounts-actions-1-locked");

    // Unlock the nurse, then make her a 医療情報閲覧者.
    confirm_in_row(&window, "ns-sato", "acc-unlock");
    wait_for("the lock lifted", Duration::from_secs(20), || {
        (!window
            .exists("[data-testid='acc-row'][data-account='ns-sato'] [data-testid='acc-unlock']"))
        .then_some(())
    });
    choose(
        &window,
        "[data-testid='acc-row'][data-account='ns-sato'] [data-testid='acc-role']",
        "medical_information_viewer",
    );
    let question = window.text("[data-testid='acc-confirm']");
    assert!(
        question.contains("ns-sato") && question.contains("医療情報閲覧"),
        "{question}"
    );
    window.screenshot(&shots, "accounts-actions-2-confirm-role");
    window.click("[data-testid='acc-confirm-yes']");
    row_becomes(
        &window,
        "ns-sato",
        "[data-role='medical_information_viewer']",
    );

    // Disable the doctor, and enable again.
    confirm_in_row(&window, "dr-tanaka", "acc-disable");
    row_becomes(&window, "dr-tanaka", "[data-disabled='true']");
    confirm_in_row(&window, "dr-tanaka", "acc-disable");
    row_becomes(&window, "dr-tanaka", "[data-disabled='false']");
    // The doctor lost the phone: the second factor is reset and 救急時権限 withdrawn.
    confirm_in_row(&window, "dr-tanaka", "acc-reset-totp");
    row_becomes(&window, "dr-tanaka", "[data-totp='false']");
    confirm_in_row(&window, "dr-tanaka", "acc-emergency");
    row_becomes(&window, "dr-tanaka", "[data-emergency='false']");
    // The nurse forgot her password: a new one, to be changed at her next login.
    reset_password_in_row(&window, "ns-sato", "reset-by-admin-1");
    wait_for("要パスワード変更", Duration::from_secs(20), || {
        window
            .text("[data-testid='acc-row'][data-account='ns-sato']")
            .contains("要パスワード変更")
            .then_some(())
    });
    window.screenshot(&shots, "accounts-actions-3-done");

    // 救急時医療情報閲覧の設定: the summary's order and period and the 救急専用端末, after a confirmation.
    let here = window.text("[data-testid='opt-this-terminal']");
    assert!(!here.is_empty(), "this terminal's name is shown");
    choose(&window, "[data-testid='opt-order']", "oldest_first");
    choose(&window, "[data-testid='opt-months']", "1");
    window.type_into(
        "[data-testid='opt-terminals']",
        &format!("er-terminal-1, {here}"),
    );
    window.click("[data-testid='opt-save']");
    let listed = window.text("[data-testid='opt-confirm']");
    assert!(
        listed.contains("古い順")
            && listed.contains("直近1ヵ月")
            && listed.contains("er-terminal-1"),
        "{listed}"
    );
    window.screenshot(&shots, "accounts-actions-4-emergency-options");
    window.click("[data-testid='opt-confirm-yes']");
    window.find("[data-testid='opt-done']");
    log_out(&window);

    // The nurse logs in with it and must change it before anything else.
    log_in(&window, "ns-sato", "reset-by-admin-1");
    window.find("[data-testid='pw-change-form']");
    window.type_into("[data-testid='pw-current']", "reset-by-admin-1");
    window.type_into("[data-testid='pw-new']", "nurse-own-password");
    window.type_into("[data-testid='pw-again']", "nurse-own-password");
    window.click("[data-testid='pw-change']");
    window.find("[data-testid='tf-begin']");
    assert!(!window.exists("[data-testid='pw-change-form']"));
    log_out(&window);

    // The master resets the administrator's forgotten password; the administrator must change it.
    log_in(&window, MASTER, "master-second-pw");
    reset_password_in_row(&window, "admin", "reset-by-master-1");
    window.screenshot(&shots, "accounts-actions-5-master-reset");
    log_out(&window);
    log_in(&window, "admin", "reset-by-master-1");
    window.find("[data-testid='pw-change-form']");
    assert!(!window.exists("[data-testid='accounts']"));
    window.close();

    // Each action wrote its audit row, with who did it and to whom.
    let rows = e2e::staff::audit_rows(&daemon);
    let has = |actor: &str, action: &str, detail: &str| {
        rows.iter().any(|r| {
            r.entry.actor == actor
                && r.entry.action == action
                && r.entry.detail.as_deref().unwrap_or("").contains(detail)
        })
    };
    for (actor, action, detail) in [
        ("admin", "account_unlocked", "account=ns-sato"),
        ("admin", "role_changed", "account=ns-sato"),
        (
            "admin",
            "account_disabled",
            "account=dr-tanaka disabled=true",
        ),
        (
            "admin",
            "account_disabled",
            "account=dr-tanaka disabled=false",
        ),
        ("admin", "totp_reset", "account=dr-tanaka"),
        ("admin", "permission_revoked", "account=dr-tanaka"),
        ("admin", "password_reset", "account=ns-sato"),
        ("ns-sato", "password_changed", "account=ns-sato"),
        (MASTER, "password_reset", "account=admin"),
        ("admin", "setting_changed", r#""new":"oldest_first""#),
        (
            "admin",
            "setting_changed",
            r#""key":"emergency_summary_months""#,
        ),
        ("admin", "setting_changed", "er-terminal-1,"),
    ] {
        assert!(
            has(actor, action, detail),
            "no audit row {actor} {action} {detail}"
        );
    }
}
