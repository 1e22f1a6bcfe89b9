//! The client against a small HTTPS server on loopback that demands client certificates, with
//! certificates made by rcgen: pinning, refusals, retries, link state, encrypted keys.
//! (The end-to-end tests against the real mock central service live in the workspace `tests/`.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use central_client::{CentralClient, CentralConfig, CentralError, LinkState, RetryPolicy};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, names: &[&str], dir: &Path, stem: &str) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let params = CertificateParams::new(names).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::write(dir.join(format!("{stem}.crt")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
}

/// `ca.crt` signs `server` and `terminal`; `rogue-ca.crt` signs `rogue-server` and `rogue-terminal`.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let real = ca("mock terminal CA");
    let rogue = ca("somebody else");
    std::fs::write(dir.path().join("ca.crt"), real.pem()).unwrap();
    std::fs::write(dir.path().join("rogue-ca.crt"), rogue.pem()).unwrap();
    leaf(&real, &["127.0.0.1", "localhost"], dir.path(), "server");
    leaf(&real, &["terminal-1311111111"], dir.path(), "terminal");
    leaf(&rogue, &["127.0.0.1"], dir.path(), "rogue-server");
    leaf(&rogue, &["terminal-rogue"], dir.path(), "rogue-terminal");
    Pki { dir }
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Starts an HTTPS server that requires a client certificate from `client_ca`.
async fn serve(pki: &Pki, server: &str, client_ca: &str, app: Router) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(&pki.path(client_ca)) {
        roots.add(c).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&pki.path(&format!("{server}.crt"))),
            PrivateKeyDer::from_pem_file(pki.path(&format!("{server}.key"))).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    addr
}

fn config(pki: &Pki, addr: SocketAddr, ca: &str, terminal: &str) -> CentralConfig {
    let mut config = CentralConfig::new(
        format!("https://{addr}/").parse().unwrap(),
        pki.path(ca),
        pki.path(&format!("{terminal}.crt")),
        pki.path(&format!("{terminal}.key")),
    );
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    config.request_timeout = Duration::from_secs(2);
    config
}

fn echo_app() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/v1/messages/{name}",
            post(
                |axum::extract::Path(name): axum::extract::Path<String>,
                 body: axum::body::Bytes| async move {
                    let mut headers = HeaderMap::new();
                    headers.insert(
                        "X-OQS-Result-Name",
                        name.replace("req", "res").parse().unwrap(),
                    );
                    (headers, body)
                },
            ),
        )
}

#[tokio::test]
async fn message_round_trip_over_mutual_tls() {
    let pki = pki();
    let addr = serve(&pki, "server", "ca.crt", echo_app()).await;
    let client = CentralClient::new(&config(&pki, addr, "ca.crt", "terminal"), None).unwrap();
    assert_eq!(client.link_state(), LinkState::Unknown);
    let body = "<XmlMsg>資格確認</XmlMsg>".as_bytes();
    let result = client
        .send_message("OQSsiquc01req_20240401.xml", body)
        .await
        .unwrap();
    assert_eq!(result.name, "OQSsiquc01res_20240401.xml");
    assert_eq!(result.body, body);
    assert!(client.link_state().is_up());
}

#[tokio::test]
async fn a_server_from_another_ca_is_not_trusted() {
    let pki = pki();
    let addr = serve(&pki, "rogue-server", "ca.crt", echo_app()).await;
    let client = CentralClient::new(&config(&pki, addr, "ca.crt", "terminal"), None).unwrap();
    let err = client.probe().await.unwrap_err();
    assert!(matches!(err, CentralError::TlsRefused(_)), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_terminal_certificate_from_another_ca_is_refused() {
    let pki = pki();
    let addr = serve(&pki, "server", "ca.crt", echo_app()).await;
    let client = CentralClient::new(&config(&pki, addr, "ca.crt", "rogue-terminal"), None).unwrap();
    let err = client.probe().await.unwrap_err();
    assert!(matches!(err, CentralError::TlsRefused(_)), "{err}");
}

#[tokio::test]
async fn outage_is_seen_and_recovery_too() {
    let pki = pki();
    // Reserve a port, then close it: connections are refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = CentralClient::new(&config(&pki, port, "ca.crt", "terminal"), None).unwrap();
    let mut link = client.link();
    let err = client
        .send_message("OQSsiquc01req_x.xml", b"<x/>")
        .await
        .unwrap_err();
    assert!(matches!(err, CentralError::Unreachable(_)), "{err}");
    assert!(err.is_transient());
    link.changed().await.unwrap();
    assert!(matches!(&*link.borrow_and_update(), LinkState::Down { .. }));

    let addr = serve(&pki, "server", "ca.crt", echo_app()).await;
    let client = CentralClient::new(&config(&pki, addr, "ca.crt", "terminal"), None).unwrap();
    client.probe().await.unwrap();
    assert!(client.link_state().is_up());
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let pki = pki();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/v1/messages/{name}",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (StatusCode::SERVICE_UNAVAILABLE, "maintenance")
            }
        }),
    );
    let addr = serve(&pki, "server", "ca.crt", app).await;
    let client = CentralClient::new(&config(&pki, addr, "ca.crt", "terminal"), None).unwrap();
    let err = client
        .send_message("OQSsiquc01req_x.xml", b"<x/>")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CentralError::Status { status: 503, body } if body == "maintenance"),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert!(matches!(client.link_state(), LinkState::Down { .. }));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let pki = pki();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/v1/messages/{name}",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (StatusCode::BAD_REQUEST, "bad file")
            }
        }),
    );
    let addr = serve(&pki, "server", "ca.crt", app).await;
    let client = CentralClient::new(&config(&pki, addr, "ca.crt", "terminal"), None).unwrap();
    let err = client
        .send_message("OQSsiquc01req_x.xml", b"<x/>")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CentralError::Status { status: 400, .. }),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // The service answered, so the link is up.
    assert!(client.link_state().is_up());
}

#[tokio::test]
async fn slow_answers_time_out() {
    let pki = pki();
    let app = Router::new().route(
        "/healthz",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "late"
        }),
    );
    let addr = serve(&pki, "server", "ca.crt", app).await;
    let mut config = config(&pki, addr, "ca.crt", "terminal");
    config.request_timeout = Duration::from_millis(300);
    let client = CentralClient::new(&config, None).unwrap();
    let err = client.probe().await.unwrap_err();
    assert!(matches!(err, CentralError::Timeout(_)), "{err}");
}

#[tokio::test]
async fn a_missing_result_name_is_a_bad_answer() {
    let pki = pki();
    let app = Router::new().route("/v1/messages/{name}", post(|| async { "<XmlMsg/>" }));
    let addr = serve(&pki, "server", "ca.crt", app).await;
    let client = CentralClient::new(&config(&pki, addr, "ca.crt", "terminal"), None).unwrap();
    let err = client
        .send_message("OQSsiquc01req_x.xml", b"<x/>")
        .await
        .unwrap_err();
    assert!(matches!(err, CentralError::BadAnswer(_)), "{err}");
}

#[tokio::test]
async fn encrypted_key_needs_its_passphrase() {
    use pkcs8::der::pem::LineEnding;
    use pkcs8::pkcs5::pbes2;

    let pki = pki();
    // Re-encrypt the terminal key with PBES2 (PBKDF2-SHA256 + AES-256-CBC), as vendors ship it.
    let plain = std::fs::read_to_string(pki.path("terminal.key")).unwrap();
    let (_, der) = pkcs8::der::pem::decode_vec(plain.as_bytes()).unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
    let params =
        pbes2::Parameters::pbkdf2_sha256_aes256cbc(1000, b"saltsaltsaltsalt", &[7u8; 16]).unwrap();
    let encrypted = info.encrypt_with_params(params, b"correct horse").unwrap();
    let pem = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .unwrap();
    std::fs::write(pki.path("enc.key"), pem.as_bytes()).unwrap();
    std::fs::copy(pki.path("terminal.crt"), pki.path("enc.crt")).unwrap();

    let addr = serve(&pki, "server", "ca.crt", echo_app()).await;
    let config = config(&pki, addr, "ca.crt", "enc");
    let err = CentralClient::new(&config, None).unwrap_err();
    assert!(err.to_string().contains("passphrase is needed"), "{err}");
    let err = CentralClient::new(&config, Some(b"wrong")).unwrap_err();
    assert!(err.to_string().contains("could not be decrypted"), "{err}");
    let client = CentralClient::new(&config, Some(b"correct horse")).unwrap();
    client.probe().await.unwrap();
}

#[test]
fn missing_files_are_named() {
    let pki = pki();
    let mut config = config(&pki, "127.0.0.1:1".parse().unwrap(), "ca.crt", "terminal");
    config.terminal_cert = pki.path("nope.crt");
    let err = CentralClient::new(&config, None).unwrap_err();
    assert!(err.to_string().contains("nope.crt"), "{err}");
    config.terminal_cert = pki.path("terminal.crt");
    config.ca_cert = pki.path("terminal.key");
    let err = CentralClient::new(&config, None).unwrap_err();
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn path_segments_are_escaped_and_dot_segments_refused() {
    let pki = pki();
    let addr = serve(&pki, "server", "ca.crt", echo_app()).await;
    let client = CentralClient::new(&config(&pki, addr, "ca.crt", "terminal"), None).unwrap();
    let err = client.send_message("..", b"<x/>").await.unwrap_err();
    assert!(matches!(err, CentralError::BadUrl(..)), "{err}");
    let result = client
        .send_message("OQSsiquc01req_a b#c.xml", b"<x/>")
        .await
        .unwrap();
    assert_eq!(result.name, "OQSsiquc01res_a b#c.xml");
}
