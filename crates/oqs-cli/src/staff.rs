//! Staff commands: `oqs emergency lookup`, `oqs emergency review` (on the store), `oqs disaster status|lookup` over the daemon's socket, and
//! `oqs audit verify|report` on the facility store itself.
//!
//! A login session lives as long as its socket connection, so each lookup logs in and looks up in one run.
//! The password (and the one-time code) are read from stdin, one per line, never from the command line.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use facility_store::ChainVerdict;
use terminal_ipc::{
    DisasterConsent, InsuranceNumbers, IpcClient, PatientLookup, Request, Response, Secret,
    Sensitive, Sex,
};
use zeroize::Zeroizing;

use crate::client::{SocketArgs, connect_socket, print_json, report, runtime};

#[derive(Debug, Subcommand)]
pub enum EmergencyCommand {
    /// 救急時医療情報閲覧: log in with password and one-time code (two lines on stdin), identify the patient
    /// by the card in the reader, by four facts or by the numbers of a 資格確認書, print the summary as JSON.
    Lookup(EmergencyLookupArgs),
    /// The regular review: every 救急時医療情報閲覧 of a period (who, when, patient reference, reason, method),
    /// read from the facility store; printed as a table, and with `--out DIR` written as CSV and PDF.
    Review(ReviewArgs),
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// First day, YYYY-MM-DD (JST).
    #[arg(long)]
    from: String,
    /// Last day, YYYY-MM-DD (JST), included.
    #[arg(long)]
    to: String,
    /// Folder for emergency-review-FROM-TO.csv and .pdf (created if missing).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The facility named on the report.
    #[arg(long, default_value = "")]
    facility: String,
    /// A TrueType font with Japanese glyphs (default: IPAGothic from fonts-ipafont-gothic).
    #[arg(long)]
    font: Option<PathBuf>,
}

fn review(args: &ReviewArgs) -> anyhow::Result<()> {
    use reader_daemon::review;
    let (start, end) = review::period(&args.from, &args.to)?;
    let store = open_store(&args.store, true)?;
    let found = review::rows(&store, start, end)?;
    if let facility_store::AuditCoverage::ThisTerminalOnly { reason } = &found.coverage {
        eprintln!("oqs: warning: {THIS_TERMINAL_ONLY} ({reason})");
    }
    println!("記録番号\t端末\t閲覧日時\t閲覧者\t患者参照\t閲覧方法\t閲覧理由\t記録");
    for r in found.rows.iter().map(review::view) {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.audit_id,
            r.terminal.as_deref().unwrap_or("-"),
            r.at,
            r.viewer,
            r.patient_ref,
            r.method,
            r.reason,
            r.action
        );
    }
    if let Some(out) = &args.out {
        let files = review::export(
            found,
            &args.from,
            &args.to,
            &args.facility,
            out,
            args.font.as_deref(),
            store.clock().now(),
        )?;
        for f in files {
            eprintln!("oqs: wrote {}", f.display());
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct EmergencyLookupArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// The staff account.
    #[arg(long)]
    account: String,
    /// Why the information is needed (recorded).
    #[arg(long)]
    reason: String,
    /// Identify the patient by the card in the reader (certificate only, no PIN).
    #[arg(long, conflicts_with_all = ["name", "birth_date", "sex", "insurer_or_address"])]
    card: bool,
    /// The reader holding the card (default: the only one with a card).
    #[arg(long, requires = "card")]
    reader: Option<String>,
    #[command(flatten)]
    facts: FactArgs,
    /// Or the numbers of a 資格確認書 with --birth-date.
    #[command(flatten)]
    numbers: NumberArgs,
}

#[derive(Debug, Args)]
pub struct FactArgs {
    /// 氏名.
    #[arg(long)]
    name: Option<String>,
    /// 生年月日, YYYY-MM-DD.
    #[arg(long)]
    birth_date: Option<String>,
    #[arg(long, value_enum)]
    sex: Option<SexArg>,
    /// 保険者名称 or part of the address (partial match).
    #[arg(long)]
    insurer_or_address: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SexArg {
    Male,
    Female,
}

#[derive(Debug, Subcommand)]
pub enum DisasterCommand {
    /// Whether 災害時医療情報閲覧 is open for this facility now.
    Status(SocketArgs),
    /// 災害時医療情報閲覧: log in (password on stdin, optionally the one-time code on a second line), identify
    /// the patient by four facts or by insurance numbers + birth date, print the summary as JSON.
    Lookup(Box<DisasterLookupArgs>),
}

#[derive(Debug, Args)]
pub struct DisasterLookupArgs {
    #[command(flatten)]
    socket: SocketArgs,
    #[arg(long)]
    account: String,
    /// How consent was obtained.
    #[arg(long, value_enum)]
    consent: ConsentArg,
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    facts: FactArgs,
    #[command(flatten)]
    numbers: NumberArgs,
}

/// The numbers of a 資格確認書 (or insurance card), with `--birth-date`, instead of the four facts.
#[derive(Debug, Args)]
pub struct NumberArgs {
    /// 保険者番号 (with --number and --birth-date instead of the four facts).
    #[arg(long, requires = "number")]
    insurer_number: Option<String>,
    /// 記号.
    #[arg(long)]
    symbol: Option<String>,
    /// 番号.
    #[arg(long)]
    number: Option<String>,
    /// 枝番.
    #[arg(long)]
    branch: Option<String>,
}

/// The patient by the insurance numbers when they are given, else by the four facts.
fn numbers_or_facts(n: &NumberArgs, facts: &FactArgs) -> anyhow::Result<PatientLookup> {
    let (Some(insurer), Some(number)) = (&n.insurer_number, &n.number) else {
        return four_facts(facts);
    };
    let birth = facts
        .birth_date
        .clone()
        .context("--birth-date is required with the insurance numbers")?;
    Ok(PatientLookup::InsuranceNumbers {
        numbers: InsuranceNumbers {
            insurer_number: Sensitive::new(insurer.clone()),
            symbol: Sensitive::new(n.symbol.clone().unwrap_or_default()),
            number: Sensitive::new(number.clone()),
            branch: Sensitive::new(n.branch.clone().unwrap_or_default()),
            birth_date: Sensitive::new(birth),
        },
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ConsentArg {
    /// 口頭同意.
    Oral,
    /// 同意取得困難.
    Unobtainable,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain and seals, and its head against the head file and the OS keyring;
    /// exit 1 naming the first row that does not hold or the copy that is behind. With `--facility`, also
    /// every terminal's chain in the facility-wide store (`[store] shared`), one line per terminal.
    Verify(VerifyArgs),
    /// Write the access report of one patient (CSV and PDF) into a folder, after verifying the log.
    Report(ReportArgs),
}

/// Which store, and where its key is: the daemon's configuration (as installed: key file or keyring), or a
/// database file with its key in the OS keyring.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The daemon's configuration file (default: `$OQS_CONFIG` when --store is not given).
    #[arg(long, short, conflicts_with = "store")]
    config: Option<PathBuf>,
    /// The facility store (the daemon's `[store] path`), its key in the OS keyring.
    #[arg(long, env = "OQS_STORE")]
    store: Option<PathBuf>,
    /// With --store: name of the data key in the OS keyring (the daemon's `[store] key_secret`).
    #[arg(long, default_value = "facility-store-key", requires = "store")]
    key_secret: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Also check every terminal's chain in the facility-wide store (PostgreSQL, `[store] shared` of the
    /// configuration): hash chain and seals with the facility's data key, reported per terminal; exit 1
    /// when any chain is broken, 2 when the facility server cannot be read.
    #[arg(long)]
    facility: bool,
}

pub use audit_report::THIS_TERMINAL_ONLY;

/// The mark of a report written from a log that failed its verification.
pub const TAMPER_MARK: &str = "監査ログの改ざんを検出";

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Write the report even when the audit log fails its verification, marked 「監査ログの改ざんを検出」.
    #[arg(long)]
    allow_broken: bool,
    /// The patient: `保険者番号:記号:番号:生年月日` (記号 may be empty; 生年月日 YYYY-MM-DD), or the 64-hex
    /// patient reference of the audit log.
    #[arg(long)]
    patient: String,
    /// Folder for access-report.csv and access-report.pdf (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// The facility named on the report.
    #[arg(long, default_value = "")]
    facility: String,
    /// A TrueType font with Japanese glyphs (default: IPAGothic from fonts-ipafont-gothic).
    #[arg(long)]
    font: Option<PathBuf>,
}

/// Lines of stdin: the password, then (optionally) the one-time code. Wiped after use.
fn read_credentials(need_code: bool) -> anyhow::Result<(Secret, Option<Secret>)> {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    let mut line = Zeroizing::new(String::new());
    lock.read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = Secret::new(line.trim_end_matches(['\r', '\n']));
    if password.expose().is_empty() {
        bail!("no password on stdin");
    }
    line.clear();
    lock.read_line(&mut line)
        .context("reading the one-time code from stdin")?;
    let code = line.trim();
    let code = (!code.is_empty()).then(|| Secret::new(code));
    if need_code && code.is_none() {
        bail!("the one-time code (second line of stdin) is required for emergency viewing");
    }
    Ok((password, code))
}

fn four_facts(f: &FactArgs) -> anyhow::Result<PatientLookup> {
    // The daemon checks them as well; this only gives a clearer message early.
    let (Some(name), Some(birth), Some(sex), Some(fourth)) =
        (&f.name, &f.birth_date, f.sex, &f.insurer_or_address)
    else {
        bail!(
            "all four facts are required: --name, --birth-date, --sex and --insurer-or-address (or use --card)"
        );
    };
    Ok(PatientLookup::FourFacts {
        name: Sensitive::new(name.clone()),
        birth_date: Sensitive::new(birth.clone()),
        sex: match sex {
            SexArg::Male => Sex::Male,
            SexArg::Female => Sex::Female,
        },
        insurer_or_address: Sensitive::new(fourth.clone()),
    })
}

async fn login(
    client: &IpcClient,
    account: &str,
    password: Secret,
    totp: Option<Secret>,
) -> anyhow::Result<Secret> {
    match client
        .request(Request::Login {
            account: account.to_string(),
            password,
            totp,
        })
        .await?
    {
        Response::LoggedIn { session, .. } => Ok(session),
        other => bail!("unexpected answer to the login: {other:?}"),
    }
}

pub fn emergency(cmd: &EmergencyCommand) -> ExitCode {
    let args = match cmd {
        EmergencyCommand::Lookup(args) => args,
        EmergencyCommand::Review(args) => return report(review(args)),
    };
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            let patient = if args.card {
                PatientLookup::Card {
                    reader: args.reader.clone().unwrap_or_default(),
                }
            } else {
                numbers_or_facts(&args.numbers, &args.facts)?
            };
            let (password, code) = read_credentials(true)?;
            let client = connect_socket(&args.socket).await?;
            let session = login(&client, &args.account, password, code).await?;
            let view = client
                .request(Request::EmergencyLookup {
                    session: session.clone(),
                    reason: args.reason.clone(),
                    patient,
                })
                .await;
            let _ = client.request(Request::Logout { session }).await;
            print_json(&view?)
        })
    }))
}

pub fn disaster(cmd: &DisasterCommand) -> ExitCode {
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            match cmd {
                DisasterCommand::Status(socket) => {
                    let client = connect_socket(socket).await?;
                    print_json(&client.request(Request::DisasterStatus).await?)
                }
                DisasterCommand::Lookup(args) => {
                    let patient = numbers_or_facts(&args.numbers, &args.facts)?;
                    let (password, code) = read_credentials(false)?;
                    let client = connect_socket(&args.socket).await?;
                    let session = login(&client, &args.account, password, code).await?;
                    let view = client
                        .request(Request::DisasterLookup {
                            session: session.clone(),
                            consent: match args.consent {
                                ConsentArg::Oral => DisasterConsent::Oral,
                                ConsentArg::Unobtainable => DisasterConsent::Unobtainable,
                            },
                            reason: args.reason.clone(),
                            patient,
                        })
                        .await;
                    let _ = client.request(Request::Logout { session }).await;
                    print_json(&view?)
                }
            }
        })
    }))
}

/// Links `store` to the facility-wide store when the configuration names one (and waits for the first
/// attempt to reach it), so facility-wide reads do not find it merely not yet connected, and account changes
/// reach the facility's accounts (they are refused, not made here alone, while it cannot be reached).
pub(crate) fn with_facility_store(
    store: facility_store::Store,
    config: &reader_daemon::config::Config,
) -> anyhow::Result<facility_store::Store> {
    let Some(shared) = config.shared_store()? else {
        return Ok(store);
    };
    let store = store.with_shared(shared).context("[store] shared")?;
    store.wait_for_shared(facility_store::SHARED_QUERY_TIMEOUT + std::time::Duration::from_secs(2));
    Ok(store)
}

/// Opens the store; with `shared`, also links it to the facility-wide store when the configuration names
/// one (and waits for the first attempt to reach it), so facility-wide reads do not find it merely not yet
/// connected.
fn open_store(args: &StoreArgs, shared: bool) -> anyhow::Result<facility_store::Store> {
    let config = args.config.clone().or_else(|| {
        args.store
            .is_none()
            .then(|| std::env::var_os("OQS_CONFIG").map(PathBuf::from))
            .flatten()
    });
    if let Some(config) = config {
        let config = reader_daemon::config::Config::load(&config)?;
        let store = readiness::open_store(&config)?;
        if !shared {
            return Ok(store);
        }
        return with_facility_store(store, &config);
    }
    let Some(path) = &args.store else {
        bail!("name the store: --config FILE (the daemon's configuration) or --store FILE");
    };
    if !path.exists() {
        bail!("there is no facility store at {}", path.display());
    }
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto)
        .context("opening the OS keyring (it holds the store's data key)")?;
    facility_store::Store::open_configured(path, None, &args.key_secret, Some(&keyring))
        .with_context(|| format!("opening the facility store {}", path.display()))
}

/// "at row N: problem", or only the problem when it is about the log as a whole.
fn describe(b: &facility_store::ChainBreak) -> String {
    if b.row_id > 0 {
        format!("at row {}: {}", b.row_id, b.problem)
    } else {
        b.problem.clone()
    }
}

pub fn audit(cmd: &AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Verify(args) => {
            let found = open_store(&args.store, args.facility).and_then(|store| {
                let found = store.verify_audit().context("reading the audit log");
                readiness::hand_back(store.path());
                found
            });
            match found {
                Ok(found) => {
                    for note in found.notes() {
                        println!("oqs: note: {note}");
                    }
                    if args.facility {
                        match &found.facility {
                            None => {
                                eprintln!(
                                    "oqs: --facility needs a facility-wide store: give --config with the \
                                     daemon's configuration naming [store] shared and terminal_id"
                                );
                                return ExitCode::from(2);
                            }
                            Some(Err(e)) => {
                                eprintln!(
                                    "oqs: the facility server could not be read, the terminals' chains were \
                                     not checked: {e}"
                                );
                                return ExitCode::from(2);
                            }
                            Some(Ok(chains)) => {
                                if chains.is_empty() {
                                    println!("oqs: the facility server holds no audit rows yet");
                                }
                                for chain in chains {
                                    match &chain.verdict {
                                        ChainVerdict::Intact { rows } => println!(
                                            "oqs: terminal {}: intact ({rows} rows)",
                                            chain.terminal_id
                                        ),
                                        ChainVerdict::Broken(b) => println!(
                                            "oqs: terminal {}: BROKEN {}",
                                            chain.terminal_id,
                                            describe(b)
                                        ),
                                    }
                                }
                            }
                        }
                    }
                    match found.verdict() {
                        ChainVerdict::Intact { rows } => {
                            println!("oqs: the audit log is intact ({rows} rows)");
                            ExitCode::SUCCESS
                        }
                        ChainVerdict::Broken(b) => {
                            println!("oqs: the audit log is BROKEN {}", describe(&b));
                            ExitCode::FAILURE
                        }
                    }
                }
                Err(e) => {
                    eprintln!("oqs: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        AuditCommand::Report(args) => report((|| {
            let store = open_store(&args.store, true)?;
            let verdict = store
                .verify_audit_chain()
                .context("verifying the audit log");
            readiness::hand_back(store.path());
            let notice = match verdict? {
                ChainVerdict::Intact { .. } => None,
                ChainVerdict::Broken(b) if args.allow_broken => {
                    Some(format!("{TAMPER_MARK}: {}", describe(&b)))
                }
                ChainVerdict::Broken(b) => bail!(
                    "the audit log is BROKEN {}; no report written (a report from a tampered log could be \
                     wrong). Pass --allow-broken to write it anyway, marked 「{TAMPER_MARK}」",
                    describe(&b)
                ),
            };
            let patient_ref = patient_ref(&store, &args.patient)?;
            let found = store
                .patient_audit(&patient_ref)
                .context("reading the audit log")?;
            let rows = found
                .rows
                .iter()
                .map(audit_report::ReportRow::from_terminal_record)
                .collect();
            let label = format!("照会者（照会番号 {}）", &patient_ref[..12]);
            let mut report =
                audit_report::Report::new(args.facility.clone(), label, rows, store.clock().now());
            if let Some(notice) = notice {
                eprintln!("oqs: warning: {notice}");
                report = report.with_notice(notice);
            }
            if let facility_store::AuditCoverage::ThisTerminalOnly { reason } = &found.coverage {
                eprintln!("oqs: warning: {THIS_TERMINAL_ONLY} ({reason})");
            }
            report = report.covering(&found.coverage);
            std::fs::create_dir_all(&args.out)
                .with_context(|| format!("creating {}", args.out.display()))?;
            let font = match &args.font {
                Some(f) => f.clone(),
                None => audit_report::find_cjk_font().ok_or(audit_report::ReportError::NoFont)?,
            };
            let csv = args.out.join("access-report.csv");
            let pdf = args.out.join("access-report.pdf");
            audit_report::write_csv(&report, &csv)?;
            audit_report::write_pdf(&report, &font, &pdf)?;
            println!(
                "oqs: {} access(es) written to {} and {}",
                report.rows.len(),
                csv.display(),
                pdf.display()
            );
            Ok(())
        })()),
    }
}

/// The audit log's reference of a patient named on the command line.
fn patient_ref(store: &facility_store::Store, patient: &str) -> anyhow::Result<String> {
    let patient = patient.trim();
    if patient.len() == 64 && patient.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(patient.to_ascii_lowercase());
    }
    let parts: Vec<&str> = patient.split(':').collect();
    let [insurer, symbol, number, birth] = parts.as_slice() else {
        bail!(
            "--patient must be 保険者番号:記号:番号:生年月日 (記号 may be empty) or a 64-hex patient reference"
        );
    };
    if insurer.is_empty() || number.is_empty() || birth.is_empty() {
        bail!("--patient needs the insurer number, the number and the birth date");
    }
    Ok(store.patient_key(insurer, symbol, number, birth).to_hex())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: EmergencyCommand,
    }

    fn patient(args: &[&str]) -> anyhow::Result<PatientLookup> {
        let base = ["oqs", "lookup", "--account", "dr", "--reason", "搬送"];
        let cli = Cli::try_parse_from(base.iter().chain(args)).unwrap();
        let EmergencyCommand::Lookup(a) = cli.command else {
            panic!("not a lookup")
        };
        numbers_or_facts(&a.numbers, &a.facts)
    }

    #[test]
    fn an_emergency_lookup_takes_the_numbers_of_a_certificate_or_the_four_facts() {
        let by_numbers = patient(&[
            "--insurer-number",
            "06139876",
            "--number",
            "12",
            "--birth-date",
            "1980-04-17",
        ])
        .unwrap();
        assert!(
            matches!(&by_numbers, PatientLookup::InsuranceNumbers { numbers }
                if numbers.insurer_number.expose() == "06139876" && numbers.birth_date.expose() == "1980-04-17"),
            "{by_numbers:?}"
        );
        assert!(patient(&["--insurer-number", "06139876", "--number", "12"]).is_err());
        let by_facts = patient(&[
            "--name",
            "石川　蓮",
            "--birth-date",
            "1975-10-10",
            "--sex",
            "male",
            "--insurer-or-address",
            "珠洲",
        ])
        .unwrap();
        assert!(matches!(by_facts, PatientLookup::FourFacts { .. }));
    }
}
