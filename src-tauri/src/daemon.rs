//! The links to the reader daemon: one connection per window, kept open and re-opened when it drops, over
//! which that window's requests go and its events come back.
//!
//! Each window has its own connection because the daemon binds login sessions and scopes to a connection: a
//! staff login in the reception window is not usable from the patient's kiosk window, and the kiosk window's
//! connection is opened with the kiosk scope, so the daemon refuses it anything but the kiosk's own screen and
//! answers. The connection is chosen from the calling window's label, which the webview cannot forge, never
//! from an argument. Events reach a window only through the channel it handed to `daemon_events`, which Tauri
//! delivers to that webview alone (an `emit` would reach every webview's listeners).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tauri::ipc::Channel;
use terminal_ipc::{
    ClientOptions, Event, IpcClient, IpcError, IpcToken, Request, Response, Scope, Topic,
};
use tokio::sync::RwLock;

use crate::error::AppError;
use crate::windows::WindowKind;

/// How long to wait before trying the daemon again after a failed connection.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// The systemd unit the package installs.
const SERVICE_UNIT: &str = "oqs-readerd.service";
/// The socket and token file of the packaged service (`installer/debian/oqs-readerd.toml`).
const PACKAGED_SOCKET: &str = "/run/oqs/ipc/readerd.sock";
const PACKAGED_TOKEN: &str = "/run/oqs/ipc/token";

/// Where the daemon listens and where its token is.
#[derive(Debug, Clone)]
pub struct DaemonTarget {
    pub socket: PathBuf,
    /// The token file of a daemon running as a system service (`[ipc] token_file`); `None`: the OS keyring.
    pub token_file: Option<PathBuf>,
}

impl DaemonTarget {
    /// `$OQS_SOCKET` (else the platform's default path) and `$OQS_TOKEN_FILE`, else the packaged service's
    /// token file when it is readable, else the keyring.
    pub fn from_env() -> Self {
        let socket = std::env::var_os("OQS_SOCKET")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let token_file = std::env::var_os("OQS_TOKEN_FILE")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let packaged = PathBuf::from(PACKAGED_TOKEN);
        let (socket, token_file) = match (socket, token_file) {
            (Some(socket), token_file) => (socket, token_file),
            (None, Some(token_file)) => (terminal_ipc::default_socket_path(), Some(token_file)),
            (None, None) if std::fs::File::open(&packaged).is_ok() => {
                (PathBuf::from(PACKAGED_SOCKET), Some(packaged))
            }
            (None, None) => (terminal_ipc::default_socket_path(), None),
        };
        Self { socket, token_file }
    }

    fn token(&self) -> Result<IpcToken, IpcError> {
        match &self.token_file {
            Some(file) => IpcToken::read_file(file).map_err(|e| IpcError::SocketPath {
                path: file.display().to_string(),
                reason: format!(
                    "the daemon's token file cannot be read ({e}); is this user in the oqs group?"
                ),
            }),
            None => {
                let keyring = os_keyring::Keyring::open(os_keyring::Backend::Auto)?;
                IpcToken::load(&keyring)
            }
        }
    }
}

/// What the windows show about the connection.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConnectionView {
    pub connected: bool,
    pub socket: String,
    /// The daemon's name and version once connected.
    pub server: Option<String>,
    /// Why the last attempt failed, and what to do (Japanese, then English).
    pub problem: Option<String>,
    /// The daemon is installed as a service this app may start.
    pub can_start: bool,
}

/// What the shell sends a window over its channel.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WindowMessage {
    /// An event from the daemon on this window's connection.
    Daemon { event: Event },
    /// This window's connection changed.
    Connection { view: ConnectionView },
}

/// The connections of all windows, by window label.
pub struct DaemonLinks {
    target: DaemonTarget,
    /// The reader a kiosk window is bound to (`--reader`); `None`: the only reader.
    kiosk_reader: Option<String>,
    links: Mutex<HashMap<String, Arc<WindowLink>>>,
}

impl DaemonLinks {
    pub fn new(target: DaemonTarget, kiosk_reader: Option<String>) -> Self {
        Self {
            target,
            kiosk_reader,
            links: Mutex::new(HashMap::new()),
        }
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<WindowLink>>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the connection of a new window (kept until [`DaemonLinks::detach`]).
    pub fn attach(&self, label: &str, kind: WindowKind) {
        let scope = match kind {
            WindowKind::Reception => Scope::Staff,
            WindowKind::Kiosk => Scope::Kiosk {
                reader: self.kiosk_reader.clone(),
            },
        };
        let link = Arc::new(WindowLink::new(self.target.clone(), kind, scope));
        let task = tauri::async_runtime::spawn({
            let link = Arc::clone(&link);
            async move {
                loop {
                    link.connect_and_forward().await;
                    tokio::time::sleep(RETRY_EVERY).await;
                }
            }
        });
        *link.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        if let Some(old) = self.links().insert(label.to_owned(), link) {
            old.close();
        }
    }

    /// Closes a window's connection; the daemon then ends the sessions logged in over it.
    pub fn detach(&self, label: &str) {
        if let Some(link) = self.links().remove(label) {
            link.close();
        }
    }

    /// The link of the window labelled `label`; a window without one (not opened by the shell) gets nothing.
    pub fn of(&self, label: &str) -> Result<Arc<WindowLink>, AppError> {
        self.links()
            .get(label)
            .cloned()
            .ok_or_else(|| AppError::Forbidden {
                message: format!("window `{label}` has no connection to the reader daemon"),
            })
    }
}

/// One window's connection.
pub struct WindowLink {
    target: DaemonTarget,
    kind: WindowKind,
    scope: Scope,
    client: RwLock<Option<Arc<IpcClient>>>,
    view: Mutex<ConnectionView>,
    sink: Mutex<Option<Channel<WindowMessage>>>,
    task: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
}

impl WindowLink {
    fn new(target: DaemonTarget, kind: WindowKind, scope: Scope) -> Self {
        let view = ConnectionView {
            connected: false,
            socket: target.socket.display().to_string(),
            server: None,
            problem: None,
            can_start: service_installed(),
        };
        Self {
            target,
            kind,
            scope,
            client: RwLock::new(None),
            view: Mutex::new(view),
            sink: Mutex::new(None),
            task: Mutex::new(None),
        }
    }

    pub fn kind(&self) -> WindowKind {
        self.kind
    }

    fn close(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = None;
        // The aborted task dropped its handle on the client; this drops the last one, closing the socket.
        if let Ok(mut client) = self.client.try_write() {
            *client = None;
        }
    }

    pub fn view(&self) -> ConnectionView {
        match self.view.lock() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Where this window's events go from now on; the current connection state is sent at once.
    pub fn set_channel(&self, channel: Channel<WindowMessage>) {
        let view = self.view();
        if let Err(e) = channel.send(WindowMessage::Connection { view }) {
            tracing::warn!(error = %e, "could not tell a window about the connection");
        }
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(channel);
    }

    fn send(&self, message: WindowMessage) {
        let sink = self.sink.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sink) = sink
            && let Err(e) = sink.send(message)
        {
            tracing::warn!(error = %e, "could not forward to a window");
        }
    }

    fn set_view(&self, change: impl FnOnce(&mut ConnectionView)) {
        let view = {
            let mut guard = match self.view.lock() {
                Ok(v) => v,
                Err(poisoned) => poisoned.into_inner(),
            };
            let before = guard.clone();
            change(&mut guard);
            if *guard == before {
                return;
            }
            guard.clone()
        };
        self.send(WindowMessage::Connection { view });
    }

    pub async fn request(&self, request: Request) -> Result<Response, AppError> {
        let client = self.client.read().await.clone();
        let Some(client) = client else {
            return Err(AppError::NotConnected {
                hint: self.view().problem.unwrap_or_else(|| {
                    "接続を待っています / waiting for the connection".to_owned()
                }),
            });
        };
        match client.request(request).await {
            Ok(response) => Ok(response),
            Err(IpcError::Remote(body)) => Err(AppError::Daemon(body)),
            Err(e) => Err(AppError::Ipc(e)),
        }
    }

    async fn connect_and_forward(&self) {
        let window = match self.kind {
            WindowKind::Reception => "reception",
            WindowKind::Kiosk => "kiosk",
        };
        let options = ClientOptions {
            client_name: format!("oqs-terminal {} {window}", env!("CARGO_PKG_VERSION")),
            scope: self.scope.clone(),
            ..ClientOptions::default()
        };
        let topics: &[Topic] = match self.scope {
            Scope::Staff => &Topic::ALL,
            Scope::Kiosk { .. } => &Scope::KIOSK_TOPICS,
        };
        // No socket means no daemon: say that, rather than whatever the token lookup would say.
        let connected = if !self.target.socket.exists() {
            Err(IpcError::Connect {
                path: self.target.socket.display().to_string(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
        } else {
            match self.target.token() {
                Ok(token) => {
                    IpcClient::connect_with(&self.target.socket, Some(&token), options).await
                }
                Err(e) => Err(e),
            }
        };
        let client = match connected {
            Ok(client) => Arc::new(client),
            Err(e) => {
                let problem = explain(&e);
                self.set_view(|v| {
                    v.connected = false;
                    v.server = None;
                    v.problem = Some(problem);
                    v.can_start = service_installed();
                });
                return;
            }
        };
        let mut events = match client.subscribe(topics).await {
            Ok(events) => events,
            Err(e) => {
                let problem = explain(&e);
                self.set_view(|v| v.problem = Some(problem));
                return;
            }
        };
        *self.client.write().await = Some(client.clone());
        let server = client.server().to_owned();
        tracing::info!(%server, window, "connected to the reader daemon");
        self.set_view(|v| {
            v.connected = true;
            v.server = Some(server);
            v.problem = None;
        });
        while let Some(event) = events.next().await {
            self.send(WindowMessage::Daemon { event });
        }
        *self.client.write().await = None;
        tracing::warn!(window, "the connection to the reader daemon closed");
        self.set_view(|v| {
            v.connected = false;
            v.server = None;
            v.problem = Some(
                "受付端末サービスとの接続が切れました。再接続しています / the connection to the reader daemon closed; reconnecting"
                    .to_owned(),
            );
        });
    }
}

/// `systemctl start oqs-readerd.service`; the package's polkit rule lets the staff group do this.
pub async fn start_service() -> Result<(), AppError> {
    if !service_installed() {
        return Err(AppError::StartFailed {
            message: "oqs-readerd はサービスとして導入されていません / oqs-readerd is not installed as a service"
                .to_owned(),
        });
    }
    let output = tokio::process::Command::new("systemctl")
        .args(["start", SERVICE_UNIT])
        .output()
        .await
        .map_err(|e| AppError::StartFailed {
            message: format!("systemctl: {e}"),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(AppError::StartFailed {
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

fn service_installed() -> bool {
    [
        "/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/etc/systemd/system",
    ]
    .iter()
    .any(|dir| std::path::Path::new(dir).join(SERVICE_UNIT).exists())
}

/// The connection failure in words a clerk can act on.
fn explain(e: &IpcError) -> String {
    match e {
        IpcError::UntrustedSocket { .. } | IpcError::ScopeNotGranted(_) => format!(
            "受付端末サービスの接続先が信頼できないため接続しませんでした。システム担当者に連絡してください。 / The reader daemon's socket is not trusted, so this app did not connect: call your IT contact. ({e})"
        ),
        IpcError::Connect { .. } | IpcError::SocketPath { .. } => format!(
            "受付端末サービス (oqs-readerd) が起動していません。サービスを起動するか、システム担当者に連絡してください。 / The reader daemon is not running: start it, or call your IT contact. ({e})"
        ),
        IpcError::NoToken | IpcError::Keyring(_) => format!(
            "このユーザーでは受付端末サービスに接続できません (認証情報がありません)。 / This user cannot talk to the reader daemon (no token): run the app as the user the daemon runs as, or join its group. ({e})"
        ),
        IpcError::Refused(_) => format!(
            "受付端末サービスが接続を拒否しました。アプリとサービスの版を揃えてください。 / The reader daemon refused this app: make their versions match. ({e})"
        ),
        other => format!(
            "受付端末サービスとの通信に失敗しました / talking to the reader daemon failed: {other}"
        ),
    }
}
