//! The client's side: connect, authenticate, send requests, receive events.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::auth::IpcToken;
use crate::error::IpcError;
use crate::frame::{self, FrameError, MAX_FRAME_LEN};
use crate::message::{
    ClientFrame, Event, HandshakeReply, Hello, Outcome, PROTOCOL_VERSION, Request, Response, Scope,
    ServerFrame, Topic,
};
use crate::sensitive::Secret;

type BoxedStream = Box<dyn AsyncReadWrite>;
trait AsyncReadWrite: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AsyncReadWrite for T {}

/// Options of a connection.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Shown in the daemon's log, e.g. "oqs 0.1.0".
    pub client_name: String,
    /// How long one request may wait for its answer.
    pub request_timeout: Duration,
    /// How long the handshake may take.
    pub handshake_timeout: Duration,
    /// What this connection asks to be allowed ([`Scope::Kiosk`] for a patient's screen). The daemon enforces
    /// it; the client refuses a daemon that does not confirm it.
    pub scope: Scope,
    /// Unix: users besides root and this one whose socket is trusted (the daemon's service user). The owner
    /// of a token file is trusted without being named here.
    pub trusted_uids: Vec<u32>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            client_name: format!("terminal-ipc {}", env!("CARGO_PKG_VERSION")),
            request_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(5),
            scope: Scope::Staff,
            trusted_uids: Vec::new(),
        }
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Outcome>>>>;
type EventSink = Arc<Mutex<Option<mpsc::Sender<Event>>>>;

/// A connection to the reader daemon. Requests may be sent concurrently from clones of a shared reference.
pub struct IpcClient {
    writer: tokio::sync::Mutex<WriteHalf<BoxedStream>>,
    pending: Pending,
    events: EventSink,
    next_id: AtomicU64,
    server: String,
    options: ClientOptions,
    reader_task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for IpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcClient")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Events of a subscription, in the order the daemon sent them.
#[derive(Debug)]
pub struct EventStream {
    receiver: mpsc::Receiver<Event>,
}

impl EventStream {
    /// The next event; `None` once the connection is closed or the subscription replaced.
    pub async fn next(&mut self) -> Option<Event> {
        self.receiver.recv().await
    }
}

impl IpcClient {
    /// Connects to the daemon's socket at `path` (the pipe name on Windows) and authenticates with `token`.
    /// On Unix the socket, its folder and the listening process are checked before the token is sent (see
    /// [`ClientOptions::trusted_uids`]); an untrusted one is [`IpcError::UntrustedSocket`].
    pub async fn connect(path: impl AsRef<Path>, token: &IpcToken) -> Result<Self, IpcError> {
        Self::connect_with(path, Some(token), ClientOptions::default()).await
    }

    /// Like [`IpcClient::connect`], with options, and with no token at all when `token` is `None` (the daemon
    /// will refuse; useful to show the refusal).
    pub async fn connect_with(
        path: impl AsRef<Path>,
        token: Option<&IpcToken>,
        options: ClientOptions,
    ) -> Result<Self, IpcError> {
        #[cfg(unix)]
        let stream = {
            let mut trusted = options.trusted_uids.clone();
            trusted.extend(token.and_then(IpcToken::issuer_uid));
            crate::unix::connect(path.as_ref(), &trusted).await?
        };
        #[cfg(windows)]
        let stream = crate::windows::connect(&path.as_ref().to_string_lossy())?;
        Self::handshake(Box::new(stream), token, options).await
    }

    async fn handshake(
        mut stream: BoxedStream,
        token: Option<&IpcToken>,
        options: ClientOptions,
    ) -> Result<Self, IpcError> {
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            token: token.map(|t| Secret::new(t.expose())),
            client: options.client_name.clone(),
            scope: options.scope.clone(),
        };
        let exchange = async {
            // A daemon that refuses us by uid answers without reading the hello and may close first; its
            // refusal is still waiting to be read, so a failed write is not the end of the story.
            let written = frame::write_frame(&mut stream, &hello, MAX_FRAME_LEN).await;
            match frame::read_frame::<_, HandshakeReply>(&mut stream, MAX_FRAME_LEN).await {
                Ok(reply) => Ok(reply),
                Err(FrameError::Closed) => match written {
                    Err(e) => Err(IpcError::Frame(e)),
                    Ok(()) => Err(IpcError::Disconnected),
                },
                Err(e) => Err(IpcError::Frame(e)),
            }
        };
        let reply = tokio::time::timeout(options.handshake_timeout, exchange)
            .await
            .map_err(|_| IpcError::Timeout(options.handshake_timeout))??;
        let server = match reply {
            // A daemon from before scopes says nothing and serves everything: fine for a staff client (that is
            // what it asked for), not for a kiosk.
            HandshakeReply::Welcome { server, scope, .. }
                if scope.as_ref().unwrap_or(&Scope::Staff) == &options.scope =>
            {
                server
            }
            HandshakeReply::Welcome { .. } => {
                return Err(IpcError::ScopeNotGranted(format!("{:?}", options.scope)));
            }
            HandshakeReply::Refused(refusal) => return Err(IpcError::Refused(refusal)),
        };
        let (reader, writer) = tokio::io::split(stream);
        let pending: Pending = Arc::default();
        let events: EventSink = Arc::default();
        let reader_task =
            tokio::spawn(read_loop(reader, Arc::clone(&pending), Arc::clone(&events)));
        Ok(Self {
            writer: tokio::sync::Mutex::new(writer),
            pending,
            events,
            next_id: AtomicU64::new(1),
            server,
            options,
            reader_task,
        })
    }

    /// The daemon's self-description from its welcome.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `request` and waits for its answer; a typed error from the daemon is [`IpcError::Remote`].
    pub async fn request(&self, request: Request) -> Result<Response, IpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock_pending().insert(id, tx);
        let frame = ClientFrame::Request { id, request };
        let sent = {
            let mut writer = self.writer.lock().await;
            frame::write_frame(&mut *writer, &frame, MAX_FRAME_LEN).await
        };
        if let Err(e) = sent {
            self.lock_pending().remove(&id);
            return Err(e.into());
        }
        let outcome = match tokio::time::timeout(self.options.request_timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => return Err(IpcError::Disconnected),
            Err(_) => {
                self.lock_pending().remove(&id);
                return Err(IpcError::Timeout(self.options.request_timeout));
            }
        };
        match outcome {
            Outcome::Ok { response } => Ok(response),
            Outcome::Err { error } => Err(IpcError::Remote(error)),
        }
    }

    /// Subscribes to `topics` (all when empty) and returns the stream of events. A second call replaces the
    /// first subscription, whose stream then ends.
    pub async fn subscribe(&self, topics: &[Topic]) -> Result<EventStream, IpcError> {
        let (tx, receiver) = mpsc::channel(1024);
        // Install the sink before asking, so events that follow the answer immediately are not lost.
        *self.events.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        match self
            .request(Request::Subscribe {
                topics: topics.to_vec(),
            })
            .await?
        {
            Response::Subscribed { .. } => Ok(EventStream { receiver }),
            other => Err(IpcError::Unexpected(format!(
                "answer to subscribe: {other:?}"
            ))),
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.writer.lock().await.shutdown().await;
        self.reader_task.abort();
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Outcome>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for IpcClient {
    fn drop(&mut self) {
        self.reader_task.abort();
    }
}

async fn read_loop(mut reader: ReadHalf<BoxedStream>, pending: Pending, events: EventSink) {
    loop {
        let frame = match frame::read_frame::<_, ServerFrame>(&mut reader, MAX_FRAME_LEN).await {
            Ok(frame) => frame,
            Err(FrameError::Malformed(e)) => {
                warn!(error = %e, "ignored an unreadable frame from the reader daemon");
                continue;
            }
            Err(_) => break,
        };
        match frame {
            ServerFrame::Response { id, outcome } => {
                let waiter = pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(outcome);
                }
            }
            ServerFrame::Event { event } => {
                let sink = events.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(sink) = sink {
                    let _ = sink.send(event).await;
                }
            }
            ServerFrame::Error { error } => {
                warn!(code = ?error.code, message = %error.message, "reader daemon reported an error")
            }
        }
    }
    // Waking every waiter with a closed channel turns into `Disconnected` for them.
    pending.lock().unwrap_or_else(|p| p.into_inner()).clear();
    events.lock().unwrap_or_else(|p| p.into_inner()).take();
}
