//! The app's two windows and how the process was asked to start.

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

use crate::daemon::DaemonLinks;
use crate::error::AppError;

/// Which screen a window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// The reception window (what a double-click opens).
    Reception,
    /// The patient's screen at the card reader.
    Kiosk,
}

impl WindowKind {
    /// The window's label, which is also how the shell tells the calling window apart: Tauri fills it in
    /// from the webview that invoked a command, so a window cannot claim to be another.
    pub fn label(self) -> &'static str {
        match self {
            WindowKind::Reception => "reception",
            WindowKind::Kiosk => "kiosk",
        }
    }
}

/// The command line: `oqs-terminal [--kiosk] [--fullscreen] [--reader NAME] [--socket PATH] [--token-file PATH] [--config FILE]`.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub window: WindowKind,
    pub fullscreen: bool,
    /// The reader whose kiosk to show (`--reader`, else `$OQS_KIOSK_READER`).
    pub kiosk_reader: Option<String>,
    /// The daemon's socket (`--socket`, else `$OQS_SOCKET`, else the default).
    pub socket: Option<std::path::PathBuf>,
    /// The daemon's token file (`--token-file`, else `$OQS_TOKEN_FILE`, else the OS keyring).
    pub token_file: Option<std::path::PathBuf>,
    /// The daemon's configuration for the readiness check (`--config`, else `$OQS_CONFIG`, else the
    /// packaged `/etc/oqs/oqs-readerd.toml`).
    pub config: Option<std::path::PathBuf>,
}

/// The usage line printed with an argument error.
pub const USAGE: &str = "usage: oqs-terminal [--kiosk] [--fullscreen] [--reader NAME] [--socket PATH] [--token-file PATH] [--config FILE]";

impl LaunchOptions {
    /// Reads the arguments; unknown ones are an error with the usage line.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = LaunchOptions {
            window: WindowKind::Reception,
            fullscreen: false,
            kiosk_reader: std::env::var("OQS_KIOSK_READER")
                .ok()
                .filter(|r| !r.is_empty()),
            socket: None,
            token_file: None,
            config: std::env::var_os("OQS_CONFIG")
                .filter(|c| !c.is_empty())
                .map(Into::into),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--kiosk" => options.window = WindowKind::Kiosk,
                "--fullscreen" => options.fullscreen = true,
                "--reader" => match args.next() {
                    Some(name) => options.kiosk_reader = Some(name),
                    None => return Err("--reader needs a reader name".into()),
                },
                "--socket" => match args.next() {
                    Some(path) => options.socket = Some(path.into()),
                    None => return Err("--socket needs a path".into()),
                },
                "--config" => match args.next() {
                    Some(path) => options.config = Some(path.into()),
                    None => return Err("--config needs a file".into()),
                },
                "--token-file" => match args.next() {
                    Some(path) => options.token_file = Some(path.into()),
                    None => return Err("--token-file needs a path".into()),
                },
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(options)
    }
}

/// Opens (or brings forward) a window of this kind, with its own connection to the daemon (closed with the
/// window).
pub fn open(app: &AppHandle, kind: WindowKind, fullscreen: bool) -> Result<(), AppError> {
    if let Some(existing) = app.get_webview_window(kind.label()) {
        existing.set_focus()?;
        return Ok(());
    }
    let (url, title, size) = match kind {
        WindowKind::Reception => ("index.html", "オンライン資格確認 受付", (1280.0, 800.0)),
        WindowKind::Kiosk => (
            "index.html#kiosk",
            "マイナ保険証 受付 (患者用画面)",
            (1024.0, 768.0),
        ),
    };
    WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::App(url.into()))
        .title(title)
        .inner_size(size.0, size.1)
        .min_inner_size(800.0, 600.0)
        .fullscreen(fullscreen)
        .build()?;
    app.state::<DaemonLinks>().attach(kind.label(), kind);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LaunchOptions, String> {
        LaunchOptions::parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn arguments_choose_the_window() {
        let reception = parse(&[]).unwrap();
        assert_eq!(reception.window, WindowKind::Reception);
        assert!(!reception.fullscreen);
        let kiosk = parse(&["--kiosk", "--fullscreen", "--reader", "Reader A"]).unwrap();
        assert_eq!(kiosk.window, WindowKind::Kiosk);
        assert!(kiosk.fullscreen);
        assert_eq!(kiosk.kiosk_reader.as_deref(), Some("Reader A"));
        let daemon = parse(&["--socket", "/run/x.sock", "--token-file", "/run/t"]).unwrap();
        assert_eq!(
            daemon.socket.as_deref(),
            Some(std::path::Path::new("/run/x.sock"))
        );
        assert_eq!(
            daemon.token_file.as_deref(),
            Some(std::path::Path::new("/run/t"))
        );
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        assert!(parse(&["--reader"]).unwrap_err().contains("reader name"));
        assert!(parse(&["--colour"]).unwrap_err().contains("--colour"));
        assert!(parse(&["--socket"]).unwrap_err().contains("path"));
    }
}
