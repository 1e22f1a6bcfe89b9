//! Independent JPKI software accepts the virtual card as a My Number Card: OpenSC's `jpki` driver and its
//! PKCS#15 emulation (`pkcs15-tool`, `pkcs15-crypt`; Debian package `opensc`) through the real pcscd and the
//! vpcd reader. They list both certificates and both CAs, both PINs with their counters (3 and 5), both keys;
//! read the certificates; count a wrong PIN; read the signature certificate and sign with the 署名用 key after
//! the signature password. Throughout, the card records no command naming a 個人番号 EF.
//!
//! OpenSC's emulation gives up on a card whose 署名用 PIN EF (`001B`) does not answer a counter query:
//! that is why the card needs the whole 署名用 side to be accepted at all.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use der::{DecodePem, Encode};
use sha2::{Digest, Sha256};
use virtual_card::{CardProfile, Faults, Variant, VpcdCard};

/// Runs an OpenSC tool on the leased reader with a private HOME (no cache from elsewhere); returns stdout.
fn opensc(tool: &str, lease: &pcsc_harness::ReaderLease, home: &Path, args: &[&str]) -> String {
    let out = Command::new(tool)
        .arg("--reader")
        .arg(&lease.reader)
        .args(args)
        .env("HOME", home)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {tool} ({e}): apt-get install -y --no-install-recommends opensc")
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `pkcs15-tool --list-pins` as (label, tries left).
fn pins(text: &str) -> Vec<(String, Option<u8>)> {
    let mut out: Vec<(String, Option<u8>)> = Vec::new();
    for line in text.lines() {
        if let Some(label) = line.strip_prefix("PIN [") {
            out.push((label.trim_end_matches(']').to_owned(), None));
        } else if let Some((k, v)) = line.split_once(':')
            && k.trim() == "Tries left"
            && let Some(last) = out.last_mut()
        {
            last.1 = v.trim().parse().ok();
        }
    }
    out
}

fn der_of_pem(pem: &str) -> Vec<u8> {
    x509_cert::Certificate::from_pem(pem.as_bytes())
        .and_then(|c| c.to_der())
        .expect("a PEM certificate")
}

fn insert(lease: &pcsc_harness::ReaderLease, p: &CardProfile) -> VpcdCard {
    let vpcd = VpcdCard::insert(p.to_card().unwrap(), lease.port, Faults::default())
        .expect("vpcd reachable");
    wait_card(&context(), &lease.reader, true, Duration::from_secs(5));
    vpcd
}

#[test]
fn pkcs15_tool_lists_and_reads_both_certificates_pins_and_keys() {
    let lease = pcsc_harness::reader();
    let home = tempfile::tempdir().unwrap();
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let vpcd = insert(&lease, &p);
    let tool = |args: &[&str]| opensc("pkcs15-tool", &lease, home.path(), args);

    let certs = tool(&["--list-certificates"]);
    for label in [
        "User Authentication Certificate",
        "Digital Signature Certificate",
        "User Authentication Certificate CA",
        "Digital Signature Certificate CA",
    ] {
        assert!(
            certs.contains(&format!("[{label}]")),
            "{label} missing:\n{certs}"
        );
    }
    assert_eq!(
        pins(&tool(&["--list-pins"])),
        vec![
            ("User Authentication PIN".to_owned(), Some(3)),
            ("Digital Signature PIN".to_owned(), Some(5)),
        ]
    );
    let keys = tool(&["--list-keys"]);
    assert!(keys.contains("[User Authentication Key]"), "{keys}");
    assert!(keys.contains("[Digital Signature Key]"), "{keys}");

    // The open certificates read back byte for byte.
    let auth = tool(&["--read-certificate", "01"]);
    assert_eq!(der_of_pem(&auth), p.auth_cert_der().unwrap());
    let sign_ca = tool(&["--read-certificate", "04"]);
    assert_eq!(
        der_of_pem(&sign_ca),
        der_of_pem(p.certificates.sign_ca_cert_pem.as_deref().unwrap())
    );

    // A wrong PIN is counted on each side, and the counters show it.
    let wrong = Command::new("pkcs15-tool")
        .arg("--reader")
        .arg(&lease.reader)
        .args(["--verify-pin", "--auth-id", "02", "--pin", "WRONG0000"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong signature password passed");
    assert_eq!(
        pins(&tool(&["--list-pins"])),
        vec![
            ("User Authentication PIN".to_owned(), Some(3)),
            ("Digital Signature PIN".to_owned(), Some(4)),
        ]
    );

    // With the signature password, the signature certificate (it names the holder) reads.
    let sign_pin = p
        .sign_pin
        .clone()
        .expect("the card has a signature password");
    let sign = tool(&[
        "--verify-pin",
        "--auth-id",
        "02",
        "--pin",
        &sign_pin,
        "--read-certificate",
        "02",
    ]);
    assert_eq!(
        der_of_pem(&sign),
        der_of_pem(p.certificates.sign_cert_pem.as_deref().unwrap())
    );

    let card = vpcd.remove().expect("card state");
    assert_eq!(card.sign_pin_tries(), Some(5), "the right password resets");
    assert_eq!(card.auth_pin_tries(), Some(3));
    assert!(
        card.my_number_accesses().is_empty(),
        "{:?}",
        card.my_number_accesses()
    );
    wait_card(&context(), &lease.reader, false, Duration::from_secs(5));
}

#[test]
fn pkcs15_crypt_signs_with_each_key_after_its_pin() {
    let lease = pcsc_harness::reader();
    let home = tempfile::tempdir().unwrap();
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let vpcd = insert(&lease, &p);
    let message = b"a document the holder signs";
    let digest = home.path().join("digest");
    std::fs::write(&digest, Sha256::digest(message)).unwrap();

    let sign_pin = p.sign_pin.clone().unwrap();
    let cases = [
        (
            "01",
            p.auth_pin.clone().unwrap(),
            p.auth_cert_der().unwrap(),
        ),
        (
            "02",
            sign_pin,
            der_of_pem(p.certificates.sign_cert_pem.as_deref().unwrap()),
        ),
    ];
    for (key, pin, cert) in cases {
        let out = home.path().join(format!("sig-{key}"));
        opensc(
            "pkcs15-crypt",
            &lease,
            home.path(),
            &[
                "--sign",
                "--key",
                key,
                "--pkcs1",
                "--sha-256",
                "--pin",
                &pin,
                "--input",
                digest.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ],
        );
        let sig = std::fs::read(&out).unwrap();
        mock_jpki::verify_pkcs1_sha256(&cert, message, &sig)
            .unwrap_or_else(|e| panic!("key {key}: {e}"));
    }
    let card = vpcd.remove().expect("card state");
    assert!(card.my_number_accesses().is_empty());
    wait_card(&context(), &lease.reader, false, Duration::from_secs(5));
}

#[test]
fn face_only_card_has_no_signature_side() {
    let ca = ca();
    let p = profile(&ca, Variant::FaceOnly);
    assert!(p.sign_pin.is_none());
    assert!(p.certificates.sign_cert_pem.is_none());
    let n = profile(&ca, Variant::Normal);
    let pw = n.sign_pin.as_deref().unwrap();
    assert!((6..=16).contains(&pw.len()), "{pw}");
    assert!(pw.bytes().any(|b| b.is_ascii_uppercase()) && pw.bytes().any(|b| b.is_ascii_digit()));
    assert!(
        pw.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
}
