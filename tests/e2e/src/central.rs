//! Talking to the mock central service the way a facility's IT vendor does (curl over mutual TLS).

use std::process::Command;

use crate::MockCentral;

/// GETs the facility's environment settings, changes them with `edit`, and PUTs them back with the admin
/// credential.
pub fn change_settings(central: &MockCentral, edit: impl FnOnce(&mut serde_json::Value)) {
    let d = &central.dir;
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "--cacert"])
            .arg(d.join("ca.crt"))
            .arg("--cert")
            .arg(d.join("terminal.crt"))
            .arg("--key")
            .arg(d.join("terminal.key"))
            .args(extra)
            .arg(format!("{}v1/facility/settings", central.url()))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        out.stdout
    };
    let view: serde_json::Value = serde_json::from_slice(&curl(&[])).expect("settings JSON");
    let mut settings = view["settings"].clone();
    edit(&mut settings);
    let credential =
        std::fs::read_to_string(d.join("admin-credential.txt")).expect("admin credential");
    curl(&[
        "-X",
        "PUT",
        "-H",
        &format!("Authorization: Bearer {}", credential.trim()),
        "-H",
        "Content-Type: application/json",
        "--data",
        &settings.to_string(),
    ]);
}
