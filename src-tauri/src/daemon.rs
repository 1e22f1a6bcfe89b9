//! The link to the reader daemon: one connection, kept open and re-opened when it drops, over which requests
//! go and events come back. Events are forwarded to every window.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter};
use terminal_ipc::{ClientOptions, IpcClient, IpcError, IpcToken, Request, Response, Topic};
use tokio::sync::RwLock;

use crate::error::AppError;

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

/// The shared state behind the commands.
pub struct DaemonLink {
    target: DaemonTarget,
    client: RwLock<Option<Arc<IpcClient>>>,
    view: Mutex<ConnectionView>,
}

impl DaemonLink {
    pub fn new(target: DaemonTarget) -> Self {
        let view = ConnectionView {
            connected: false,
            socket: target.socket.display().to_string(),
            server: None,
            problem: None,
            can_start: service_installed(),
        };
        Self {
            target,
            client: RwLock::new(None),
            view: Mutex::new(view),
        }
    }

    pub fn view(&self) -> ConnectionView {
        match self.view.lock() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_view(&self, app: &AppHandle, change: impl FnOnce(&mut ConnectionView)) {
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
        if let Err(e) = app.emit("daemon-connection", &view) {
            tracing::warn!(error = %e, "could not tell the windows about the connection");
        }
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

    /// Keeps one connection to the daemon open for the life of the app.
    pub fn spawn_connector(&self, app: AppHandle) {
        tauri::async_runtime::spawn(async move {
            let link = tauri::Manager::state::<DaemonLink>(&app);
            loop {
                link.connect_and_forward(&app).await;
                tokio::time::sleep(RETRY_EVERY).await;
            }
        });
    }

    async fn connect_and_forward(&self, app: &AppHandle) {
        let options = ClientOptions {
            client_name: format!("oqs-terminal {}", env!("CARGO_PKG_VERSION")),
            ..ClientOptions::default()
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
                self.set_view(app, |v| {
                    v.connected = false;
                    v.server = None;
                    v.problem = Some(problem);
                    v.can_start = service_installed();
                });
                return;
            }
        };
        let mut events = match client.subscribe(&Topic::ALL).await {
            Ok(events) => events,
            Err(e) => {
                let problem = explain(&e);
                self.set_view(app, |v| v.problem = Some(problem));
                return;
            }
        };
        *self.client.write().await = Some(client.clone());
        let server = client.server().to_owned();
        tracing::info!(%server, "connected to the reader daemon");
        self.set_view(app, |v| {
            v.connected = true;
            v.server = Some(server);
            v.problem = None;
        });
        while let Some(event) = events.next().await {
            if let Err(e) = app.emit("daemon-event", &event) {
                tracing::warn!(error = %e, "could not forward a daemon event to the windows");
            }
        }
        *self.client.write().await = None;
        tracing::warn!("the connection to the reader daemon closed");
        self.set_view(app, |v| {
            v.connected = false;
            v.server = None;
            v.problem = Some(
                "受付端末サービスとの接続が切れました。再接続しています / the connection to the reader daemon closed; reconnecting"
                    .to_owned(),
            );
        });
    }

    /// `systemctl start oqs-readerd.service`; the package's polkit rule lets the staff group do this.
    pub async fn start_service(&self) -> Result<(), AppError> {
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
