//! Encryption at rest of patient identifiers, and the keys derived from the one data key.
//!
//! One 32-byte data key lives in the OS keyring (or wherever a [`KeyProvider`] keeps it). From it, HMAC-SHA256
//! with fixed labels derives independent subkeys: one for ChaCha20-Poly1305 encryption, one for the search
//! columns (keyed HMACs of identifiers), one that seals each audit row, and a key-check value stored in the
//! database so a wrong or replaced key is detected at open instead of producing garbage.
//!
//! Each encrypted value is `nonce (12 random bytes) || ciphertext || tag`, with associated data naming the
//! column and the row's natural key, so a ciphertext moved to another row or column fails to decrypt.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use os_keyring::{Keyring, SecretBytes};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::StoreError;

pub(crate) const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// Where the store's data key comes from.
pub trait KeyProvider {
    /// The existing key, or `None` if there is none yet.
    fn load(&self) -> Result<Option<SecretBytes>, StoreError>;
    /// Creates and keeps a new random key (called only for a database that has no data yet).
    fn create(&self) -> Result<SecretBytes, StoreError>;
}

/// The data key in the OS keyring, under the entry `name` (service [`os_keyring::SERVICE`]).
#[derive(Debug, Clone)]
pub struct KeyringKeyProvider {
    keyring: Keyring,
    name: String,
}

/// The keyring entry used by default for the store's data key.
pub const DEFAULT_KEY_NAME: &str = "facility-store-data-key";

impl KeyringKeyProvider {
    pub fn new(keyring: Keyring, name: impl Into<String>) -> Self {
        Self {
            keyring,
            name: name.into(),
        }
    }
}

impl KeyProvider for KeyringKeyProvider {
    fn load(&self) -> Result<Option<SecretBytes>, StoreError> {
        Ok(self.keyring.get(&self.name)?)
    }

    fn create(&self) -> Result<SecretBytes, StoreError> {
        let key = SecretBytes::random(KEY_LEN)?;
        self.keyring.set(&self.name, &key)?;
        Ok(key)
    }
}

/// A key held in memory only: for tests, and for tools handed a key explicitly.
#[derive(Debug, Clone)]
pub struct StaticKeyProvider(SecretBytes);

impl StaticKeyProvider {
    pub fn new(key: SecretBytes) -> Self {
        Self(key)
    }

    pub fn random() -> Result<Self, StoreError> {
        Ok(Self(SecretBytes::random(KEY_LEN)?))
    }

    pub fn key(&self) -> &SecretBytes {
        &self.0
    }
}

impl KeyProvider for StaticKeyProvider {
    fn load(&self) -> Result<Option<SecretBytes>, StoreError> {
        Ok(Some(self.0.clone()))
    }

    fn create(&self) -> Result<SecretBytes, StoreError> {
        Ok(self.0.clone())
    }
}

/// Subkeys derived from the data key. Zeroized on drop. Cloned once for the facility-wide store's drainer,
/// which seals the head of each terminal chain it copies.
#[derive(Clone)]
pub(crate) struct DataKeys {
    encryption: Zeroizing<[u8; KEY_LEN]>,
    lookup: Zeroizing<[u8; KEY_LEN]>,
    audit: Zeroizing<[u8; KEY_LEN]>,
    check: [u8; KEY_LEN],
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    #[allow(clippy::expect_used)] // not input-dependent: only fixed-size MACs reject a key length
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC-SHA256 accepts keys of any length");
    for part in parts {
        // Length-prefix every part, so ("ab","c") and ("a","bc") differ.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl DataKeys {
    pub(crate) fn derive(master: &SecretBytes) -> Result<Self, StoreError> {
        if master.expose().len() != KEY_LEN {
            return Err(StoreError::Corrupt(format!(
                "the data key has {} bytes instead of {KEY_LEN}",
                master.expose().len()
            )));
        }
        let m = master.expose();
        Ok(Self {
            encryption: Zeroizing::new(hmac(m, &[b"oqs facility-store v1 encryption"])),
            lookup: Zeroizing::new(hmac(m, &[b"oqs facility-store v1 lookup"])),
            audit: Zeroizing::new(hmac(m, &[b"oqs facility-store v1 audit seal"])),
            check: hmac(m, &[b"oqs facility-store v1 key check"]),
        })
    }

    pub(crate) fn check_value(&self) -> [u8; 32] {
        self.check
    }

    /// Encrypts `plaintext` for `column` of the row whose natural key is `row_key`.
    pub(crate) fn seal(
        &self,
        column: &str,
        row_key: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let cipher = ChaCha20Poly1305::new_from_slice(self.encryption.as_slice())
            .map_err(|_| StoreError::Corrupt("encryption key length".into()))?;
        let mut nonce_bytes = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce_bytes).map_err(|e| StoreError::Random(e.to_string()))?;
        let aad = associated_data(column, row_key);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Decrypt(format!("{column} (encryption failed)")))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts a value made by [`DataKeys::seal`] with the same column and row key.
    pub(crate) fn open(
        &self,
        column: &str,
        row_key: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        if sealed.len() < NONCE_LEN {
            return Err(StoreError::Decrypt(column.to_string()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| StoreError::Decrypt(column.to_string()))?;
        let cipher = ChaCha20Poly1305::new_from_slice(self.encryption.as_slice())
            .map_err(|_| StoreError::Corrupt("encryption key length".into()))?;
        let aad = associated_data(column, row_key);
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| StoreError::Decrypt(column.to_string()))
    }

    /// A keyed, deterministic digest of identifiers, for search columns.
    pub(crate) fn lookup(&self, label: &str, parts: &[&str]) -> [u8; 32] {
        let mut all: Vec<&[u8]> = vec![label.as_bytes()];
        all.extend(parts.iter().map(|p| p.as_bytes()));
        hmac(self.lookup.as_slice(), &all)
    }

    /// The seal of an audit row's chain hash.
    pub(crate) fn audit_seal(&self, chain_hash: &[u8]) -> [u8; 32] {
        hmac(self.audit.as_slice(), &[b"audit row", chain_hash])
    }
}

fn associated_data(column: &str, row_key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(column.len() + row_key.len() + 16);
    aad.extend_from_slice(&(column.len() as u64).to_be_bytes());
    aad.extend_from_slice(column.as_bytes());
    aad.extend_from_slice(row_key.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DataKeys {
        DataKeys::derive(&SecretBytes::new(vec![7; 32])).unwrap()
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let k = keys();
        let sealed = k
            .seal("check_ins.patient", "c1", "山田".as_bytes())
            .unwrap();
        assert_eq!(
            k.open("check_ins.patient", "c1", &sealed)
                .unwrap()
                .as_slice(),
            "山田".as_bytes()
        );
        assert!(
            k.open("check_ins.patient", "c2", &sealed).is_err(),
            "bound to the row"
        );
        assert!(
            k.open("check_ins.result", "c1", &sealed).is_err(),
            "bound to the column"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(k.open("check_ins.patient", "c1", &tampered).is_err());
        assert!(k.open("check_ins.patient", "c1", &sealed[..5]).is_err());
        assert_ne!(
            sealed,
            k.seal("check_ins.patient", "c1", "山田".as_bytes())
                .unwrap(),
            "random nonce"
        );
    }

    #[test]
    fn wrong_length_key_is_refused() {
        assert!(DataKeys::derive(&SecretBytes::new(vec![1; 16])).is_err());
    }

    #[test]
    fn lookup_is_deterministic_and_unambiguous() {
        let k = keys();
        assert_eq!(k.lookup("p", &["a", "bc"]), k.lookup("p", &["a", "bc"]));
        assert_ne!(k.lookup("p", &["a", "bc"]), k.lookup("p", &["ab", "c"]));
    }

    proptest::proptest! {
        #[test]
        fn any_value_round_trips_and_any_bit_flip_is_caught(
            plain in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            row in "[a-z0-9]{0,12}",
            flip in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let k = keys();
            let sealed = k.seal("col", &row, &plain).unwrap();
            let opened = k.open("col", &row, &sealed).unwrap();
            proptest::prop_assert_eq!(opened.as_slice(), plain.as_slice());
            let mut bad = sealed.clone();
            let i = flip.index(bad.len());
            bad[i] ^= 0x01;
            proptest::prop_assert!(k.open("col", &row, &bad).is_err());
        }

        #[test]
        fn opening_garbage_never_panics(garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = keys().open("col", "row", &garbage);
        }
    }
}
