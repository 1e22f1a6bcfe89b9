//! The administrator's commands that read the daemon's configuration (`--config`): `oqs doctor`,
//! `oqs store backup`, `oqs account create-admin`.

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
    })
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
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
            let store = readiness::open_store(&config)?;
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
    })
}
