//! `oqs-terminal`: the facility terminal app's shell over the reader daemon.
//!
//! A thin layer, in the GitButler style: each command takes the state, calls the daemon through
//! `terminal-ipc`, and returns the typed answer or a typed error. No card, central-service or storage logic
//! lives here. Each window has its own connection to the daemon ([`daemon`]), chosen from the calling window's
//! label; events and the connection's state reach a window over the channel it passes to `daemon_events`.
//!
//! Windows: `reception` (what opens on double-click) and `kiosk` (the patient's screen at the card reader,
//! opened with `--kiosk` on its own display or from the reception window). Both load the same UI bundle,
//! which picks the screen from the URL's fragment. The kiosk window's connection has the daemon's kiosk
//! scope (its reader's screen and the patient's answers only), and the shell's own staff commands (readiness
//! check, starting the service, developer cards) refuse it.

mod daemon;
mod devcards;
mod error;
pub mod speech;
mod windows;

use std::time::Instant;

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State, WebviewWindow};
use terminal_ipc::{Request, Response};

pub use daemon::{ConnectionView, DaemonLinks, DaemonTarget, WindowMessage};
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

/// Refuses the shell's staff commands to any window but reception (the kiosk is the patient's).
fn staff_window(window: &WebviewWindow, links: &DaemonLinks) -> Result<(), AppError> {
    match links.of(window.label())?.kind() {
        WindowKind::Reception => Ok(()),
        WindowKind::Kiosk => Err(AppError::Forbidden {
            message: "the patient's kiosk window".to_owned(),
        }),
    }
}

/// Sends one request to the daemon over the calling window's own connection and returns its answer.
#[tauri::command]
async fn daemon_request(
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
    request: Request,
) -> Result<Response, AppError> {
    let link = links.of(window.label())?;
    link.request(request).await
}

/// Whether the calling window's connection is up, and if not why and how to fix it.
#[tauri::command]
fn connection(
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
) -> Result<ConnectionView, AppError> {
    Ok(links.of(window.label())?.view())
}

/// Where the calling window wants its daemon events and connection changes.
#[tauri::command]
fn daemon_events(
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
    channel: Channel<WindowMessage>,
) -> Result<(), AppError> {
    links.of(window.label())?.set_channel(channel);
    Ok(())
}

/// Starts the daemon's service when it is installed as one (the package's polkit rule lets the facility's
/// staff group start it).
#[tauri::command]
async fn start_daemon(
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
) -> Result<(), AppError> {
    staff_window(&window, &links)?;
    daemon::start_service().await
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
fn open_kiosk_window(
    app: AppHandle,
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
) -> Result<(), AppError> {
    staff_window(&window, &links)?;
    windows::open(&app, WindowKind::Kiosk, false)
}

/// The readiness check (導入準備チェック): runs the installed `oqs doctor --json` (the same check as on the
/// command line, against the daemon's configuration: `--config`, `$OQS_CONFIG` or the packaged default) and
/// returns its report.
#[tauri::command]
async fn readiness(
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
    options: State<'_, LaunchOptions>,
) -> Result<serde_json::Value, AppError> {
    staff_window(&window, &links)?;
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

/// Saves one of the viewer's forms as an A4 PDF (the access report's PDF path, font embedded) in the forms
/// folder (`$OQS_FORMS_DIR`, else `OQS帳票` in the user's documents folder) and returns the file's path. The
/// view itself was audited by the daemon when it was shown; the file holds what the screen showed.
#[tauri::command]
async fn save_form_pdf(
    app: AppHandle,
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
    form: audit_report::form::FormDocument,
    name: String,
) -> Result<String, AppError> {
    staff_window(&window, &links)?;
    let shell = |message: String| AppError::Shell { message };
    let dir = forms_dir(&app)?;
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)
            .map_err(|e| shell(format!("cannot create {}: {e}", dir.display())))?;
        let font = audit_report::find_cjk_font()
            .ok_or_else(|| shell(audit_report::ReportError::NoFont.to_string()))?;
        let stem: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let path = (1..10_000)
            .map(|n| dir.join(format!("{stem}-{n}.pdf")))
            .find(|p| !p.exists())
            .ok_or_else(|| shell(format!("{} is full", dir.display())))?;
        audit_report::form::write_form_pdf(&form, &font, &path)
            .map_err(|e| shell(e.to_string()))?;
        Ok(path.display().to_string())
    })
    .await
    .map_err(|e| shell(e.to_string()))?
}

/// The forms folder: `$OQS_FORMS_DIR`, else `OQS帳票` in the user's documents folder.
fn forms_dir(app: &AppHandle) -> Result<std::path::PathBuf, AppError> {
    match std::env::var_os("OQS_FORMS_DIR") {
        Some(d) => Ok(std::path::PathBuf::from(d)),
        None => Ok(app
            .path()
            .document_dir()
            .map_err(|e| AppError::Shell {
                message: format!("no documents folder: {e}"),
            })?
            .join("OQS帳票")),
    }
}

/// Saves a file the daemon made for staff (the 要再確認 list as CSV) in the forms folder, under the daemon's
/// name with anything that could leave the folder removed; an existing file is not overwritten (`-2`, `-3`, …
/// before the extension). Returns the file's path.
#[tauri::command]
async fn save_export(
    app: AppHandle,
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
    name: String,
    text: String,
) -> Result<String, AppError> {
    staff_window(&window, &links)?;
    let shell = |message: String| AppError::Shell { message };
    let dir = forms_dir(&app)?;
    let safe: String = name
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
        })
        .collect();
    let safe = safe.trim_start_matches('.').to_owned();
    let (stem, ext) = match safe.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_owned(), format!(".{e}")),
        _ => (safe.clone(), String::new()),
    };
    if stem.is_empty() {
        return Err(shell(format!("not a file name: {name:?}")));
    }
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)
            .map_err(|e| shell(format!("cannot create {}: {e}", dir.display())))?;
        let path = std::iter::once(dir.join(format!("{stem}{ext}")))
            .chain((2..10_000).map(|n| dir.join(format!("{stem}-{n}{ext}"))))
            .find(|p| !p.exists())
            .ok_or_else(|| shell(format!("{} is full", dir.display())))?;
        std::fs::write(&path, text.as_bytes())
            .map_err(|e| shell(format!("cannot write {}: {e}", path.display())))?;
        Ok(path.display().to_string())
    })
    .await
    .map_err(|e| shell(e.to_string()))?
}

/// Speaks a kiosk message: `text` is catalogue wording (ruby markup allowed, removed before speaking), `lang`
/// the kiosk's language tag. The answer is the WAV's bytes (an `ArrayBuffer` in the page), made on this PC by
/// Open JTalk or espeak-ng ([`speech`]); `no_voice` when the language has none. Either window may ask: it
/// reaches nothing but the synthesizer.
#[tauri::command]
async fn speak(
    synthesizers: State<'_, speech::Synthesizers>,
    text: String,
    lang: String,
) -> Result<tauri::ipc::Response, AppError> {
    let wav = synthesizers.speak(&text, &lang).await?;
    Ok(tauri::ipc::Response::new(wav))
}

/// Developer-only: the virtual card profiles (`None` unless `make demo` enabled the panel).
#[tauri::command]
fn dev_cards(
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
    cards: State<'_, devcards::DevCards>,
) -> Result<Option<Vec<devcards::DevCard>>, AppError> {
    staff_window(&window, &links)?;
    Ok(cards.list())
}

#[tauri::command]
async fn dev_insert_card(
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
    cards: State<'_, devcards::DevCards>,
    file: String,
) -> Result<(), AppError> {
    staff_window(&window, &links)?;
    cards.insert(&file).await
}

#[tauri::command]
async fn dev_remove_card(
    window: WebviewWindow,
    links: State<'_, DaemonLinks>,
    cards: State<'_, devcards::DevCards>,
) -> Result<(), AppError> {
    staff_window(&window, &links)?;
    cards.remove().await
}

/// Runs the app until its last window closes.
pub fn run(options: LaunchOptions, target: DaemonTarget) -> Result<(), AppError> {
    let started = Started(Instant::now());
    tauri::Builder::default()
        .manage(started)
        .manage(options.clone())
        .manage(DaemonLinks::new(target, options.kiosk_reader.clone()))
        .manage(devcards::DevCards::from_env())
        .manage(speech::Synthesizers::default())
        .invoke_handler(tauri::generate_handler![
            daemon_request,
            connection,
            daemon_events,
            start_daemon,
            app_info,
            mark_interactive,
            open_kiosk_window,
            readiness,
            save_form_pdf,
            save_export,
            speak,
            dev_cards,
            dev_insert_card,
            dev_remove_card,
        ])
        .setup(move |app| {
            windows::open(app.handle(), options.window, options.fullscreen)?;
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::Destroyed = event {
                window.state::<DaemonLinks>().detach(window.label());
            }
        })
        .run(tauri::generate_context!())
        .map_err(|e| AppError::Shell {
            message: e.to_string(),
        })
}
