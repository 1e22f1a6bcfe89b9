//! The mock terminal PKI: a CA, the server certificate, the facility's terminal certificates
//! (valid, revoked, expired), the CRL, and the registered face-reader signing keys.
//!
//! All files are PEM, so curl can use them as they are:
//! `curl --cacert DIR/ca.crt --cert DIR/terminal.crt --key DIR/terminal.key https://127.0.0.1:PORT/healthz`.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SerialNumber,
};
use ring::signature::KeyPair as _;
use time::{Duration, OffsetDateTime};

use crate::error::CentralError;

/// File names inside the data directory.
pub mod files {
    pub const CA_CERT: &str = "ca.crt";
    pub const CA_KEY: &str = "ca.key";
    pub const CRL: &str = "ca.crl";
    pub const SERVER_CERT: &str = "server.crt";
    pub const SERVER_KEY: &str = "server.key";
    pub const TERMINAL_CERT: &str = "terminal.crt";
    pub const TERMINAL_KEY: &str = "terminal.key";
    pub const SECOND_TERMINAL_CERT: &str = "terminal-tokyo.crt";
    pub const SECOND_TERMINAL_KEY: &str = "terminal-tokyo.key";
    pub const REVOKED_CERT: &str = "terminal-revoked.crt";
    pub const REVOKED_KEY: &str = "terminal-revoked.key";
    pub const EXPIRED_CERT: &str = "terminal-expired.crt";
    pub const EXPIRED_KEY: &str = "terminal-expired.key";
    pub const READER_KEY: &str = "reader-01.key";
    pub const READER_PUB: &str = "reader-01.pub";
}

/// Serial numbers of the certificates `init` issues (the revoked one is listed in the CRL).
pub const SERIAL_TERMINAL: u64 = 0x1001;
pub const SERIAL_SECOND_TERMINAL: u64 = 0x1002;
pub const SERIAL_REVOKED: u64 = 0x1003;
pub const SERIAL_EXPIRED: u64 = 0x1004;
pub const SERIAL_SERVER: u64 = 0x2001;

fn write_file(dir: &Path, name: &str, contents: &[u8], secret: bool) -> Result<(), CentralError> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|e| CentralError::io(&path, e))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| CentralError::io(&path, e))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

fn leaf_params(
    cn: &str,
    ou: Option<&str>,
    serial: u64,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "OQS mock central");
    if let Some(ou) = ou {
        dn.push(DnType::OrganizationalUnitName, ou);
    }
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.serial_number = Some(SerialNumber::from(serial));
    p.not_before = not_before;
    p.not_after = not_after;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    p
}

/// A facility that gets a terminal certificate.
pub struct TerminalSpec<'a> {
    pub facility_code: &'a str,
    pub cert_file: &'a str,
    pub key_file: &'a str,
    pub serial: u64,
}

/// Create the CA, server and terminal certificates, the CRL and the reader key in `dir`.
/// `facility_code` goes into the terminal certificates' OU, which is how the server knows the caller.
pub fn create_all(
    dir: &Path,
    main_facility: &str,
    second_facility: &str,
) -> Result<ReaderKey, CentralError> {
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "OQS mock central");
    dn.push(DnType::CommonName, "OQS mock terminal CA");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now - Duration::days(1);
    ca.not_after = now + Duration::days(365 * 20);
    ca.serial_number = Some(SerialNumber::from(1u64));
    ca.key_identifier_method = KeyIdMethod::Sha256;
    let ca_cert = ca.self_signed(&ca_key)?;
    write_file(dir, files::CA_CERT, ca_cert.pem().as_bytes(), false)?;
    write_file(dir, files::CA_KEY, ca_key.serialize_pem().as_bytes(), true)?;
    let issuer = Issuer::new(ca, ca_key);

    let issue =
        |params: CertificateParams, cert_file: &str, key_file: &str| -> Result<(), CentralError> {
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &issuer)?;
            write_file(dir, cert_file, cert.pem().as_bytes(), false)?;
            write_file(dir, key_file, key.serialize_pem().as_bytes(), true)
        };

    let mut server = leaf_params(
        "OQS mock central service",
        None,
        SERIAL_SERVER,
        now - Duration::days(1),
        now + Duration::days(365 * 10),
    );
    server.subject_alt_names = vec![
        rcgen::SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        rcgen::SanType::IpAddress(std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)),
        rcgen::SanType::DnsName("localhost".try_into()?),
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    issue(server, files::SERVER_CERT, files::SERVER_KEY)?;

    let client = |cn: &str, fac: &str, serial, nb, na| {
        let mut p = leaf_params(cn, Some(fac), serial, nb, na);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p
    };
    let valid_from = now - Duration::days(1);
    let valid_to = now + Duration::days(365 * 5);
    issue(
        client(
            "terminal-01",
            main_facility,
            SERIAL_TERMINAL,
            valid_from,
            valid_to,
        ),
        files::TERMINAL_CERT,
        files::TERMINAL_KEY,
    )?;
    issue(
        client(
            "terminal-01",
            second_facility,
            SERIAL_SECOND_TERMINAL,
            valid_from,
            valid_to,
        ),
        files::SECOND_TERMINAL_CERT,
        files::SECOND_TERMINAL_KEY,
    )?;
    issue(
        client(
            "terminal-02 (revoked)",
            main_facility,
            SERIAL_REVOKED,
            valid_from,
            valid_to,
        ),
        files::REVOKED_CERT,
        files::REVOKED_KEY,
    )?;
    issue(
        client(
            "terminal-03 (expired)",
            main_facility,
            SERIAL_EXPIRED,
            now - Duration::days(400),
            now - Duration::days(30),
        ),
        files::EXPIRED_CERT,
        files::EXPIRED_KEY,
    )?;

    let crl = CertificateRevocationListParams {
        this_update: now - Duration::hours(1),
        next_update: now + Duration::days(365 * 10),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(SERIAL_REVOKED),
            revocation_time: now - Duration::hours(1),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)?;
    write_file(dir, files::CRL, crl.pem()?.as_bytes(), false)?;

    let reader = ReaderKey::generate()?;
    write_file(
        dir,
        files::READER_KEY,
        pem_encode("PRIVATE KEY", reader.pkcs8()).as_bytes(),
        true,
    )?;
    write_file(
        dir,
        files::READER_PUB,
        pem_encode("ED25519 PUBLIC KEY", &reader.public_key()).as_bytes(),
        false,
    )?;
    Ok(reader)
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decode the first PEM block with `label` from `text`.
pub fn pem_decode(text: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = text[start..].find(&end)? + start;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// A face-reader's Ed25519 signing key (PKCS#8), zeroized on drop.
pub struct ReaderKey {
    pkcs8: zeroize::Zeroizing<Vec<u8>>,
    pair: ring::signature::Ed25519KeyPair,
}

impl std::fmt::Debug for ReaderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReaderKey(<redacted>)")
    }
}

impl ReaderKey {
    pub fn generate() -> Result<Self, CentralError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| CentralError::Tls("cannot generate the reader key".into()))?;
        Self::from_pkcs8(doc.as_ref())
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, CentralError> {
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(der)
            .map_err(|_| CentralError::Tls("the reader key is not an Ed25519 PKCS#8 key".into()))?;
        Ok(ReaderKey {
            pkcs8: zeroize::Zeroizing::new(der.to_vec()),
            pair,
        })
    }

    /// Load `reader-01.key` (PEM) from a data directory.
    pub fn load(path: &Path) -> Result<Self, CentralError> {
        let text = std::fs::read_to_string(path).map_err(|e| CentralError::io(path, e))?;
        let der = pem_decode(&text, "PRIVATE KEY").ok_or_else(|| {
            CentralError::Tls(format!("{} holds no PEM private key", path.display()))
        })?;
        Self::from_pkcs8(&der)
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }
}

/// Verify an Ed25519 signature by a registered reader.
pub fn verify_reader_signature(public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(msg, sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_reader_signature() {
        let k = ReaderKey::generate().unwrap();
        let pem = pem_encode("PRIVATE KEY", k.pkcs8());
        let back = ReaderKey::from_pkcs8(&pem_decode(&pem, "PRIVATE KEY").unwrap()).unwrap();
        let sig = back.sign(b"hello");
        assert!(verify_reader_signature(&k.public_key(), b"hello", &sig));
        assert!(!verify_reader_signature(&k.public_key(), b"hellO", &sig));
        assert!(pem_decode("garbage", "PRIVATE KEY").is_none());
        assert_eq!(format!("{k:?}"), "ReaderKey(<redacted>)");
    }
}
