//! A mutual-TLS HTTP client for a data directory's terminal certificates, for tests, the load
//! benchmark and tools (the product's own client lives in `central-client`).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::CentralError;
use crate::pki::files;

/// rustls client configuration trusting `DIR/ca.crt` and presenting `cert_file` + `key_file`
/// (both relative to `dir`); `None` presents no client certificate.
pub fn tls_config(
    dir: &Path,
    client: Option<(&str, &str)>,
) -> Result<rustls::ClientConfig, CentralError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca = dir.join(files::CA_CERT);
    for c in CertificateDer::pem_file_iter(&ca)
        .map_err(|e| CentralError::Tls(format!("{}: {e}", ca.display())))?
    {
        let c = c.map_err(|e| CentralError::Tls(format!("{}: {e}", ca.display())))?;
        roots.add(c).map_err(|e| CentralError::Tls(e.to_string()))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CentralError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let cfg = match client {
        Some((cert, key)) => {
            let cert_path = dir.join(cert);
            let key_path = dir.join(key);
            let certs = CertificateDer::pem_file_iter(&cert_path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| CentralError::Tls(format!("{}: {e}", cert_path.display())))?;
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| CentralError::Tls(format!("{}: {e}", key_path.display())))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| CentralError::Tls(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(cfg)
}

/// A keep-alive reqwest client over [`tls_config`].
pub fn http_client(
    dir: &Path,
    client: Option<(&str, &str)>,
) -> Result<reqwest::Client, CentralError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(dir, client)?)
        .http1_only()
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| CentralError::Tls(format!("HTTP client: {e}")))
}

/// The client of the data directory's main terminal (`terminal.crt` / `terminal.key`).
pub fn terminal_client(dir: &Path) -> Result<reqwest::Client, CentralError> {
    http_client(dir, Some((files::TERMINAL_CERT, files::TERMINAL_KEY)))
}
