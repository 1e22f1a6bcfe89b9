//! The kiosk at work: one task that owns a [`Kiosk`] per reader, feeds it events from the card driver,
//! the local socket and its inactivity timer, and carries out the [`Effect`]s it returns.
//!
//! Everything that touches a kiosk happens on this one task, in order, so two clients pressing buttons at
//! once cannot interleave inside a transition. Slow work (the card, the central service) runs elsewhere and
//! comes back as an [`Input`]; each answer carries the card session it belongs to, and answers for a session
//! that has ended are dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use myna_card::{CardError, PinState, ReaderEvent};
use terminal_ipc::{
    AuthMethod, CertificateState, CheckInOutcome, ErrorBody, ErrorCode, Event, EventPublisher,
    KioskAction, KioskDisplay, KioskNotice, KioskScreen, ReaderChange, ReaderStatus,
};
use tokio::sync::{mpsc, oneshot};
// The kiosk's timer runs on tokio's clock, which a test can pause and advance (`tokio::time::pause`).
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::card_driver::{
    CardCommand, CardReport, IdentifiedCard, ReportSink, SessionHandle, spawn_session,
};
use crate::checkin::{
    CheckinService, Consents, OfflineProof, SignedServerChallenge, Submission, SubmitOutcome,
    consent_item,
};
use crate::face::{AttemptResult, FaceRuntime, FaceWorker};
use crate::kiosk::{
    CardFacts, CardProblem, ConsentKind, Effect, Kiosk, KioskConfig, KioskEvent, KioskState,
    Method, Outcome, Refusal,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Settings of the kiosk task.
#[derive(Debug, Clone)]
pub struct StationSettings {
    pub inactivity_timeout: Duration,
    /// The end of the inactivity wait that the kiosk counts down (one event a second); zero: none.
    pub countdown: Duration,
    /// The facility's display for a new patient, sent with every kiosk screen.
    pub display: KioskDisplay,
    pub max_face_attempts: u8,
    /// Readers with a card-face scanner and a camera.
    pub face_capable: Vec<String>,
    /// The face path (models, camera, reader key); `None`: face matching is off.
    pub face: Option<Arc<FaceRuntime>>,
    /// Kiosks of several readers (`[kiosk.NAME] readers`): one patient screen, published under the kiosk's
    /// name, for a face reader and the NFC reader beside it. While one reader's flow runs, a card or phone
    /// on another reader of the same kiosk is ignored (it must be placed again afterwards).
    pub pools: BTreeMap<String, Vec<String>>,
    /// Where the cards are read: PC/SC, or a test build's virtual readers.
    pub cards: crate::card_driver::CardSource,
}

/// Requests from the local socket.
pub enum Command {
    Kiosk {
        reader: Option<String>,
        action: KioskAction,
        /// The staff account behind a visual-check action (the audit row's actor).
        staff: Option<String>,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    },
    Readers {
        reply: oneshot::Sender<Vec<ReaderStatus>>,
    },
    /// The authentication certificate of the card in a reader (empty name: the only reader with a card), for
    /// emergency viewing by card: read at insertion without a PIN; the kiosk flow is not touched.
    CardCertificate {
        reader: String,
        reply: oneshot::Sender<Result<Vec<u8>, ErrorBody>>,
    },
}

/// Everything the kiosk task reacts to.
pub enum Input {
    Card(CardReport),
    Command(Command),
    /// A challenge was fetched (or not: outage) for a PIN verification.
    Challenge {
        reader: String,
        session: u64,
        server: Option<(crate::checkin::ServerChallenge, Vec<u8>)>,
    },
    /// The consent screens for a new card are known.
    Screens {
        reader: String,
        session: u64,
        screens: Vec<ConsentKind>,
    },
    /// Face matching was asked for but is off (no camera, models or reader key).
    FaceUnavailable {
        reader: String,
        session: u64,
    },
    /// One face attempt ended.
    FaceAttempt {
        reader: String,
        session: u64,
        result: AttemptResult,
    },
    /// The face matched and a challenge was fetched (or not: outage) for the attestation.
    FaceChallenge {
        reader: String,
        session: u64,
        score: f32,
        server: Option<(crate::checkin::ServerChallenge, Vec<u8>)>,
    },
    /// A submission ended.
    Submitted {
        reader: String,
        session: u64,
        check_in_id: String,
        outcome: Result<SubmitOutcome, String>,
    },
}

/// A handle the socket handler uses.
#[derive(Clone)]
pub struct StationHandle {
    tx: mpsc::UnboundedSender<Input>,
}

impl StationHandle {
    /// Where the reader monitor's reports go.
    pub fn card_sink(&self) -> ReportSink {
        let input = self.tx.clone();
        Arc::new(move |r| input.send(Input::Card(r)).is_ok())
    }

    /// A client's action on the kiosk screen; `staff` names the logged-in account behind a visual check.
    pub async fn kiosk(
        &self,
        reader: Option<String>,
        action: KioskAction,
        staff: Option<String>,
    ) -> Result<(), ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Command(Command::Kiosk {
                reader,
                action,
                staff,
                reply,
            }))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// See [`Command::CardCertificate`].
    pub async fn card_certificate(&self, reader: String) -> Result<Vec<u8>, ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Command(Command::CardCertificate { reader, reply }))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    pub async fn readers(&self) -> Vec<ReaderStatus> {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Input::Command(Command::Readers { reply }))
            .is_err()
        {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

fn stopped() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Internal,
        "the kiosk is not running; see the daemon's log",
    )
}

/// One card in a reader, from insertion to the end of its check-in.
struct Session {
    handle: SessionHandle,
    card: Option<IdentifiedCard>,
    /// The PIN between the kiosk client and the card; zeroized when dropped.
    pin: Option<myna_card::Pin>,
    server: Option<(crate::checkin::ServerChallenge, Vec<u8>)>,
    offline: Option<OfflineProof>,
    signatures: Vec<Vec<u8>>,
    screens_ready: bool,
    check_in_id: Option<String>,
    /// The face-matching thread (holds the photo and the camera); dropped with the session.
    face: Option<FaceWorker>,
    /// The photo is being read for the first face attempt.
    face_photo_pending: bool,
    /// The photo could not be read: later attempts fail at once instead of spending another 照合番号B try.
    face_photo_failed: bool,
    /// The reader's attestations of a face match: over the server challenge, and over the offline one.
    attestation: Option<crate::face::Attestation>,
    offline_attestation: Option<crate::face::Attestation>,
}

struct Slot {
    kiosk: Kiosk,
    card_present: bool,
    session: Option<Session>,
    deadline: Option<Instant>,
    /// Seconds left before `deadline`, during the countdown.
    countdown: Option<u32>,
    /// The last screen and countdown published, so a transition that changes neither is not sent again.
    screen: KioskScreen,
    sent_countdown: Option<u32>,
    /// The check-in of the current (or last) card, for the result screen.
    last_check_in: Option<String>,
    last_outcome: Option<CheckInOutcome>,
    /// What the last face attempt asks the patient to change.
    face_guidance: Option<terminal_ipc::FaceGuidance>,
}

/// The kiosk task.
pub struct Station {
    settings: StationSettings,
    service: CheckinService,
    events: EventPublisher,
    slots: BTreeMap<String, Slot>,
    next_session: u64,
    tx: mpsc::UnboundedSender<Input>,
    rx: mpsc::UnboundedReceiver<Input>,
}

impl Station {
    pub fn new(
        settings: StationSettings,
        service: CheckinService,
        events: EventPublisher,
    ) -> (Self, StationHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                settings,
                service,
                events,
                slots: BTreeMap::new(),
                next_session: 1,
                tx: tx.clone(),
                rx,
            },
            StationHandle { tx },
        )
    }

    /// Runs until every handle is dropped.
    pub async fn run(mut self) {
        loop {
            let window = self.settings.countdown;
            let now = Instant::now();
            let deadline = self
                .slots
                .values()
                .filter_map(|s| next_wake(s, window, now))
                .min();
            let input = match deadline {
                Some(d) => tokio::select! {
                    input = self.rx.recv() => input,
                    () = tokio::time::sleep_until(d) => { self.timeouts(); continue; }
                },
                None => self.rx.recv().await,
            };
            let Some(input) = input else { break };
            match input {
                Input::Card(report) => self.card_report(report),
                Input::Command(Command::Kiosk {
                    reader,
                    action,
                    staff,
                    reply,
                }) => {
                    let result = self.action(reader, action, staff);
                    let _ = reply.send(result);
                }
                Input::Command(Command::Readers { reply }) => {
                    let _ = reply.send(self.reader_statuses());
                }
                Input::Command(Command::CardCertificate { reader, reply }) => {
                    let _ = reply.send(self.card_certificate(&reader));
                }
                Input::Challenge {
                    reader,
                    session,
                    server,
                } => self.challenge_ready(&reader, session, server),
                Input::Screens {
                    reader,
                    session,
                    screens,
                } => {
                    if let Some(slot) = self.slots.get_mut(&reader) {
                        if let Some(s) = slot.session.as_mut().filter(|s| s.handle.id == session) {
                            s.screens_ready = true;
                            slot.kiosk.set_consent_screens(screens);
                        }
                    }
                }
                Input::Submitted {
                    reader,
                    session,
                    check_in_id,
                    outcome,
                } => self.submitted(&reader, session, check_in_id, outcome),
                Input::FaceAttempt {
                    reader,
                    session,
                    result,
                } => self.face_attempted(&reader, session, result),
                Input::FaceChallenge {
                    reader,
                    session,
                    score,
                    server,
                } => self.face_challenge(&reader, session, score, server),
                Input::FaceUnavailable { reader, session } => {
                    if self.current(&reader, session) {
                        self.feed(
                            &reader,
                            KioskEvent::FaceAttempted {
                                result: crate::kiosk::FaceAttempt::NotMatched,
                            },
                        );
                    }
                }
            }
        }
    }

    fn slot(&mut self, reader: &str) -> &mut Slot {
        let face = self.settings.face_capable.iter().any(|r| r == reader);
        let config = KioskConfig {
            face_capable_reader: face,
            max_face_attempts: self.settings.max_face_attempts,
            ..KioskConfig::default()
        };
        self.slots.entry(reader.to_owned()).or_insert_with(|| Slot {
            kiosk: Kiosk::new(config),
            card_present: false,
            session: None,
            deadline: None,
            countdown: None,
            screen: KioskScreen::Idle,
            sent_countdown: None,
            last_check_in: None,
            last_outcome: None,
            face_guidance: None,
        })
    }

    fn card_certificate(&self, reader: &str) -> Result<Vec<u8>, ErrorBody> {
        let identified = |slot: &Slot| {
            slot.session
                .as_ref()
                .and_then(|s| s.card.as_ref())
                .map(|c| c.auth_certificate.clone())
        };
        if !reader.is_empty() {
            let slot = self.slots.get(reader).ok_or_else(|| {
                ErrorBody::new(ErrorCode::NotFound, format!("no reader called `{reader}`"))
            })?;
            return identified(slot).ok_or_else(|| {
                ErrorBody::new(
                    ErrorCode::InvalidState,
                    format!("no My Number Card has been read in `{reader}`"),
                )
            });
        }
        let mut certs = self.slots.values().filter_map(identified);
        match (certs.next(), certs.next()) {
            (Some(cert), None) => Ok(cert),
            (None, _) => Err(ErrorBody::new(
                ErrorCode::InvalidState,
                "no My Number Card has been read in any reader",
            )),
            _ => Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "several readers have a card; name the reader",
            )),
        }
    }

    /// Every reader, then every kiosk of several readers (its serving reader's screen).
    fn reader_statuses(&self) -> Vec<ReaderStatus> {
        let status = |name: &str, slot: &Slot| ReaderStatus {
            name: name.to_owned(),
            card_present: slot.card_present,
            kiosk: slot.screen.clone(),
            display: self.settings.display,
            countdown: slot.sent_countdown,
        };
        let mut all: Vec<ReaderStatus> = self
            .slots
            .iter()
            .map(|(name, slot)| status(name, slot))
            .collect();
        for pool in self.settings.pools.keys() {
            let serving = self.pool_reader(pool);
            if let Some(slot) = serving.as_deref().and_then(|r| self.slots.get(r)) {
                all.push(status(pool, slot));
            }
        }
        all
    }

    fn card_report(&mut self, report: CardReport) {
        match report {
            CardReport::Reader(event) => self.reader_event(event),
            CardReport::Identified {
                reader,
                session,
                result,
            } => {
                if !self.current(&reader, session) {
                    return;
                }
                let event = match result {
                    Ok(card) => {
                        let now = self.service.store().clock().now();
                        let (certificate_expiring, certificate_in_grace) = certificate_window(
                            myna_card::certificate::not_after(&card.auth_certificate).ok(),
                            card.smartphone,
                            now,
                        );
                        let not_after =
                            myna_card::certificate::not_after(&card.auth_certificate).ok();
                        let facts = CardFacts {
                            has_pin: !matches!(card.pin, PinState::NotSet),
                            smartphone: card.smartphone,
                            certificate_expiring,
                            certificate_in_grace,
                            face_scanner: card.face_scanner,
                            device_authenticates: card.device_authenticates,
                            certificate_expired: not_after.is_some_and(|end| now > end),
                        };
                        if let Some(s) = self.slot(&reader).session.as_mut() {
                            s.card = Some(card);
                        }
                        KioskEvent::CardIdentified { card: facts }
                    }
                    Err(e) if e.is_card_gone() => return,
                    Err(e) => {
                        info!(reader = %reader, error = %e, "card cannot be used");
                        KioskEvent::CardRejected {
                            problem: card_problem(&e),
                        }
                    }
                };
                self.feed(&reader, event);
            }
            CardReport::PinCounter {
                reader,
                session,
                result,
            } => {
                if !self.current(&reader, session) {
                    return;
                }
                let event = match result {
                    Ok(tries_left) => KioskEvent::PinCounterRead { tries_left },
                    Err(CardError::PinBlocked | CardError::NoPinSet) => KioskEvent::PinBlocked,
                    // Removal arrives as its own event.
                    Err(e) if e.is_card_gone() => return,
                    Err(e) => {
                        warn!(reader = %reader, error = %e, "the PIN counter could not be read");
                        KioskEvent::CardRejected {
                            problem: card_problem(&e),
                        }
                    }
                };
                self.feed(&reader, event);
            }
            CardReport::FacePhoto {
                reader,
                session,
                result,
            } => self.face_photo(&reader, session, result),
            CardReport::Signed {
                reader,
                session,
                result,
            } => {
                if !self.current(&reader, session) {
                    return;
                }
                let event = match result {
                    Ok(signatures) => {
                        let slot = self.slot(&reader);
                        if let Some(s) = slot.session.as_mut() {
                            s.signatures = signatures;
                        }
                        if matches!(slot.kiosk.state(), KioskState::DeviceSigning { .. }) {
                            KioskEvent::DeviceSigned
                        } else {
                            KioskEvent::PinAccepted
                        }
                    }
                    Err(CardError::WrongPin { tries_left }) => {
                        KioskEvent::PinRejected { tries_left }
                    }
                    Err(CardError::PinBlocked) => KioskEvent::PinBlocked,
                    Err(e) if e.is_card_gone() => return,
                    Err(e) => {
                        warn!(reader = %reader, error = %e, "the card could not verify the PIN");
                        KioskEvent::CardRejected {
                            problem: card_problem(&e),
                        }
                    }
                };
                self.feed(&reader, event);
            }
        }
    }

    fn current(&mut self, reader: &str, session: u64) -> bool {
        self.slots
            .get(reader)
            .and_then(|s| s.session.as_ref())
            .is_some_and(|s| s.handle.id == session)
    }

    fn reader_event(&mut self, event: ReaderEvent) {
        match event {
            ReaderEvent::ReaderAdded { reader } => {
                self.slot(&reader);
                self.publish_reader(&reader, ReaderChange::Attached);
            }
            ReaderEvent::ReaderRemoved { reader } => {
                self.card_gone(&reader);
                self.publish_reader(&reader, ReaderChange::Detached);
            }
            ReaderEvent::CardInserted { reader, .. } => {
                if let Some(busy) = self.pool_member_busy(&reader) {
                    info!(reader = %reader, busy = %busy, "card ignored: the kiosk is serving the other reader");
                    self.slot(&reader).card_present = true;
                    self.publish_reader(&reader, ReaderChange::CardInserted);
                    return;
                }
                let id = self.next_session;
                self.next_session += 1;
                let handle = match spawn_session(
                    self.settings.cards.clone(),
                    reader.clone(),
                    id,
                    self.card_sender(),
                ) {
                    Ok(h) => h,
                    Err(e) => {
                        warn!(error = %e, "no card session");
                        return;
                    }
                };
                info!(reader = %reader, session = id, "card inserted");
                let slot = self.slot(&reader);
                slot.card_present = true;
                if slot.session.is_some() || !matches!(slot.kiosk.state(), KioskState::Idle) {
                    // A card arrived while the last one's result is still on screen.
                    let _ = slot.kiosk.handle(KioskEvent::CardRemoved);
                }
                slot.session = Some(Session {
                    handle,
                    card: None,
                    pin: None,
                    server: None,
                    offline: None,
                    signatures: Vec::new(),
                    screens_ready: false,
                    check_in_id: None,
                    face: None,
                    face_photo_pending: false,
                    face_photo_failed: false,
                    attestation: None,
                    offline_attestation: None,
                });
                self.slot(&reader).face_guidance = None;
                self.publish_reader(&reader, ReaderChange::CardInserted);
                if let Some(screens) = self.service.known_consent_screens() {
                    self.slot(&reader).kiosk.set_consent_screens(screens);
                }
                // The consent screens are refreshed while the card is read.
                let service = self.service.clone();
                let tx = self.tx.clone();
                let fallback = KioskConfig::default().consent_screens;
                let r = reader.clone();
                tokio::spawn(async move {
                    let screens = service.consent_screens(&fallback).await;
                    let _ = tx.send(Input::Screens {
                        reader: r,
                        session: id,
                        screens,
                    });
                });
                self.feed(&reader, KioskEvent::CardInserted);
            }
            ReaderEvent::CardRemoved { reader } => {
                info!(reader = %reader, "card removed");
                self.card_gone(&reader);
                self.publish_reader(&reader, ReaderChange::CardRemoved);
            }
            ReaderEvent::PcscdLost => {
                warn!("the smart card service (pcscd) is gone; every card counts as removed");
                let readers: Vec<String> = self.slots.keys().cloned().collect();
                for r in readers {
                    self.card_gone(&r);
                }
            }
            ReaderEvent::PcscdBack => info!("the smart card service (pcscd) is back"),
        }
    }

    fn card_gone(&mut self, reader: &str) {
        let Some(slot) = self.slots.get_mut(reader) else {
            return;
        };
        slot.card_present = false;
        let interrupted = !matches!(
            slot.kiosk.state(),
            KioskState::Idle | KioskState::Done { .. } | KioskState::Querying { .. }
        );
        if matches!(slot.kiosk.state(), KioskState::Idle) {
            slot.session = None;
            return;
        }
        slot.countdown = None;
        if interrupted {
            self.publish_screen(
                reader,
                KioskScreen::Notice {
                    notice: KioskNotice::CardRemoved,
                },
            );
        }
        self.feed(reader, KioskEvent::CardRemoved);
    }

    fn card_sender(&self) -> ReportSink {
        let input = self.tx.clone();
        Arc::new(move |r| input.send(Input::Card(r)).is_ok())
    }

    /// Times out the kiosks whose wait is over, and publishes the countdown of those near the end of it.
    fn timeouts(&mut self) {
        let now = Instant::now();
        let window = self.settings.countdown;
        let readers: Vec<String> = self.slots.keys().cloned().collect();
        for reader in readers {
            let Some(slot) = self.slots.get_mut(&reader) else {
                continue;
            };
            let Some(deadline) = slot.deadline else {
                continue;
            };
            if deadline <= now {
                info!(reader = %reader, "kiosk inactivity timeout");
                slot.deadline = None;
                slot.countdown = None;
                self.feed(&reader, KioskEvent::Timeout);
                continue;
            }
            let shown = if counts_down(slot.kiosk.state()) {
                countdown_at(deadline, now, window).0
            } else {
                None
            };
            if shown != slot.countdown {
                slot.countdown = shown;
                let screen = slot.screen.clone();
                self.publish_screen(&reader, screen);
            }
        }
    }

    /// Applies an event and carries out its effects. Illegal events are logged and ignored (they come from
    /// the card side here; client actions are checked in [`Station::action`]).
    fn feed(&mut self, reader: &str, event: KioskEvent) {
        if let Err(e) = self.try_feed(reader, event) {
            debug!(reader = %reader, error = %e, "event ignored");
        }
    }

    fn try_feed(
        &mut self,
        reader: &str,
        event: KioskEvent,
    ) -> Result<(), crate::kiosk::IllegalTransition> {
        let slot = self.slot(reader);
        let effects = slot.kiosk.handle(event)?;
        for effect in effects {
            self.effect(reader, effect);
        }
        self.after_transition(reader);
        Ok(())
    }

    fn after_transition(&mut self, reader: &str) {
        let timeout = self.settings.inactivity_timeout;
        let slot = self.slot(reader);
        let waits_for_patient = matches!(
            slot.kiosk.state(),
            KioskState::MethodChoice { .. }
                | KioskState::PinEntry { .. }
                | KioskState::FaceMatching { .. }
                | KioskState::StaffVisual { .. }
                | KioskState::Consents { .. }
                | KioskState::Done { .. }
        );
        slot.deadline = waits_for_patient.then(|| Instant::now() + timeout);
        slot.countdown = None;
        if matches!(slot.kiosk.state(), KioskState::Idle) && !slot.card_present {
            slot.session = None;
        }
        let screen = screen_of(slot);
        self.publish_screen(reader, screen);
    }

    fn publish_screen(&mut self, reader: &str, screen: KioskScreen) {
        let display = self.settings.display;
        let slot = self.slot(reader);
        if slot.screen == screen && slot.sent_countdown == slot.countdown {
            return;
        }
        slot.screen = screen.clone();
        slot.sent_countdown = slot.countdown;
        let countdown = slot.countdown;
        debug!(reader = %reader, screen = ?screen, countdown = ?countdown, "kiosk screen");
        // The kiosk of several readers shows the reader that is serving, or idle when none is.
        if let Some(pool) = self.pool_of(reader) {
            let serving_other = self.pool_member_busy(reader).is_some();
            if !serving_other {
                self.events.publish(Event::Kiosk {
                    reader: pool,
                    screen: screen.clone(),
                    display,
                    countdown,
                });
            }
        }
        self.events.publish(Event::Kiosk {
            reader: reader.to_owned(),
            screen,
            display,
            countdown,
        });
    }

    /// The kiosk of several readers that `reader` belongs to.
    fn pool_of(&self, reader: &str) -> Option<String> {
        self.settings
            .pools
            .iter()
            .find(|(_, members)| members.iter().any(|m| m == reader))
            .map(|(name, _)| name.clone())
    }

    /// Another reader of `reader`'s kiosk whose flow is under way (not idle).
    fn pool_member_busy(&self, reader: &str) -> Option<String> {
        let pool = self.pool_of(reader)?;
        self.settings.pools.get(&pool)?.iter().find_map(|m| {
            let busy = m != reader
                && self
                    .slots
                    .get(m)
                    .is_some_and(|s| !matches!(s.kiosk.state(), KioskState::Idle));
            busy.then(|| m.clone())
        })
    }

    /// The reader a kiosk's action goes to: the one serving, else one with a card, else the first.
    fn pool_reader(&self, pool: &str) -> Option<String> {
        let members = self.settings.pools.get(pool)?;
        let serving = members.iter().find(|m| {
            self.slots
                .get(*m)
                .is_some_and(|s| !matches!(s.kiosk.state(), KioskState::Idle))
        });
        let with_card = members
            .iter()
            .find(|m| self.slots.get(*m).is_some_and(|s| s.card_present));
        serving.or(with_card).or(members.first()).cloned()
    }

    fn publish_reader(&self, reader: &str, change: ReaderChange) {
        self.events.publish(Event::Reader {
            reader: reader.to_owned(),
            change,
        });
    }

    fn effect(&mut self, reader: &str, effect: Effect) {
        let Some(id) = self.slot(reader).session.as_ref().map(|s| s.handle.id) else {
            return;
        };
        match effect {
            Effect::IdentifyCard => {
                let probe_scanner = self.settings.face.is_some()
                    && self.settings.face_capable.iter().any(|r| r == reader);
                self.send_card(reader, CardCommand::Identify { probe_scanner })
            }
            Effect::ReadPinCounter => self.send_card(reader, CardCommand::ReadPinCounter),
            Effect::VerifyPinAndSign | Effect::SignOnDevice => {
                let service = self.service.clone();
                let tx = self.tx.clone();
                let reader = reader.to_owned();
                tokio::spawn(async move {
                    let server = service.server_challenge().await;
                    let _ = tx.send(Input::Challenge {
                        reader,
                        session: id,
                        server,
                    });
                });
            }
            Effect::RunFaceAttempt => self.run_face_attempt(reader, id),
            Effect::StopCamera => {
                if let Some(w) = self
                    .slot(reader)
                    .session
                    .as_ref()
                    .and_then(|s| s.face.as_ref())
                {
                    w.close_camera();
                }
            }
            Effect::AskStaff => info!(reader = %reader, "staff visual check requested"),
            Effect::CancelStaffRequest => {
                info!(reader = %reader, "staff visual check withdrawn")
            }
            Effect::SubmitCheckin { method, answers } => self.submit(reader, method, answers),
            Effect::EndCardSession => {
                let slot = self.slot(reader);
                slot.face_guidance = None;
                if let Some(s) = slot.session.as_mut() {
                    // The PIN is zeroized on drop; dropping the face worker closes the camera and forgets
                    // the photo.
                    s.pin = None;
                    s.signatures.clear();
                    s.server = None;
                    s.face = None;
                    s.face_photo_pending = false;
                    s.attestation = None;
                    s.offline_attestation = None;
                }
                if !slot.card_present {
                    slot.session = None;
                }
            }
        }
    }

    /// One face attempt: the first reads the photo (through the card session), later ones go straight to
    /// the face worker.
    fn run_face_attempt(&mut self, reader: &str, session: u64) {
        let enabled = self.settings.face.is_some();
        let slot = self.slot(reader);
        let Some(s) = slot.session.as_mut() else {
            return;
        };
        if !enabled {
            info!(reader = %reader, "face matching is off on this terminal");
            let _ = self.tx.send(Input::FaceUnavailable {
                reader: reader.to_owned(),
                session,
            });
            return;
        }
        if s.face_photo_failed {
            self.face_failed(reader, "card_photo_unusable");
            return;
        }
        if let Some(worker) = &s.face {
            if !worker.attempt() {
                warn!(reader = %reader, "the face worker has ended");
                self.face_failed(reader, "camera_error");
            }
            return;
        }
        if !s.face_photo_pending {
            s.face_photo_pending = true;
            self.send_card(reader, CardCommand::ReadFacePhoto);
        }
    }

    fn face_photo(
        &mut self,
        reader: &str,
        session: u64,
        result: Result<myna_card::FacePhoto, CardError>,
    ) {
        if !self.current(reader, session) {
            return;
        }
        let runtime = self.settings.face.clone();
        let tx = self.tx.clone();
        let slot = self.slot(reader);
        let Some(s) = slot.session.as_mut() else {
            return;
        };
        s.face_photo_pending = false;
        if !matches!(slot.kiosk.state(), KioskState::FaceMatching { .. }) {
            // The patient moved on (cancel, staff check) while the photo was read; it is dropped here.
            return;
        }
        let photo = match result {
            Ok(photo) => photo,
            Err(e) if e.is_card_gone() => return,
            Err(e) => {
                warn!(reader = %reader, error = %e, "the card photo could not be read");
                s.face_photo_failed = true;
                return self.face_failed(reader, "card_photo_unusable");
            }
        };
        let Some(runtime) = runtime else {
            return;
        };
        let r = reader.to_owned();
        let report: Arc<dyn Fn(AttemptResult) -> bool + Send + Sync> = Arc::new(move |result| {
            tx.send(Input::FaceAttempt {
                reader: r.clone(),
                session,
                result,
            })
            .is_ok()
        });
        match FaceWorker::spawn(runtime, session, photo, report) {
            Ok(worker) => {
                worker.attempt();
                s.face = Some(worker);
            }
            Err(e) => {
                warn!(error = %e, "could not start the face thread");
                self.face_failed(reader, "camera_error");
            }
        }
    }

    /// An attempt that could not even look: counts as not matched, with the reason shown. Queued like a
    /// worker's answer, so it is handled after the current transition, never inside it.
    fn face_failed(&mut self, reader: &str, reason: &str) {
        let Some(session) = self.slot(reader).session.as_ref().map(|s| s.handle.id) else {
            return;
        };
        let _ = self.tx.send(Input::FaceAttempt {
            reader: reader.to_owned(),
            session,
            result: AttemptResult::NotMatched {
                guidance: crate::face::unavailable(reason),
            },
        });
    }

    fn face_attempted(&mut self, reader: &str, session: u64, result: AttemptResult) {
        if !self.current(reader, session) {
            return;
        }
        match result {
            AttemptResult::Matched { score } => {
                // Before the kiosk moves on, the reader attests the match over a fresh challenge.
                let service = self.service.clone();
                let tx = self.tx.clone();
                let reader = reader.to_owned();
                tokio::spawn(async move {
                    let server = service.server_challenge().await;
                    let _ = tx.send(Input::FaceChallenge {
                        reader,
                        session,
                        score,
                        server,
                    });
                });
            }
            AttemptResult::NotMatched { guidance } => {
                info!(reader = %reader, reason = %guidance.reason, "face attempt did not match");
                self.slot(reader).face_guidance = Some(guidance);
                self.feed(
                    reader,
                    KioskEvent::FaceAttempted {
                        result: crate::kiosk::FaceAttempt::NotMatched,
                    },
                );
            }
        }
    }

    fn face_challenge(
        &mut self,
        reader: &str,
        session: u64,
        score: f32,
        server: Option<(crate::checkin::ServerChallenge, Vec<u8>)>,
    ) {
        if !self.current(reader, session) {
            return;
        }
        let Some(runtime) = self.settings.face.clone() else {
            return;
        };
        let facility = self.service.facility_code().to_owned();
        let offline = match OfflineProof::new(self.service.store().now_millis()) {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "no offline proof");
                return self.face_failed(reader, "camera_error");
            }
        };
        let matched_at = self.service.store().clock().ymdhms_jst();
        let slot = self.slot(reader);
        let Some(s) = slot.session.as_mut() else {
            return;
        };
        let Some(card) = &s.card else {
            return;
        };
        let signer = &runtime.signer;
        s.attestation = server.as_ref().map(|(_, bytes)| {
            signer.attest(&card.auth_certificate, bytes, score, matched_at.clone())
        });
        s.offline_attestation = Some(signer.attest(
            &card.auth_certificate,
            &offline.challenge(&facility),
            score,
            matched_at,
        ));
        // The face path has no card signature: the challenge id travels with an empty signature.
        s.server = server;
        s.signatures.clear();
        s.offline = Some(offline);
        self.feed(
            reader,
            KioskEvent::FaceAttempted {
                result: crate::kiosk::FaceAttempt::Matched,
            },
        );
    }

    fn send_card(&mut self, reader: &str, command: CardCommand) {
        if let Some(s) = self.slot(reader).session.as_ref() {
            if !s.handle.send(command) {
                warn!(reader = %reader, "the card session has ended");
            }
        }
    }

    fn challenge_ready(
        &mut self,
        reader: &str,
        session: u64,
        server: Option<(crate::checkin::ServerChallenge, Vec<u8>)>,
    ) {
        if !self.current(reader, session) {
            return;
        }
        let facility = self.service.facility_code().to_owned();
        let now_ms = self.service.store().now_millis();
        let slot = self.slot(reader);
        let Some(s) = slot.session.as_mut() else {
            return;
        };
        // A PIN the kiosk sent, or none for a token that authenticated its holder itself (an iPhone).
        let pin = s.pin.take();
        let on_device = s.card.as_ref().is_some_and(|c| c.device_authenticates);
        if pin.is_none() && !on_device {
            return;
        }
        let offline = match OfflineProof::new(now_ms) {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "no offline proof");
                return;
            }
        };
        let mut challenges = Vec::new();
        if let Some((_, bytes)) = &server {
            challenges.push(bytes.clone());
        }
        challenges.push(offline.challenge(&facility));
        s.server = server;
        s.offline = Some(offline);
        s.handle.send(match pin {
            Some(pin) => CardCommand::VerifyPinAndSign { pin, challenges },
            None => CardCommand::SignOnDevice { challenges },
        });
    }

    fn submit(&mut self, reader: &str, method: Method, answers: Vec<crate::kiosk::ConsentAnswer>) {
        let at_ms = self.service.store().now_millis();
        let check_in_id = self.service.new_check_in_id(at_ms);
        let slot = self.slot(reader);
        let Some(s) = slot.session.as_mut() else {
            return;
        };
        let id = s.handle.id;
        s.check_in_id = Some(check_in_id.clone());
        slot.last_check_in = Some(check_in_id.clone());
        let Some(card) = &s.card else {
            return;
        };
        let offline = match s.offline.clone() {
            Some(o) => o,
            None => match OfflineProof::new(at_ms) {
                Ok(o) => o,
                Err(e) => {
                    warn!(error = %e, "no offline proof");
                    return;
                }
            },
        };
        let (server, offline_signature) = match (&s.server, s.signatures.as_slice()) {
            (Some((c, _)), [server_sig, offline_sig]) => (
                Some(SignedServerChallenge {
                    challenge_id: c.challenge_id.clone(),
                    signature: B64.encode(server_sig),
                }),
                Some(B64.encode(offline_sig)),
            ),
            (None, [offline_sig]) => (None, Some(B64.encode(offline_sig))),
            // Face: the reader's attestation answers the challenge; the card signs nothing.
            (Some((c, _)), []) if method == Method::Face => (
                Some(SignedServerChallenge {
                    challenge_id: c.challenge_id.clone(),
                    signature: String::new(),
                }),
                None,
            ),
            _ => (None, None),
        };
        let submission = Submission {
            check_in_id: check_in_id.clone(),
            at_ms,
            reader: reader.to_owned(),
            method,
            auth_certificate: B64.encode(&card.auth_certificate),
            server,
            offline,
            offline_signature,
            attestation: s.attestation.clone(),
            offline_attestation: s.offline_attestation.clone(),
            consents: Consents::from_answers(&answers),
            answers,
            smartphone: card.smartphone,
        };
        let service = self.service.clone();
        let tx = self.tx.clone();
        let reader = reader.to_owned();
        tokio::spawn(async move {
            let outcome = service.submit(submission).await.map_err(|e| e.to_string());
            let _ = tx.send(Input::Submitted {
                reader,
                session: id,
                check_in_id,
                outcome,
            });
        });
    }

    fn submitted(
        &mut self,
        reader: &str,
        session: u64,
        check_in_id: String,
        outcome: Result<SubmitOutcome, String>,
    ) {
        let slot = self.slot(reader);
        // The session may have ended (card taken early); the kiosk still waits in `Querying`.
        let still_querying = matches!(slot.kiosk.state(), KioskState::Querying { .. })
            && slot.last_check_in.as_deref() == Some(check_in_id.as_str());
        if !still_querying {
            debug!(session, "a late check-in answer");
            return;
        }
        slot.last_outcome = match &outcome {
            Ok(SubmitOutcome::Answered { outcome }) => Some(*outcome),
            Ok(SubmitOutcome::Deferred) => Some(CheckInOutcome::PendingOutage),
            _ => None,
        };
        let event = match outcome {
            Ok(SubmitOutcome::Answered { .. }) => KioskEvent::CheckinAnswered,
            Ok(SubmitOutcome::Deferred) => KioskEvent::CheckinDeferred,
            Ok(SubmitOutcome::Refused { refusal, code }) => {
                info!(reader = %reader, code = %code, "check-in refused");
                KioskEvent::CheckinRefused { refusal }
            }
            Err(e) => {
                warn!(reader = %reader, error = %e, "the check-in could not be recorded");
                KioskEvent::CheckinRefused {
                    refusal: Refusal::Other,
                }
            }
        };
        self.feed(reader, event);
    }

    /// A client's action on the kiosk screen.
    fn action(
        &mut self,
        reader: Option<String>,
        action: KioskAction,
        staff: Option<String>,
    ) -> Result<(), ErrorBody> {
        let reader = match reader.map(|r| self.pool_reader(&r).unwrap_or(r)) {
            Some(r) if self.slots.contains_key(&r) => r,
            Some(r) => {
                return Err(ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("no reader called `{r}`"),
                ));
            }
            None => {
                let mut with_card = self.slots.iter().filter(|(_, s)| s.card_present);
                match (with_card.next(), with_card.next()) {
                    (Some((r, _)), None) => r.clone(),
                    (None, _) if self.slots.len() == 1 => {
                        self.slots.keys().next().cloned().unwrap_or_default()
                    }
                    (None, _) => {
                        return Err(ErrorBody::new(
                            ErrorCode::InvalidState,
                            "no card is in any reader",
                        ));
                    }
                    _ => {
                        return Err(ErrorBody::new(
                            ErrorCode::BadRequest,
                            "several readers have a card; name the reader",
                        ));
                    }
                }
            }
        };
        let event = match action {
            KioskAction::ChooseMethod { method } => {
                let method = match method {
                    AuthMethod::Pin => Method::Pin,
                    AuthMethod::Face => Method::Face,
                    AuthMethod::StaffVisual => Method::StaffVisual,
                    AuthMethod::Phone | AuthMethod::SmartphonePin => {
                        return Err(ErrorBody::new(
                            ErrorCode::BadRequest,
                            "a smartphone is recognised when it is tapped: an iPhone needs no choice, an \
                             Android phone chooses the PIN",
                        ));
                    }
                    AuthMethod::InsuranceNumbers => {
                        return Err(ErrorBody::new(
                            ErrorCode::BadRequest,
                            "a check by insurance numbers is made at reception, not at the card reader",
                        ));
                    }
                };
                if let KioskState::MethodChoice { offered, .. } = self.slot(&reader).kiosk.state() {
                    let refused = match method {
                        Method::Pin if !offered.pin => Some(
                            "this card has no PIN (顔認証マイナンバーカード); use face or staff visual check",
                        ),
                        Method::Face if !offered.face => {
                            Some("face authentication is not available on this reader")
                        }
                        _ => None,
                    };
                    if let Some(message) = refused {
                        return Err(ErrorBody::new(ErrorCode::InvalidState, message));
                    }
                }
                KioskEvent::MethodChosen { method }
            }
            KioskAction::EnterPin { pin } => {
                let pin = myna_card::Pin::new(pin.digits()).map_err(|_| {
                    ErrorBody::new(ErrorCode::BadRequest, "the PIN must be exactly 4 digits")
                })?;
                let slot = self.slot(&reader);
                if !matches!(slot.kiosk.state(), KioskState::PinEntry { .. }) {
                    return Err(illegal_state(slot.kiosk.state(), "a PIN"));
                }
                if let Some(s) = slot.session.as_mut() {
                    s.pin = Some(pin);
                }
                KioskEvent::PinSubmitted
            }
            KioskAction::AnswerConsent { item, agreed } => {
                let slot = self.slot(&reader);
                match slot.kiosk.state() {
                    KioskState::Consents { current, .. } if consent_item(*current) == item => {}
                    KioskState::Consents { current, .. } => {
                        return Err(ErrorBody::new(
                            ErrorCode::InvalidState,
                            format!(
                                "the kiosk shows the {:?} consent screen, not {item:?}",
                                consent_item(*current)
                            ),
                        ));
                    }
                    other => return Err(illegal_state(other, "a consent answer")),
                }
                KioskEvent::ConsentAnswered { given: agreed }
            }
            KioskAction::Cancel => KioskEvent::Cancelled,
            KioskAction::Continue => {
                // The timer lives here, not in the kiosk's state machine: 「続ける」 restarts the wait and the
                // patient keeps the screen.
                let timeout = self.settings.inactivity_timeout;
                let slot = self.slot(&reader);
                if slot.deadline.is_none() {
                    return Err(illegal_state(slot.kiosk.state(), "「続ける」"));
                }
                slot.deadline = Some(Instant::now() + timeout);
                slot.countdown = None;
                let screen = slot.screen.clone();
                info!(reader = %reader, "the patient asked for more time");
                self.publish_screen(&reader, screen);
                return Ok(());
            }
            KioskAction::StartStaffVisualCheck { .. } => KioskEvent::StaffVisualRequested,
            KioskAction::ConfirmStaffVisualCheck { same_person, .. } => {
                if same_person {
                    KioskEvent::StaffConfirmed
                } else {
                    KioskEvent::StaffDeclined
                }
            }
        };
        let audited = match &event {
            KioskEvent::StaffVisualRequested => Some("visual_check_started"),
            KioskEvent::StaffConfirmed => Some("visual_check_confirmed"),
            KioskEvent::StaffDeclined => Some("visual_check_declined"),
            _ => None,
        };
        if let Some(action) = audited {
            // Every visual-check action is in the audit log (DESIGN.md §5), written before the kiosk moves:
            // if the row cannot be written, the override does not happen. This task is the only one that
            // moves the kiosk, so the check below still holds when the event is fed.
            let legal = self.slot(&reader).kiosk.check(&event);
            let entry = crate::audit_hooks::visual_check_row(
                staff.as_deref(),
                action,
                &reader,
                legal.as_ref().err().map(|e| e.to_string()).as_deref(),
            );
            if let Err(e) = self
                .service
                .store()
                .append_audit(&entry, self.service.store().now_millis())
            {
                warn!(error = %e, "the visual check could not be written to the audit log");
                return Err(ErrorBody::new(
                    ErrorCode::Internal,
                    "目視確認を監査ログに記録できないため、実行しませんでした。The visual check was not carried out: it \
                     could not be written to the audit log (see the daemon's log).",
                ));
            }
            legal.map_err(|e| ErrorBody::new(ErrorCode::InvalidState, e.to_string()))?;
        }
        self.try_feed(&reader, event)
            .map_err(|e| ErrorBody::new(ErrorCode::InvalidState, e.to_string()))?;
        Ok(())
    }
}

/// Which card problem the kiosk reports for a card error that is not the card leaving.
fn card_problem(e: &CardError) -> CardProblem {
    match e {
        CardError::NotMyNumberCard | CardError::NotFound(_) => CardProblem::NotMyNumberCard,
        CardError::SharingViolation => CardProblem::ReaderBusy,
        _ => CardProblem::Unreadable,
    }
}

fn illegal_state(state: &KioskState, what: &str) -> ErrorBody {
    let name = serde_json::to_value(state)
        .ok()
        .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_default();
    ErrorBody::new(
        ErrorCode::InvalidState,
        format!("the kiosk does not take {what} now (it is in `{name}`)"),
    )
}

/// Whether the kiosk counts the end of its wait down on this screen: the screens that ask the patient
/// something (not the camera, the staff check or the result, which end by themselves).
fn counts_down(state: &KioskState) -> bool {
    matches!(
        state,
        KioskState::MethodChoice { .. } | KioskState::PinEntry { .. } | KioskState::Consents { .. }
    )
}

/// The countdown shown at `now` for a wait that ends at `deadline` and whose last `window` is counted down:
/// the whole seconds left (rounded up), or `None` before the window; and when it changes next (the deadline
/// itself once one second is left).
fn countdown_at(deadline: Instant, now: Instant, window: Duration) -> (Option<u32>, Instant) {
    let Some(left) = deadline
        .checked_duration_since(now)
        .filter(|l| !l.is_zero())
    else {
        return (None, deadline);
    };
    if window.is_zero() || left > window {
        return (None, deadline - window.min(left));
    }
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let shown = u32::try_from(secs).unwrap_or(u32::MAX);
    (Some(shown), deadline - Duration::from_secs(secs - 1))
}

/// When the kiosk task must next look at `slot`: its time-out, or the next second of its countdown.
fn next_wake(slot: &Slot, window: Duration, now: Instant) -> Option<Instant> {
    let deadline = slot.deadline?;
    if !counts_down(slot.kiosk.state()) {
        return Some(deadline);
    }
    Some(countdown_at(deadline, now, window).1)
}

/// (expires within three months, expired and still in the three months of grace counted from the end of
/// the expiry month) for the card's authentication certificate ending at `end`, at `now` (oqs-clock's rules,
/// the central service's too). A smartphone has no grace: its expired certificate
/// is left to the central service to refuse. A certificate that cannot be parsed (`None`) counts as valid
/// here; the central service verifies it.
fn certificate_window(
    end: Option<std::time::SystemTime>,
    smartphone: bool,
    now: std::time::SystemTime,
) -> (bool, bool) {
    match end {
        Some(end) if now <= end => (oqs_clock::certificate_expiring(end, now), false),
        Some(end) => (
            false,
            !smartphone && oqs_clock::certificate_in_grace(end, now),
        ),
        None => (false, false),
    }
}

/// What the kiosk shows for its state.
fn screen_of(slot: &Slot) -> KioskScreen {
    match slot.kiosk.state() {
        KioskState::Idle => KioskScreen::Idle,
        KioskState::Identifying
        | KioskState::PinCounter { .. }
        | KioskState::PinVerifying { .. }
        | KioskState::DeviceSigning { .. } => KioskScreen::CardPresent,
        KioskState::MethodChoice { offered, card } => {
            let mut methods = Vec::new();
            if offered.face {
                methods.push(AuthMethod::Face);
            }
            if offered.pin {
                methods.push(AuthMethod::Pin);
            }
            if offered.staff_visual {
                methods.push(AuthMethod::StaffVisual);
            }
            let certificate = if card.certificate_in_grace {
                Some(CertificateState::ExpiredInGrace)
            } else if card.certificate_expiring {
                Some(CertificateState::Expiring)
            } else {
                None
            };
            KioskScreen::MethodChoice {
                methods,
                certificate,
            }
        }
        KioskState::PinEntry { tries_left, .. } => KioskScreen::PinEntry {
            tries_left: *tries_left,
        },
        KioskState::FaceMatching { attempt, .. } => KioskScreen::FaceCapture {
            attempt: *attempt,
            attempts: slot.kiosk.config().max_face_attempts,
            guidance: slot.face_guidance.clone(),
        },
        KioskState::StaffVisual { .. } => KioskScreen::StaffVisualCheck,
        KioskState::Consents { current, .. } => KioskScreen::Consent {
            item: consent_item(*current),
        },
        KioskState::Querying { .. } => KioskScreen::Querying,
        KioskState::Done { outcome, .. } => {
            let notice = |notice| KioskScreen::Notice { notice };
            match outcome {
                Outcome::Confirmed { .. } | Outcome::PendingOutage { .. } => KioskScreen::Result {
                    check_in_id: slot.last_check_in.clone().unwrap_or_default(),
                    outcome: if matches!(outcome, Outcome::PendingOutage { .. }) {
                        CheckInOutcome::PendingOutage
                    } else {
                        slot.last_outcome.unwrap_or(CheckInOutcome::Other)
                    },
                },
                Outcome::PinBlocked => notice(KioskNotice::PinLocked),
                Outcome::CardProblem {
                    problem: CardProblem::NotMyNumberCard,
                } => notice(KioskNotice::NotMyNumberCard),
                Outcome::CardProblem { .. } => notice(KioskNotice::ReaderError),
                Outcome::Refused {
                    refusal: Refusal::CertificateRevoked,
                } => notice(KioskNotice::CertificateRevoked),
                Outcome::Refused {
                    refusal: Refusal::CertificateExpired,
                } => notice(KioskNotice::CertificateExpired),
                Outcome::Refused {
                    refusal: Refusal::PhoneCertificateExpired,
                } => notice(KioskNotice::PhoneCertificateExpired),
                Outcome::Refused { .. } | Outcome::StaffDeclined => notice(KioskNotice::Other),
                Outcome::TimedOut => notice(KioskNotice::Timeout),
                Outcome::Cancelled => notice(KioskNotice::Cancelled),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_shows_the_whole_seconds_left_in_its_window() {
        let now = Instant::now();
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let window = s(10);
        // Before the window: nothing shown, look again when it starts.
        assert_eq!(countdown_at(now + s(60), now, window), (None, now + s(50)));
        // At its start and within it: seconds rounded up, look again at the next whole second.
        assert_eq!(
            countdown_at(now + s(10), now, window),
            (Some(10), now + s(1))
        );
        assert_eq!(
            countdown_at(now + ms(9_500), now, window),
            (Some(10), now + ms(500))
        );
        assert_eq!(
            countdown_at(now + ms(300), now, window),
            (Some(1), now + ms(300))
        );
        // Over: the time-out is due now.
        assert_eq!(countdown_at(now, now, window), (None, now));
        assert_eq!(countdown_at(now, now + s(1), window), (None, now));
        // No window: only the time-out.
        assert_eq!(
            countdown_at(now + s(5), now, Duration::ZERO),
            (None, now + s(5))
        );
    }

    #[test]
    fn the_countdown_runs_on_the_screens_that_ask_the_patient_only() {
        let card = CardFacts {
            has_pin: true,
            smartphone: false,
            certificate_expiring: false,
            certificate_in_grace: false,
            face_scanner: false,
            device_authenticates: false,
            certificate_expired: false,
        };
        assert!(counts_down(&KioskState::PinEntry {
            card,
            tries_left: 3
        }));
        assert!(!counts_down(&KioskState::FaceMatching { card, attempt: 1 }));
        assert!(!counts_down(&KioskState::Done {
            outcome: Outcome::TimedOut,
            card_removed: false
        }));
        assert!(!counts_down(&KioskState::Idle));
    }

    #[test]
    fn the_certificate_window_is_three_months_each_side_counted_as_the_reference_counts() {
        let t = |s: &str| oqs_clock::parse_instant(s).unwrap();
        let now = t("2026-08-20T10:30:00+09:00");
        let at = |end: &str| certificate_window(Some(t(end)), false, now);
        assert_eq!(
            at("2026-11-21T00:00:00+09:00"),
            (false, false),
            "valid, far from expiry"
        );
        assert_eq!(
            at("2026-11-20T10:30:00+09:00"),
            (true, false),
            "expiring in three months"
        );
        assert_eq!(
            at("2026-08-20T10:30:00+09:00"),
            (true, false),
            "expires this instant: still valid"
        );
        assert_eq!(
            at("2026-08-19T10:30:00+09:00"),
            (false, true),
            "expired yesterday: grace"
        );
        // 102 days ago, but the grace counts from the end of May: it runs to 8/31.
        assert_eq!(
            at("2026-05-10T10:00:00+09:00"),
            (false, true),
            "expired in May: grace"
        );
        assert_eq!(
            at("2026-04-30T23:59:59+09:00"),
            (false, false),
            "expired in April: past it"
        );
        assert_eq!(
            certificate_window(Some(t("2026-08-19T10:30:00+09:00")), true, now),
            (false, false),
            "a smartphone has no grace"
        );
        assert_eq!(certificate_window(None, false, now), (false, false));
    }
}
