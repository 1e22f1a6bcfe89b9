//! The terminal certificate: installed and readable (with its key), chained to the central CA, not expired
//! or near expiry.

use std::path::Path;
use std::time::{Duration, SystemTime};

use reader_daemon::config::Config;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::{Item, Options};

pub(crate) struct CertificateCheck {
    pub items: Vec<Item>,
    /// The certificate and key can be tried against the central service.
    pub usable: bool,
}

const FIX_INSTALL_JA: &str = "電子証明書 (端末ごとに1枚) を /etc/oqs/central/ に配置し (terminal.crt と terminal.key、CA は ca.crt)、所有者 root・グループ oqs・モード 0640 にしてください。Windows では C:\\ProgramData\\OQS\\central\\ です。";
const FIX_INSTALL_EN: &str = "Install this PC's electronic certificate (one per terminal) as configured in [central] (Linux: /etc/oqs/central/terminal.crt and terminal.key, CA ca.crt; owner root, group oqs, mode 0640; Windows: C:\\ProgramData\\OQS\\central\\).";

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate in the file",
            path.display()
        ));
    }
    Ok(certs)
}

fn unix(t: i64) -> SystemTime {
    match u64::try_from(t) {
        Ok(secs) => SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

fn day(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

pub(crate) fn check(config: &Config, options: &Options) -> CertificateCheck {
    let installed = Item::named(
        "certificate-installed",
        "電子証明書の配置",
        "Terminal certificate installed and readable",
    );
    let chain = Item::named(
        "certificate-chain",
        "電子証明書の発行元 (CA)",
        "Certificate chains to the central CA",
    );
    let expiry = Item::named(
        "certificate-expiry",
        "電子証明書の有効期限",
        "Certificate expiry",
    );
    let cert_path = config.resolve(&config.central.terminal_cert);
    let key_path = config.resolve(&config.central.terminal_key);
    let ca_path = config.resolve(&config.central.ca_cert);

    let certs = match pem_certs(&cert_path) {
        Ok(c) => c,
        Err(e) => {
            let why = "the terminal certificate is missing or unreadable";
            return CertificateCheck {
                items: vec![
                    installed.fail(e, FIX_INSTALL_JA, FIX_INSTALL_EN),
                    chain.skip(why),
                    expiry.skip(why),
                ],
                usable: false,
            };
        }
    };
    // Only whether the key file can be read and looks like a key: its passphrase (if encrypted) is the
    // daemon's business, and the TLS check below proves the pair.
    let key_problem = match std::fs::read(&key_path) {
        Err(e) => Some(format!("{}: {e}", key_path.display())),
        Ok(bytes) if !String::from_utf8_lossy(&bytes).contains("PRIVATE KEY-----") => Some(
            format!("{}: no PEM private key in the file", key_path.display()),
        ),
        Ok(_) => None,
    };
    let leaf = match x509_parser::parse_x509_certificate(&certs[0]) {
        Ok((_, cert)) => cert,
        Err(e) => {
            let why = "the terminal certificate cannot be read";
            return CertificateCheck {
                items: vec![
                    installed.fail(
                        format!("{}: not an X.509 certificate ({e})", cert_path.display()),
                        FIX_INSTALL_JA,
                        FIX_INSTALL_EN,
                    ),
                    chain.skip(why),
                    expiry.skip(why),
                ],
                usable: false,
            };
        }
    };
    let not_before = unix(leaf.validity().not_before.timestamp());
    let not_after = unix(leaf.validity().not_after.timestamp());
    let subject = leaf.subject().to_string();
    let mut items = vec![match &key_problem {
        Some(problem) => installed.fail(problem.clone(), FIX_INSTALL_JA, FIX_INSTALL_EN),
        None => installed.pass(format!("{} ({subject})", cert_path.display())),
    }];

    // The chain, judged at a moment inside the validity period so that expiry is reported on its own.
    let chain_ok = match pem_certs(&ca_path) {
        Err(e) => {
            items.push(chain.fail(
                e,
                "オンライン資格確認等システムの CA 証明書を [central] ca_cert の場所に配置してください。",
                "Install the central service's CA certificate where [central] ca_cert points.",
            ));
            false
        }
        Ok(cas) => match verify_chain(&certs, &cas, not_before) {
            Ok(()) => {
                items.push(chain.pass(format!("issued by the CA in {}", ca_path.display())));
                true
            }
            Err(e) => {
                items.push(chain.fail(
                    format!(
                        "{} does not chain to the CA in {}: {e}",
                        cert_path.display(),
                        ca_path.display()
                    ),
                    "この端末用に発行された電子証明書か、CA 証明書が正しいものか確認してください。別の端末の証明書は使えません。",
                    "Check that the certificate was issued for this terminal and that the CA file is the central service's. Another terminal's certificate cannot be used.",
                ));
                false
            }
        },
    };

    let expired = options.now >= not_after;
    let left = not_after.duration_since(options.now).unwrap_or_default();
    let renew_ja = "電子証明書の更新手続きを行い、新しい証明書を配置してください (更新しないとオンライン資格確認が使えなくなります)。";
    let renew_en = "Apply for the certificate's renewal and install the new one; without it online eligibility confirmation stops working.";
    items.push(if expired {
        expiry.fail(format!("expired on {}", day(not_after)), renew_ja, renew_en)
    } else if options.now < not_before {
        expiry.fail(
            format!("not valid before {}", day(not_before)),
            "PC の時刻が正しいか確認してください。",
            "Check this PC's clock.",
        )
    } else if left < options.expiry_warning {
        expiry.warn(
            format!(
                "expires on {} ({} days left)",
                day(not_after),
                left.as_secs() / 86_400
            ),
            renew_ja,
            renew_en,
        )
    } else {
        expiry.pass(format!(
            "valid until {} ({} days left)",
            day(not_after),
            left.as_secs() / 86_400
        ))
    });
    CertificateCheck {
        items,
        usable: key_problem.is_none() && chain_ok && !expired,
    }
}

fn verify_chain(
    certs: &[CertificateDer<'static>],
    cas: &[CertificateDer<'static>],
    not_before: SystemTime,
) -> Result<(), String> {
    let anchors: Vec<_> = cas
        .iter()
        .filter_map(|ca| webpki::anchor_from_trusted_cert(ca).ok())
        .collect();
    if anchors.is_empty() {
        return Err("the CA file holds no usable CA certificate".into());
    }
    let leaf = webpki::EndEntityCert::try_from(&certs[0]).map_err(|e| e.to_string())?;
    let at = not_before
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(1);
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &certs[1..],
        UnixTime::since_unix_epoch(at),
        webpki::KeyUsage::client_auth(),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| format!("{e:?}"))
}
