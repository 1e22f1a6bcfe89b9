//! The HTTPS server: mutual TLS (terminal CA + CRL), request routing, fault injection.
//!
//! Every connection must present a terminal certificate issued by the data directory's CA, not
//! revoked (CRL) and not expired; the certificate's OU names the calling facility. Handlers run on
//! the tokio workers and use pooled SQLite connections with cached statements: each query is an
//! index lookup of a few microseconds, cheaper than a hop to the blocking pool.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{Instrument, info, warn};

use crate::error::CentralError;
use crate::init::{self, OPERATOR_TOKEN_FILE};
use crate::pki::files;
use crate::store::{EnvironmentSettings, Store};

/// Who is calling: taken from the verified terminal certificate.
#[derive(Clone, Debug)]
pub struct Caller {
    /// 医療機関コード from the certificate's OU.
    pub facility_code: String,
    /// Certificate serial (hex), for logs.
    pub cert_serial: String,
}

/// Fault injection settings (see `docs/mock-central.md`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Added to every request, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Share of requests answered with HTTP 500 (0.0 … 1.0).
    #[serde(default)]
    pub error_rate: f64,
    /// Answer everything with HTTP 503 until switched off.
    #[serde(default)]
    pub down: bool,
    /// Answer everything with HTTP 503 for this many seconds from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_for_secs: Option<u64>,
}

struct FaultState {
    settings: FaultSettings,
    down_until: Option<Instant>,
}

/// Options of [`Server::start`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub dir: PathBuf,
    pub listen: SocketAddr,
    pub faults: FaultSettings,
    /// How long a bulk upload stays 処理中 before its result can be downloaded.
    pub bulk_delay: Duration,
    pub pool_size: u32,
    /// Where "now" comes from (`--now` pins it; tests always do).
    pub clock: oqs_clock::Clock,
}

impl ServeOptions {
    pub fn new(dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        ServeOptions {
            dir: dir.into(),
            listen,
            faults: FaultSettings::default(),
            bulk_delay: Duration::from_secs(2),
            pool_size: 16,
            clock: oqs_clock::Clock::system(),
        }
    }
}

pub(crate) struct Challenge {
    pub facility: String,
    pub bytes: Vec<u8>,
    pub expires: Instant,
}

pub(crate) struct AppState {
    pub store: Store,
    pub jpki_ca_der: Vec<u8>,
    pub challenges: Mutex<HashMap<String, Challenge>>,
    faults: Mutex<FaultState>,
    fault_counter: AtomicU64,
    operator_token: String,
    pub bulk_delay: Duration,
    pub reception_seq: AtomicU64,
    pub clock: oqs_clock::Clock,
}

pub(crate) type Shared = Arc<AppState>;

/// A JSON error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Serialize, Deserialize, Debug)]
pub struct ApiError {
    pub error: ApiErrorBody,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct ApiErrorBody {
    pub code: String,
    pub message: String,
}

pub(crate) fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: ApiErrorBody {
                code: code.into(),
                message: message.into(),
            },
        }),
    )
        .into_response()
}

pub(crate) fn internal(e: CentralError) -> Response {
    warn!(error = %e, "request failed");
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "OQS-C2900",
        format!("internal error of the mock central service: {e}"),
    )
}

/// A running server; dropping it does not stop it, call [`Server::shutdown`].
pub struct Server {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, CentralError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| CentralError::Tls(format!("{}: {e}", path.display())))
}

fn tls_config(dir: &Path) -> Result<rustls::ServerConfig, CentralError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in load_pem_certs(&dir.join(files::CA_CERT))? {
        roots
            .add(c)
            .map_err(|e| CentralError::Tls(format!("terminal CA: {e}")))?;
    }
    let crl_path = dir.join(files::CRL);
    let crls = CertificateRevocationListDer::pem_file_iter(&crl_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| CentralError::Tls(format!("{}: {e}", crl_path.display())))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|e| CentralError::Tls(format!("client verifier: {e}")))?;
    let certs = load_pem_certs(&dir.join(files::SERVER_CERT))?;
    let key_path = dir.join(files::SERVER_KEY);
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| CentralError::Tls(format!("{}: {e}", key_path.display())))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CentralError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| CentralError::Tls(format!("server certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

fn caller_of(cert: &CertificateDer<'_>) -> Option<Caller> {
    let (_, x) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let ou = x
        .subject()
        .iter_organizational_unit()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(Caller {
        facility_code: ou,
        cert_serial: x.raw_serial_as_string(),
    })
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn fault_layer(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let (latency, fail, down) = {
        let mut f = match state.faults.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        if f.down_until.is_some_and(|t| Instant::now() >= t) {
            f.down_until = None;
        }
        let n = state.fault_counter.fetch_add(1, Ordering::Relaxed);
        // Deterministic spread: request n fails when its share crosses an integer boundary.
        let rate = f.settings.error_rate.clamp(0.0, 1.0);
        let fail = rate > 0.0 && ((n + 1) as f64 * rate).floor() > (n as f64 * rate).floor();
        (
            f.settings.latency_ms,
            fail,
            f.settings.down || f.down_until.is_some(),
        )
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if down {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "OQS-C2901",
            "オンライン資格確認等システムは停止中です (injected downtime)",
        );
    }
    if fail {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "OQS-C2902",
            "一時的なエラーが発生しました (injected error)",
        );
    }
    next.run(req).await
}

async fn healthz(State(state): State<Shared>) -> Response {
    Json(serde_json::json!({ "status": "ok", "population": state.store.population() }))
        .into_response()
}

async fn get_faults(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if bearer(&headers) != Some(state.operator_token.as_str()) {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "OQS-C2402",
            "operator token required (Authorization: Bearer <operator-token.txt>)",
        );
    }
    let f = match state.faults.lock() {
        Ok(f) => f,
        Err(p) => p.into_inner(),
    };
    let mut s = f.settings.clone();
    s.down_for_secs = f
        .down_until
        .map(|t| t.saturating_duration_since(Instant::now()).as_secs());
    Json(s).into_response()
}

async fn put_faults(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(new): Json<FaultSettings>,
) -> Response {
    if bearer(&headers) != Some(state.operator_token.as_str()) {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "OQS-C2402",
            "operator token required (Authorization: Bearer <operator-token.txt>)",
        );
    }
    if !(0.0..=1.0).contains(&new.error_rate) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "OQS-C2403",
            "error_rate must be between 0.0 and 1.0",
        );
    }
    state.set_faults(new.clone());
    info!(
        latency_ms = new.latency_ms,
        error_rate = new.error_rate,
        down = new.down,
        "fault injection changed"
    );
    Json(new).into_response()
}

#[derive(Serialize, Deserialize, Debug)]
pub struct SettingsView {
    pub facility_code: String,
    pub facility_name: String,
    pub settings: EnvironmentSettings,
}

async fn get_settings(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    match state.store.facility(&caller.facility_code) {
        Ok(Some(f)) => Json(SettingsView {
            facility_code: f.code,
            facility_name: f.name,
            settings: f.settings,
        })
        .into_response(),
        Ok(None) => api_error(
            StatusCode::FORBIDDEN,
            "OQS-C2005",
            "この端末証明書の医療機関は登録されていません",
        ),
        Err(e) => internal(e),
    }
}

async fn put_settings(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(cred) = bearer(&headers) else {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "OQS-C2401",
            "環境設定情報の更新には管理アカウントの認証情報が必要です (Authorization: Bearer <admin credential>)",
        );
    };
    match state.store.check_admin(&caller.facility_code, cred) {
        Ok(true) => {}
        Ok(false) => {
            return api_error(
                StatusCode::UNAUTHORIZED,
                "OQS-C2401",
                "管理アカウントの認証情報が正しくありません",
            );
        }
        Err(e) => return internal(e),
    }
    let settings: EnvironmentSettings = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "OQS-C2404",
                format!("environment settings JSON is invalid: {e}"),
            );
        }
    };
    if let Err(msg) = settings.validate() {
        return api_error(StatusCode::BAD_REQUEST, "OQS-C2404", msg);
    }
    if let Err(e) = state
        .store
        .update_settings(&caller.facility_code, &settings)
    {
        return internal(e);
    }
    info!(facility = %caller.facility_code, "environment settings changed");
    get_settings(State(state), axum::Extension(caller)).await
}

impl AppState {
    fn set_faults(&self, new: FaultSettings) {
        let mut f = match self.faults.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        f.down_until = new
            .down_for_secs
            .map(|s| Instant::now() + Duration::from_secs(s));
        f.settings = FaultSettings {
            down_for_secs: None,
            ..new
        };
    }
}

fn router(state: Shared) -> Router {
    let faulty = Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/messages/{name}", post(crate::messages::handle))
        .route("/v1/checkin/challenge", post(crate::checkin::challenge))
        .route("/v1/checkin", post(crate::checkin::checkin))
        .route("/v1/facility/settings", get(get_settings).put(put_settings))
        .route("/v1/emergency/lookup", post(crate::lookup::emergency))
        .route("/v1/disaster/lookup", post(crate::lookup::disaster))
        .route("/v1/disaster/windows", get(crate::lookup::windows))
        .route("/v1/access-history", get(crate::lookup::access_history))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            fault_layer,
        ));
    Router::new()
        .route("/v1/admin/faults", get(get_faults).put(put_faults))
        .merge(faulty)
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state)
}

impl Server {
    /// Bind, load the data directory, and start serving in the background.
    pub async fn start(opts: ServeOptions) -> Result<Server, CentralError> {
        let store = Store::open(&opts.dir, opts.pool_size)?;
        let jpki_path = opts.dir.join(init::JPKI_DIR).join(mock_jpki::CA_CERT_FILE);
        let jpki_ca_der = load_pem_certs(&jpki_path)?
            .into_iter()
            .next()
            .map(|c| c.as_ref().to_vec())
            .ok_or_else(|| {
                CentralError::Tls(format!("{} holds no certificate", jpki_path.display()))
            })?;
        let operator_token = init::read_secret(&opts.dir, OPERATOR_TOKEN_FILE)?;
        let state = Arc::new(AppState {
            store,
            jpki_ca_der,
            challenges: Mutex::new(HashMap::new()),
            faults: Mutex::new(FaultState {
                settings: FaultSettings::default(),
                down_until: None,
            }),
            fault_counter: AtomicU64::new(0),
            operator_token,
            bulk_delay: opts.bulk_delay,
            reception_seq: AtomicU64::new(0),
            clock: opts.clock.clone(),
        });
        state.set_faults(opts.faults.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(&opts.dir)?));
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| CentralError::Listen {
                addr: opts.listen.to_string(),
                source: e,
            })?;
        let addr = listener.local_addr().map_err(|e| CentralError::Listen {
            addr: opts.listen.to_string(),
            source: e,
        })?;
        let app = router(state);
        let (tx, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let conn_ids = AtomicU64::new(0);
            loop {
                let (tcp, peer) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(x) => x,
                        Err(e) => { warn!(error = %e, "accept failed"); continue; }
                    },
                    _ = rx.changed() => break,
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let app = app.clone();
                let mut stop = rx.clone();
                let id = conn_ids.fetch_add(1, Ordering::Relaxed);
                let span = tracing::info_span!("conn", id, %peer);
                tokio::spawn(
                    async move {
                        let tls = match acceptor.accept(tcp).await {
                            Ok(t) => t,
                            Err(e) => {
                                info!(error = %e, "TLS handshake refused");
                                return;
                            }
                        };
                        let caller = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(caller_of);
                        let Some(caller) = caller else {
                            info!("client certificate has no facility code (OU); closing");
                            return;
                        };
                        let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                            req.extensions_mut().insert(caller.clone());
                            let app = app.clone();
                            async move {
                                use tower::ServiceExt as _;
                                app.oneshot(req.map(axum::body::Body::new)).await
                            }
                        });
                        let conn = hyper::server::conn::http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
                        tokio::pin!(conn);
                        tokio::select! {
                            r = conn.as_mut() => if let Err(e) = r { info!(error = %e, "connection ended with error"); },
                            _ = stop.changed() => conn.as_mut().graceful_shutdown(),
                        }
                    }
                    .instrument(span),
                );
            }
        });
        info!(%addr, "mock central service listening (mutual TLS)");
        Ok(Server {
            addr,
            shutdown: tx,
            task,
        })
    }

    /// Stop accepting connections and wait for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
