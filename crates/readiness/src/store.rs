//! The facility store as the check sees it: it opens with its key, has an administrator, and grants the
//! emergency-viewing permission only to accounts with an enrolled second factor.

use std::path::Path;

use facility_store::{Role, Store};
use reader_daemon::config::Config;

use crate::Item;

/// Why the store cannot be opened by a tool.
#[derive(Debug, thiserror::Error)]
pub enum StoreAccessError {
    #[error("the store {} does not exist yet; start the daemon once (it creates it)", .0.display())]
    Missing(std::path::PathBuf),
    #[error(transparent)]
    Keyring(#[from] os_keyring::KeyringError),
    #[error(transparent)]
    Store(#[from] facility_store::StoreError),
}

/// Opens the daemon's existing store with the key the configuration names (key file or OS keyring). Never
/// creates a database. Run as root, files SQLite creates beside the database (`-wal`, `-shm`) are handed to
/// the database's owner afterwards by [`hand_back`], so the daemon's user can still open it.
pub fn open_store(config: &Config) -> Result<Store, StoreAccessError> {
    let path = config.resolve(&config.store.path);
    if !path.is_file() {
        return Err(StoreAccessError::Missing(path));
    }
    let key_file = config.store.key_file.as_ref().map(|f| config.resolve(f));
    // With a key file the keyring only keeps the audit head's copy, so a terminal without one still opens.
    let keyring = match &key_file {
        Some(_) => os_keyring::Keyring::open(os_keyring::Backend::Auto).ok(),
        None => Some(
            os_keyring::Keyring::open(os_keyring::Backend::Auto)
                .map_err(StoreAccessError::Keyring)?,
        ),
    };
    let store = Store::open_configured(
        &path,
        key_file.as_deref(),
        &config.store.key_secret,
        keyring.as_ref(),
    );
    let store = store.map_err(StoreAccessError::Store);
    hand_back(&path);
    store
}

/// Gives `-wal` / `-shm` / `.audit-head` files beside `db` the owner and group of `db` (only matters when run as root).
pub fn hand_back(db: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(db) else {
            return;
        };
        for suffix in ["-wal", "-shm", ".audit-head"] {
            let side = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
            if let Ok(m) = std::fs::metadata(&side)
                && (m.uid() != meta.uid() || m.gid() != meta.gid())
            {
                let _ = std::os::unix::fs::chown(&side, Some(meta.uid()), Some(meta.gid()));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
}

pub(crate) fn check(config: &Config) -> Vec<Item> {
    let opened = Item::named("store", "端末のデータベース", "Facility store");
    let admin = Item::named("administrator", "管理者アカウント", "Administrator account");
    let emergency = Item::named(
        "emergency-second-factor",
        "救急時医療情報閲覧権限と二要素認証",
        "Emergency permission only with a second factor",
    );
    let store = match open_store(config) {
        Ok(s) => s,
        Err(e) => {
            let (ja, en) = match &e {
                StoreAccessError::Missing(_) => (
                    "読み取りデーモン (oqs-readerd) を一度起動してください。データベースが作成されます。".to_owned(),
                    "Start the reader daemon (oqs-readerd) once; it creates the database.".to_owned(),
                ),
                _ => (
                    "データベースの鍵がありません、または一致しません。バックアップから鍵ファイルを戻してください (docs/operations.md の「復元」)。".to_owned(),
                    "The database's key is missing or does not match: restore the key file from the backup (docs/operations.md, Restore).".to_owned(),
                ),
            };
            let why = "the store cannot be opened";
            return vec![
                opened.fail(e.to_string(), ja, en),
                audit_item().skip(why),
                admin.skip(why),
                emergency.skip(why),
            ];
        }
    };
    let accounts = match store.accounts() {
        Ok(a) => a,
        Err(e) => {
            let why = "the accounts cannot be read";
            return vec![
                opened.fail(
                    e.to_string(),
                    "データベースが破損している可能性があります。バックアップから復元してください。",
                    "The database may be damaged: restore it from the backup.",
                ),
                audit_item().skip(why),
                admin.skip(why),
                emergency.skip(why),
            ];
        }
    };
    let mut items = vec![
        opened.pass(format!(
            "{} ({} account(s))",
            store.path().display(),
            accounts.len()
        )),
        audit_log(&store),
    ];
    let admins: Vec<&str> = accounts
        .iter()
        .filter(|a| a.role == Role::Administrator && !a.disabled)
        .map(|a| a.login.as_str())
        .collect();
    items.push(if admins.is_empty() {
        admin.fail(
            "no enabled administrator account",
            "管理者アカウントを作成してください: sudo -u oqs oqs account create-admin --config /etc/oqs/oqs-readerd.toml --login admin (パスワードは標準入力から)。",
            "Create an administrator account: sudo -u oqs oqs account create-admin --config /etc/oqs/oqs-readerd.toml --login admin (password on stdin).",
        )
    } else {
        admin.pass(admins.join(", "))
    });
    let granted: Vec<_> = accounts
        .iter()
        .filter(|a| a.emergency_permission && !a.disabled)
        .collect();
    let without: Vec<&str> = granted
        .iter()
        .filter(|a| !a.totp_enrolled)
        .map(|a| a.login.as_str())
        .collect();
    items.push(if without.is_empty() {
        emergency.pass(format!(
            "{} account(s) with the permission, all with a second factor",
            granted.len()
        ))
    } else {
        emergency.fail(
            format!(
                "emergency permission without an enrolled second factor: {}",
                without.join(", ")
            ),
            "これらのアカウントに二要素認証 (ワンタイムパスワード) を登録するか、救急時医療情報閲覧権限を外してください。",
            "Enrol a second factor (one-time password) for these accounts, or withdraw their emergency permission.",
        )
    });
    items
}

fn audit_item() -> crate::ItemBuilder {
    Item::named("audit-log", "監査ログ", "Audit log")
}

/// The whole chain and its head inside and outside the database: a log that was wiped, edited, rolled back
/// or replaced by an older copy fails, because a terminal must not go live (or stay live) without a log it
/// can prove.
fn audit_log(store: &Store) -> Item {
    let item = audit_item();
    match store.verify_audit() {
        Err(e) => item.fail(
            e.to_string(),
            "監査ログを読み取れません。バックアップから復元してください (docs/operations.md の「復元」)。",
            "The audit log cannot be read: restore the store from the backup (docs/operations.md, Restore).",
        ),
        Ok(found) => match found.verdict() {
            facility_store::ChainVerdict::Broken(b) => item.fail(
                format!("broken at row {}: {}", b.row_id, b.problem),
                "監査ログの改ざん、または古いコピーへの巻き戻しが検出されました。ファイルをそのまま保全し、販売店に連絡してください。バックアップを意図して戻した場合は oqs store restore --config … で復元を記録してください。",
                "The audit log was tampered with or rolled back to an older copy. Keep the files as they are and call the vendor; if a backup was put back on purpose, restore it with `oqs store restore --config …`, which records the restore.",
            ),
            facility_store::ChainVerdict::Intact { rows } => {
                let notes = found.notes();
                if notes.is_empty() {
                    item.pass(format!("{rows} row(s), head sealed inside and outside the database"))
                } else {
                    item.pass(format!("{rows} row(s); {}", notes.join("; ")))
                }
            }
        },
    }
}
