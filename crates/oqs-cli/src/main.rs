//! `oqs`: the command-line tool of the facility terminal.
//!
//! - `oqs file inspect PATH`: read a request/result file and show what it holds.
//! - Over the daemon's local socket (`--socket`, else `$OQS_SOCKET`, else the default path; the token comes
//!   from the OS keyring): `oqs status`, `oqs watch` (events as JSON lines), `oqs checkins` (today's),
//!   and `oqs kiosk …` to answer the kiosk screen from a terminal, so a check-in can run headless.
//!   `oqs kiosk pin` reads the PIN from stdin, never from the command line (which other users can see).
//!   With `--config FILE` (the daemon's configuration) the socket and its token file come from there: that is
//!   how an administrator reaches the installed service.
//! - From the daemon's configuration (`--config`, else `$OQS_CONFIG`): `oqs doctor` (the readiness check,
//!   `--json` for the app), `oqs store backup --to FILE`, `oqs store restore FILE` (the audited way back to a
//!   backup), `oqs account setup` (the マスタアカウント and its リセット用アカウント), `oqs account create-admin
//!   --login NAME`.
//! - `oqs account list|create|set-role|disable|enable|unlock|reset-password|reset-2fa|grant-emergency|
//!   revoke-emergency|passwd --as LOGIN`: account administration over the socket (passwords from the
//!   terminal or stdin).
//! - `oqs settings show|set --as LOGIN`: the facility's 救急専用端末 and the emergency summary's order and
//!   period (`--emergency-terminals`, `--summary-order`, `--summary-months`), over the socket.
//! - `oqs emergency lookup` and `oqs disaster status|lookup`: emergency and disaster viewing, headless
//!   (password and one-time code from stdin).
//! - `oqs audit verify` (exit 1 naming the first broken row, or the copy of the head the database is behind)
//!   and `oqs audit report --patient … --out DIR` (CSV + PDF; refused on a broken log unless
//!   `--allow-broken`, which marks it), reading the facility store directly: with `--config` the way the
//!   daemon opens it (key file or keyring), or `--store FILE` with the key in the OS keyring.
//! - `oqs face compare IMAGE_A IMAGE_B`: the face matcher on two pictures (exit 0 same person, 1 different
//!   people, 2 no decision).

mod accounts;
mod admin;
mod client;
mod face;
mod file;
mod settings;
mod staff;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Facility terminal for オンライン資格確認 (online eligibility confirmation).
#[derive(Debug, Parser)]
#[command(name = "oqs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with OQS request/result files (req/, res/, face/).
    #[command(subcommand)]
    File(file::FileCommand),
    /// The daemon at a glance: versions, uptime, readers and kiosk screens, central link, outbox.
    Status(client::SocketArgs),
    /// Follow the daemon's events, one JSON object per line, until interrupted.
    Watch(client::WatchArgs),
    /// Today's check-ins, newest first, as JSON.
    Checkins(client::SocketArgs),
    /// Answer the kiosk screen.
    Kiosk(client::KioskArgs),
    /// Readiness check (導入準備チェック): is this terminal ready to go live? Exit 1 on any failure.
    Doctor(admin::DoctorArgs),
    /// The facility store: backup, and restore of a backup (recorded in the audit log).
    #[command(subcommand)]
    Store(admin::StoreCommand),
    /// Staff accounts: set-up (master accounts), list, create, change, reset, grant/withdraw 救急時権限.
    #[command(subcommand)]
    Account(admin::AccountCommand),
    /// The facility's emergency-viewing settings: 救急専用端末, the summary's order and period.
    #[command(subcommand)]
    Settings(settings::SettingsCommand),
    /// 救急時医療情報閲覧 from a terminal.
    #[command(subcommand)]
    Emergency(staff::EmergencyCommand),
    /// 災害時医療情報閲覧 from a terminal.
    #[command(subcommand)]
    Disaster(staff::DisasterCommand),
    /// Check the audit log, or write a patient's access report.
    #[command(subcommand)]
    Audit(staff::AuditCommand),
    /// Face matching: compare two pictures.
    #[command(subcommand)]
    Face(face::FaceCommand),
    /// 要再確認: visits the central service could not confirm (list, re-check now, export as CSV).
    #[command(subcommand)]
    Unconfirmed(client::UnconfirmedCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::File(cmd) => file::run(cmd),
        Command::Status(args) => client::status(&args),
        Command::Watch(args) => client::watch(&args),
        Command::Checkins(args) => client::checkins(&args),
        Command::Kiosk(args) => client::kiosk(&args),
        Command::Doctor(args) => admin::doctor(&args),
        Command::Store(cmd) => admin::store(&cmd),
        Command::Account(cmd) => admin::account(&cmd),
        Command::Settings(cmd) => settings::run(&cmd),
        Command::Emergency(cmd) => staff::emergency(&cmd),
        Command::Disaster(cmd) => staff::disaster(&cmd),
        Command::Audit(cmd) => staff::audit(&cmd),
        Command::Face(cmd) => face::run(cmd),
        Command::Unconfirmed(cmd) => client::unconfirmed(&cmd),
    }
}
