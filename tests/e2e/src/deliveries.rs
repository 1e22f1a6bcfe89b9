//! What a receipt computer would see arrive in a folder it reads (`res/`, `face/`), counted from the kernel's
//! own notifications (inotify) rather than from the names left at the end: a result delivered twice under the
//! same name, or written in place where a client could read half of it, shows here and nowhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use inotify::{EventMask, Inotify, WatchMask};

#[derive(Default, Debug, Clone)]
pub struct Seen {
    /// Final names and how many times each was moved (renamed) into the folder.
    pub moved_in: BTreeMap<String, u32>,
    /// Final names that were created, modified or closed after writing in the folder itself.
    pub written_in_place: BTreeSet<String>,
}

/// Watches one folder from [`Deliveries::watch`] until dropped.
pub struct Deliveries {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Deliveries {
    /// Starts watching `dir`. `is_final` says which names a client reads (e.g. `*.xml` without a leading dot).
    pub fn watch(dir: &Path, is_final: fn(&str) -> bool) -> Self {
        let mut inotify = Inotify::init().expect("inotify");
        inotify
            .watches()
            .add(
                dir,
                WatchMask::MOVED_TO
                    | WatchMask::CREATE
                    | WatchMask::MODIFY
                    | WatchMask::CLOSE_WRITE,
            )
            .unwrap_or_else(|e| panic!("watching {}: {e}", dir.display()));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let mut any = false;
                    if let Ok(events) = inotify.read_events(&mut buffer) {
                        for event in events {
                            any = true;
                            let Some(name) = event.name.and_then(|n| n.to_str()) else {
                                continue;
                            };
                            if !is_final(name) {
                                continue;
                            }
                            let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                            if event.mask.contains(EventMask::MOVED_TO) {
                                *s.moved_in.entry(name.to_owned()).or_default() += 1;
                            } else {
                                s.written_in_place.insert(name.to_owned());
                            }
                        }
                    }
                    if !any {
                        // Stop only once the queue is drained, so nothing that happened before is missed.
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            })
        };
        Self {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// What was seen so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops watching (after draining what the kernel queued) and returns everything seen.
    pub fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.seen()
    }
}

impl Drop for Deliveries {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A result file a client reads: `*.xml`, not a dot-file.
pub fn is_result_xml(name: &str) -> bool {
    name.ends_with(".xml") && !name.starts_with('.')
}
