//! `oqs-readerd --config FILE`: the facility terminal's reader daemon.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use reader_daemon::checkin::CheckinService;
use reader_daemon::config::Config;
use reader_daemon::ipc::{DaemonHandler, link_view, outbox_counts};
use reader_daemon::relay::Relay;
use reader_daemon::station::{Station, StationSettings};

#[cfg(windows)]
mod windows_service;

#[derive(Parser)]
#[command(
    name = "oqs-readerd",
    version,
    about = "The facility terminal's reader daemon"
)]
struct Args {
    /// The configuration file (see oqs-readerd.example.toml).
    #[arg(long, short)]
    config: PathBuf,
    /// Check the configuration and exit: 0 when it is valid.
    #[arg(long)]
    check_config: bool,
    /// Windows: run under the service control manager (the installed service's command line).
    #[cfg(windows)]
    #[arg(long)]
    service: bool,
    /// Create the first administrator account and exit. Asks for the password on the terminal (or reads two
    /// lines, password and confirmation, from stdin when it is not a terminal); never on the command line.
    #[arg(long, value_name = "ACCOUNT")]
    create_admin: Option<String>,
    /// The administrator's display name (with --create-admin).
    #[arg(long, value_name = "NAME", requires = "create_admin")]
    display_name: Option<String>,
}

fn main() -> ExitCode {
    // Reads FAILPOINTS when built with the `failpoints` feature (the fault-injection tests); a no-op otherwise.
    let _crash_points = reader_daemon::__fail::FailScenario::setup();
    let args = Args::parse();
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("oqs-readerd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        println!(
            "oqs-readerd: configuration `{}` is valid",
            args.config.display()
        );
        return ExitCode::SUCCESS;
    }
    if let Some(login) = &args.create_admin {
        return match create_admin(&config, login, args.display_name.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("oqs-readerd: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    #[cfg(windows)]
    if args.service {
        return match windows_service::run_as_service(args.config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("oqs-readerd: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if run_blocking(config) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The Windows service's log file, relative to the configuration's folder.
#[cfg(windows)]
const SERVICE_LOG: &str = "logs/oqs-readerd.log";

/// The Windows service's body: the daemon with the configuration at `path`; the process exit code.
#[cfg(windows)]
fn run_service(path: &std::path::Path) -> u32 {
    match Config::load(path) {
        Ok(config) => {
            // A service's stderr goes nowhere: `logs\oqs-readerd.log` beside the configuration instead.
            let log = config.resolve(std::path::Path::new(SERVICE_LOG));
            if let Err(e) = reader_daemon::logging::init_file(&log) {
                eprintln!("oqs-readerd: cannot write the log {}: {e}", log.display());
            }
            u32::from(!run_blocking(config))
        }
        Err(e) => {
            eprintln!("oqs-readerd: {e}");
            2
        }
    }
}

/// The card readers: PC/SC, or (a test build with `readers.virtual_dir`) a folder of virtual readers.
fn card_source(config: &Config) -> reader_daemon::card_driver::CardSource {
    #[cfg(feature = "virtual-reader")]
    if let Some(dir) = &config.readers.virtual_dir {
        tracing::warn!(
            "test build: the card readers are the folders of readers.virtual_dir, not PC/SC"
        );
        return reader_daemon::card_driver::CardSource::Virtual(
            reader_daemon::virtual_reader::VirtualReaders::new(config.resolve(dir)),
        );
    }
    let _ = config;
    reader_daemon::card_driver::CardSource::Pcsc
}

/// Runs the daemon until it is asked to stop; `false` when it stopped on an error (logged).
fn run_blocking(config: Config) -> bool {
    reader_daemon::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oqs-readerd: cannot start the async runtime: {e}");
            return false;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("oqs-readerd: {e:#}");
            false
        }
    }
}

fn open_store(
    config: &Config,
    keyring: &os_keyring::Keyring,
) -> anyhow::Result<facility_store::Store> {
    let store_path = config.resolve(&config.store.path);
    if let Some(dir) = store_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key_file = config.store.key_file.as_ref().map(|f| config.resolve(f));
    let store = facility_store::Store::open_configured(
        &store_path,
        key_file.as_deref(),
        &config.store.key_secret,
        Some(keyring),
    )
    .with_context(|| format!("opening the store {}", store_path.display()))?
    .with_lockout_policy(config.accounts.lockout_policy())
    .with_clock(config.clock());
    let Some(shared) = config.shared_store()? else {
        return Ok(store);
    };
    tracing::info!(
        terminal_id = shared.terminal_id,
        "using the facility-wide store"
    );
    store.with_shared(shared).context("[store] shared")
}

/// The start-up check of the audit log's head against its copies outside the database. A database older
/// than its head file or keyring copy was rolled back or put back from an old copy: the daemon refuses to
/// run on it (every access it logged since would be lost without a trace) until an administrator restores a
/// backup on purpose with `oqs store restore`, which records the restore in the log.
fn check_audit_heads(store: &facility_store::Store) -> anyhow::Result<()> {
    let found = store
        .check_audit_heads()
        .context("checking the audit log's head")?;
    if let facility_store::ChainVerdict::Broken(b) = found.verdict() {
        anyhow::bail!(
            "refusing to start: the audit log of {} cannot be trusted: {}. If a backup was restored on \
             purpose, restore it with `oqs store restore --config FILE BACKUP` (it records the restore); \
             otherwise keep the files as they are for inspection and see docs/operations.md",
            store.path().display(),
            b.problem
        );
    }
    for note in found.notes() {
        tracing::warn!("audit log: {note}");
    }
    Ok(())
}

/// `--create-admin`: the first administrator, set up before the daemon runs for the first time.
fn create_admin(config: &Config, login: &str, display_name: Option<&str>) -> anyhow::Result<()> {
    let keyring =
        os_keyring::Keyring::open(os_keyring::Backend::Auto).context("opening the OS keyring")?;
    let store = open_store(config, &keyring)?;
    let password = read_secret(&format!("Password for the administrator `{login}`: "))?;
    let again = read_secret("The same password again: ")?;
    if *password != *again {
        anyhow::bail!("the two passwords differ; nothing was created");
    }
    let account = reader_daemon::accounts::create_first_admin(
        &store,
        login,
        display_name.unwrap_or(login),
        &password,
    )?;
    println!(
        "oqs-readerd: administrator `{}` created; log in and enrol a one-time password",
        account.login
    );
    Ok(())
}

/// A password from the terminal without echo, or one line of stdin when stdin is not a terminal (set-up
/// scripts). Wiped when dropped.
fn read_secret(prompt: &str) -> anyhow::Result<zeroize::Zeroizing<String>> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        return Ok(zeroize::Zeroizing::new(
            rpassword::prompt_password(prompt).context("reading the password")?,
        ));
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let trimmed = zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
    Ok(trimmed)
}

async fn run(config: Config) -> anyhow::Result<()> {
    let keyring =
        os_keyring::Keyring::open(os_keyring::Backend::Auto).context("opening the OS keyring")?;
    let store = Arc::new(open_store(&config, &keyring)?);
    check_audit_heads(&store)?;
    let passphrase = match &config.central.key_passphrase_secret {
        Some(name) => Some(
            keyring
                .get(name)
                .context("reading the terminal key's passphrase from the OS keyring")?
                .with_context(|| {
                    format!("the OS keyring has no secret `{name}` (terminal key passphrase)")
                })?,
        ),
        None => None,
    };
    let central = central_client::CentralClient::new(
        &config.central_config()?,
        passphrase.as_ref().map(|p| p.expose()),
    )?;
    let relay = Relay::new(
        config.relay_folders(),
        config.relay_settings(),
        store.clone(),
        central.clone(),
    );
    // A 閲覧用端末 has no receipt-computer folders: it neither makes nor watches them.
    let viewer = config.is_viewer();
    if !viewer {
        relay
            .recover()
            .context("recovering the relay after the last run")?;
    }

    // The local socket first, so clients can connect as soon as the daemon says it started.
    let group = config.ipc_group_id()?;
    let token = match &config.ipc.token_file {
        Some(file) => reader_daemon::ipc::write_token_file(&config.resolve(file), group)
            .context("writing the local socket's token file")?,
        None => terminal_ipc::IpcToken::load_or_create(&keyring)
            .context("reading the local socket's token from the OS keyring")?,
    };
    let socket = config.resolve(&config.ipc.socket);
    let mut server_config = terminal_ipc::ServerConfig::new(socket.clone(), token);
    #[cfg(unix)]
    {
        server_config.policy.group = group;
    }
    #[cfg(windows)]
    {
        server_config.group_sid = config.ipc_group_sid()?;
    }
    server_config.server_name = format!("oqs-readerd {}", env!("CARGO_PKG_VERSION"));
    let server = terminal_ipc::IpcServer::bind(server_config)
        .await
        .with_context(|| format!("opening the local socket {}", socket.display()))?;
    let events = server.publisher();

    let service = CheckinService::new(
        central.clone(),
        store.clone(),
        relay.folders().face.clone(),
        config.facility.medical_institution_code.clone(),
        relay.encoding(),
        events.clone(),
    );
    // Before any check-in can start: finish the deliveries a crash interrupted.
    if !viewer {
        service
            .recover()
            .context("recovering the check-ins a crash interrupted")?;
    }
    let face = face_runtime(&config);
    let card_source = card_source(&config);
    let (station, station_handle) = Station::new(
        StationSettings {
            inactivity_timeout: Duration::from_secs(config.kiosk.inactivity_timeout_secs.max(1)),
            countdown: Duration::from_secs(config.kiosk.countdown_secs),
            display: config.kiosk.display(),
            max_face_attempts: config.kiosk.max_face_attempts,
            pools: config.kiosk.kiosk_pools(),
            cards: card_source.clone(),
            face_capable: if face.is_some() {
                config.readers.face_capable.clone()
            } else {
                Vec::new()
            },
            face,
        },
        service.clone(),
        events.clone(),
    );
    // No reader on a 閲覧用端末 (an empty `readers.names` would mean every reader).
    let _monitor = if viewer {
        None
    } else {
        Some(
            reader_daemon::card_driver::start_monitor(
                &card_source,
                config.readers.names.clone(),
                station_handle.card_sink(),
            )
            .context("starting the card reader monitor")?,
        )
    };
    // The environment settings before the first card, so its consent screens are the facility's.
    if !viewer {
        let service = service.clone();
        tokio::spawn(async move {
            let _ = service
                .consent_screens(&reader_daemon::kiosk::KioskConfig::default().consent_screens)
                .await;
        });
    }
    let station_task = tokio::spawn(station.run());
    // Check-ins kept during an outage and the 要再確認 list are a reception terminal's work.
    let pending_task = (!viewer).then(|| {
        tokio::spawn(
            service
                .clone()
                .run_pending(Duration::from_millis(config.central.probe_interval_ms)),
        )
    });
    let events_task = tokio::spawn(forward_events(
        relay.clone(),
        central.clone(),
        store.clone(),
        events.clone(),
    ));
    let accounts = Arc::new(reader_daemon::accounts::Accounts::new(
        store.clone(),
        config.accounts.clone(),
    ));
    let views = Arc::new(reader_daemon::emergency::SpecialViews {
        accounts: accounts.clone(),
        store: store.clone(),
        central: central.clone(),
        station: station_handle.clone(),
    });
    let reception = Arc::new(reader_daemon::reception::Reception::new(
        store.clone(),
        central.clone(),
        accounts.clone(),
        config.facility.medical_institution_code.clone(),
        service.clone(),
    ));
    let recheck_task = (!viewer).then(|| {
        tokio::spawn(
            reception
                .clone()
                .run_rechecks(config.recheck.clone(), Duration::from_secs(20)),
        )
    });
    let handler = Arc::new(DaemonHandler {
        station: station_handle,
        store: store.clone(),
        central: central.clone(),
        started: Instant::now(),
        started_at: store.clock().now(),
        accounts,
        views,
        reception,
        role: config.terminal.role,
    });
    if store.shared_status().is_some() {
        tokio::spawn(announce_shared_link(store.clone(), events.clone()));
    }
    if let Some(feed) = store.shared_check_ins_feed() {
        tokio::spawn(forward_shared_check_ins(
            feed,
            store.clone(),
            events.clone(),
        ));
    }
    let (stop_ipc, ipc_stopped) = tokio::sync::oneshot::channel::<()>();
    let ipc_task = tokio::spawn(server.serve(handler, async move {
        let _ = ipc_stopped.await;
    }));

    if store.clock().is_pinned() {
        tracing::warn!(
            now = %oqs_clock::format_jst(store.clock().now()),
            "[clock] pinned: this daemon's calendar is fixed for testing; remove it on a terminal in use"
        );
    }
    if viewer {
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            "oqs-readerd started as a 閲覧用端末 (viewer): no reader, no folders"
        );
    } else {
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            req = %relay.folders().req.display(),
            "oqs-readerd started"
        );
    }

    // Probe the link while it is down (and once at start); wake the relay when it comes back.
    let probe = tokio::spawn(link_probe(
        central.clone(),
        relay.clone(),
        Duration::from_millis(config.central.probe_interval_ms),
    ));
    let relay_task = tokio::spawn(async move {
        if viewer {
            std::future::pending().await
        } else {
            relay.run().await
        }
    });

    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
        () = stop_requested()? => tracing::info!("asked to stop; stopping"),
        outcome = relay_task => {
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e).context("the relay stopped"),
                Err(e) => anyhow::bail!("the relay task failed: {e}"),
            }
        }
    }
    probe.abort();
    let _ = stop_ipc.send(());
    let _ = ipc_task.await;
    station_task.abort();
    for task in [pending_task, recheck_task].into_iter().flatten() {
        task.abort();
    }
    events_task.abort();
    Ok(())
}

/// Completes when the service manager asks the daemon to stop: SIGTERM from systemd, or the Windows
/// service control manager's Stop (see [`reader_daemon::windows_service`]).
fn stop_requested() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("installing the SIGTERM handler")?;
        Ok(async move {
            terminate.recv().await;
        })
    }
    #[cfg(windows)]
    {
        Ok(windows_service::stop_requested())
    }
}

/// Outbox and central-link changes to the socket's subscribers.
async fn forward_events(
    relay: Relay,
    central: central_client::CentralClient,
    store: Arc<facility_store::Store>,
    events: terminal_ipc::EventPublisher,
) {
    let mut relay_events = relay.subscribe();
    let mut link = central.link();
    loop {
        tokio::select! {
            received = relay_events.recv() => {
                if matches!(received, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    break;
                }
                let store = store.clone();
                if let Ok(Ok(counts)) = tokio::task::spawn_blocking(move || outbox_counts(&store)).await {
                    events.publish(terminal_ipc::Event::Outbox { counts });
                }
            }
            changed = link.changed() => {
                if changed.is_err() {
                    break;
                }
                let view = link_view(&link.borrow_and_update());
                events.publish(terminal_ipc::Event::CentralLink { link: view });
            }
        }
    }
}

/// Probes the central service every `interval` while it is down (to resend as soon as it is back), and every
/// ten intervals while it is up and idle, so reception sees an outage before the next patient does.
async fn link_probe(central: central_client::CentralClient, relay: Relay, interval: Duration) {
    let mut link = central.link();
    let idle_interval = (interval * 10).min(Duration::from_secs(60));
    loop {
        let was_up = link.borrow_and_update().is_up();
        let quiet = central
            .last_contact()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|since| since >= idle_interval);
        if !was_up || quiet {
            match central.probe().await {
                Ok(rtt) if !was_up => {
                    tracing::info!(
                        round_trip_ms = rtt.as_millis() as u64,
                        "central service reachable"
                    );
                    relay.wake();
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "central service unreachable"),
            }
        }
        let wait = if was_up { idle_interval } else { interval };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = link.changed() => {}
        }
    }
}

/// The face path, when a face-capable reader and a camera are configured and the models and the reader key
/// load. Without it the kiosk offers PIN and staff visual check only, and says why in the log.
fn face_runtime(
    config: &reader_daemon::config::Config,
) -> Option<std::sync::Arc<reader_daemon::face::FaceRuntime>> {
    use reader_daemon::face::{FaceRuntime, ReaderSigner};
    let f = &config.face;
    if config.readers.face_capable.is_empty() {
        return None;
    }
    if f.camera.is_empty() {
        tracing::warn!("readers.face_capable is set but face.camera is not: face matching is off");
        return None;
    }
    let setup = || -> Result<FaceRuntime, reader_daemon::face::FaceSetupError> {
        let camera = f.camera.parse()?;
        let models = if f.models.as_os_str().is_empty() {
            face_match::models::find_model_dir()?
        } else {
            config.resolve(&f.models)
        };
        let started = std::time::Instant::now();
        let matcher = face_match::FaceMatcher::load(&models)?;
        tracing::info!(
            models = %models.display(),
            ms = started.elapsed().as_millis() as u64,
            "face models loaded"
        );
        let signer = ReaderSigner::load(&f.reader_id, &config.resolve(&f.reader_key))?;
        Ok(FaceRuntime {
            matcher,
            camera,
            frames_per_attempt: f.frames_per_attempt.max(1),
            frame_interval: Duration::from_millis(f.frame_interval_ms),
            signer,
        })
    };
    match setup() {
        Ok(runtime) => Some(std::sync::Arc::new(runtime)),
        Err(e) => {
            tracing::warn!(error = %e, "face matching is off");
            None
        }
    }
}

/// Check-ins of the other terminals (announced by the facility-wide store) go to this terminal's
/// subscribers as they happen, like its own.
async fn forward_shared_check_ins(
    mut feed: tokio::sync::broadcast::Receiver<String>,
    store: Arc<facility_store::Store>,
    events: terminal_ipc::EventPublisher,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let id = match feed.recv().await {
            Ok(id) => id,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "facility-wide check-in notices dropped");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let store = store.clone();
        let records = tokio::task::spawn_blocking(move || {
            let rows: Vec<_> = store.check_in(&id)?.into_iter().collect();
            reader_daemon::reception::reception_records(&store, &rows)
        })
        .await;
        match records {
            Ok(Ok(records)) => {
                for check_in in records {
                    events.publish(terminal_ipc::Event::CheckIn { check_in });
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "reading another terminal's check-in"),
            Err(e) => tracing::warn!(error = %e, "reading another terminal's check-in"),
        }
    }
}

/// Tells subscribers (the reception windows' banner) when the facility-wide store comes and goes. The link
/// state is the store's own in-memory flag, so looking at it twice a second costs nothing.
async fn announce_shared_link(
    store: Arc<facility_store::Store>,
    events: terminal_ipc::EventPublisher,
) {
    let mut last: Option<facility_store::SharedStatus> = None;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tick.tick().await;
        let Some(now) = store.shared_status() else {
            return;
        };
        if last != Some(now) {
            last = Some(now);
            events.publish(terminal_ipc::Event::SharedStore {
                link: terminal_ipc::SharedStoreLink {
                    reachable: now.reachable,
                    pending: now.pending,
                },
            });
        }
    }
}
