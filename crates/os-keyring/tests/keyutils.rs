//! Round trips against the real kernel keyring, each in a fresh session keyring.

use os_keyring::testing::{in_keyutils_session, in_keyutils_session_under};
use os_keyring::{Backend, Keyring, SecretBytes};

#[test]
fn keyutils_round_trip() {
    if !in_keyutils_session("keyutils_round_trip") {
        return;
    }
    let keyring = Keyring::open(Backend::Keyutils).unwrap();
    assert_eq!(keyring.backend(), Backend::Keyutils);
    assert!(keyring.get("test-secret").unwrap().is_none());
    let created = keyring.get_or_create("test-secret", 32).unwrap();
    assert_eq!(created.expose().len(), 32);
    assert_eq!(keyring.get_or_create("test-secret", 32).unwrap(), created);
    keyring
        .set("test-secret", &SecretBytes::new(vec![1, 2, 3]))
        .unwrap();
    assert_eq!(
        keyring.get("test-secret").unwrap().unwrap().expose(),
        &[1, 2, 3]
    );
    keyring.delete("test-secret").unwrap();
    keyring.delete("test-secret").unwrap();
    assert!(keyring.get("test-secret").unwrap().is_none());
}

#[test]
fn auto_without_session_bus_uses_keyutils() {
    if !in_keyutils_session("auto_without_session_bus_uses_keyutils") {
        return;
    }
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert_eq!(
            Keyring::open(Backend::Auto).unwrap().backend(),
            Backend::Keyutils
        );
    }
}

/// A session bus with no service directories: nothing (such as gnome-keyring, if installed) can be activated.
const BARE_BUS: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

#[test]
fn auto_falls_back_to_keyutils_on_a_bus_without_secret_service() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bus.conf");
    std::fs::write(&config, BARE_BUS).unwrap();
    let config_flag = format!("--config-file={}", config.display());
    if !in_keyutils_session_under(
        "auto_falls_back_to_keyutils_on_a_bus_without_secret_service",
        &["dbus-run-session", &config_flag, "--"],
    ) {
        return;
    }
    assert!(std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some());
    assert!(
        Keyring::open(Backend::SecretService)
            .and_then(|k| k.get("x"))
            .is_err()
    );
    let keyring = Keyring::open(Backend::Auto).unwrap();
    assert_eq!(keyring.backend(), Backend::Keyutils);
    keyring.get_or_create("fallback", 16).unwrap();
}

/// The desktop backend for real: a private D-Bus session with GNOME Keyring unlocked in a throwaway HOME.
#[test]
fn secret_service_round_trip_with_gnome_keyring() {
    let home = tempfile::tempdir().unwrap();
    let home_env = format!("HOME={}", home.path().display());
    let runtime_env = format!("XDG_RUNTIME_DIR={}", home.path().display());
    let start_keyring = "printf test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"";
    if !in_keyutils_session_under(
        "secret_service_round_trip_with_gnome_keyring",
        &[
            "env",
            &home_env,
            &runtime_env,
            "dbus-run-session",
            "--",
            "sh",
            "-c",
            start_keyring,
            "sh",
        ],
    ) {
        return;
    }
    let keyring = Keyring::open(Backend::SecretService).unwrap();
    assert!(keyring.get("test-secret").unwrap().is_none());
    let created = keyring.get_or_create("test-secret", 32).unwrap();
    assert_eq!(keyring.get("test-secret").unwrap().unwrap(), created);
    assert_eq!(
        Keyring::open(Backend::Auto).unwrap().backend(),
        Backend::SecretService
    );
    keyring.delete("test-secret").unwrap();
    assert!(keyring.get("test-secret").unwrap().is_none());
}
