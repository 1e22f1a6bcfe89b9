//! A deterministic mock of the JPKI certification authority (公的個人認証サービス) for tests and demos.
//!
//! The real 利用者証明用電子証明書 (user-authentication certificate) on a My Number Card is an RSA-2048
//! X.509 certificate issued by J-LIS. It carries no name: its subject is only a serial-like common name, and
//! the central service links it to an insured person by certificate serial. This crate stands in for J-LIS:
//!
//! - [`MockJpkiCa`] is an RSA-2048 CA whose key and certificate are derived from a `u64` seed, so the same
//!   seed gives byte-identical certificates on every machine. It saves to and loads from a directory
//!   (`jpki-ca.crt` PEM, `jpki-ca.key` PEM with mode 0600) so the virtual card issuer and the mock central
//!   service can share one CA.
//! - [`verify_auth_cert`] checks a leaf certificate against the CA (issuer, signature, validity window) and
//!   returns the facts a verifier needs ([`AuthCertInfo`]).
//! - [`verify_pkcs1_sha256`] checks a card's RSASSA-PKCS1-v1_5 SHA-256 signature with a certificate's key.
//!   Signing a SHA-256 DigestInfo on the card (`80 2A 00 80`) produces exactly this kind of signature.
//!
//! Revocation is not modelled here: the mock central service keeps its own revocation list by serial.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use der::{Decode, DecodePem, Encode, EncodePem, pem::LineEnding};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

/// File name of the CA certificate (PEM) inside a CA directory.
pub const CA_CERT_FILE: &str = "jpki-ca.crt";
/// File name of the CA private key (PKCS#8 PEM, mode 0600) inside a CA directory.
pub const CA_KEY_FILE: &str = "jpki-ca.key";
/// RSA modulus size of every key this crate makes; JPKI uses RSA-2048 for the authentication key.
pub const RSA_BITS: usize = 2048;

/// OID of sha256WithRSAEncryption (RFC 4055), the only signature algorithm accepted.
const SHA256_WITH_RSA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// Failures while creating, saving or loading the mock CA or issuing a certificate.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("RSA key generation failed: {0}")]
    KeyGeneration(String),
    #[error("could not encode or build a certificate or key: {0}")]
    Encoding(String),
    #[error("could not read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the CA files in {dir} are unusable: {reason}")]
    InvalidCaFiles { dir: PathBuf, reason: String },
    #[error("a certificate serial must be 1 to 20 bytes and not all zero")]
    InvalidSerial,
    #[error("not_after must be later than not_before")]
    InvalidValidity,
}

/// Why a certificate or a signature was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("the certificate is not valid DER X.509: {0}")]
    Malformed(String),
    #[error("the certificate key is not an RSA-2048 key")]
    UnsupportedKey,
    #[error("the certificate uses a signature algorithm other than sha256WithRSAEncryption")]
    UnsupportedAlgorithm,
    #[error("the certificate was not issued by this JPKI CA")]
    NotIssuedByCa,
    #[error("the certificate is not valid yet")]
    NotYetValid,
    #[error("the certificate has expired")]
    Expired,
    #[error("the signature does not match the certificate's public key")]
    BadSignature,
}

/// Derives an RNG for one purpose from a seed, so a CA and the cards issued from the same seed never share
/// a key stream.
fn derived_rng(label: &str, seed: u64) -> ChaCha20Rng {
    let mut hasher = Sha256::new();
    hasher.update(b"oqs-mock-jpki/");
    hasher.update(label.as_bytes());
    hasher.update(seed.to_be_bytes());
    ChaCha20Rng::from_seed(hasher.finalize().into())
}

/// Generates an RSA-2048 key deterministically from `label` and `seed`.
///
/// The same `(label, seed)` gives the same key with the same `rsa` crate version. Used for the CA key here
/// and for card keys by the virtual card issuer.
pub fn rsa_2048_from_seed(label: &str, seed: u64) -> Result<RsaPrivateKey, PkiError> {
    let mut rng = derived_rng(label, seed);
    RsaPrivateKey::new(&mut rng, RSA_BITS).map_err(|e| PkiError::KeyGeneration(e.to_string()))
}

fn time_of(t: SystemTime) -> Result<Time, PkiError> {
    Time::try_from(t).map_err(|e| PkiError::Encoding(format!("time out of range: {e}")))
}

fn spki_of(key: &RsaPublicKey) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    let der = key
        .to_public_key_der()
        .map_err(|e| PkiError::Encoding(e.to_string()))?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes())
        .map_err(|e| PkiError::Encoding(e.to_string()))
}

/// The fixed validity of the mock CA certificate. Fixed (not "now") so certificates are reproducible.
fn ca_validity_window() -> (SystemTime, SystemTime) {
    // 2020-01-01T00:00:00Z .. 2049-12-31T00:00:00Z (stays inside UTCTime's range)
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    let end = SystemTime::UNIX_EPOCH + Duration::from_secs(2_524_521_600);
    (start, end)
}

/// A mock JPKI CA: an RSA-2048 key and a self-signed certificate.
pub struct MockJpkiCa {
    key: RsaPrivateKey,
    cert_der: Vec<u8>,
    subject: Name,
}

impl std::fmt::Debug for MockJpkiCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockJpkiCa")
            .field("subject", &self.subject.to_string())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl MockJpkiCa {
    /// Creates the CA from a seed. The same seed always gives the same key and certificate bytes.
    pub fn generate(seed: u64) -> Result<Self, PkiError> {
        Self::generate_named(
            "ca",
            seed,
            "CN=OQS Mock JPKI User Authentication CA,OU=Mock JPKI (not J-LIS),O=OQS Test,C=JP",
        )
    }

    /// The CA of the 署名用電子証明書 (digital-signature certificates), derived from this CA's certificate so
    /// that every holder of the authentication CA (loaded from files or generated) gets the same one.
    /// On a real card its certificate is JPKI EF `0002`, next to the signature certificate in EF `0001`.
    pub fn signature_ca(&self) -> Result<Self, PkiError> {
        let h = Sha256::digest(&self.cert_der);
        let seed = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        Self::generate_named(
            "sign-ca",
            seed,
            "CN=OQS Mock JPKI Digital Signature CA,OU=Mock JPKI (not J-LIS),O=OQS Test,C=JP",
        )
    }

    fn generate_named(label: &str, seed: u64, subject: &str) -> Result<Self, PkiError> {
        let key = rsa_2048_from_seed(label, seed)?;
        let subject = Name::from_str(subject).map_err(|e| PkiError::Encoding(e.to_string()))?;
        let (nb, na) = ca_validity_window();
        let validity = Validity {
            not_before: time_of(nb)?,
            not_after: time_of(na)?,
        };
        let serial = SerialNumber::new(&[0x01]).map_err(|e| PkiError::Encoding(e.to_string()))?;
        let spki = spki_of(&key.to_public_key())?;
        let signer = SigningKey::<Sha256>::new(key.clone());
        let builder = CertificateBuilder::new(
            Profile::Root,
            serial,
            validity,
            subject.clone(),
            spki,
            &signer,
        )
        .map_err(|e| PkiError::Encoding(e.to_string()))?;
        let cert = builder
            .build::<Signature>()
            .map_err(|e| PkiError::Encoding(e.to_string()))?;
        let cert_der = cert
            .to_der()
            .map_err(|e| PkiError::Encoding(e.to_string()))?;
        Ok(Self {
            key,
            cert_der,
            subject,
        })
    }

    /// Writes `dir/jpki-ca.crt` (PEM) and `dir/jpki-ca.key` (PKCS#8 PEM, mode 0600), creating `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), PkiError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PkiError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let cert =
            Certificate::from_der(&self.cert_der).map_err(|e| PkiError::Encoding(e.to_string()))?;
        let cert_pem = cert
            .to_pem(LineEnding::LF)
            .map_err(|e| PkiError::Encoding(e.to_string()))?;
        let cert_path = dir.join(CA_CERT_FILE);
        fs::write(&cert_path, cert_pem.as_bytes()).map_err(io(&cert_path))?;

        let key_pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| PkiError::Encoding(e.to_string()))?;
        let key_path = dir.join(CA_KEY_FILE);
        write_private(&key_path, key_pem.as_bytes()).map_err(io(&key_path))?;
        Ok(())
    }

    /// Loads a CA saved by [`MockJpkiCa::save`], checking that the key belongs to the certificate.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let invalid = |reason: String| PkiError::InvalidCaFiles {
            dir: dir.to_path_buf(),
            reason,
        };
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = fs::read_to_string(&cert_path).map_err(|source| PkiError::Io {
            path: cert_path.clone(),
            source,
        })?;
        let key_pem = zeroize::Zeroizing::new(fs::read_to_string(&key_path).map_err(|source| {
            PkiError::Io {
                path: key_path.clone(),
                source,
            }
        })?);
        let cert = Certificate::from_pem(cert_pem.as_bytes())
            .map_err(|e| invalid(format!("{CA_CERT_FILE}: {e}")))?;
        let key = RsaPrivateKey::from_pkcs8_pem(&key_pem)
            .map_err(|e| invalid(format!("{CA_KEY_FILE}: {e}")))?;
        let cert_key = public_key_of(&cert).map_err(|e| invalid(e.to_string()))?;
        if cert_key != key.to_public_key() {
            return Err(invalid(
                "the private key does not belong to the certificate".into(),
            ));
        }
        let cert_der = cert
            .to_der()
            .map_err(|e| PkiError::Encoding(e.to_string()))?;
        Ok(Self {
            key,
            cert_der,
            subject: cert.tbs_certificate.subject.clone(),
        })
    }

    /// Loads the CA from `dir` when both files exist there, otherwise generates it from `seed` and saves it.
    pub fn load_or_generate(dir: &Path, seed: u64) -> Result<Self, PkiError> {
        if dir.join(CA_CERT_FILE).exists() && dir.join(CA_KEY_FILE).exists() {
            Self::load(dir)
        } else {
            let ca = Self::generate(seed)?;
            ca.save(dir)?;
            Ok(ca)
        }
    }

    /// The CA certificate, DER.
    pub fn ca_cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Issues a user-authentication certificate (利用者証明用電子証明書) for a card key.
    ///
    /// The subject is `CN=<serial as uppercase hex>, C=JP`: like the real certificate it names no person.
    /// `serial` is 1..=20 bytes; leading zero bytes are dropped so the serial reads back unchanged from
    /// [`AuthCertInfo::serial`].
    pub fn issue_auth_cert(
        &self,
        serial: &[u8],
        subject_public_key: &RsaPublicKey,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Vec<u8>, PkiError> {
        let serial = normalise_serial(serial).ok_or(PkiError::InvalidSerial)?;
        let subject = Name::from_str(&format!("CN={},C=JP", hex_upper(serial)))
            .map_err(|e| PkiError::Encoding(e.to_string()))?;
        self.issue_leaf(serial, subject, subject_public_key, not_before, not_after)
    }

    /// Issues a digital-signature certificate (署名用電子証明書) for a card's signing key. Unlike the
    /// authentication certificate it names the holder: the mock puts the name and the address in the
    /// subject (`CN=<name>, L=<address>, C=JP`), which is why readers treat it as personal data and the
    /// card guards it with the signature password. (The real certificate's exact layout of the 基本4情報 is
    /// not in our references; this is the project's stand-in.) Call it on [`MockJpkiCa::signature_ca`].
    pub fn issue_sign_cert(
        &self,
        serial: &[u8],
        subject_public_key: &RsaPublicKey,
        not_before: SystemTime,
        not_after: SystemTime,
        holder_name: &str,
        holder_address: &str,
    ) -> Result<Vec<u8>, PkiError> {
        let serial = normalise_serial(serial).ok_or(PkiError::InvalidSerial)?;
        let clean = |s: &str| -> String {
            s.chars()
                .filter(|c| !matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' | '#'))
                .collect()
        };
        let subject = Name::from_str(&format!(
            "CN={},L={},C=JP",
            clean(holder_name),
            clean(holder_address)
        ))
        .map_err(|e| PkiError::Encoding(e.to_string()))?;
        self.issue_leaf(serial, subject, subject_public_key, not_before, not_after)
    }

    fn issue_leaf(
        &self,
        serial: &[u8],
        subject: Name,
        subject_public_key: &RsaPublicKey,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Vec<u8>, PkiError> {
        if not_after <= not_before {
            return Err(PkiError::InvalidValidity);
        }
        let mut serial_der = Vec::with_capacity(serial.len() + 1);
        // DER INTEGER is signed: a leading 1-bit would make the serial negative.
        if serial[0] & 0x80 != 0 {
            serial_der.push(0);
        }
        serial_der.extend_from_slice(serial);
        let serial_number =
            SerialNumber::new(&serial_der).map_err(|e| PkiError::Encoding(e.to_string()))?;
        let validity = Validity {
            not_before: time_of(not_before)?,
            not_after: time_of(not_after)?,
        };
        let signer = SigningKey::<Sha256>::new(self.key.clone());
        let builder = CertificateBuilder::new(
            Profile::Leaf {
                issuer: self.subject.clone(),
                enable_key_agreement: false,
                enable_key_encipherment: false,
            },
            serial_number,
            validity,
            subject,
            spki_of(subject_public_key)?,
            &signer,
        )
        .map_err(|e| PkiError::Encoding(e.to_string()))?;
        let cert = builder
            .build::<Signature>()
            .map_err(|e| PkiError::Encoding(e.to_string()))?;
        cert.to_der().map_err(|e| PkiError::Encoding(e.to_string()))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its old mode through open(); force it.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)
}

fn normalise_serial(serial: &[u8]) -> Option<&[u8]> {
    let first = serial.iter().position(|b| *b != 0)?;
    let s = &serial[first..];
    (s.len() <= 20).then_some(s)
}

/// Uppercase hex, the form used for certificate serials across the project.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Facts about a verified user-authentication certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthCertInfo {
    /// Certificate serial number, big-endian, without leading zero bytes.
    pub serial: Vec<u8>,
    /// The subject's common name (a serial-like string, not a person's name).
    pub subject_cn: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// The card's authentication public key.
    pub public_key: RsaPublicKey,
}

impl AuthCertInfo {
    /// The serial as uppercase hex: the key by which the central service finds the insured person.
    pub fn serial_hex(&self) -> String {
        hex_upper(&self.serial)
    }

    /// Whether the certificate expires within `window` of `at` (e.g. 3 months: renew at the municipal office).
    pub fn expires_within(&self, at: SystemTime, window: Duration) -> bool {
        at + window >= self.not_after
    }
}

impl std::fmt::Debug for AuthCertInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCertInfo")
            .field("serial", &self.serial_hex())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn parse_cert(der: &[u8]) -> Result<Certificate, CertError> {
    Certificate::from_der(der).map_err(|e| CertError::Malformed(e.to_string()))
}

fn public_key_of(cert: &Certificate) -> Result<RsaPublicKey, CertError> {
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| CertError::Malformed(e.to_string()))?;
    let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| CertError::UnsupportedKey)?;
    if key.size() * 8 != RSA_BITS {
        return Err(CertError::UnsupportedKey);
    }
    Ok(key)
}

fn check_signed_by(cert: &Certificate, issuer_key: &RsaPublicKey) -> Result<(), CertError> {
    // RFC 5280 §4.1.1.2: the outer signatureAlgorithm (not covered by the signature) must equal the signed
    // one, and sha256WithRSAEncryption takes NULL or absent parameters. Found by a property test: a flipped
    // parameter byte outside the signed part used to verify.
    let params_ok = |alg: &spki::AlgorithmIdentifierOwned| match &alg.parameters {
        None => true,
        Some(p) => *p == der::Any::null(),
    };
    if cert.signature_algorithm.oid != SHA256_WITH_RSA
        || cert.signature_algorithm != cert.tbs_certificate.signature
        || !params_ok(&cert.signature_algorithm)
    {
        return Err(CertError::UnsupportedAlgorithm);
    }
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| CertError::Malformed(e.to_string()))?;
    let sig_bytes = cert
        .signature
        .as_bytes()
        .ok_or_else(|| CertError::Malformed("signature has unused bits".into()))?;
    let sig = Signature::try_from(sig_bytes).map_err(|_| CertError::NotIssuedByCa)?;
    VerifyingKey::<Sha256>::new(issuer_key.clone())
        .verify(&tbs, &sig)
        .map_err(|_| CertError::NotIssuedByCa)
}

/// Checks that `cert_der` was issued by the CA in `ca_der` and is valid at `at`.
pub fn verify_auth_cert(
    ca_der: &[u8],
    cert_der: &[u8],
    at: SystemTime,
) -> Result<AuthCertInfo, CertError> {
    let ca = parse_cert(ca_der)?;
    let cert = parse_cert(cert_der)?;
    if cert.tbs_certificate.issuer != ca.tbs_certificate.subject {
        return Err(CertError::NotIssuedByCa);
    }
    let ca_key = public_key_of(&ca)?;
    check_signed_by(&cert, &ca_key)?;
    let not_before = cert.tbs_certificate.validity.not_before.to_system_time();
    let not_after = cert.tbs_certificate.validity.not_after.to_system_time();
    if at < not_before {
        return Err(CertError::NotYetValid);
    }
    if at > not_after {
        return Err(CertError::Expired);
    }
    let public_key = public_key_of(&cert)?;
    let serial = normalise_serial(cert.tbs_certificate.serial_number.as_bytes())
        .unwrap_or_default()
        .to_vec();
    let subject_cn = common_name(&cert.tbs_certificate.subject).unwrap_or_default();
    Ok(AuthCertInfo {
        serial,
        subject_cn,
        not_before,
        not_after,
        public_key,
    })
}

fn common_name(name: &Name) -> Option<String> {
    const CN: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find_map(|atv| {
        if atv.oid != CN {
            return None;
        }
        // Accept the common string types; anything else is reported as absent.
        if let Ok(s) = der::asn1::PrintableStringRef::try_from(&atv.value) {
            return Some(s.as_str().to_owned());
        }
        if let Ok(s) = der::asn1::Utf8StringRef::try_from(&atv.value) {
            return Some(s.as_str().to_owned());
        }
        None
    })
}

/// Verifies an RSASSA-PKCS1-v1_5 SHA-256 signature over `message` with the public key in `cert_der`.
///
/// A card that signs the DigestInfo of SHA-256(`message`) with `80 2A 00 80` produces exactly this.
pub fn verify_pkcs1_sha256(
    cert_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CertError> {
    let cert = parse_cert(cert_der)?;
    let key = public_key_of(&cert)?;
    let sig = Signature::try_from(signature).map_err(|_| CertError::BadSignature)?;
    VerifyingKey::<Sha256>::new(key)
        .verify(message, &sig)
        .map_err(|_| CertError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::signature::{SignatureEncoding, Signer};

    const DAY: Duration = Duration::from_secs(86_400);

    fn now() -> SystemTime {
        SystemTime::now()
    }

    #[test]
    fn same_seed_gives_same_ca_and_certificates() {
        let a = MockJpkiCa::generate(7).unwrap();
        let b = MockJpkiCa::generate(7).unwrap();
        assert_eq!(a.ca_cert_der(), b.ca_cert_der());
        let card = rsa_2048_from_seed("card", 1).unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let c1 = a
            .issue_auth_cert(&[0x12, 0x34], &card.to_public_key(), t0, t0 + DAY)
            .unwrap();
        let c2 = b
            .issue_auth_cert(&[0x12, 0x34], &card.to_public_key(), t0, t0 + DAY)
            .unwrap();
        assert_eq!(c1, c2);
    }

    #[test]
    fn issued_cert_verifies_and_signature_checks() {
        let ca = MockJpkiCa::generate(1).unwrap();
        let card = rsa_2048_from_seed("card", 2).unwrap();
        let cert = ca
            .issue_auth_cert(
                &[0x00, 0x9A, 0xBC],
                &card.to_public_key(),
                now() - DAY,
                now() + 365 * DAY,
            )
            .unwrap();
        let info = verify_auth_cert(ca.ca_cert_der(), &cert, now()).unwrap();
        assert_eq!(info.serial, vec![0x9A, 0xBC]);
        assert_eq!(info.serial_hex(), "9ABC");
        assert_eq!(info.subject_cn, "9ABC");
        assert_eq!(info.public_key, card.to_public_key());
        assert!(!info.expires_within(now(), 90 * DAY));
        assert!(info.expires_within(now(), 400 * DAY));

        let sig = SigningKey::<Sha256>::new(card).sign(b"challenge");
        verify_pkcs1_sha256(&cert, b"challenge", &sig.to_bytes()).unwrap();
        assert_eq!(
            verify_pkcs1_sha256(&cert, b"other", &sig.to_bytes()),
            Err(CertError::BadSignature)
        );
    }

    #[test]
    fn validity_window_and_foreign_ca_are_rejected() {
        let ca = MockJpkiCa::generate(1).unwrap();
        let other = MockJpkiCa::generate(2).unwrap();
        let card = rsa_2048_from_seed("card", 3).unwrap();
        let cert = ca
            .issue_auth_cert(&[1], &card.to_public_key(), now() - 10 * DAY, now() - DAY)
            .unwrap();
        assert_eq!(
            verify_auth_cert(ca.ca_cert_der(), &cert, now()),
            Err(CertError::Expired)
        );
        assert_eq!(
            verify_auth_cert(ca.ca_cert_der(), &cert, now() - 20 * DAY),
            Err(CertError::NotYetValid)
        );
        assert_eq!(
            verify_auth_cert(other.ca_cert_der(), &cert, now() - 5 * DAY),
            Err(CertError::NotIssuedByCa)
        );
        assert!(matches!(
            verify_auth_cert(ca.ca_cert_der(), &cert[..cert.len() - 3], now()),
            Err(CertError::Malformed(_))
        ));
        assert!(matches!(
            ca.issue_auth_cert(&[0, 0], &card.to_public_key(), now(), now() + DAY),
            Err(PkiError::InvalidSerial)
        ));
    }

    #[test]
    fn signature_ca_is_its_own_and_names_the_holder() {
        let ca = MockJpkiCa::generate(1).unwrap();
        let sign_ca = ca.signature_ca().unwrap();
        assert_ne!(sign_ca.ca_cert_der(), ca.ca_cert_der());
        assert_eq!(
            sign_ca.ca_cert_der(),
            MockJpkiCa::generate(1)
                .unwrap()
                .signature_ca()
                .unwrap()
                .ca_cert_der()
        );
        let card = rsa_2048_from_seed("card-sign", 4).unwrap();
        let cert = sign_ca
            .issue_sign_cert(
                &[0x4A, 1],
                &card.to_public_key(),
                now() - DAY,
                now() + DAY,
                "佐藤\u{3000}花子",
                "東京都千代田区霞が関一丁目2番2号",
            )
            .unwrap();
        verify_auth_cert(sign_ca.ca_cert_der(), &cert, now()).unwrap();
        assert_eq!(
            verify_auth_cert(ca.ca_cert_der(), &cert, now()),
            Err(CertError::NotIssuedByCa)
        );
        let parsed = parse_cert(&cert).unwrap();
        assert!(parsed.tbs_certificate.subject.to_string().contains("花子"));
    }

    #[test]
    fn save_and_load_round_trip_with_private_key_mode() {
        let dir = tempfile::tempdir().unwrap();
        let ca = MockJpkiCa::generate(5).unwrap();
        ca.save(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let loaded = MockJpkiCa::load(dir.path()).unwrap();
        assert_eq!(loaded.ca_cert_der(), ca.ca_cert_der());
        let again = MockJpkiCa::load_or_generate(dir.path(), 99).unwrap();
        assert_eq!(again.ca_cert_der(), ca.ca_cert_der());
        assert!(!format!("{loaded:?}").contains("PRIVATE"));
    }
}
