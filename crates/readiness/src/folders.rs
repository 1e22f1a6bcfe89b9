//! The folders shared with the receipt computer (`req/ res/ face/`) and the daemon's own `work/`: present,
//! writable, and closed to other users (they hold patient data).

use std::path::Path;

use reader_daemon::config::Config;

use crate::Item;

pub(crate) fn check(config: &Config) -> Vec<Item> {
    let f = config.relay_folders();
    vec![
        folder(
            Item::named(
                "folder-req",
                "req フォルダ (要求ファイル)",
                "req/ folder (requests)",
            ),
            &f.req,
        ),
        folder(
            Item::named(
                "folder-res",
                "res フォルダ (結果ファイル)",
                "res/ folder (results)",
            ),
            &f.res,
        ),
        folder(
            Item::named(
                "folder-face",
                "face フォルダ (顔認証結果)",
                "face/ folder (check-in results)",
            ),
            &f.face,
        ),
        folder(
            Item::named(
                "folder-work",
                "作業フォルダ",
                "work/ folder (the daemon's own)",
            ),
            &f.work,
        ),
    ]
}

fn folder(item: crate::ItemBuilder, path: &Path) -> Item {
    let shown = path.display();
    let create_ja = format!(
        "フォルダ {shown} を作成してください (Linux のパッケージでは自動で作成されます: 所有者 oqs、グループ oqs-files、モード 2770)。"
    );
    let create_en = format!(
        "Create the folder {shown} (the Linux package does: owner oqs, group oqs-files, mode 2770)."
    );
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return item.fail(format!("{shown}: {e}"), create_ja, create_en),
    };
    if !meta.is_dir() {
        return item.fail(
            format!("{shown} exists but is not a folder"),
            create_ja,
            create_en,
        );
    }
    let perm_ja = format!(
        "{shown} の権限を直してください: sudo chown oqs:oqs-files {shown} && sudo chmod 2770 {shown}"
    );
    let perm_en = format!(
        "Fix the permissions of {shown}: sudo chown oqs:oqs-files {shown} && sudo chmod 2770 {shown}"
    );
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o7777
    };
    #[cfg(unix)]
    {
        // The owner (the daemon's user) must be able to write; checked on the bits because an administrator
        // running the check as root could write anywhere.
        if mode & 0o200 == 0 {
            return item.fail(
                format!("{shown} is not writable by its owner (mode {mode:04o})"),
                perm_ja,
                perm_en,
            );
        }
    }
    // And really try, which also catches a read-only file system or a full disk.
    let probe = path.join(format!(".oqs-doctor-{}", std::process::id()));
    let written = std::fs::write(&probe, b"probe");
    let _ = std::fs::remove_file(&probe);
    if let Err(e) = written {
        return item.fail(format!("cannot write in {shown}: {e}"), perm_ja, perm_en);
    }
    #[cfg(unix)]
    {
        if mode & 0o007 != 0 {
            return item.fail(
                format!("{shown} is open to every user of this PC (mode {mode:04o}); it holds patient data"),
                perm_ja,
                perm_en,
            );
        }
        item.pass(format!("{shown} (mode {mode:04o})"))
    }
    #[cfg(not(unix))]
    item.pass(format!("{shown}"))
}
