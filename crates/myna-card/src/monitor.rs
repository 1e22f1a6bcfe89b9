//! Reader monitoring on `SCardGetStatusChange`: readers coming and going (through the PnP pseudo-reader),
//! cards inserted and removed, and pcscd itself stopping and coming back.
//!
//! The monitor runs on its own thread and blocks in `get_status_change`, so it reacts to events as pcscd
//! reports them; nothing polls `connect`. [`ReaderMonitor::stop`] wakes it through `Context::cancel`
//! (each wait is also capped at a quarter second, so a cancel that lands between two waits is not lost).
//! While pcscd is down the thread re-establishes a context every [`RECONNECT_INTERVAL`], waiting on a
//! condition variable so that `stop` still ends it at once.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use pcsc::{Context, Error as PcscError, PNP_NOTIFICATION, ReaderState, Scope, State};

use crate::CardError;

/// How often to try to reach pcscd again after it went away.
pub const RECONNECT_INTERVAL: Duration = Duration::from_millis(100);

/// Longest single wait in `get_status_change`. `Context::cancel` normally ends a wait at once, but a cancel
/// that arrives while the thread is between two waits is lost; the bounded wait caps how long `stop` can
/// then take.
const WAIT_SLICE: Duration = Duration::from_millis(250);

/// Something that happened to a reader, a card or pcscd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderEvent {
    ReaderAdded {
        reader: String,
    },
    ReaderRemoved {
        reader: String,
    },
    /// A card is present (sent also for cards already present when the monitor starts or pcscd comes back).
    CardInserted {
        reader: String,
        atr: Vec<u8>,
    },
    CardRemoved {
        reader: String,
    },
    /// pcscd stopped or cannot be reached; every reader and card is gone until [`ReaderEvent::PcscdBack`].
    PcscdLost,
    PcscdBack,
}

#[derive(Default)]
struct Shared {
    stopping: bool,
    ctx: Option<Context>,
}

/// A running monitor. Dropping it stops the thread too.
pub struct ReaderMonitor {
    shared: Arc<(Mutex<Shared>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl ReaderMonitor {
    /// Starts monitoring. Events arrive on the returned channel in the order they happened. Fails only if
    /// the thread cannot be spawned; pcscd being down is reported as [`ReaderEvent::PcscdLost`].
    pub fn start() -> Result<(Self, Receiver<ReaderEvent>), CardError> {
        let (tx, rx) = channel();
        let shared: Arc<(Mutex<Shared>, Condvar)> = Arc::default();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("pcsc-monitor".into())
            .spawn(move || run(&thread_shared, &tx))
            .map_err(|_| CardError::Internal("could not start the reader monitor thread"))?;
        Ok((
            Self {
                shared,
                thread: Some(thread),
            },
            rx,
        ))
    }

    /// Stops the thread and waits for it: cancels a blocked `get_status_change` with `Context::cancel`.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let (lock, cv) = &*self.shared;
        if let Ok(mut s) = lock.lock() {
            s.stopping = true;
            if let Some(ctx) = &s.ctx {
                // Err only means the context is already gone, which also ends the wait.
                let _ = ctx.cancel();
            }
        }
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ReaderMonitor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn stopping(shared: &(Mutex<Shared>, Condvar)) -> bool {
    shared.0.lock().map(|s| s.stopping).unwrap_or(true)
}

/// Waits `d` unless asked to stop; returns true when stopping.
fn pause(shared: &(Mutex<Shared>, Condvar), d: Duration) -> bool {
    let (lock, cv) = shared;
    let Ok(guard) = lock.lock() else {
        return true;
    };
    if guard.stopping {
        return true;
    }
    match cv.wait_timeout_while(guard, d, |s| !s.stopping) {
        Ok((g, _)) => g.stopping,
        Err(_) => true,
    }
}

fn run(shared: &(Mutex<Shared>, Condvar), tx: &Sender<ReaderEvent>) {
    // Whether pcscd is reachable, as last reported; the first state is reported either way.
    let mut reported_up: Option<bool> = None;
    while !stopping(shared) {
        let ctx = match Context::establish(Scope::User) {
            Ok(ctx) => ctx,
            Err(_) => {
                if reported_up != Some(false) {
                    reported_up = Some(false);
                    if tx.send(ReaderEvent::PcscdLost).is_err() {
                        return;
                    }
                }
                if pause(shared, RECONNECT_INTERVAL) {
                    return;
                }
                continue;
            }
        };
        {
            let Ok(mut s) = shared.0.lock() else { return };
            if s.stopping {
                return;
            }
            s.ctx = Some(ctx.clone());
        }
        if reported_up == Some(false) && tx.send(ReaderEvent::PcscdBack).is_err() {
            return;
        }
        let outcome = watch(&ctx, tx, shared);
        if let Ok(mut s) = shared.0.lock() {
            s.ctx = None;
        }
        match outcome {
            Outcome::Stop => return,
            Outcome::ServiceLost => {
                reported_up = Some(false);
                if tx.send(ReaderEvent::PcscdLost).is_err() {
                    return;
                }
                if pause(shared, RECONNECT_INTERVAL) {
                    return;
                }
            }
        }
    }
}

enum Outcome {
    Stop,
    ServiceLost,
}

struct Tracked {
    card: bool,
}

/// Watches one context until cancelled or pcscd goes away. On the way out reports every card and reader
/// as removed, so a consumer never holds a stale "present".
fn watch(ctx: &Context, tx: &Sender<ReaderEvent>, shared: &(Mutex<Shared>, Condvar)) -> Outcome {
    let mut tracked: BTreeMap<CString, Tracked> = BTreeMap::new();
    let mut states: Vec<ReaderState> = vec![ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)];
    let mut closed = false;
    let result = loop {
        if closed || stopping(shared) {
            break PcscError::Cancelled;
        }
        // Add readers that appeared; the PnP entry told us something changed.
        match ctx.list_readers_owned() {
            Ok(names) => {
                for name in names {
                    if let std::collections::btree_map::Entry::Vacant(slot) =
                        tracked.entry(name.clone())
                    {
                        closed |= send(
                            tx,
                            ReaderEvent::ReaderAdded {
                                reader: lossy(&name),
                            },
                        );
                        states.push(ReaderState::new(name, State::UNAWARE));
                        slot.insert(Tracked { card: false });
                    }
                }
            }
            Err(PcscError::NoReadersAvailable) => {}
            Err(e) => break e,
        }
        for rs in &mut states {
            rs.sync_current_state();
        }
        match ctx.get_status_change(Some(WAIT_SLICE), &mut states) {
            Ok(()) => {}
            Err(PcscError::Timeout) => continue,
            Err(e) => break e,
        }
        let mut gone = Vec::new();
        for rs in &states {
            if rs.name() == PNP_NOTIFICATION() {
                continue;
            }
            let name = rs.name().to_owned();
            let ev = rs.event_state();
            let Some(t) = tracked.get_mut(&name) else {
                continue;
            };
            if ev.intersects(State::UNKNOWN | State::IGNORE) {
                if t.card {
                    closed |= send(
                        tx,
                        ReaderEvent::CardRemoved {
                            reader: lossy(&name),
                        },
                    );
                }
                closed |= send(
                    tx,
                    ReaderEvent::ReaderRemoved {
                        reader: lossy(&name),
                    },
                );
                gone.push(name);
                continue;
            }
            let present = ev.contains(State::PRESENT) && !ev.contains(State::MUTE);
            if present && !t.card {
                t.card = true;
                closed |= send(
                    tx,
                    ReaderEvent::CardInserted {
                        reader: lossy(&name),
                        atr: rs.atr().to_vec(),
                    },
                );
            } else if !present && t.card && ev.contains(State::EMPTY) {
                t.card = false;
                closed |= send(
                    tx,
                    ReaderEvent::CardRemoved {
                        reader: lossy(&name),
                    },
                );
            }
        }
        if !gone.is_empty() {
            states.retain(|rs| !gone.iter().any(|g| g.as_c_str() == rs.name()));
            for g in gone {
                tracked.remove(&g);
            }
        }
    };
    let outcome = match result {
        PcscError::Cancelled => Outcome::Stop,
        _ => Outcome::ServiceLost,
    };
    for (name, t) in tracked {
        if t.card {
            send(
                tx,
                ReaderEvent::CardRemoved {
                    reader: lossy(&name),
                },
            );
        }
        send(
            tx,
            ReaderEvent::ReaderRemoved {
                reader: lossy(&name),
            },
        );
    }
    outcome
}

/// Sends an event; returns true when nobody listens any more.
fn send(tx: &Sender<ReaderEvent>, ev: ReaderEvent) -> bool {
    tracing::debug!(?ev, "reader event");
    tx.send(ev).is_err()
}

fn lossy(name: &CStr) -> String {
    name.to_string_lossy().into_owned()
}
