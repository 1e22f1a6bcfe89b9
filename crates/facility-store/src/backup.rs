//! Copies of the database taken while the daemon runs, with SQLite's online backup API.
//!
//! The backup reads the live file page by page under SQLite's own locking, so it is consistent even while the
//! relay writes, and needs no data key: encrypted columns are copied as they are. A restore therefore needs the
//! key the database was made with (see `docs/operations.md`).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

/// What a backup copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSummary {
    pub pages: u32,
    pub bytes: u64,
}

/// Pages copied per step; between steps the daemon's writers get the lock back.
const PAGES_PER_STEP: i32 = 256;
/// How long the backup keeps retrying while the daemon holds the database busy before it gives up.
const BUSY_LIMIT: Duration = Duration::from_secs(60);

/// Copies the database at `source` into a new file `dest` (mode 0600), which must not exist yet. The copy is
/// written to `dest` + `.partial` and renamed once complete and checked, so a `dest` that exists is whole.
pub fn backup_database(source: &Path, dest: &Path) -> Result<BackupSummary, StoreError> {
    let file_error = |path: &Path, source: std::io::Error| StoreError::File {
        path: path.display().to_string(),
        source,
    };
    if !source.is_file() {
        return Err(StoreError::NotFound(format!(
            "the database {} (has the daemon been started once?)",
            source.display()
        )));
    }
    if dest.exists() {
        return Err(file_error(
            dest,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the backup file exists already; choose a new name",
            ),
        ));
    }
    let partial = dest.with_file_name(format!(
        "{}.partial",
        dest.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "backup".into())
    ));
    let _ = std::fs::remove_file(&partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&partial)
        .map_err(|e| file_error(&partial, e))?;

    let outcome = (|| {
        let src = Connection::open_with_flags(
            source,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        src.busy_timeout(Duration::from_secs(10))?;
        let mut dst = Connection::open(&partial)?;
        {
            let backup = Backup::new(&src, &mut dst)?;
            let mut busy_since: Option<Instant> = None;
            loop {
                match backup.step(PAGES_PER_STEP)? {
                    StepResult::Done => break,
                    StepResult::More => busy_since = None,
                    // Busy or locked: the daemon is writing. SQLite has no event for "lock released", so
                    // back off briefly, but never for longer than the limit in one stretch.
                    _ => {
                        let since = *busy_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > BUSY_LIMIT {
                            return Err(StoreError::Busy(format!(
                                "the database stayed locked for {} s; try the backup again when the \
                                 terminal is less busy",
                                BUSY_LIMIT.as_secs()
                            )));
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }
        // The copy uses the source's journal mode (WAL); make it one self-contained file.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        let check: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(format!(
                "the backup copy failed its check: {check}"
            )));
        }
        let pages: u32 = dst.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        Ok(pages)
    })();
    let pages = match outcome {
        Ok(pages) => pages,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, dest).map_err(|e| file_error(dest, e))?;
    let bytes = std::fs::metadata(dest)
        .map_err(|e| file_error(dest, e))?
        .len();
    Ok(BackupSummary { pages, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewAccount, Role, StaticKeyProvider, Store};

    #[test]
    fn a_backup_of_a_live_store_opens_with_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = StaticKeyProvider::random().unwrap();
        let db = dir.path().join("facility.sqlite3");
        let store = Store::open(&db, &keys).unwrap();
        store
            .create_account(
                &NewAccount {
                    login: "admin",
                    display_name: "管理者",
                    role: Role::Administrator,
                    password: "correct horse battery",
                },
                "setup",
                1,
            )
            .unwrap();
        // The store stays open (as in the running daemon) while the backup is taken.
        let dest = dir.path().join("backup.sqlite3");
        let summary = backup_database(&db, &dest).unwrap();
        assert!(summary.pages > 0 && summary.bytes > 0);
        assert!(backup_database(&db, &dest).is_err(), "never overwrites");
        drop(store);
        let restored = Store::open(&dest, &keys).unwrap();
        assert_eq!(restored.accounts().unwrap()[0].login, "admin");
        restored.integrity_check().unwrap();
    }

    #[test]
    fn a_missing_database_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = backup_database(&dir.path().join("none.sqlite3"), &dir.path().join("b"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("started once"), "{err}");
    }
}
