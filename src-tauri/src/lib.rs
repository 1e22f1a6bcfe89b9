//! `oqs-terminal`: the facility terminal app's shell over the reader daemon.
//!
//! A thin layer, in the GitButler style: each command takes the state, calls the daemon through
//! `terminal-ipc`, and returns the typed answer or a typed error. No card, central-service or storage logic
//! lives here. Events from the daemon are forwarded to every window as `daemon-event`; the connection's
//! state as `daemon-connection`.
//!
//! Windows: `reception` (what opens on double-click) and `kiosk` (the patient's screen at the card reader,
//! opened with `--kiosk` on its own display or from the reception window). Both load the same UI bundle,
//! which picks the screen from the URL's fragment.

mod daemon;
mod devcards;
mod error;
mod windows;

use std::time::Instant;

use serde::Serialize;
use tauri::{AppHandle, Manager, State};
use terminal_ipc::{Request, Response};

pub use daemon::{ConnectionView, DaemonLink, DaemonTarget};
pub use error::AppError;
pub use windows::{LaunchOptions, USAGE, WindowKind};

/// Facts about this app instance that the UI needs once at start.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub version: &'static str,
    /// The reader whose kiosk this instance shows (`None`: the only reader there is).
    pub kiosk_reader: Option<String>,
    /// The kiosk window starts full-screen.
    pub fullscreen: bool,
}

struct Started(Instant);

/// Sends one request to the daemon and returns its answer.
#[tauri::command]
async fn daemon_request(
    link: State<'_, DaemonLink>,
    request: Request,
) -> Result<Response, AppError> {
    link.request(request).await
}

/// Whether the daemon is reachable, and if not why and how to fix it.
#[tauri::command]
fn connection(link: State<'_, DaemonLink>) -> ConnectionView {
    link.view()
}

/// Starts the daemon's service when it is installed as one (the package's polkit rule lets the facility's
/// staff group start it).
#[tauri::command]
async fn start_daemon(link: State<'_, DaemonLink>) -> Result<(), AppError> {
    link.start_service().await
}

#[tauri::command]
fn app_info(options: State<'_, LaunchOptions>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        kiosk_reader: options.kiosk_reader.clone(),
        fullscreen: options.fullscreen,
    }
}

/// The UI calls this once its first screen shows live data; the answer is the time since the process
/// started, in milliseconds (the start-to-interactive figure).
#[tauri::command]
fn mark_interactive(started: State<'_, Started>) -> u64 {
    let ms = u64::try_from(started.0.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(ms, "interactive");
    ms
}

/// Opens the kiosk screen in a window of its own (for a second display at the card reader).
#[tauri::command]
fn open_kiosk_window(app: AppHandle) -> Result<(), AppError> {
    windows::open(&app, WindowKind::Kiosk, false)
}

/// The readiness check (導入準備チェック): runs the installed `oqs doctor --json` (the same check as on the
/// command line, against the daemon's configuration: `--config`, `$OQS_CONFIG` or the packaged default) and
/// returns its report.
#[tauri::command]
async fn readiness(options: State<'_, LaunchOptions>) -> Result<serde_json::Value, AppError> {
    let program = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("oqs")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| std::path::PathBuf::from("oqs"));
    let config = options
        .config
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("/etc/oqs/oqs-readerd.toml"));
    let output = tokio::process::Command::new(program)
        .args(["doctor", "--json", "--config"])
        .arg(config)
        .output()
        .await
        .map_err(|e| AppError::Shell {
            message: format!("oqs doctor: {e}"),
        })?;
    serde_json::from_slice(&output.stdout).map_err(|_| AppError::Shell {
        message: format!(
            "oqs doctor did not report: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    })
}

/// Developer-only: the virtual card profiles (`None` unless `make demo` enabled the panel).
#[tauri::command]
fn dev_cards(cards: State<'_, devcards::DevCards>) -> Option<Vec<devcards::DevCard>> {
    cards.list()
}

#[tauri::command]
async fn dev_insert_card(
    cards: State<'_, devcards::DevCards>,
    file: String,
) -> Result<(), AppError> {
    cards.insert(&file).await
}

#[tauri::command]
async fn dev_remove_card(cards: State<'_, devcards::DevCards>) -> Result<(), AppError> {
    cards.remove().await
}

/// Runs the app until its last window closes.
pub fn run(options: LaunchOptions, target: DaemonTarget) -> Result<(), AppError> {
    let started = Started(Instant::now());
    tauri::Builder::default()
        .manage(started)
        .manage(options.clone())
        .manage(DaemonLink::new(target))
        .manage(devcards::DevCards::from_env())
        .invoke_handler(tauri::generate_handler![
            daemon_request,
            connection,
            start_daemon,
            app_info,
            mark_interactive,
            open_kiosk_window,
            readiness,
            dev_cards,
            dev_insert_card,
            dev_remove_card,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            app.state::<DaemonLink>().spawn_connector(handle.clone());
            windows::open(&handle, options.window, options.fullscreen)?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .map_err(|e| AppError::Shell {
            message: e.to_string(),
        })
}
