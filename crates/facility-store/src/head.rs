//! The audit chain's head kept outside the database it protects.
//!
//! The sealed head in the database's `meta` table proves that no row was removed from the end, but only as
//! long as nobody puts back an older copy of the whole file: that copy carries its own, older, perfectly
//! sealed head. So the head (row id and hash, sealed with the data key's audit MAC) is also kept
//!
//! - in a **head file** beside the database (`<database>.audit-head`), replaced atomically (temp file, fsync,
//!   rename, fsync of the folder) after every append, and
//! - in the **OS keyring** where the store was given one ([`crate::Store::with_head_keyring`]), under a name
//!   derived from the store's key-check value and the database's path. keyutils keyrings are emptied at reboot, so a missing keyring
//!   copy only means "not checked there"; a present one that disagrees is evidence.
//!
//! The external copies may lag the database (a crash between the commit and the file write): the database
//! still holds the row they name, with the same hash. They may never be *ahead* of it: a database that lacks
//! the row the head file names, or holds another row there, was rolled back or replaced. An append never
//! overwrites such evidence; only the explicit, audited restore ([`crate::Store::record_restore`]) re-seals.

use std::io::Write;
use std::path::{Path, PathBuf};

use os_keyring::{Keyring, SecretBytes};

use crate::crypto::DataKeys;
use crate::error::StoreError;

/// First line of a head file; names the format.
const FILE_MAGIC: &str = "oqs-audit-head v1";

/// A chain head: the newest row's id (0 for the empty chain) and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) id: i64,
    pub(crate) hash: [u8; 32],
}

/// The MAC that seals a head, in the database and outside it alike. `external` (the in-database head's
/// "a head file was written for this store" flag) is sealed with it, so removing the flag shows as a forged
/// head instead of quietly excusing a missing head file.
pub(crate) fn head_seal(keys: &DataKeys, id: i64, hash: &[u8], external: Option<bool>) -> [u8; 32] {
    let mut data = match external {
        None => b"head".to_vec(),
        Some(_) => b"head2".to_vec(),
    };
    data.extend_from_slice(&id.to_be_bytes());
    data.extend_from_slice(hash);
    if let Some(flag) = external {
        data.push(u8::from(flag));
    }
    keys.audit_seal(&data)
}

/// `id ‖ hash ‖ seal`, the layout of the keyring copy and of the head file's payload.
pub(crate) fn encode(keys: &DataKeys, head: Head) -> Vec<u8> {
    let mut out = head.id.to_be_bytes().to_vec();
    out.extend_from_slice(&head.hash);
    out.extend_from_slice(&head_seal(keys, head.id, &head.hash, None));
    out
}

/// `id ‖ hash ‖ flag ‖ seal`, the layout of `meta.audit_head` from this version on; `external` says the store
/// has written its head file, so from then on a missing one is evidence.
pub(crate) fn encode_flagged(keys: &DataKeys, head: Head, external: bool) -> Vec<u8> {
    let mut out = head.id.to_be_bytes().to_vec();
    out.extend_from_slice(&head.hash);
    out.push(u8::from(external));
    out.extend_from_slice(&head_seal(keys, head.id, &head.hash, Some(external)));
    out
}

/// What a stored head turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stored {
    Absent,
    Sealed(Head),
    /// Present but not a head sealed with this store's key (edited, truncated, or another store's).
    Forged,
}

/// A head in either layout, with its flag (`false` for the unflagged layout of earlier versions).
pub(crate) fn decode_flagged(keys: &DataKeys, bytes: &[u8]) -> Option<(Head, bool)> {
    let (id, rest) = bytes.split_first_chunk::<8>()?;
    let (hash, rest) = rest.split_first_chunk::<32>()?;
    let id = i64::from_be_bytes(*id);
    let (flag, seal) = match rest.len() {
        32 => (None, rest),
        33 => match rest[0] {
            0 => (Some(false), &rest[1..]),
            1 => (Some(true), &rest[1..]),
            _ => return None,
        },
        _ => return None,
    };
    (seal == head_seal(keys, id, hash, flag))
        .then_some((Head { id, hash: *hash }, flag == Some(true)))
}

pub(crate) fn decode(keys: &DataKeys, bytes: &[u8]) -> Stored {
    match decode_flagged(keys, bytes) {
        Some((head, _)) => Stored::Sealed(head),
        None => Stored::Forged,
    }
}

/// Where the head is kept outside the database.
#[derive(Debug, Clone)]
pub(crate) struct ExternalHeads {
    pub(crate) file: PathBuf,
    pub(crate) keyring: Option<(Keyring, String)>,
}

/// The head file beside the database at `db`.
pub(crate) fn head_file_path(db: &Path) -> PathBuf {
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "facility.sqlite3".into());
    db.with_file_name(format!("{name}.audit-head"))
}

/// The keyring entry of the store at `db` whose key-check value is `check`. The path is part of the name
/// because the data key is shared by every copy of a store and may outlive it in the keyring: a new store made
/// with the same key elsewhere (a test, a re-install into another folder) must not be compared with the old
/// store's head, while the daemon always opens its store at the same path, so an older copy put there is.
pub(crate) fn keyring_name(check: &[u8; 32], db: &Path) -> String {
    use sha2::{Digest, Sha256};
    let db = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let mut h = Sha256::new();
    h.update(check);
    h.update(db.to_string_lossy().as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    format!("audit-head-{}", hex(&digest[..8]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn file_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::File {
        path: path.display().to_string(),
        source,
    }
}

impl ExternalHeads {
    pub(crate) fn read_file(&self, keys: &DataKeys) -> Result<Stored, StoreError> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Stored::Absent),
            // Not UTF-8: not a file we wrote.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Ok(Stored::Forged),
            Err(e) => return Err(file_error(&self.file, e)),
        };
        let mut lines = text.lines();
        if lines.next() != Some(FILE_MAGIC) {
            return Ok(Stored::Forged);
        }
        let bytes = lines.next().and_then(unhex).unwrap_or_default();
        Ok(decode(keys, &bytes))
    }

    /// Replaces the head file atomically: a reader sees the old head or the new one, never a torn file, and
    /// after a power cut the rename is durable because the folder was synced.
    pub(crate) fn write_file(&self, keys: &DataKeys, head: Head) -> Result<(), StoreError> {
        let tmp = self.file.with_extension("audit-head.tmp");
        let text = format!("{FILE_MAGIC}\n{}\n", hex(&encode(keys, head)));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(|e| file_error(&tmp, e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| file_error(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &self.file).map_err(|e| file_error(&self.file, e))?;
        #[cfg(unix)]
        if let Some(dir) = self.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| file_error(dir, e))?;
        }
        Ok(())
    }

    pub(crate) fn read_keyring(&self, keys: &DataKeys) -> Result<Option<Stored>, StoreError> {
        let Some((keyring, name)) = &self.keyring else {
            return Ok(None);
        };
        Ok(Some(match keyring.get(name)? {
            None => Stored::Absent,
            Some(bytes) => decode(keys, bytes.expose()),
        }))
    }

    pub(crate) fn write_keyring(&self, keys: &DataKeys, head: Head) -> Result<(), StoreError> {
        if let Some((keyring, name)) = &self.keyring {
            keyring.set(name, &SecretBytes::new(encode(keys, head)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DataKeys {
        DataKeys::derive(&SecretBytes::new(vec![9; 32])).unwrap()
    }

    #[test]
    fn a_head_file_round_trips_and_rejects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let heads = ExternalHeads {
            file: head_file_path(&dir.path().join("f.sqlite3")),
            keyring: None,
        };
        let keys = keys();
        assert_eq!(heads.read_file(&keys).unwrap(), Stored::Absent);
        let head = Head {
            id: 42,
            hash: [7; 32],
        };
        heads.write_file(&keys, head).unwrap();
        assert_eq!(heads.read_file(&keys).unwrap(), Stored::Sealed(head));
        // Raising the id without the key is caught by the seal.
        let text = std::fs::read_to_string(&heads.file).unwrap();
        let edited = text.replacen("000000000000002a", "000000000000002b", 1);
        assert_ne!(text, edited);
        std::fs::write(&heads.file, edited).unwrap();
        assert_eq!(heads.read_file(&keys).unwrap(), Stored::Forged);
        std::fs::write(&heads.file, [0xff, 0xfe]).unwrap();
        assert_eq!(heads.read_file(&keys).unwrap(), Stored::Forged);
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let _ = decode(&keys(), &bytes);
            let _ = unhex(&String::from_utf8_lossy(&bytes));
        }
    }
}
