//! The client subcommands: `oqs status`, `oqs watch`, `oqs checkins`, `oqs kiosk …` over the local socket.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use terminal_ipc::{
    AuthMethod, IpcClient, IpcToken, KioskAction, KioskScreen, Pin, Request, Response, Secret,
    Topic,
};
use zeroize::Zeroize;

#[derive(Debug, Args)]
pub struct SocketArgs {
    /// The daemon's socket (default: `$OQS_SOCKET`, else the platform's default path).
    #[arg(long, env = "OQS_SOCKET")]
    socket: Option<PathBuf>,
    /// The daemon's configuration: its socket and token file are taken from there (the installed service:
    /// /etc/oqs/oqs-readerd.toml; needs membership of its `ipc.group`).
    #[arg(long, conflicts_with = "socket")]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// Only these topics (default: all).
    #[arg(long, value_enum)]
    topic: Vec<TopicArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TopicArg {
    Reader,
    Kiosk,
    CheckIn,
    Outbox,
    CentralLink,
    SharedStore,
}

#[derive(Debug, Args)]
pub struct KioskArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// The reader (needed only when several readers have a card).
    #[arg(long)]
    reader: Option<String>,
    #[command(subcommand)]
    action: KioskCommand,
}

#[derive(Debug, Subcommand)]
enum KioskCommand {
    /// Choose how the patient is identified.
    Method { method: MethodArg },
    /// Enter the 4-digit PIN, read from stdin (one line).
    Pin,
    /// Answer the consent screen on display.
    Consent { answer: YesNo },
    /// Cancel (the patient pressed 戻る).
    Cancel,
    /// 「続ける」 during the countdown before the inactivity time-out: restart the timer.
    Continue,
    /// Staff: switch this reader to 目視確認 (logs in as `--account`; the password is read from stdin).
    StaffStart {
        #[arg(long)]
        account: String,
    },
    /// Staff: confirm (yes) or not (no) that the patient is the card holder (logs in as `--account`; the
    /// password is read from stdin).
    StaffConfirm {
        answer: YesNo,
        #[arg(long)]
        account: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MethodArg {
    Pin,
    Face,
    Visual,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) async fn connect_socket(args: &SocketArgs) -> anyhow::Result<IpcClient> {
    if let Some(config) = &args.config {
        let config = reader_daemon::config::Config::load(config)?;
        let path = config.resolve(&config.ipc.socket);
        let token = match &config.ipc.token_file {
            Some(file) => {
                let file = config.resolve(file);
                reader_daemon::ipc::read_token_file(&file).with_context(|| {
                    format!(
                        "reading the daemon's token {}; is oqs-readerd running, and are you in its group?",
                        file.display()
                    )
                })?
            }
            None => {
                let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto)
                    .context("opening the OS keyring (it holds the daemon's token)")?;
                IpcToken::load(&keyring)
                    .context("reading the daemon's token from the OS keyring")?
            }
        };
        return IpcClient::connect(&path, &token)
            .await
            .with_context(|| format!("connecting to oqs-readerd at {}", path.display()));
    }
    let path = args
        .socket
        .clone()
        .unwrap_or_else(terminal_ipc::default_socket_path);
    let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto)
        .context("opening the OS keyring (it holds the daemon's token)")?;
    let token = IpcToken::load(&keyring).context(
        "reading the daemon's token from the OS keyring; is oqs-readerd running as this user?",
    )?;
    IpcClient::connect(&path, &token)
        .await
        .with_context(|| format!("connecting to oqs-readerd at {}", path.display()))
}

pub(crate) fn report(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oqs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}

pub fn status(args: &SocketArgs) -> ExitCode {
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            let client = connect_socket(args).await?;
            let response = client.request(Request::Status).await?;
            if let Response::Status(status) = &response {
                eprint!("{}", status_summary(status));
            }
            print_json(&response)
        })
    }))
}

/// The lines an operator reads first (on stderr, so stdout stays JSON for scripts).
fn status_summary(s: &terminal_ipc::StatusReport) -> String {
    let up = s.uptime_secs;
    let waiting = s.outbox.received + s.outbox.sending;
    format!(
        "oqs {} / {} (protocol {})\nuptime: {}d {:02}h {:02}m{}\noutbox: {waiting} waiting ({} sending), {} answered, {} failed\nlast central contact: {}\n",
        env!("CARGO_PKG_VERSION"),
        s.daemon_version,
        s.protocol,
        up / 86_400,
        up % 86_400 / 3_600,
        up % 3_600 / 60,
        s.started_at
            .as_deref()
            .map(|t| format!(" (since {t})"))
            .unwrap_or_default(),
        s.outbox.sending,
        s.outbox.answered,
        s.outbox.failed,
        s.last_central_contact
            .as_deref()
            .unwrap_or("none since start"),
    ) + &shared_store_line(s.shared_store)
}

/// The facility-wide store's line; none on a terminal with only its own store.
fn shared_store_line(link: Option<terminal_ipc::SharedStoreLink>) -> String {
    match link {
        None => String::new(),
        Some(l) if l.reachable => format!("facility server: reachable, {} pending\n", l.pending),
        Some(l) => format!(
            "facility server: UNREACHABLE (this terminal's records only), {} pending\n",
            l.pending
        ),
    }
}

pub fn checkins(args: &SocketArgs) -> ExitCode {
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            let client = connect_socket(args).await?;
            let response = client.request(Request::TodayCheckIns).await?;
            print_json(&response)
        })
    }))
}

pub fn watch(args: &WatchArgs) -> ExitCode {
    let topics: Vec<Topic> = args
        .topic
        .iter()
        .map(|t| match t {
            TopicArg::Reader => Topic::Reader,
            TopicArg::Kiosk => Topic::Kiosk,
            TopicArg::CheckIn => Topic::CheckIn,
            TopicArg::Outbox => Topic::Outbox,
            TopicArg::CentralLink => Topic::CentralLink,
            TopicArg::SharedStore => Topic::SharedStore,
        })
        .collect();
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            let client = connect_socket(&args.socket).await?;
            let mut events = client.subscribe(&topics).await?;
            eprintln!("oqs: watching events (one JSON object per line)");
            let stdout = std::io::stdout();
            while let Some(event) = events.next().await {
                let mut out = stdout.lock();
                serde_json::to_writer(&mut out, &event)?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
            bail!("the daemon closed the connection")
        })
    }))
}

pub fn kiosk(args: &KioskArgs) -> ExitCode {
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            let client = connect_socket(&args.socket).await?;
            let action = match &args.action {
                KioskCommand::Method { method } => KioskAction::ChooseMethod {
                    method: match method {
                        MethodArg::Pin => AuthMethod::Pin,
                        MethodArg::Face => AuthMethod::Face,
                        MethodArg::Visual => AuthMethod::StaffVisual,
                    },
                },
                KioskCommand::Pin => KioskAction::EnterPin { pin: read_pin()? },
                KioskCommand::Consent { answer } => {
                    let item = current_consent(&client, args.reader.as_deref()).await?;
                    KioskAction::AnswerConsent {
                        item,
                        agreed: matches!(answer, YesNo::Yes),
                    }
                }
                KioskCommand::Cancel => KioskAction::Cancel,
                KioskCommand::Continue => KioskAction::Continue,
                KioskCommand::StaffStart { account } => KioskAction::StartStaffVisualCheck {
                    session: staff_login(&client, account).await?,
                },
                KioskCommand::StaffConfirm { answer, account } => {
                    KioskAction::ConfirmStaffVisualCheck {
                        session: staff_login(&client, account).await?,
                        same_person: matches!(answer, YesNo::Yes),
                    }
                }
            };
            client
                .request(Request::Kiosk {
                    reader: args.reader.clone(),
                    action,
                })
                .await?;
            Ok(())
        })
    }))
}

/// One line from stdin: exactly 4 digits. The buffer is wiped after use.
/// Logs in as a staff account on this connection (password from stdin, one line) for a 目視確認 action; the
/// session ends with the connection.
async fn staff_login(client: &IpcClient, account: &str) -> anyhow::Result<Secret> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the staff password from stdin")?;
    let password = Secret::new(line.trim_end_matches(['\r', '\n']).to_owned());
    line.zeroize();
    match client
        .request(Request::Login {
            account: account.to_owned(),
            password,
            totp: None,
        })
        .await?
    {
        Response::LoggedIn { session, .. } => Ok(session),
        other => bail!("unexpected answer to the login: {other:?}"),
    }
}

fn read_pin() -> anyhow::Result<Pin> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the PIN from stdin")?;
    let pin = Pin::new(line.trim_end_matches(['\r', '\n']).to_owned());
    line.zeroize();
    pin.map_err(|_| anyhow::anyhow!("the PIN must be exactly 4 digits (read from stdin)"))
}

/// The consent screen on display, so `oqs kiosk consent yes` answers what the patient sees.
async fn current_consent(
    client: &IpcClient,
    reader: Option<&str>,
) -> anyhow::Result<terminal_ipc::ConsentItem> {
    let Response::Status(status) = client.request(Request::Status).await? else {
        bail!("the daemon's status answer was not a status");
    };
    let shown = status
        .readers
        .iter()
        .filter(|r| reader.is_none_or(|name| r.name == name))
        .find_map(|r| match &r.kiosk {
            KioskScreen::Consent { item } => Some(*item),
            _ => None,
        });
    shown.context("no kiosk shows a consent screen now")
}

/// `oqs unconfirmed …`: the 要再確認 list.
#[derive(Debug, Subcommand)]
pub enum UnconfirmedCommand {
    /// Every open entry and those opened in the last DAYS days, with the last scheduled re-check, as JSON.
    List {
        #[command(flatten)]
        socket: SocketArgs,
        #[arg(long)]
        days: Option<u32>,
    },
    /// Check every open entry again now, by its numbers; prints the run.
    Recheck {
        #[command(flatten)]
        socket: SocketArgs,
    },
    /// The list as CSV (UTF-8 with BOM) into OUT (default: the daemon's file name in the current folder).
    Export {
        #[command(flatten)]
        socket: SocketArgs,
        #[arg(long)]
        days: Option<u32>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn unconfirmed(cmd: &UnconfirmedCommand) -> ExitCode {
    report(runtime().and_then(|rt| {
        rt.block_on(async {
            match cmd {
                UnconfirmedCommand::List { socket, days } => {
                    let client = connect_socket(socket).await?;
                    print_json(
                        &client
                            .request(Request::UnconfirmedList { days: *days })
                            .await?,
                    )
                }
                UnconfirmedCommand::Recheck { socket } => {
                    let client = connect_socket(socket).await?;
                    print_json(&client.request(Request::RecheckUnconfirmed).await?)
                }
                UnconfirmedCommand::Export { socket, days, out } => {
                    let client = connect_socket(socket).await?;
                    let Response::Export { file_name, text } = client
                        .request(Request::ExportUnconfirmed { days: *days })
                        .await?
                    else {
                        bail!("the daemon did not answer with a file");
                    };
                    let path = out.clone().unwrap_or_else(|| PathBuf::from(&file_name));
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("oqs: wrote {}", path.display());
                    Ok(())
                }
            }
        })
    }))
}
