//! Staff accounts from install to emergency permission with `oqs account …` only (issue 14): set-up makes the
//! マスタアカウント and its リセット用アカウント; the master must change its password, then creates an
//! administrator; the administrator creates a doctor and uses every account command; a wrong 秘密の番号 is
//! refused and counted, the right one resets the master's password, which must then be changed.

use e2e::kiosk::Oqs;
use e2e::{Daemon, MockCentral, in_keyutils_session};
use serde_json::Value;

const MASTER: &str = "マスタアカウント";
const RESET: &str = "マスタアカウントリセット用アカウント";
const ADMIN_PW: &str = "admin-password-1";

/// `oqs account list --as admin --json`, as (account → its row).
fn list(oqs: &Oqs) -> Vec<Value> {
    let out = oqs.ok(
        &["account", "list", "--as", "admin", "--json"],
        Some(&format!("{ADMIN_PW}\n")),
    );
    serde_json::from_str(&out).unwrap()
}

fn row<'a>(rows: &'a [Value], account: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["account"] == account)
        .unwrap_or_else(|| panic!("no {account} in {rows:#?}"))
}

fn fails(oqs: &Oqs, args: &[&str], stdin: &str) -> String {
    let out = oqs.run(args, Some(stdin));
    assert!(!out.status.success(), "oqs {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn accounts_from_set_up_to_emergency_permission_with_the_cli() {
    if !in_keyutils_session("accounts_from_set_up_to_emergency_permission_with_the_cli") {
        return;
    }
    let central = MockCentral::start(20, None);
    let mut daemon = Daemon::start(&central, "");
    let config = daemon.config.display().to_string();
    let config = config.as_str();
    let oqs = Oqs::new(&daemon.root);

    // Set-up, as the installer runs it: the master's first password and the 秘密の番号 on stdin.
    daemon.stop();
    oqs.ok(
        &["account", "setup", "--config", config],
        Some("master-first-pw\n4821\n"),
    );
    // A second set-up changes nothing.
    fails(
        &oqs,
        &["account", "setup", "--config", config],
        "another-first-pw\n1234\n",
    );

    daemon.restart();

    // The master may do nothing before it changes its password.
    let err = fails(
        &oqs,
        &["account", "list", "--as", MASTER],
        "master-first-pw\n",
    );
    assert!(err.contains("パスワードの変更が必要です"), "{err}");
    oqs.ok(
        &["account", "passwd", "--as", MASTER],
        Some("master-first-pw\nmaster-second-pw\n"),
    );
    let table = oqs.ok(
        &["account", "list", "--as", MASTER],
        Some("master-second-pw\n"),
    );
    assert!(table.contains(RESET), "the master sees the IDs: {table}");
    assert!(!table.contains("master-second-pw"));
    oqs.ok(
        &[
            "account",
            "create",
            "--as",
            MASTER,
            "--account",
            "admin",
            "--name",
            "管理者",
            "--role",
            "administrator",
        ],
        Some(&format!("master-second-pw\n{ADMIN_PW}\n")),
    );

    // The administrator creates a doctor and grants 救急時医療情報閲覧権限.
    let admin_stdin = format!("{ADMIN_PW}\n");
    let as_admin = |command: &str, extra: &[&str], stdin: &str| {
        let mut args = vec!["account", command, "--as", "admin"];
        args.extend_from_slice(extra);
        oqs.ok(&args, Some(stdin))
    };
    as_admin(
        "create",
        &[
            "--account",
            "dr-tanaka",
            "--name",
            "田中 医師",
            "--role",
            "viewer",
        ],
        &format!("{ADMIN_PW}\ndoctor-password-1\n"),
    );
    as_admin("grant-emergency", &["dr-tanaka"], &admin_stdin);
    let rows = list(&oqs);
    let dr = row(&rows, "dr-tanaka");
    assert_eq!(dr["role"], "medical_information_viewer");
    assert_eq!(dr["emergency_permission"], true);
    assert_eq!(dr["must_change_password"], false);
    assert_eq!(row(&rows, MASTER)["role"], "master");
    assert!(row(&rows, "admin")["last_login"].is_string());

    // Every other command, each checked in the list.
    as_admin("set-role", &["dr-tanaka", "--role", "staff"], &admin_stdin);
    assert_eq!(row(&list(&oqs), "dr-tanaka")["role"], "staff");
    as_admin("set-role", &["dr-tanaka", "--role", "viewer"], &admin_stdin);
    as_admin("disable", &["dr-tanaka"], &admin_stdin);
    assert_eq!(row(&list(&oqs), "dr-tanaka")["disabled"], true);
    as_admin("enable", &["dr-tanaka"], &admin_stdin);
    assert_eq!(row(&list(&oqs), "dr-tanaka")["disabled"], false);
    as_admin("revoke-emergency", &["dr-tanaka"], &admin_stdin);
    assert_eq!(row(&list(&oqs), "dr-tanaka")["emergency_permission"], false);
    as_admin("grant-emergency", &["dr-tanaka"], &admin_stdin);
    // Three wrong passwords of the doctor, then unlock: the counter goes back to zero.
    for _ in 0..3 {
        fails(
            &oqs,
            &["account", "passwd", "--as", "dr-tanaka"],
            "wrong-password-x\nwhatever-new-pw\n",
        );
    }
    assert_eq!(row(&list(&oqs), "dr-tanaka")["failed_attempts"], 3);
    as_admin("unlock", &["dr-tanaka"], &admin_stdin);
    assert_eq!(row(&list(&oqs), "dr-tanaka")["failed_attempts"], 0);
    as_admin("reset-2fa", &["dr-tanaka"], &admin_stdin);
    as_admin(
        "reset-password",
        &["dr-tanaka"],
        &format!("{ADMIN_PW}\nreset-by-admin-1\n"),
    );
    assert_eq!(row(&list(&oqs), "dr-tanaka")["must_change_password"], true);
    oqs.ok(
        &["account", "passwd", "--as", "dr-tanaka"],
        Some("reset-by-admin-1\ndoctor-password-2\n"),
    );
    assert_eq!(row(&list(&oqs), "dr-tanaka")["must_change_password"], false);
    // An administrator cannot reset the master's password: that is the reset account's one job.
    let err = fails(
        &oqs,
        &["account", "reset-password", "--as", "admin", MASTER],
        &format!("{ADMIN_PW}\nnew-master-pw-1\n"),
    );
    assert!(err.contains("リセット用アカウント"), "{err}");

    // A wrong 秘密の番号 is refused and counted; the right one resets the master's password.
    let err = fails(
        &oqs,
        &["account", "reset-password", "--as", RESET, MASTER],
        "0000\nnew-master-pw-1\n",
    );
    assert!(err.contains("ログインできません"), "{err}");
    assert_eq!(row(&list(&oqs), RESET)["failed_attempts"], 1);
    oqs.ok(
        &["account", "reset-password", "--as", RESET, MASTER],
        Some("4821\nnew-master-pw-1\n"),
    );
    let rows = list(&oqs);
    assert_eq!(row(&rows, RESET)["failed_attempts"], 0);
    assert_eq!(row(&rows, MASTER)["must_change_password"], true);
    let err = fails(
        &oqs,
        &["account", "list", "--as", MASTER],
        "new-master-pw-1\n",
    );
    assert!(err.contains("パスワードの変更が必要です"), "{err}");
    daemon.stop();
}

/// `create-admin` makes the first administrator only: once one exists, more are added by an administrator (the
/// app or `oqs account create --as`), not by whoever can run the set-up tool on the store.
#[test]
fn create_admin_makes_the_first_administrator_only() {
    if !in_keyutils_session("create_admin_makes_the_first_administrator_only") {
        return;
    }
    let central = MockCentral::start(20, None);
    let mut daemon = Daemon::start(&central, "");
    e2e::staff::create_admin(&daemon);
    daemon.stop();
    let oqs = Oqs::new(&daemon.root);
    let config = daemon.config.display().to_string();
    let err = fails(
        &oqs,
        &[
            "account",
            "create-admin",
            "--config",
            &config,
            "--login",
            "second-admin",
        ],
        "second-admin-pw-2026\n",
    );
    assert!(
        err.contains("already exists") && err.contains("`admin`"),
        "{err}"
    );
}
