//! The facility's 利用文字コード: the encoding of every file the daemon writes to `res/` and `face/`.
//!
//! The central service's environment settings (`character_code`) decide it; the daemon learns it whenever it
//! fetches them (with the kiosk's consent settings) and keeps the last value in the store, so a restart during
//! an outage still writes the facility's encoding. Until it is known, `[relay] result_encoding` is used.
//! A file is never written in another encoding than this one: characters it cannot hold are replaced
//! ([`oqs_protocol::write_message_substituting`]), because a client that checks the site's encoding (R in the
//! client reference) would not read the file at all.

use std::sync::{Arc, Mutex};

use facility_store::Store;
use oqs_protocol::{Encoding, Message, UnencodableChar, WriteError, write_message_substituting};
use tracing::{info, warn};

/// Store setting with the last 利用文字コード the central service gave (`UTF-8` / `Shift_JIS`).
pub const SETTING_KEY: &str = "facility.character_code";

/// The encoding the daemon writes in. Cheap to share.
#[derive(Debug)]
pub struct FacilityEncoding {
    store: Arc<Store>,
    fallback: Encoding,
    learned: Mutex<Option<Encoding>>,
}

impl FacilityEncoding {
    pub fn new(store: Arc<Store>, fallback: Encoding) -> Self {
        Self {
            store,
            fallback,
            learned: Mutex::new(None),
        }
    }

    /// The facility's encoding: as last learned, else as kept in the store, else the configured fallback.
    pub fn current(&self) -> Encoding {
        let mut learned = self.learned.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(encoding) = *learned {
            return encoding;
        }
        let stored = self
            .store
            .setting(SETTING_KEY)
            .ok()
            .flatten()
            .and_then(|label| Encoding::from_label(&label));
        *learned = stored;
        stored.unwrap_or(self.fallback)
    }

    /// Takes the central service's `character_code` (`UTF-8` / `Shift_JIS`); an unknown label is ignored.
    pub fn learn(&self, character_code: &str) {
        let Some(encoding) = Encoding::from_label(character_code) else {
            warn!(
                character_code,
                "unknown 利用文字コード from the central service; keeping the current one"
            );
            return;
        };
        let before = {
            let mut learned = self.learned.lock().unwrap_or_else(|p| p.into_inner());
            learned.replace(encoding)
        };
        if before == Some(encoding) {
            return;
        }
        let now = self.store.now_millis();
        if let Err(e) = self
            .store
            .set_setting(SETTING_KEY, encoding.label(), "oqs-readerd", now)
        {
            warn!(error = %e, "cannot keep the 利用文字コード in the store");
        }
        info!(
            encoding = encoding.label(),
            "利用文字コード of the facility"
        );
    }

    /// Writes `message` in the facility's encoding, replacing what it cannot hold (logged by element and
    /// code point only, never the text).
    pub fn write(&self, message: &Message) -> Result<(Vec<u8>, Vec<UnencodableChar>), WriteError> {
        let encoding = self.current();
        let (bytes, replaced) = write_message_substituting(message, encoding)?;
        if !replaced.is_empty() {
            warn!(
                code = "OQS-E1301",
                replaced = ?replaced,
                encoding = encoding.label(),
                "characters the facility's encoding cannot hold were written as 〓"
            );
        }
        Ok((bytes, replaced))
    }
}

/// A store in `dir` with a fixed key and the test clock, for the unit tests of the daemon's modules.
#[cfg(test)]
pub(crate) fn test_store(dir: &std::path::Path) -> Arc<Store> {
    let key = facility_store::StaticKeyProvider::new(os_keyring::SecretBytes::new(vec![7; 32]));
    Arc::new(
        Store::open(dir.join("s.db"), &key)
            .unwrap()
            .with_clock(oqs_clock::test_clock()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &std::path::Path) -> Arc<Store> {
        test_store(dir)
    }

    #[test]
    fn learned_encoding_wins_over_the_fallback_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let enc = FacilityEncoding::new(store.clone(), Encoding::Utf8);
        assert_eq!(enc.current(), Encoding::Utf8);
        enc.learn("Shift_JIS");
        assert_eq!(enc.current(), Encoding::ShiftJis);
        drop(enc);
        let again = FacilityEncoding::new(store, Encoding::Utf8);
        assert_eq!(again.current(), Encoding::ShiftJis);
        again.learn("EUC-JP");
        assert_eq!(again.current(), Encoding::ShiftJis);
    }
}
