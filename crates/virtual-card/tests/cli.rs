//! The `oqs-virtual-card` binary: `issue` writes the CA and profiles; `serve` inserts the card into a vpcd
//! reader of the real pcscd and removes it when stdin closes.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use myna_card::{CardSession, PcscTransport, TokenKind};
use virtual_card::{CardProfile, Variant};

const BIN: &str = env!("CARGO_BIN_EXE_oqs-virtual-card");

#[test]
fn issue_then_serve_until_stdin_closes() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "issue",
            "--count",
            "8",
            "--seed",
            "5",
            "--variant",
            "mixed",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ca_before = std::fs::read(dir.path().join("jpki-ca.crt")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["jpki-ca.key", "card-0001.toml"] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    let variants: Vec<Variant> = (1..=8)
        .map(|i| {
            CardProfile::load(&dir.path().join(format!("card-{i:04}.toml")))
                .unwrap()
                .variant
        })
        .collect();
    assert_eq!(variants, Variant::ALL.to_vec());

    // Issuing again reuses the CA.
    let again = Command::new(BIN)
        .args(["issue", "--count", "1", "--seed", "99", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("jpki-ca.crt")).unwrap(),
        ca_before
    );

    let lease = pcsc_harness::reader();
    let profile_path = dir.path().join("card-0007.toml");
    let mut child = Command::new(BIN)
        .args(["serve", "--port", &lease.port.to_string(), "--profile"])
        .arg(&profile_path)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ctx = context();
    wait_card(&ctx, &lease.reader, true, Duration::from_secs(10));
    let mut s = CardSession::new(
        PcscTransport::connect(&ctx, &pcsc_harness::cstring(&lease.reader)).unwrap(),
    );
    // card 7 of the mixed cycle is the smartphone token
    assert_eq!(s.identify().unwrap().token, TokenKind::SmartphoneAndroid);
    drop(s);
    let mut stdin = child.stdin.take().unwrap();
    stdin.flush().unwrap();
    drop(stdin);
    wait_card(&ctx, &lease.reader, false, Duration::from_secs(5));
    let status = child.wait().unwrap();
    assert!(status.success());
}
