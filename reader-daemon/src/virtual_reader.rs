//! Test builds only (feature `virtual-reader`): card readers that are folders, cards that are files.
//!
//! Where no PC/SC stack can reach a reader (Windows under Wine, whose `winscard.dll` is only stubs), the
//! daemon's card path is still run end to end through this seam: `readers.virtual_dir = "DIR"` makes every
//! sub-folder of `DIR` a reader named after the folder, and a card profile (`oqs-virtual-card issue`) saved
//! there as `card.toml` a card in it. The card answers in-process ([`virtual_card::InProcessCard`], the same
//! card the vpcd tests insert into pcscd), so everything above the `Transport` (the session, the kiosk,
//! the central round trip, the write-ahead) is the production code.
//!
//! Events come from polling the folder every [`POLL`]: a new folder is `ReaderAdded`, a `card.toml`
//! appearing is `CardInserted`, its removal `CardRemoved`. A card keeps its state (PIN tries) while its file
//! stays; a new file is a new card. Write the file to another name and rename it into place, so a half-written
//! profile is never read. A production build (`make deb`, the Windows installer) does not have this module, and
//! its configuration check refuses `readers.virtual_dir`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use myna_card::{CardError, ReaderEvent, Transport};
use tracing::warn;
use virtual_card::{CardProfile, InProcessCard};
use zeroize::Zeroizing;

/// How often the folder is looked at.
pub const POLL: Duration = Duration::from_millis(50);
/// The card's file in a reader's folder.
pub const CARD_FILE: &str = "card.toml";

/// A card in a reader: `None` once it has been taken out (sessions still holding it then fail).
type Slot = Arc<Mutex<Option<InProcessCard>>>;

/// The readers of one folder, shared by the watcher and the card sessions.
pub struct VirtualReaders {
    dir: PathBuf,
    cards: Mutex<BTreeMap<String, Slot>>,
}

impl VirtualReaders {
    pub fn new(dir: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            dir,
            cards: Mutex::new(BTreeMap::new()),
        })
    }

    /// A connection to the card in `reader`.
    pub fn connect(&self, reader: &str) -> Result<VirtualTransport, CardError> {
        let cards = self.cards.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = cards.get(reader).ok_or(CardError::NoCard)?;
        Ok(VirtualTransport {
            slot: Arc::clone(slot),
        })
    }

    /// Starts the watcher thread; it stops when the returned handle is dropped or `sink` stops listening.
    pub fn watch(
        self: &Arc<Self>,
        sink: impl Fn(ReaderEvent) -> bool + Send + 'static,
    ) -> Result<VirtualWatch, CardError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|_| CardError::Internal("could not create the virtual reader folder"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let readers = Arc::clone(self);
        let stopping = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("virtual-readers".into())
            .spawn(move || {
                let mut seen: BTreeMap<String, Option<std::time::SystemTime>> = BTreeMap::new();
                while !stopping.load(Ordering::Relaxed) {
                    for event in readers.poll(&mut seen) {
                        if !sink(event) {
                            return;
                        }
                    }
                    std::thread::sleep(POLL);
                }
            })
            .map_err(|_| CardError::Internal("could not start the virtual reader thread"))?;
        Ok(VirtualWatch { stop })
    }

    /// One look at the folder: the events since the last look. `seen` maps each reader to its card file's
    /// modification time (`None`: no card).
    fn poll(&self, seen: &mut BTreeMap<String, Option<std::time::SystemTime>>) -> Vec<ReaderEvent> {
        let now = list(&self.dir);
        let mut events = Vec::new();
        let gone: Vec<String> = seen
            .keys()
            .filter(|r| !now.contains_key(*r))
            .cloned()
            .collect();
        for reader in gone {
            seen.remove(&reader);
            if self.take_out(&reader) {
                events.push(ReaderEvent::CardRemoved {
                    reader: reader.clone(),
                });
            }
            events.push(ReaderEvent::ReaderRemoved { reader });
        }
        for (reader, card) in now {
            let before = match seen.get(&reader) {
                Some(before) => *before,
                None => {
                    events.push(ReaderEvent::ReaderAdded {
                        reader: reader.clone(),
                    });
                    None
                }
            };
            if before != card {
                // Taken out, put in, or replaced by another card (out, then in).
                if self.take_out(&reader) {
                    events.push(ReaderEvent::CardRemoved {
                        reader: reader.clone(),
                    });
                }
                if card.is_some() {
                    match self.put_in(&reader) {
                        Ok(atr) => events.push(ReaderEvent::CardInserted {
                            reader: reader.clone(),
                            atr,
                        }),
                        // Logged once per file: it is looked at again only when it changes.
                        Err(e) => {
                            warn!(reader = %reader, error = %e, "the virtual card could not be read")
                        }
                    }
                }
            }
            seen.insert(reader, card);
        }
        events
    }

    fn put_in(&self, reader: &str) -> Result<Vec<u8>, virtual_card::VirtualCardError> {
        let card = CardProfile::load(&self.dir.join(reader).join(CARD_FILE))?.to_card()?;
        let atr = card.atr().to_vec();
        self.cards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                reader.to_string(),
                Arc::new(Mutex::new(Some(InProcessCard::new(card)))),
            );
        Ok(atr)
    }

    /// Takes the card out of `reader`; false when there was none.
    fn take_out(&self, reader: &str) -> bool {
        let slot = self
            .cards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(reader);
        match slot {
            Some(slot) => {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
                true
            }
            None => false,
        }
    }
}

/// The readers (sub-folders) of `dir` and the modification time of each one's card file, if any.
fn list(dir: &Path) -> BTreeMap<String, Option<std::time::SystemTime>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let card = std::fs::metadata(path.join(CARD_FILE))
            .ok()
            .map(|m| m.modified().unwrap_or(std::time::UNIX_EPOCH));
        out.insert(name.to_string(), card);
    }
    out
}

/// Stops the watcher when dropped.
pub struct VirtualWatch {
    stop: Arc<AtomicBool>,
}

impl Drop for VirtualWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A session's connection to a virtual card; fails with `CardRemoved` once the card's file is gone.
pub struct VirtualTransport {
    slot: Slot,
}

impl Transport for VirtualTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Zeroizing<Vec<u8>>, CardError> {
        let mut card = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match card.as_mut() {
            Some(card) => card.transmit(command),
            None => Err(CardError::CardRemoved),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_readers_and_files_are_cards() {
        let dir = tempfile::tempdir().unwrap();
        let readers = VirtualReaders::new(dir.path().to_path_buf());
        let mut seen = BTreeMap::new();
        assert!(readers.poll(&mut seen).is_empty());

        std::fs::create_dir(dir.path().join("kiosk")).unwrap();
        assert_eq!(
            readers.poll(&mut seen),
            vec![ReaderEvent::ReaderAdded {
                reader: "kiosk".into()
            }]
        );
        assert!(matches!(readers.connect("kiosk"), Err(CardError::NoCard)));

        // A file that is not a card profile: no card, and no event until it changes.
        std::fs::write(dir.path().join("kiosk").join(CARD_FILE), "not a profile").unwrap();
        assert!(readers.poll(&mut seen).is_empty());
        assert!(readers.poll(&mut seen).is_empty());

        std::fs::remove_dir_all(dir.path().join("kiosk")).unwrap();
        assert_eq!(
            readers.poll(&mut seen),
            vec![ReaderEvent::ReaderRemoved {
                reader: "kiosk".into()
            }]
        );
        assert!(readers.poll(&mut seen).is_empty());
    }
}
