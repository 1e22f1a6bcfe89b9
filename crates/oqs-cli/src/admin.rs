//! The administrator's commands that read the daemon's configuration (`--config`): `oqs doctor`,
//! `oqs store backup`, `oqs store restore`, `oqs account create-admin|setup` (the other account commands go
//! over the socket: [`crate::accounts`]).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use reader_daemon::config::Config;
use zeroize::Zeroize;

/// The daemon's configuration file (default: `$OQS_CONFIG`).
#[derive(Debug, Args)]
pub struct ConfigArg {
    #[arg(long, short, env = "OQS_CONFIG")]
    config: PathBuf,
}

impl ConfigArg {
    fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(&self.config)?)
    }
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Print the report as JSON (for the app's readiness screen).
    #[arg(long)]
    json: bool,
    /// Also test a card: insert any card into a reader within `--card-wait` seconds.
    #[arg(long)]
    card_test: bool,
    #[arg(long, default_value_t = 30)]
    card_wait: u64,
}

/// Exit 0: ready (warnings allowed); 1: something must be fixed; 2: the check could not run.
pub fn doctor(args: &DoctorArgs) -> ExitCode {
    let outcome = (|| {
        let config = args.config.load()?;
        let options = readiness::Options {
            card_test: args.card_test.then(|| Duration::from_secs(args.card_wait)),
            ..readiness::Options::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let report = runtime.block_on(readiness::check(&config, &options));
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", report.to_text());
        }
        anyhow::Ok(report.ready)
    })();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("oqs doctor: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the live store into a new file (SQLite online backup; the daemon may keep running).
    Backup {
        #[command(flatten)]
        config: ConfigArg,
        /// The backup file to create (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Put a backup back in place of the store, on purpose and on the record: the backup's audit log must
    /// verify, the replaced database is kept beside it, a row "store restored from backup …" is appended and
    /// the audit head outside the database is re-sealed. Stop the daemon first.
    Restore {
        #[command(flatten)]
        config: ConfigArg,
        /// The backup file (made by `oqs store backup`); it is copied, never changed.
        backup: PathBuf,
    },
}

pub fn store(cmd: &StoreCommand) -> ExitCode {
    crate::client::report(match cmd {
        StoreCommand::Backup { config, to } => (|| {
            let config = config.load()?;
            let db = config.resolve(&config.store.path);
            let started = std::time::Instant::now();
            let summary = facility_store::backup_database(&db, to)
                .with_context(|| format!("backing up {} to {}", db.display(), to.display()))?;
            readiness::hand_back(&db);
            println!(
                "oqs: backed up {} to {} ({} bytes, {} pages, {} ms)",
                db.display(),
                to.display(),
                summary.bytes,
                summary.pages,
                started.elapsed().as_millis()
            );
            if let Some(key) = &config.store.key_file {
                println!(
                    "oqs: the backup needs the data key to be read: keep a copy of {} apart from it",
                    config.resolve(key).display()
                );
            }
            Ok(())
        })(),
        StoreCommand::Restore { config, backup } => (|| restore(&config.load()?, backup))(),
    })
}

fn restore(config: &Config, backup: &std::path::Path) -> anyhow::Result<()> {
    let db = config.resolve(&config.store.path);
    if !backup.is_file() {
        anyhow::bail!("there is no backup file {}", backup.display());
    }
    #[cfg(unix)]
    if std::os::unix::net::UnixStream::connect(config.resolve(&config.ipc.socket)).is_ok() {
        anyhow::bail!(
            "the daemon is running (its socket answers): stop it first (systemctl stop oqs-readerd), \
             then restore"
        );
    }
    let name = backup
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| backup.display().to_string());
    let file_name = |suffix: &str| {
        let base = db
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        db.with_file_name(format!("{base}{suffix}"))
    };
    // Restore into a staging copy first: the backup file itself is never migrated or written.
    let staging = file_name(".restoring");
    for side in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", staging.display()));
    }
    std::fs::copy(backup, &staging)
        .with_context(|| format!("copying {} to {}", backup.display(), staging.display()))?;
    {
        let key_file = config.store.key_file.as_ref().map(|f| config.resolve(f));
        let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto).ok();
        let copy = facility_store::Store::open_configured(
            &staging,
            key_file.as_deref(),
            &config.store.key_secret,
            keyring.as_ref(),
        )
        .with_context(|| {
            format!(
                "opening the backup {} with this terminal's data key",
                backup.display()
            )
        })?;
        copy.integrity_check()?;
        if let facility_store::ChainVerdict::Broken(b) = copy.verify_audit()?.chain {
            let _ = std::fs::remove_file(&staging);
            anyhow::bail!(
                "the backup's own audit log is broken at row {}: {}; it is not restored",
                b.row_id,
                b.problem
            );
        }
    }
    let now = config.clock().now_millis();
    #[cfg(unix)]
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&db)
            .or_else(|_| std::fs::metadata(db.parent().unwrap_or(std::path::Path::new("."))))
            .map(|m| (m.uid(), m.gid()))
            .ok()
    };
    if db.is_file() {
        // The database being replaced is kept: a restore must never be the step that loses data.
        let kept = file_name(&format!(".before-restore-{now}"));
        facility_store::backup_database(&db, &kept)
            .with_context(|| format!("keeping the replaced database as {}", kept.display()))?;
        println!("oqs: the replaced database is kept as {}", kept.display());
    }
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(file_name(side));
    }
    std::fs::rename(&staging, &db)
        .with_context(|| format!("putting {} in place of {}", staging.display(), db.display()))?;
    #[cfg(unix)]
    if let Some((uid, gid)) = owner {
        let _ = std::os::unix::fs::chown(&db, Some(uid), Some(gid));
    }
    let store = readiness::open_store(config)?;
    let id = store
        .record_restore(&name, "oqs store restore", now)
        .context("recording the restore in the audit log")?;
    let verdict = store.verify_audit_chain()?;
    readiness::hand_back(&db);
    match verdict {
        facility_store::ChainVerdict::Intact { rows } => {
            println!(
                "oqs: restored {} from {}; the restore is audit row {id}, the log is intact ({rows} rows)",
                db.display(),
                backup.display()
            );
            Ok(())
        }
        facility_store::ChainVerdict::Broken(b) => anyhow::bail!(
            "restored, but the audit log does not verify at row {}: {}",
            b.row_id,
            b.problem
        ),
    }
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// At installation: create the マスタアカウント (its first password, changed at its first login) and the
    /// マスタアカウントリセット用アカウント (the 4-digit 秘密の番号), read from the terminal or stdin.
    Setup {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Create the first administrator account; the password is read from stdin (one line).
    CreateAdmin {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        login: String,
        /// Name shown in the app (default: the login).
        #[arg(long)]
        name: Option<String>,
    },
    #[command(flatten)]
    Admin(crate::accounts::AccountAdminCommand),
}

pub fn account(cmd: &AccountCommand) -> ExitCode {
    crate::client::report(match cmd {
        AccountCommand::CreateAdmin {
            config,
            login,
            name,
        } => (|| {
            let config = config.load()?;
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = line.trim_end_matches(['\r', '\n']).to_owned();
            line.zeroize();
            let password = zeroize::Zeroizing::new(password);
            // With `[store] shared` the first administrator is the facility's first.
            let store =
                crate::staff::with_facility_store(readiness::open_store(&config)?, &config)?;
            let account = reader_daemon::accounts::create_first_admin(
                &store,
                login,
                name.as_deref().unwrap_or(login),
                &password,
            )?;
            readiness::hand_back(store.path());
            println!("oqs: administrator account `{}` created", account.login);
            Ok(())
        })(),
        AccountCommand::Setup { config } => (|| {
            let config = config.load()?;
            let store =
                crate::staff::with_facility_store(readiness::open_store(&config)?, &config)?;
            crate::accounts::setup(&store)?;
            readiness::hand_back(store.path());
            Ok(())
        })(),
        AccountCommand::Admin(cmd) => return crate::accounts::run(cmd),
    })
}
