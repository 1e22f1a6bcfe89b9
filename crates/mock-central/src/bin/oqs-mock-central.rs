//! `oqs-mock-central`: initialise a data directory, serve it over mutual TLS, open disaster windows.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use mock_central::dates::{parse_time_arg, ymdhms};
use mock_central::server::{FaultSettings, ServeOptions, Server};
use mock_central::store::Store;

#[derive(Parser)]
#[command(
    name = "oqs-mock-central",
    version,
    about = "Mock オンライン資格確認 central service (mutual TLS)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory: synthetic population, terminal PKI, credentials.
    Init {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        population: i64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share the mock JPKI CA kept in this directory (e.g. the virtual card issuer's).
        #[arg(long)]
        jpki_ca_dir: Option<PathBuf>,
        /// Link the cards of `oqs-virtual-card issue --out DIR` (card N → person N; shares DIR's JPKI CA).
        #[arg(long)]
        cards: Option<PathBuf>,
    },
    /// Serve a data directory over mutual TLS.
    Serve {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Fault injection: latency added to every request.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Fault injection: share of requests answered with HTTP 500 (0.0–1.0).
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Fault injection: start down (HTTP 503) until changed through the admin endpoint.
        #[arg(long)]
        down: bool,
        /// Fault injection: be down for this many seconds after start.
        #[arg(long)]
        down_for_secs: Option<u64>,
        /// Seconds a bulk upload stays 処理中 before its result can be downloaded.
        #[arg(long, default_value_t = 2)]
        bulk_delay_secs: u64,
        /// Worker threads of the async runtime (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Pin the service's calendar: start at this instant (RFC 3339, yyyyMMddHHmmss or yyyyMMdd, JST)
        /// and advance in real time. Tests pin it so that no result depends on the day they run.
        #[arg(long)]
        now: Option<String>,
    },
    /// The insurer registers a person's new qualification: what was not loaded yet (該当資格なし while the
    /// data lags) is found from now on, also by a service already serving the directory.
    LoadQualifications {
        #[arg(long)]
        dir: PathBuf,
        /// The person (`population::fixtures`, e.g. 7 for the data-lag fixture; card N is person N).
        #[arg(long)]
        person: i64,
    },
    /// Every qualification of a person is withheld (not registered by the insurer yet): a card check-in or a
    /// check by numbers answers 該当資格なし until `load-qualifications`.
    WithholdQualifications {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        person: i64,
    },
    /// Disaster windows (災害時医療情報閲覧).
    Disaster {
        #[command(subcommand)]
        action: DisasterAction,
    },
}

#[derive(Subcommand)]
enum DisasterAction {
    /// Open a window for prefectures (JIS codes) and a period.
    Open {
        #[arg(long)]
        dir: PathBuf,
        /// Prefecture code(s), e.g. `--pref 17` (repeatable).
        #[arg(long = "pref", required = true)]
        prefs: Vec<u8>,
        /// Only these municipalities of the prefecture, e.g. `--municipality 鶴岡市` (repeatable; default: the
        /// whole prefectures).
        #[arg(long = "municipality")]
        municipalities: Vec<String>,
        /// Start: RFC 3339, yyyyMMddHHmmss or yyyyMMdd (JST).
        #[arg(long)]
        from: String,
        /// End: RFC 3339, yyyyMMddHHmmss or yyyyMMdd (JST; a bare date means its start).
        #[arg(long)]
        to: String,
    },
    /// List the windows.
    List {
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Init {
            dir,
            population,
            seed,
            jpki_ca_dir,
            cards,
        } => {
            let started = std::time::Instant::now();
            let info = mock_central::init::init(
                &dir,
                population,
                seed,
                &mock_central::init::InitOptions {
                    jpki_ca_dir,
                    cards_dir: cards,
                },
            )
            .with_context(|| format!("initialising {}", dir.display()))?;
            println!(
                "initialised {} with {} people (seed {}) in {:.1} s; facility {}",
                dir.display(),
                info.population,
                info.seed,
                started.elapsed().as_secs_f64(),
                info.facility_code
            );
        }
        Command::Serve {
            dir,
            listen,
            latency_ms,
            error_rate,
            down,
            down_for_secs,
            bulk_delay_secs,
            workers,
            now,
        } => {
            let clock = oqs_clock::Clock::from_setting(now.as_deref()).context("--now")?;
            if !(0.0..=1.0).contains(&error_rate) {
                bail!("--error-rate must be between 0.0 and 1.0");
            }
            let mut rt = tokio::runtime::Builder::new_multi_thread();
            rt.enable_all();
            if let Some(w) = workers {
                rt.worker_threads(w.max(1));
            }
            let rt = rt.build().context("starting the async runtime")?;
            rt.block_on(async move {
                let mut opts = ServeOptions::new(&dir, listen);
                opts.faults = FaultSettings {
                    latency_ms,
                    error_rate,
                    down,
                    down_for_secs,
                };
                opts.bulk_delay = Duration::from_secs(bulk_delay_secs);
                opts.clock = clock;
                let server = Server::start(opts)
                    .await
                    .with_context(|| format!("serving {}", dir.display()))?;
                println!(
                    "listening on https://{} (mutual TLS; Ctrl-C to stop)",
                    server.addr
                );
                tokio::signal::ctrl_c()
                    .await
                    .context("waiting for Ctrl-C")?;
                server.shutdown().await;
                anyhow::Ok(())
            })?;
        }
        Command::Disaster {
            action:
                DisasterAction::Open {
                    dir,
                    prefs,
                    municipalities,
                    from,
                    to,
                },
        } => {
            let from_t = parse_time_arg(&from).with_context(|| {
                format!("--from {from}: expected RFC 3339, yyyyMMddHHmmss or yyyyMMdd")
            })?;
            let to_t = parse_time_arg(&to).with_context(|| {
                format!("--to {to}: expected RFC 3339, yyyyMMddHHmmss or yyyyMMdd")
            })?;
            if to_t <= from_t {
                bail!("--to must be after --from");
            }
            if let Some(p) = prefs.iter().find(|p| !(1..=47).contains(*p)) {
                bail!("prefecture code {p} is not 1–47");
            }
            let store = Store::open(&dir, 1)?;
            let id = store.open_disaster_window(
                &prefs,
                &municipalities,
                &ymdhms(from_t),
                &ymdhms(to_t),
            )?;
            println!(
                "disaster window {id} open for prefecture(s) {prefs:?} {municipalities:?} from {} to {} (JST)",
                ymdhms(from_t),
                ymdhms(to_t)
            );
        }
        Command::LoadQualifications { dir, person } => {
            let loaded = Store::open(&dir, 1)?.load_pending_qualifications(person)?;
            println!("{loaded} qualification(s) of person {person} loaded");
        }
        Command::WithholdQualifications { dir, person } => {
            let withheld = Store::open(&dir, 1)?.withhold_qualifications(person)?;
            println!("{withheld} qualification(s) of person {person} withheld");
        }
        Command::Disaster {
            action: DisasterAction::List { dir },
        } => {
            let store = Store::open(&dir, 1)?;
            for w in store.disaster_windows()? {
                println!(
                    "{}\tprefectures {:?} {:?}\t{} – {}",
                    w.id, w.prefectures, w.municipalities, w.from, w.to
                );
            }
        }
    }
    Ok(())
}
