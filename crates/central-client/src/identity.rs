//! The terminal's TLS identity: its certificate, its key, and the one CA it trusts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

/// Why the terminal certificate, its key or the CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read {what} `{path}`: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} `{path}` holds no PEM certificate")]
    NoCertificate { what: &'static str, path: PathBuf },
    #[error("the terminal key `{path}` holds no PEM private key")]
    NoKey { path: PathBuf },
    #[error(
        "the terminal key `{path}` is encrypted; its passphrase is needed (stored in the OS keyring)"
    )]
    PassphraseNeeded { path: PathBuf },
    #[error("the terminal key `{path}` could not be decrypted: wrong passphrase or damaged file")]
    Decrypt { path: PathBuf },
    #[error(
        "the CA file `{path}` holds a certificate that cannot be used as a trust anchor: {reason}"
    )]
    BadCa { path: PathBuf, reason: String },
    #[error("the terminal certificate and key cannot be used together: {0}")]
    Mismatch(String),
}

/// The terminal certificate chain and its private key, loaded from PEM files.
pub struct TerminalIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for TerminalIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalIdentity")
            .field("certificates", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TerminalIdentity {
    /// Reads the certificate chain and the key. An `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2) needs
    /// `passphrase`; plain PKCS#8, PKCS#1 and SEC1 keys do not.
    pub fn load(
        cert_path: &Path,
        key_path: &Path,
        passphrase: Option<&[u8]>,
    ) -> Result<Self, IdentityError> {
        let chain = read_certificates("the terminal certificate", cert_path)?;
        let key_pem = Zeroizing::new(read("the terminal key", key_path)?);
        let key = if let Some(der) = encrypted_pkcs8(&key_pem) {
            let passphrase = passphrase.ok_or_else(|| IdentityError::PassphraseNeeded {
                path: key_path.to_owned(),
            })?;
            let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|_| {
                IdentityError::Decrypt {
                    path: key_path.to_owned(),
                }
            })?;
            let plain = info
                .decrypt(passphrase)
                .map_err(|_| IdentityError::Decrypt {
                    path: key_path.to_owned(),
                })?;
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec()))
        } else {
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| IdentityError::NoKey {
                path: key_path.to_owned(),
            })?
        };
        Ok(Self { chain, key })
    }

    /// A rustls client configuration that trusts only the CA(s) in `ca_path` and presents this identity.
    pub fn client_config(&self, ca_path: &Path) -> Result<rustls::ClientConfig, IdentityError> {
        let mut roots = RootCertStore::empty();
        for ca in read_certificates("the CA file", ca_path)? {
            roots.add(ca).map_err(|e| IdentityError::BadCa {
                path: ca_path.to_owned(),
                reason: e.to_string(),
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| IdentityError::Mismatch(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| IdentityError::Mismatch(e.to_string()))
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, IdentityError> {
    std::fs::read(path).map_err(|source| IdentityError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn read_certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, IdentityError> {
    let pem = read(what, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(IdentityError::NoCertificate {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The DER of the first `ENCRYPTED PRIVATE KEY` block, if the file has one.
fn encrypted_pkcs8(pem: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let text = std::str::from_utf8(pem).ok()?;
    let begin = text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----")?;
    let end_marker = "-----END ENCRYPTED PRIVATE KEY-----";
    let end = text[begin..].find(end_marker)? + begin + end_marker.len();
    let (label, der) = pkcs8::der::pem::decode_vec(&text.as_bytes()[begin..end]).ok()?;
    (label == "ENCRYPTED PRIVATE KEY").then(|| Zeroizing::new(der))
}
