//! The audit log on a packaged install (data key in `key_file`), through the real `oqs` and `oqs-readerd`:
//! `oqs audit verify|report --config` read it; an older copy of the database put back by hand is reported as
//! rolled back, `oqs audit report` refuses it (or marks the report), the daemon refuses to start on it; and
//! `oqs store restore` of the same copy is the audited way back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::{bin, in_keyutils_session};
use facility_store::{AuditEntry, Store};

const T0: i64 = 1_735_689_600_000;
const PATIENT: &str = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

struct Terminal {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    db: PathBuf,
    key_file: PathBuf,
}

impl Terminal {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let config = root.join("oqs-readerd.toml");
        std::fs::write(
            &config,
            "[store]\npath = \"work/facility.sqlite3\"\nkey_file = \"keys/store.key\"\n\
             [ipc]\nsocket = \"run/oqs-readerd.sock\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("work")).unwrap();
        Self {
            db: root.join("work/facility.sqlite3"),
            key_file: root.join("keys/store.key"),
            config,
            root,
            _dir: dir,
        }
    }

    /// The store as the daemon opens it, with `rows` more accesses logged.
    fn log(&self, rows: i64) {
        let store = Store::open_configured(&self.db, Some(&self.key_file), "unused", None).unwrap();
        assert!(matches!(
            store.check_audit_heads().unwrap().verdict(),
            facility_store::ChainVerdict::Intact { .. }
        ));
        for i in 0..rows {
            store
                .append_audit(
                    &AuditEntry {
                        actor: "doctor1".into(),
                        action: "emergency_lookup".into(),
                        patient_ref: Some(PATIENT.into()),
                        items: vec!["medication".into()],
                        method: Some("card".into()),
                        reason: Some("救急搬送".into()),
                        detail: None,
                    },
                    T0 + i,
                )
                .unwrap();
        }
    }

    fn oqs(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin("oqs"));
        cmd.args(args).arg("--config").arg(&self.config);
        // The keyring of this session holds no data key: only the key file can open the store.
        cmd.env_remove("OQS_STORE").output().unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn put_back(copy: &Path, db: &Path) {
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", db.display()));
    }
    std::fs::copy(copy, db).unwrap();
}

#[test]
fn a_rolled_back_store_is_refused_and_restored_on_the_record() {
    if !in_keyutils_session("a_rolled_back_store_is_refused_and_restored_on_the_record") {
        return;
    }
    let t = Terminal::new();
    t.log(3);

    let out = t.oqs(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("intact (3 rows)"), "{}", text(&out));

    let backup = t.root.join("backup-1.sqlite3");
    let out = t.oqs(&["store", "backup", "--to", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    t.log(2);

    // Someone puts the older copy back by hand.
    put_back(&backup, &t.db);
    let out = t.oqs(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the database is older than the head file")
            && text(&out).contains("rolled back"),
        "{}",
        text(&out)
    );

    // No report from a log that does not verify, unless asked for, and then marked.
    let out_dir = t.root.join("report");
    let out = t.oqs(&[
        "audit",
        "report",
        "--patient",
        PATIENT,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--allow-broken"), "{}", text(&out));
    assert!(!out_dir.join("access-report.csv").exists());
    let out = t.oqs(&[
        "audit",
        "report",
        "--patient",
        PATIENT,
        "--out",
        out_dir.to_str().unwrap(),
        "--allow-broken",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(out_dir.join("access-report.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("監査ログの改ざんを検出"),
        "{csv}"
    );
    assert_eq!(
        csv.lines().count(),
        2 + 3,
        "mark, header, three rows: {csv}"
    );

    // The daemon refuses to run on it, and says why.
    let out = Command::new(bin("oqs-readerd"))
        .arg("--config")
        .arg(&t.config)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("refusing to start")
            && text(&out).contains("older than the head file")
            && text(&out).contains("oqs store restore"),
        "{}",
        text(&out)
    );

    // The readiness check fails on the audit log.
    let out = t.oqs(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(&out)));
    let audit = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "audit-log")
        .unwrap_or_else(|| panic!("no audit-log item: {report:#}"));
    assert_eq!(audit["verdict"], "fail", "{audit:#}");

    // Restoring the same copy on purpose: recorded, re-sealed, intact.
    let out = t.oqs(&["store", "restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = t.oqs(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("intact (4 rows)"), "{}", text(&out));
    let store = Store::open_configured(&t.db, Some(&t.key_file), "unused", None).unwrap();
    let last = store.audit_records(3, 10).unwrap();
    assert_eq!(last[0].entry.action, "store_restored");
    assert_eq!(
        last[0].entry.detail.as_deref(),
        Some("store restored from backup backup-1.sqlite3, head was 5 now 3")
    );
    // The backup file itself was not touched, and the replaced database was kept.
    let kept = std::fs::read_dir(t.db.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(".before-restore-"));
    assert!(kept, "the replaced database is kept");
}
