//! Round trips against the real kernel keyring, each in a fresh session keyring.

use os_keyring::{Backend, Keyring, SecretBytes, testing::in_keyutils_session};

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
