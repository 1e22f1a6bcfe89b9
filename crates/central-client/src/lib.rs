//! The terminal's HTTPS client for the central eligibility service.
//!
//! Every call goes over mutual TLS: the server must present a certificate chaining to the one CA the
//! facility was given (pinned: the system's trust store is never consulted), and the client presents the
//! terminal certificate issued to the facility. The certificate's key may be stored encrypted (PKCS#8
//! `ENCRYPTED PRIVATE KEY`); its passphrase comes from the caller, who keeps it in the OS keyring.
//!
//! The client keeps a [`LinkState`] that every call updates and that a periodic [`CentralClient::probe`]
//! drives while the link is down, so the daemon can switch the kiosk and the relay to outage mode and back.
//! Transient failures (connection refused, timeouts, 5xx) are retried a few times with exponential backoff
//! and full jitter ([`RetryPolicy`]); the same policy gives the outbox its delays between longer retries.

mod identity;
mod retry;

pub use identity::{IdentityError, TerminalIdentity};
pub use retry::RetryPolicy;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use url::Url;

/// Header carrying the result file's name on `POST /v1/messages/{request file name}`.
pub const RESULT_NAME_HEADER: &str = "x-oqs-result-name";

/// Where the central service is and how to reach it.
#[derive(Debug, Clone)]
pub struct CentralConfig {
    /// Base URL, e.g. `https://127.0.0.1:8443/`.
    pub base_url: Url,
    /// PEM file with the CA certificate(s) the server's certificate must chain to. Nothing else is trusted.
    pub ca_cert: PathBuf,
    /// PEM file with the terminal certificate (and any intermediates).
    pub terminal_cert: PathBuf,
    /// PEM file with the terminal certificate's private key (PKCS#8, plain or encrypted).
    pub terminal_key: PathBuf,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl CentralConfig {
    /// Defaults that suit a clinic's link: a connection in 3 s, an answer in 10 s, 3 tries per call.
    pub fn new(
        base_url: Url,
        ca_cert: PathBuf,
        terminal_cert: PathBuf,
        terminal_key: PathBuf,
    ) -> Self {
        Self {
            base_url,
            ca_cert,
            terminal_cert,
            terminal_key,
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// What went wrong talking to the central service.
#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the central service URL `{0}` cannot be used: {1}")]
    BadUrl(String, String),
    #[error("could not set up the HTTPS client: {0}")]
    Client(String),
    #[error("the central service is unreachable: {0}")]
    Unreachable(String),
    #[error("the central service did not answer within {0:?}")]
    Timeout(Duration),
    #[error(
        "the TLS connection to the central service was refused ({0}); check that the terminal certificate \
         is installed, not expired or revoked, and that the CA file is the one the facility was given"
    )]
    TlsRefused(String),
    #[error("the central service answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the central service's answer could not be understood: {0}")]
    BadAnswer(String),
}

impl CentralError {
    /// Worth trying again later: the service or the network may come back.
    pub fn is_transient(&self) -> bool {
        match self {
            CentralError::Unreachable(_) | CentralError::Timeout(_) => true,
            CentralError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// Whether the central service is reachable, as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "link", rename_all = "snake_case")]
pub enum LinkState {
    /// No call made yet.
    Unknown,
    /// The last call succeeded.
    Up {
        #[serde(with = "unix_seconds")]
        since: SystemTime,
        round_trip_ms: u64,
    },
    /// The last call failed for a reason that may pass (network, timeout, server error).
    Down {
        #[serde(with = "unix_seconds")]
        since: SystemTime,
        reason: String,
    },
}

impl LinkState {
    pub fn is_up(&self) -> bool {
        matches!(self, LinkState::Up { .. })
    }
}

/// A result file returned for a request file.
#[derive(Debug, Clone)]
pub struct ResultFile {
    pub name: String,
    pub body: Vec<u8>,
}

/// An answer read as bytes, with its headers (names in lower case).
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The client. Cheap to clone; clones share the connection pool and the link state.
#[derive(Clone)]
pub struct CentralClient {
    http: reqwest::Client,
    base: Url,
    retry: RetryPolicy,
    request_timeout: Duration,
    link: Arc<watch::Sender<LinkState>>,
    /// Milliseconds since the Unix epoch of the last answer from the service (0: none yet).
    last_contact_ms: Arc<AtomicU64>,
}

impl std::fmt::Debug for CentralClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentralClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl CentralClient {
    /// Builds the client from the PEM files in `config`. `key_passphrase` is needed only for an
    /// encrypted key.
    pub fn new(
        config: &CentralConfig,
        key_passphrase: Option<&[u8]>,
    ) -> Result<Self, CentralError> {
        let identity =
            TerminalIdentity::load(&config.terminal_cert, &config.terminal_key, key_passphrase)?;
        let tls = identity.client_config(&config.ca_cert)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("oqs-terminal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CentralError::Client(error_chain(&e)))?;
        let mut base = config.base_url.clone();
        if base.cannot_be_a_base() {
            return Err(CentralError::BadUrl(
                base.to_string(),
                "it is not a base URL".into(),
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let (link, _) = watch::channel(LinkState::Unknown);
        Ok(Self {
            http,
            base,
            retry: config.retry.clone(),
            request_timeout: config.request_timeout,
            link: Arc::new(link),
            last_contact_ms: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Follows the link state.
    pub fn link(&self) -> watch::Receiver<LinkState> {
        self.link.subscribe()
    }

    pub fn link_state(&self) -> LinkState {
        self.link.borrow().clone()
    }

    /// `GET /healthz` once, without retries; updates the link state and returns the round trip.
    pub async fn probe(&self) -> Result<Duration, CentralError> {
        let url = self.url(&["healthz"])?;
        let started = Instant::now();
        let outcome = self
            .once(self.http.get(url))
            .await
            .map(|_| started.elapsed());
        self.record(&outcome, started);
        outcome
    }

    /// When the service last answered anything (even a refusal), if ever: "last central contact".
    pub fn last_contact(&self) -> Option<SystemTime> {
        match self.last_contact_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    /// `GET /healthz` once, like [`CentralClient::probe`], and also read the service's clock from the
    /// answer's `Date` header (RFC 9110: one-second resolution). Returns the round trip and the server's
    /// time, `None` when the answer had no usable `Date` header.
    pub async fn probe_clock(&self) -> Result<(Duration, Option<SystemTime>), CentralError> {
        let url = self.url(&["healthz"])?;
        let started = Instant::now();
        let outcome = self.once(self.http.get(url)).await;
        self.record(&outcome, started);
        let response = outcome?;
        let rtt = started.elapsed();
        let server_time = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        Ok((rtt, server_time))
    }

    /// Sends a request file and returns the result file. The request's name goes into the path, so the
    /// service can tell the kind, and the result's name comes back in [`RESULT_NAME_HEADER`].
    pub async fn send_message(
        &self,
        request_name: &str,
        body: &[u8],
    ) -> Result<ResultFile, CentralError> {
        let url = self.url(&["v1", "messages", request_name])?;
        let response = self
            .with_retries(|| {
                self.http
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/xml")
                    .body(body.to_vec())
            })
            .await?;
        let name = response
            .headers()
            .get(RESULT_NAME_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| CentralError::BadAnswer(format!("no {RESULT_NAME_HEADER} header")))?;
        let body = response
            .bytes()
            .await
            .map_err(|e| self.classify(e))?
            .to_vec();
        Ok(ResultFile { name, body })
    }

    /// `GET` a JSON document; `path` is made of segments that are escaped one by one.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &[&str]) -> Result<T, CentralError> {
        let url = self.url(path)?;
        let response = self.with_retries(|| self.http.get(url.clone())).await?;
        response
            .json()
            .await
            .map_err(|e| CentralError::BadAnswer(error_chain(&e)))
    }

    /// `GET` a JSON document with query parameters (escaped here), e.g. the access history of a patient.
    pub async fn get_json_query<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, CentralError> {
        let mut url = self.url(path)?;
        url.query_pairs_mut().extend_pairs(query);
        let response = self.with_retries(|| self.http.get(url.clone())).await?;
        response
            .json()
            .await
            .map_err(|e| CentralError::BadAnswer(error_chain(&e)))
    }

    /// `POST` a JSON body and read a JSON answer. Retried only on transient failures, so the endpoint
    /// must be idempotent or the caller must pass `retry = false`.
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &B,
        retry: bool,
    ) -> Result<T, CentralError> {
        let url = self.url(path)?;
        let build = || self.http.post(url.clone()).json(body);
        let response = if retry {
            self.with_retries(build).await?
        } else {
            let started = Instant::now();
            let outcome = self.once(build()).await;
            self.record(&outcome, started);
            outcome?
        };
        response
            .json()
            .await
            .map_err(|e| CentralError::BadAnswer(error_chain(&e)))
    }

    /// `PUT` a JSON body with `Authorization: Bearer <credential>` (e.g. the environment settings with the
    /// facility's admin credential) and read the JSON answer. PUT is idempotent, so it is retried.
    pub async fn put_json_bearer<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &B,
        credential: &str,
    ) -> Result<T, CentralError> {
        let url = self.url(path)?;
        let response = self
            .with_retries(|| {
                self.http
                    .put(url.clone())
                    .bearer_auth(credential)
                    .json(body)
            })
            .await?;
        response
            .json()
            .await
            .map_err(|e| CentralError::BadAnswer(error_chain(&e)))
    }

    /// `POST` a JSON body once (no retries: for single-use tokens such as a check-in challenge) and return
    /// the answer's bytes and headers as they came, for endpoints that answer with a file rather than JSON.
    pub async fn post_json_raw<B: Serialize + ?Sized>(
        &self,
        path: &[&str],
        body: &B,
    ) -> Result<RawAnswer, CentralError> {
        let url = self.url(path)?;
        let started = Instant::now();
        let outcome = self.once(self.http.post(url).json(body)).await;
        self.record(&outcome, started);
        let response = outcome?;
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.classify(e))?
            .to_vec();
        Ok(RawAnswer { headers, body })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, CentralError> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| {
                CentralError::BadUrl(self.base.to_string(), "it is not a base URL".into())
            })?;
            path.pop_if_empty();
            for s in segments {
                if s.is_empty() || *s == "." || *s == ".." {
                    return Err(CentralError::BadUrl(
                        self.base.to_string(),
                        format!("path segment `{s}` is not allowed"),
                    ));
                }
                path.push(s);
            }
        }
        Ok(url)
    }

    async fn with_retries(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CentralError> {
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let outcome = self.once(build()).await;
            self.record(&outcome, started);
            match outcome {
                Err(e) if e.is_transient() && attempt + 1 < self.retry.max_attempts => {
                    let delay = self.retry.delay(attempt);
                    tracing::debug!(attempt, ?delay, error = %e, "central call failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn once(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CentralError> {
        let response = request.send().await.map_err(|e| self.classify(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = response.text().await.unwrap_or_default();
        body.truncate(500);
        Err(CentralError::Status {
            status: status.as_u16(),
            body,
        })
    }

    fn record<T>(&self, outcome: &Result<T, CentralError>, started: Instant) {
        let now = SystemTime::now();
        // An answer that refuses the request (4xx) still proves the service is there.
        let answered = match outcome {
            Ok(_) => true,
            Err(e @ CentralError::Status { .. }) => !e.is_transient(),
            Err(_) => false,
        };
        match outcome {
            _ if answered => {
                let now_ms = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                self.last_contact_ms.store(now_ms, Ordering::Relaxed);
                let round_trip_ms =
                    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.link.send_modify(|state| {
                    let since = match state {
                        LinkState::Up { since, .. } => *since,
                        _ => now,
                    };
                    *state = LinkState::Up {
                        since,
                        round_trip_ms,
                    };
                });
            }
            // Not a link problem (bad TLS identity, unreadable answer): the link state stays as it was.
            Ok(_) => {}
            Err(e) if !e.is_transient() => {}
            Err(e) => {
                let reason = e.to_string();
                self.link.send_modify(|state| {
                    let since = match state {
                        LinkState::Down { since, .. } => *since,
                        _ => now,
                    };
                    *state = LinkState::Down { since, reason };
                });
            }
        }
    }

    fn classify(&self, e: reqwest::Error) -> CentralError {
        let chain = error_chain(&e);
        if e.is_timeout() {
            CentralError::Timeout(self.request_timeout)
        } else if looks_like_tls_refusal(&chain) {
            CentralError::TlsRefused(chain)
        } else if e.is_connect() || e.is_request() || e.is_body() {
            CentralError::Unreachable(chain)
        } else {
            CentralError::BadAnswer(chain)
        }
    }
}

/// rustls reports a refused handshake as an alert or a certificate error somewhere in the source chain. A
/// connection that was merely dropped (a pooled connection to a service that stopped: "peer closed connection
/// without sending TLS close_notify", a reset, an early EOF) also names TLS but is not a refusal: it is
/// transient, so a pending check-in is retried rather than marked as an error.
fn looks_like_tls_refusal(chain: &str) -> bool {
    let lower = chain.to_ascii_lowercase();
    let dropped = [
        "close_notify",
        "unexpected eof",
        "connection reset",
        "broken pipe",
        "connection closed",
    ]
    .iter()
    .any(|w| lower.contains(w));
    !dropped
        && ["certificate", "alert", "handshake", "unknownissuer", "tls"]
            .iter()
            .any(|w| lower.contains(w))
}

#[cfg(test)]
mod refusal_tests {
    use super::looks_like_tls_refusal;

    #[test]
    fn a_dropped_connection_is_not_a_tls_refusal() {
        for dropped in [
            "error sending request: client error (SendRequest): connection closed before message completed",
            "error sending request: peer closed connection without sending TLS close_notify: https://docs.rs/rustls",
            "error reading a body from connection: tls handshake eof: unexpected EOF",
            "error sending request: Connection reset by peer (os error 104)",
        ] {
            assert!(!looks_like_tls_refusal(dropped), "{dropped}");
        }
        for refused in [
            "error sending request: invalid peer certificate: UnknownIssuer",
            "error sending request: received fatal alert: CertificateRevoked",
        ] {
            assert!(looks_like_tls_refusal(refused), "{refused}");
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

mod unix_seconds {
    use serde::Serializer;
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        s.serialize_u64(secs)
    }
}
