//! The daemon's side: accept, authenticate, dispatch requests to a [`Handler`], push events.

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};

#[cfg(unix)]
use crate::auth::PeerPolicy;
use crate::auth::{IpcToken, PeerIdentity};
use crate::error::IpcError;
use crate::frame::{self, FrameError, MAX_FRAME_LEN};
use crate::message::{
    ClientFrame, ErrorBody, ErrorCode, Event, HandshakeReply, Hello, MIN_SUPPORTED_PROTOCOL,
    Outcome, PROTOCOL_VERSION, Refusal, RefusalReason, Request, Response, Scope, ServerFrame,
    Topic,
};

/// The hello is small; a client announcing more before authenticating is not one of ours.
const MAX_HELLO_LEN: usize = 16 * 1024;
/// Requests of one connection handled at the same time; more wait for a slot.
const MAX_IN_FLIGHT: usize = 32;

/// Who sent a request, for the handler's decisions and its log.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub connection_id: u64,
    pub identity: PeerIdentity,
    /// The client's self-description from its hello.
    pub client: String,
    /// What this connection may ask, from its hello; fixed for the connection's life. The server refuses
    /// what the scope does not permit before the handler sees it.
    pub scope: Scope,
}

/// The daemon's request logic. Subscriptions are handled by the server itself and never reach it.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        peer: &PeerInfo,
        request: Request,
    ) -> impl Future<Output = Result<Response, ErrorBody>> + Send;

    /// The connection ended (closed by the client, broken, or the server shutting down). Login sessions are
    /// bound to their connection, so a handler drops them here.
    fn disconnected(&self, _peer: &PeerInfo) {}
}

/// Sends events to every subscribed client. Cheap to clone; publishing with no subscriber is not an error.
#[derive(Clone, Debug)]
pub struct EventPublisher {
    sender: broadcast::Sender<Event>,
}

impl EventPublisher {
    pub fn publish(&self, event: Event) {
        // An error only means that nobody is subscribed right now.
        let _ = self.sender.send(event);
    }
}

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Unix socket path (see [`crate::default_socket_path`]), or the pipe name on Windows.
    pub socket_path: PathBuf,
    pub token: IpcToken,
    /// Unix: who may connect. Default: the daemon's own user.
    #[cfg(unix)]
    pub policy: PeerPolicy,
    /// Windows: a group (its SID) whose members may connect besides the daemon's own user.
    #[cfg(windows)]
    pub group_sid: Option<String>,
    /// Named in the welcome, e.g. "oqs-readerd 0.1.0".
    pub server_name: String,
    /// How long a client may take to send its hello.
    pub hello_timeout: Duration,
    /// Events buffered per subscriber before it is told it lagged.
    pub event_buffer: usize,
    /// Connections served at once; more are refused with [`RefusalReason::Unavailable`].
    pub max_connections: usize,
}

impl ServerConfig {
    pub fn new(socket_path: impl Into<PathBuf>, token: IpcToken) -> Self {
        Self {
            socket_path: socket_path.into(),
            token,
            #[cfg(unix)]
            policy: PeerPolicy::same_user(),
            #[cfg(windows)]
            group_sid: None,
            server_name: format!("terminal-ipc {}", env!("CARGO_PKG_VERSION")),
            hello_timeout: Duration::from_secs(5),
            event_buffer: 1024,
            max_connections: 64,
        }
    }
}

struct Shared {
    slots: Arc<Semaphore>,
    /// Windows: who may open the pipe (the daemon's user, resolved at bind, and `group_sid`).
    #[cfg(windows)]
    sid_policy: crate::SidPolicy,
    config: ServerConfig,
    events: broadcast::Sender<Event>,
    next_connection: AtomicU64,
}

/// A bound server. Create with [`IpcServer::bind`], take a [`EventPublisher`], then run [`IpcServer::serve`].
pub struct IpcServer {
    shared: Arc<Shared>,
    #[cfg(unix)]
    listener: tokio::net::UnixListener,
    #[cfg(windows)]
    first_pipe: tokio::net::windows::named_pipe::NamedPipeServer,
}

impl IpcServer {
    /// Binds the socket (creating its private directory) so clients can connect as soon as this returns.
    pub async fn bind(config: ServerConfig) -> Result<Self, IpcError> {
        #[cfg(unix)]
        let listener = crate::unix::bind(&config.socket_path, config.policy.group).await?;
        #[cfg(windows)]
        let first_pipe = crate::windows::create_first(&config.socket_path.to_string_lossy())?;
        #[cfg(windows)]
        let sid_policy = crate::SidPolicy {
            user: crate::windows::current_user_sid().map_err(|e| IpcError::SocketPath {
                path: config.socket_path.display().to_string(),
                reason: format!("cannot read the daemon's own user: {e}"),
            })?,
            group: config.group_sid.clone(),
        };
        let (events, _) = broadcast::channel(config.event_buffer.max(1));
        Ok(Self {
            shared: Arc::new(Shared {
                slots: Arc::new(Semaphore::new(config.max_connections)),
                #[cfg(windows)]
                sid_policy,
                config,
                events,
                next_connection: AtomicU64::new(1),
            }),
            #[cfg(unix)]
            listener,
            #[cfg(windows)]
            first_pipe,
        })
    }

    pub fn publisher(&self) -> EventPublisher {
        EventPublisher {
            sender: self.shared.events.clone(),
        }
    }

    /// Accepts connections until `shutdown` completes, then closes them all and removes the socket file.
    #[cfg(unix)]
    pub async fn serve<H: Handler>(
        self,
        handler: Arc<H>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), IpcError> {
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        let result = loop {
            tokio::select! {
                () = &mut shutdown => break Ok(()),
                accepted = self.listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        // Out of file descriptors and the like: log and keep serving the clients we have.
                        Err(e) => { warn!(error = %e, "accept failed"); continue; }
                    };
                    let identity = crate::unix::peer_identity(&stream);
                    let admitted = identity.is_some_and(|id| self.shared.config.policy.admits(&id));
                    let identity = identity.unwrap_or(PeerIdentity { uid: None, gid: None, pid: None });
                    let shared = Arc::clone(&self.shared);
                    let handler = Arc::clone(&handler);
                    let slot = Arc::clone(&self.shared.slots).try_acquire_owned().ok();
                    connections.spawn(run_connection(stream, identity, admitted, slot, shared, handler));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        connections.shutdown().await;
        let _ = std::fs::remove_file(&self.shared.config.socket_path);
        result
    }

    #[cfg(windows)]
    pub async fn serve<H: Handler>(
        self,
        handler: Arc<H>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), IpcError> {
        let name = self
            .shared
            .config
            .socket_path
            .to_string_lossy()
            .into_owned();
        let mut connections = JoinSet::new();
        let mut pipe = self.first_pipe;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                connected = pipe.connect() => {
                    connected?;
                    let next = crate::windows::create_next(&name)?;
                    let stream = std::mem::replace(&mut pipe, next);
                    // The client's process token says who it is; a client that cannot be identified is
                    // refused like one of another user.
                    let client = crate::windows::client_identity(&stream);
                    let admitted = match &client {
                        Ok(c) => self.shared.sid_policy.admits(c),
                        Err(e) => { warn!(error = %e, "a pipe client could not be identified"); false }
                    };
                    let pid = client.ok().and_then(|c| i32::try_from(c.pid).ok());
                    let identity = PeerIdentity { uid: None, gid: None, pid };
                    let slot = Arc::clone(&self.shared.slots).try_acquire_owned().ok();
                    let shared = Arc::clone(&self.shared);
                    connections.spawn(run_connection(stream, identity, admitted, slot, shared, Arc::clone(&handler)));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
        Ok(())
    }
}

fn refusal(reason: RefusalReason, message: &str) -> HandshakeReply {
    HandshakeReply::Refused(Refusal {
        reason,
        message: message.to_string(),
        server_protocol_min: MIN_SUPPORTED_PROTOCOL,
        server_protocol_max: PROTOCOL_VERSION,
    })
}

/// Checks the hello; `Ok((client name, scope))` or the refusal to send.
fn check_hello(body: &[u8], token: &IpcToken) -> Result<(String, Scope), HandshakeReply> {
    // Read only the frozen fields first, so a hello of any version gets a version answer, not a parse error.
    let value: serde_json::Value = frame::decode(body).map_err(|_| {
        refusal(
            RefusalReason::BadHello,
            "最初のメッセージが読めません。The first message is not a readable hello.",
        )
    })?;
    if value.get("type").and_then(|t| t.as_str()) != Some("hello") {
        return Err(refusal(
            RefusalReason::BadHello,
            "接続手順が違います。The first message must be a hello.",
        ));
    }
    let Some(protocol) = value.get("protocol").and_then(|p| p.as_u64()) else {
        return Err(refusal(
            RefusalReason::BadHello,
            "プロトコル版数がありません。The hello has no protocol version.",
        ));
    };
    if protocol < u64::from(MIN_SUPPORTED_PROTOCOL) {
        return Err(refusal(
            RefusalReason::ClientTooOld,
            &format!(
                "このアプリは古い版です。更新してください。This client speaks protocol {protocol}; the reader daemon \
                 needs {MIN_SUPPORTED_PROTOCOL}..={PROTOCOL_VERSION}. Update the client."
            ),
        ));
    }
    if protocol > u64::from(PROTOCOL_VERSION) {
        return Err(refusal(
            RefusalReason::ClientTooNew,
            &format!(
                "常駐サービスが古い版です。更新してください。This client speaks protocol {protocol}; the reader daemon \
                 only knows {MIN_SUPPORTED_PROTOCOL}..={PROTOCOL_VERSION}. Update the reader daemon."
            ),
        ));
    }
    let hello: Hello = frame::decode(body).map_err(|_| {
        refusal(
            RefusalReason::BadHello,
            "接続情報が不正です。The hello is malformed.",
        )
    })?;
    match &hello.token {
        None => Err(refusal(
            RefusalReason::MissingToken,
            "認証トークンがありません。No token was presented; the client could not read it from the OS keyring.",
        )),
        Some(t) if t.expose().is_empty() => Err(refusal(
            RefusalReason::MissingToken,
            "認証トークンがありません。No token was presented.",
        )),
        Some(t) if !token.matches(t.expose()) => Err(refusal(
            RefusalReason::WrongToken,
            "認証トークンが一致しません。The token does not match; restart the client after the daemon restarted.",
        )),
        Some(_) => Ok((hello.client.clone(), hello.scope.clone())),
    }
}

/// Sends the refusal, then closes our side; the client reads the reason before it sees the end of stream.
async fn refuse<W: AsyncWrite + Unpin>(writer: &mut W, reply: HandshakeReply) {
    if let HandshakeReply::Refused(r) = &reply {
        warn!(reason = ?r.reason, "refused client");
    }
    let _ = frame::write_frame(writer, &reply, MAX_HELLO_LEN).await;
    let _ = writer.shutdown().await;
}

async fn run_connection<S, H>(
    stream: S,
    identity: PeerIdentity,
    admitted: bool,
    slot: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
    handler: Arc<H>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
    H: Handler,
{
    let connection_id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    let span = info_span!(
        "ipc_connection",
        connection_id,
        uid = identity.uid,
        pid = identity.pid
    );
    async move {
        let (mut reader, mut writer) = tokio::io::split(stream);
        if !admitted {
            let message = "別のユーザーからの接続は受け付けません。The reader daemon accepts only its own OS user \
                           (or its configured group).";
            return refuse(&mut writer, refusal(RefusalReason::WrongUser, message)).await;
        }
        // Held until the connection ends.
        let Some(_slot) = slot else {
            let message = "接続数が上限に達しています。The reader daemon has too many connections; close other \
                           windows and retry.";
            return refuse(&mut writer, refusal(RefusalReason::Unavailable, message)).await;
        };
        let hello = tokio::time::timeout(
            shared.config.hello_timeout,
            frame::read_frame_bytes(&mut reader, MAX_HELLO_LEN),
        )
        .await;
        let checked = match hello {
            Ok(Ok(body)) => check_hello(&body, &shared.config.token),
            Ok(Err(FrameError::Closed)) => return,
            Ok(Err(e)) => Err(refusal(
                RefusalReason::BadHello,
                &format!("接続情報が読めません。Unreadable hello: {e}"),
            )),
            Err(_) => Err(refusal(
                RefusalReason::BadHello,
                "接続情報が時間内に届きません。No hello within the time limit.",
            )),
        };
        let (client, scope) = match checked {
            Ok(checked) => checked,
            Err(reply) => return refuse(&mut writer, reply).await,
        };
        let welcome = HandshakeReply::Welcome {
            protocol: PROTOCOL_VERSION,
            server: shared.config.server_name.clone(),
            scope: Some(scope.clone()),
        };
        if frame::write_frame(&mut writer, &welcome, MAX_HELLO_LEN).await.is_err() {
            return;
        }
        info!(client = %client, ?scope, "client connected");
        let peer = Arc::new(PeerInfo { connection_id, identity, client, scope });

        let (out_tx, mut out_rx) = mpsc::channel::<ServerFrame>(256);
        let writer_task = tokio::spawn(async move {
            while let Some(frame) = out_rx.recv().await {
                match frame::write_frame(&mut writer, &frame, MAX_FRAME_LEN).await {
                    Ok(()) => {}
                    Err(FrameError::TooLarge { len, max }) => {
                        warn!(len, max, "dropped an outgoing frame over the size limit");
                    }
                    Err(_) => break,
                }
            }
        });

        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut subscription: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            let body = match frame::read_frame_bytes(&mut reader, MAX_FRAME_LEN).await {
                Ok(body) => body,
                Err(FrameError::Closed) => break,
                Err(e @ FrameError::TooLarge { .. }) => {
                    // The stream cannot be resynchronised without reading the whole oversize body: say why and close.
                    let _ = out_tx.send(ServerFrame::Error { error: ErrorBody::new(ErrorCode::BadRequest, e.to_string()) }).await;
                    break;
                }
                Err(e) => {
                    debug!(error = %e, "connection ended");
                    break;
                }
            };
            let (id, request) = match frame::decode::<ClientFrame>(&body) {
                Ok(ClientFrame::Request { id, request }) => (id, request),
                Err(e) => {
                    let error = ErrorBody::new(ErrorCode::BadRequest, e.to_string());
                    // Answer under the request's id when it can be read, so the client's waiter is released.
                    let id = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v.get("id").and_then(|i| i.as_u64()));
                    let frame = match id {
                        Some(id) => ServerFrame::Response { id, outcome: Outcome::Err { error } },
                        None => ServerFrame::Error { error },
                    };
                    if out_tx.send(frame).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            if !peer.scope.permits(&request) {
                // The allow-list of the connection's scope, before anything else sees the request.
                warn!(request = request_kind(&request), scope = ?peer.scope, "refused a request outside the connection's scope");
                let error = ErrorBody::new(
                    ErrorCode::Forbidden,
                    format!(
                        "この画面からは実行できません。A {} connection may not send `{}`.",
                        scope_name(&peer.scope),
                        request_kind(&request)
                    ),
                );
                if out_tx.send(ServerFrame::Response { id, outcome: Outcome::Err { error } }).await.is_err() {
                    break;
                }
                continue;
            }
            match request {
                Request::Subscribe { topics } => {
                    if let Some(old) = subscription.take() {
                        old.abort();
                    }
                    let topics: Vec<Topic> = if topics.is_empty() { Topic::ALL.to_vec() } else { topics };
                    // Subscribe before answering, so no event published after the answer can be missed.
                    let receiver = shared.events.subscribe();
                    subscription = Some(tokio::spawn(forward_events(
                        receiver,
                        topics.iter().copied().collect(),
                        peer.scope.clone(),
                        out_tx.clone(),
                    )));
                    let outcome = Outcome::Ok { response: Response::Subscribed { topics } };
                    if out_tx.send(ServerFrame::Response { id, outcome }).await.is_err() {
                        break;
                    }
                }
                Request::Unsubscribe => {
                    if let Some(old) = subscription.take() {
                        old.abort();
                    }
                    let outcome = Outcome::Ok { response: Response::Accepted };
                    if out_tx.send(ServerFrame::Response { id, outcome }).await.is_err() {
                        break;
                    }
                }
                request => {
                    let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { break };
                    let handler = Arc::clone(&handler);
                    let peer = Arc::clone(&peer);
                    let out_tx = out_tx.clone();
                    let span = info_span!("ipc_request", request_id = id);
                    tokio::spawn(
                        async move {
                            let outcome = match handler.handle(&peer, request).await {
                                Ok(response) => Outcome::Ok { response },
                                Err(error) => Outcome::Err { error },
                            };
                            let _ = out_tx.send(ServerFrame::Response { id, outcome }).await;
                            drop(permit);
                        }
                        .instrument(span),
                    );
                }
            }
        }
        if let Some(task) = subscription {
            task.abort();
        }
        handler.disconnected(&peer);
        drop(out_tx);
        let _ = writer_task.await;
        info!("client disconnected");
    }
    .instrument(span)
    .await;
}

async fn forward_events(
    mut receiver: broadcast::Receiver<Event>,
    topics: HashSet<Topic>,
    scope: Scope,
    out: mpsc::Sender<ServerFrame>,
) {
    loop {
        let event = match receiver.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => Event::Lagged { missed },
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if event.topic().is_some_and(|t| !topics.contains(&t)) || !scope.sees(&event) {
            continue;
        }
        if out.send(ServerFrame::Event { event }).await.is_err() {
            return;
        }
    }
}

/// The request's wire name (`today_check_ins` …), for refusals and the log; never its contents.
fn request_kind(request: &Request) -> String {
    serde_json::to_value(request)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "request".into())
}

fn scope_name(scope: &Scope) -> &'static str {
    match scope {
        Scope::Staff => "staff",
        Scope::Kiosk { .. } => "kiosk",
    }
}
