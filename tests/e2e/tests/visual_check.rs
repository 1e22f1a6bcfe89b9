//! The staff visual check (目視確認) and its audit row, end to end (issue 13 item 4): the real daemon, pcscd
//! with a virtual face-only card, and `oqs kiosk staff-confirm`. The override and its audit row go together:
//! when the row cannot be written the kiosk does not move; when it can, the row names the staff account.

use e2e::in_keyutils_session;
use e2e::kiosk::{Cards, FACE_ONLY, InsertedCard, start_kiosk};
use e2e::staff::{ADMIN_PW, create_admin, store_path};

fn visual_rows(path: &std::path::Path) -> Vec<facility_store::AuditRecord> {
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto).unwrap();
    let keys = facility_store::KeyringKeyProvider::new(keyring, "facility-store-key");
    let store = facility_store::Store::open(path, &keys).unwrap();
    store
        .audit_records(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action.starts_with("visual_check"))
        .collect()
}

#[test]
fn a_visual_check_that_cannot_be_audited_does_not_happen() {
    if !in_keyutils_session("a_visual_check_that_cannot_be_audited_does_not_happen") {
        return;
    }
    let cards = Cards::issue(FACE_ONLY);
    let lease = pcsc_harness::reader();
    let (_central, daemon, oqs) = start_kiosk(&cards, &lease);
    create_admin(&daemon);
    let card = InsertedCard::insert(&cards, FACE_ONLY, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "visual"], None);
    oqs.wait_screen("staff_visual_check");

    // The audit log refuses visual-check rows (logins still work, so the request reaches the kiosk).
    let db = store_path(&daemon);
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    raw.execute_batch(
        "CREATE TRIGGER visual_rows_refused BEFORE INSERT ON audit_log
         WHEN NEW.action LIKE 'visual_check%'
         BEGIN SELECT RAISE(ABORT, 'the audit log refuses visual-check rows in this test'); END;",
    )
    .unwrap();
    let refused = oqs.run(
        &["kiosk", "staff-confirm", "yes", "--account", "admin"],
        Some(&format!("{ADMIN_PW}\n")),
    );
    assert!(
        !refused.status.success(),
        "the override went through without its audit row"
    );
    let screen = oqs.screen();
    assert_eq!(
        screen["screen"], "staff_visual_check",
        "the kiosk moved on although the override was not logged: {screen}"
    );

    // With the audit log working again, the same override goes through, logged under the staff account.
    raw.execute_batch("DROP TRIGGER visual_rows_refused")
        .unwrap();
    oqs.ok(
        &["kiosk", "staff-confirm", "yes", "--account", "admin"],
        Some(&format!("{ADMIN_PW}\n")),
    );
    assert!(oqs.answer_consents("no") >= 1);
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "{result}");
    card.remove();
    oqs.wait_screen("idle");

    let rows = visual_rows(&db);
    let confirmed: Vec<_> = rows
        .iter()
        .filter(|r| r.entry.action == "visual_check_confirmed")
        .collect();
    assert_eq!(confirmed.len(), 1, "{rows:?}");
    assert_eq!(
        confirmed[0].entry.actor, "admin",
        "the row names the account"
    );
    assert_eq!(confirmed[0].entry.method.as_deref(), Some("staff_visual"));
}
