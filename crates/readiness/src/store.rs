//! The facility store as the check sees it: it opens with its key, has an administrator, and grants the
//! emergency-viewing permission only to accounts with an enrolled second factor.

use std::path::Path;

use facility_store::{FileKeyProvider, KeyringKeyProvider, Role, Store};
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
    let store = match &config.store.key_file {
        Some(file) => Store::open(&path, &FileKeyProvider::new(config.resolve(file))),
        None => {
            let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto)
                .map_err(StoreAccessError::Keyring)?;
            Store::open(
                &path,
                &KeyringKeyProvider::new(keyring, config.store.key_secret.clone()),
            )
        }
    };
    let store = store.map_err(StoreAccessError::Store);
    hand_back(&path);
    store
}

/// Gives `-wal` / `-shm` files beside `db` the owner and group of `db` (only matters when run as root).
pub fn hand_back(db: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(db) else {
            return;
        };
        for suffix in ["-wal", "-shm"] {
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
                admin.skip(why),
                emergency.skip(why),
            ];
        }
    };
    let mut items = vec![opened.pass(format!(
        "{} ({} account(s))",
        store.path().display(),
        accounts.len()
    ))];
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
