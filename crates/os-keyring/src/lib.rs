//! Secrets kept in the operating system's credential store.
//!
//! The terminal keeps three kinds of secret out of its files: the token that local clients present to the
//! daemon's socket, the data key that encrypts patient identifiers in the facility store, and the passphrase of
//! the terminal certificate's private key. This crate finds the right OS store and reads, creates and deletes
//! such secrets by name; nothing here knows what a secret is used for.
//!
//! Backends (via `keyring-core` and one store crate each):
//! - **Secret Service** (GNOME Keyring, KWallet) on desktop Linux: durable, unlocked with the user's login.
//! - **keyutils** on Linux without a desktop session. Keys live in the session keyring and, where the kernel
//!   has one, the user's persistent keyring; both are lost at reboot. Fine for the IPC token (the daemon makes a
//!   new one at start); for anything that must outlive a reboot the caller must detect a missing key and say so.
//! - **Windows Credential Manager** behind `cfg(windows)`.
//!
//! Every secret is returned as [`SecretBytes`], which is zeroized on drop and never printed.

use std::fmt;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use zeroize::Zeroizing;

/// The service name under which every secret of this product is filed in the OS store.
pub const SERVICE: &str = "oqs-terminal";

/// Errors from the OS credential store.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No backend could be opened: no Secret Service on the session bus, no keyutils, or an unsupported OS.
    #[error(
        "no OS credential store is available ({0}); on Linux start a desktop session with GNOME Keyring or run \
         inside a keyutils session keyring"
    )]
    Unavailable(String),
    /// The backend refused or failed an operation on one secret.
    #[error("the OS credential store failed on secret '{name}': {detail}")]
    Backend { name: String, detail: String },
    /// The random source of the OS failed; no secret was created.
    #[error("the operating system's random number source failed: {0}")]
    Random(String),
}

/// Which OS store to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Secret Service when a session bus is announced (`DBUS_SESSION_BUS_ADDRESS`), else keyutils (Linux);
    /// Credential Manager on Windows.
    Auto,
    /// The freedesktop Secret Service over D-Bus.
    SecretService,
    /// The Linux kernel key retention service.
    Keyutils,
    /// Windows Credential Manager.
    WindowsCredentialManager,
}

/// Secret bytes read from the store. Zeroized on drop; `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes that are already secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `len` bytes from the OS random source.
    pub fn random(len: usize) -> Result<Self, KeyringError> {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        getrandom::fill(&mut bytes).map_err(|e| KeyringError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// A handle on one OS credential store.
#[derive(Clone)]
pub struct Keyring {
    store: Arc<CredentialStore>,
    backend: Backend,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Keyring {
    /// Opens the store chosen by `backend`.
    pub fn open(backend: Backend) -> Result<Self, KeyringError> {
        match backend {
            Backend::Auto => Self::open_auto(),
            Backend::SecretService => Self::open_secret_service(),
            Backend::Keyutils => Self::open_keyutils(),
            Backend::WindowsCredentialManager => Self::open_windows(),
        }
    }

    /// The backend this handle talks to (never `Auto`).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    #[cfg(target_os = "linux")]
    fn open_auto() -> Result<Self, KeyringError> {
        // A session bus is the sign of a desktop login, where Secret Service is the durable store. If it is
        // announced but has no Secret Service provider, keyutils is the documented fallback.
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && let Ok(keyring) = Self::open_secret_service()
            // A bus without a Secret Service provider connects fine and fails on first use: ask once.
            && keyring.get("oqs-backend-probe").is_ok()
        {
            return Ok(keyring);
        }
        Self::open_keyutils()
    }

    #[cfg(windows)]
    fn open_auto() -> Result<Self, KeyringError> {
        Self::open_windows()
    }

    #[cfg(not(any(target_os = "linux", windows)))]
    fn open_auto() -> Result<Self, KeyringError> {
        Err(KeyringError::Unavailable(
            "this operating system has no supported store".into(),
        ))
    }

    #[cfg(all(target_os = "linux", feature = "secret-service"))]
    fn open_secret_service() -> Result<Self, KeyringError> {
        let store = zbus_secret_service_keyring_store::Store::new()
            .map_err(|e| KeyringError::Unavailable(format!("Secret Service: {e}")))?;
        Ok(Self {
            store,
            backend: Backend::SecretService,
        })
    }

    #[cfg(not(all(target_os = "linux", feature = "secret-service")))]
    fn open_secret_service() -> Result<Self, KeyringError> {
        Err(KeyringError::Unavailable(
            "Secret Service support is not built in".into(),
        ))
    }

    #[cfg(target_os = "linux")]
    fn open_keyutils() -> Result<Self, KeyringError> {
        let store = linux_keyutils_keyring_store::Store::new()
            .map_err(|e| KeyringError::Unavailable(format!("keyutils: {e}")))?;
        Ok(Self {
            store,
            backend: Backend::Keyutils,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn open_keyutils() -> Result<Self, KeyringError> {
        Err(KeyringError::Unavailable(
            "keyutils exists only on Linux".into(),
        ))
    }

    #[cfg(windows)]
    fn open_windows() -> Result<Self, KeyringError> {
        let store = windows_native_keyring_store::Store::new()
            .map_err(|e| KeyringError::Unavailable(format!("Credential Manager: {e}")))?;
        Ok(Self {
            store,
            backend: Backend::WindowsCredentialManager,
        })
    }

    #[cfg(not(windows))]
    fn open_windows() -> Result<Self, KeyringError> {
        Err(KeyringError::Unavailable(
            "Credential Manager exists only on Windows".into(),
        ))
    }

    fn entry(&self, name: &str) -> Result<Entry, KeyringError> {
        self.store
            .build(SERVICE, name, None)
            .map_err(|e| backend_error(name, e))
    }

    /// Reads the secret `name`; `Ok(None)` when it does not exist.
    pub fn get(&self, name: &str) -> Result<Option<SecretBytes>, KeyringError> {
        match self.entry(name)?.get_secret() {
            Ok(bytes) => Ok(Some(SecretBytes::new(bytes))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(backend_error(name, e)),
        }
    }

    /// Stores `secret` under `name`, replacing any previous value.
    pub fn set(&self, name: &str, secret: &SecretBytes) -> Result<(), KeyringError> {
        self.entry(name)?
            .set_secret(secret.expose())
            .map_err(|e| backend_error(name, e))
    }

    /// Reads `name`, or creates it with `len` random bytes when it does not exist yet.
    pub fn get_or_create(&self, name: &str, len: usize) -> Result<SecretBytes, KeyringError> {
        if let Some(existing) = self.get(name)? {
            return Ok(existing);
        }
        let fresh = SecretBytes::random(len)?;
        self.set(name, &fresh)?;
        Ok(fresh)
    }

    /// Deletes `name`; deleting a secret that does not exist is not an error.
    pub fn delete(&self, name: &str) -> Result<(), KeyringError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(backend_error(name, e)),
        }
    }
}

fn backend_error(name: &str, e: keyring_core::Error) -> KeyringError {
    // keyring-core's errors may carry the secret's bytes (BadEncoding); print only the kind of failure.
    let detail = match e {
        keyring_core::Error::BadEncoding(_) => {
            "stored value has an unexpected encoding".to_string()
        }
        keyring_core::Error::BadDataFormat(_, inner) => {
            format!("stored value has a bad format: {inner}")
        }
        other => other.to_string(),
    };
    KeyringError::Backend {
        name: name.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bytes_debug_hides_content() {
        let s = SecretBytes::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "SecretBytes(<7 bytes redacted>)");
    }

    #[test]
    fn random_secrets_differ() {
        let a = SecretBytes::random(32).unwrap();
        let b = SecretBytes::random(32).unwrap();
        assert_eq!(a.expose().len(), 32);
        assert_ne!(a, b);
    }
}

#[cfg(feature = "testing")]
pub mod testing;
