//! The data key in a file of its own, for a terminal whose daemon runs as a system service.
//!
//! A system service has no desktop login, so no Secret Service, and the kernel's keyutils keyrings are
//! emptied at every reboot: a key kept there would make the store unreadable after the first restart. The
//! Linux package therefore keeps the key in a file that only the service's user can read (mode 0600, in the
//! daemon's private folder) and backs it up together with the database (see `docs/operations.md`).

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use os_keyring::SecretBytes;
use zeroize::Zeroizing;

use crate::crypto::{KEY_LEN, KeyProvider};
use crate::error::StoreError;

/// The data key as 64 hex digits (and a newline) in `path`.
#[derive(Debug, Clone)]
pub struct FileKeyProvider {
    path: PathBuf,
}

impl FileKeyProvider {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, source: std::io::Error) -> StoreError {
        StoreError::File {
            path: self.path.display().to_string(),
            source,
        }
    }
}

fn bad_key(path: &Path) -> StoreError {
    StoreError::Corrupt(format!(
        "the key file {} does not hold 64 hexadecimal digits; restore it from the backup",
        path.display()
    ))
}

fn decode_hex(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let digits = Zeroizing::new(digits);
    if digits.len() != KEY_LEN * 2 {
        return None;
    }
    let nibble = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Zeroizing::new(Vec::with_capacity(KEY_LEN));
    for pair in digits.chunks_exact(2) {
        out.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    Some(out)
}

impl KeyProvider for FileKeyProvider {
    fn load(&self) -> Result<Option<SecretBytes>, StoreError> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        let mut text = Zeroizing::new(Vec::new());
        file.read_to_end(&mut text).map_err(|e| self.error(e))?;
        let key = decode_hex(&text).ok_or_else(|| bad_key(&self.path))?;
        Ok(Some(SecretBytes::new(key.to_vec())))
    }

    fn create(&self) -> Result<SecretBytes, StoreError> {
        let key = SecretBytes::random(KEY_LEN)?;
        let mut text = Zeroizing::new(String::with_capacity(KEY_LEN * 2 + 1));
        for b in key.expose() {
            text.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            text.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        text.push('\n');
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.error(e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        // create_new: never overwrite a key, which would orphan every encrypted row made with it.
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(|e| self.error(e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| self.error(e))?;
        // The new file's name is durable only once its folder is synced; otherwise a power cut could lose
        // the key of rows already written with it.
        #[cfg(unix)]
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| self.error(e))?;
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_loads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let provider = FileKeyProvider::new(dir.path().join("keys/store.key"));
        assert!(provider.load().unwrap().is_none());
        let key = provider.create().unwrap();
        assert_eq!(provider.load().unwrap().unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(provider.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second create must not replace the key.
        assert!(provider.create().is_err());
        assert_eq!(provider.load().unwrap().unwrap(), key);
    }

    #[test]
    fn a_damaged_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        std::fs::write(&path, "not a key").unwrap();
        let err = FileKeyProvider::new(&path).load().unwrap_err().to_string();
        assert!(err.contains("64 hexadecimal digits"), "{err}");
    }

    #[test]
    fn a_store_opens_again_with_its_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let keys = FileKeyProvider::new(dir.path().join("store.key"));
        let db = dir.path().join("facility.sqlite3");
        drop(crate::Store::open(&db, &keys).unwrap());
        crate::Store::open(&db, &keys).unwrap();
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = decode_hex(&bytes);
        }
    }
}
