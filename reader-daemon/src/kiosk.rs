//! The kiosk check-in as a state machine without I/O (DESIGN.md §3.1).
//!
//! `Idle → Identifying → MethodChoice → {Face | Pin | StaffVisual} → Consents → Querying → Done → Idle`.
//!
//! The machine never touches a card, a camera or the network. The daemon feeds it [`KioskEvent`]s (from the
//! reader monitor, the card session, the kiosk and reception clients, the central client and timers) and
//! carries out the [`Effect`]s it returns. An event that makes no sense in the current state is refused
//! with [`IllegalTransition`] and the state is left as it was, so a stale or misbehaving client cannot push
//! the kiosk into a state the patient did not reach.
//!
//! Secrets never enter the machine: the PIN goes from the kiosk client straight to the card session; the
//! machine only learns whether the card accepted it.

use serde::{Deserialize, Serialize};

/// How the patient's identity is confirmed. The result files carry no such field (reference G8), so the
/// method is terminal-side state: stored with the check-in and shown at reception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// 顔認証: the camera image matched against the card photo.
    Face,
    /// 暗証番号: the 4-digit user-authentication PIN verified by the card.
    Pin,
    /// 目視確認: a staff member compared the patient with the card photo.
    StaffVisual,
    /// スマートフォン (iPhone): the phone authenticated its holder itself before the tap; no PIN on the reader.
    Phone,
}

/// Which consent screens the kiosk shows, in this order, as the facility's environment settings say
/// (`seeds/001_…`). The 限度額 consent screen no longer exists since 2024-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// 【手術情報】 shown when the facility uses 診療情報.
    Surgery,
    /// 【診療/薬剤情報】 shown when the facility uses 薬剤情報 or 診療情報.
    DiagnosisAndMedication,
    /// 特定健診情報.
    HealthCheckup,
    /// 「医療費助成の各種受給者証を利用しますか」 (公費, PMH), asked after the consents when the facility uses
    /// 医療費助成. Not a viewing consent: the answer travels with the check-in and is never stored as a consent.
    MedicalSubsidy,
}

/// One answered consent screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentAnswer {
    pub kind: ConsentKind,
    pub given: bool,
}

/// What the card told us when it was identified. Holds no identifier of the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFacts {
    /// The user-authentication PIN is set (false for a 顔認証マイナンバーカード, which has none).
    pub has_pin: bool,
    /// The JPKI token is a smartphone (スマホ用電子証明書), not a physical card: no face photo.
    pub smartphone: bool,
    /// The authentication certificate expires within three months (the patient is told to renew).
    pub certificate_expiring: bool,
    /// The authentication certificate has expired, less than three months ago: the card confirms the
    /// qualification only, so no medical-information consent is asked (the patient is told to renew).
    #[serde(default)]
    pub certificate_in_grace: bool,
    /// The reader's card-face scanner read 照合番号B from this card, so its photo can be read. A plain PC/SC
    /// reader has no scanner: face matching is not offered.
    #[serde(default)]
    pub face_scanner: bool,
    /// An iPhone's JPKI: the phone authenticated its holder before the tap, so the kiosk asks for no PIN and
    /// has the token sign at once.
    #[serde(default)]
    pub device_authenticates: bool,
    /// The authentication certificate has expired (whatever the grace). A smartphone has no grace: it is
    /// refused at once with what to do next.
    #[serde(default)]
    pub certificate_expired: bool,
}

/// The set of methods offered on the method-choice screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodsOffered {
    pub face: bool,
    pub pin: bool,
    /// Always true: a staff member can always be called (目視確認 is started from reception).
    pub staff_visual: bool,
}

/// Why a card could not be used at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardProblem {
    /// SELECT of the JPKI AP failed: not a My Number Card (or a card of another kind).
    NotMyNumberCard,
    /// The card did not answer, answered garbage, or could not be read.
    Unreadable,
    /// Another program holds the reader.
    ReaderBusy,
}

/// Why the central service refused the check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The authentication certificate is revoked (失効).
    CertificateRevoked,
    /// The authentication certificate expired more than three months ago.
    CertificateExpired,
    /// The card is not registered for use as a health insurance card (保険証利用登録なし).
    NotRegistered,
    /// The signature or face attestation did not verify.
    VerificationFailed,
    /// The smartphone's certificate (スマホ用電子証明書) has expired: a phone has no three-month grace.
    PhoneCertificateExpired,
    /// Any other refusal; reception sees the central service's message.
    Other,
}

/// How the check-in ended, as the kiosk tells the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The central service answered; reception has the result.
    Confirmed { method: Method },
    /// Identity confirmed, but the central service is unreachable: stored as 未確認 (通信障害) and sent
    /// automatically when the link returns.
    PendingOutage { method: Method },
    /// The PIN is locked (3 wrong tries). Unlocking is done at the municipal office; staff can do a
    /// visual check now.
    PinBlocked,
    /// The card cannot be used (not a My Number Card, unreadable, reader busy).
    CardProblem { problem: CardProblem },
    /// The central service refused the check-in.
    Refused { refusal: Refusal },
    /// The staff member did not confirm the patient's identity.
    StaffDeclined,
    /// The patient did nothing for too long.
    TimedOut,
    /// The patient pressed 中止 (stop) on the kiosk.
    Cancelled,
}

/// The outcome of the face match for one camera attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceAttempt {
    Matched,
    NotMatched,
}

/// The kiosk's state. Serialised as-is to the kiosk and reception windows, which render it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KioskState {
    /// 「カードを置いてください」.
    Idle,
    /// A card is present; the daemon is selecting the JPKI AP and reading the certificate.
    Identifying,
    /// 「本人確認の方法を選んでください」.
    MethodChoice {
        card: CardFacts,
        offered: MethodsOffered,
    },
    /// The daemon is reading the PIN retry counter (done before every attempt; uses no try).
    PinCounter { card: CardFacts },
    /// 「暗証番号を入力してください」 with the tries left.
    PinEntry { card: CardFacts, tries_left: u8 },
    /// The card is checking the PIN.
    PinVerifying { card: CardFacts },
    /// An iPhone that authenticated its holder is signing the challenge.
    DeviceSigning { card: CardFacts },
    /// The camera is on; `attempt` counts from 1.
    FaceMatching { card: CardFacts, attempt: u8 },
    /// Waiting for a staff member at reception to confirm the patient against the card photo.
    StaffVisual { card: CardFacts },
    /// One consent screen at a time: `current` is on screen, `screens` is the whole sequence (fixed when
    /// the first screen appeared, so a settings change mid-flow applies from the next card), `answers` holds
    /// the screens already answered.
    Consents {
        card: CardFacts,
        method: Method,
        current: ConsentKind,
        screens: Vec<ConsentKind>,
        answers: Vec<ConsentAnswer>,
    },
    /// The check-in is with the central service.
    Querying {
        method: Method,
        answers: Vec<ConsentAnswer>,
        card_removed: bool,
    },
    /// The end screen: result or what to do next. Back to `Idle` when the card is removed.
    Done {
        outcome: Outcome,
        card_removed: bool,
    },
}

/// Everything that can happen to the kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum KioskEvent {
    /// The reader monitor saw a card arrive.
    CardInserted,
    /// The JPKI AP answered and the certificate was read.
    CardIdentified { card: CardFacts },
    /// The card could not be used.
    CardRejected { problem: CardProblem },
    /// The patient chose a method on the kiosk.
    MethodChosen { method: Method },
    /// A staff member switched the kiosk to 目視確認 from reception.
    StaffVisualRequested,
    /// The PIN retry counter was read.
    PinCounterRead { tries_left: u8 },
    /// The kiosk client sent a PIN; the daemon passes it to the card.
    PinSubmitted,
    /// The card accepted the PIN (and signed the challenge).
    PinAccepted,
    /// The card refused the PIN.
    PinRejected { tries_left: u8 },
    /// The card says the PIN is locked.
    PinBlocked,
    /// The iPhone signed the challenge.
    DeviceSigned,
    /// One face-matching attempt finished.
    FaceAttempted { result: FaceAttempt },
    /// The staff member confirmed the patient's identity.
    StaffConfirmed,
    /// The staff member did not confirm.
    StaffDeclined,
    /// The patient answered the current consent screen.
    ConsentAnswered { given: bool },
    /// The central service answered the check-in.
    CheckinAnswered,
    /// The central service is unreachable; the check-in was stored to be sent later.
    CheckinDeferred,
    /// The central service refused the check-in.
    CheckinRefused { refusal: Refusal },
    /// The card left the reader.
    CardRemoved,
    /// Nothing happened for the configured time.
    Timeout,
    /// The patient pressed 中止 (stop) on the kiosk.
    Cancelled,
}

/// What the daemon must do after a transition. Carried out in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Select the JPKI AP, read the token info, the certificate and whether a PIN is set.
    IdentifyCard,
    /// Read the PIN retry counter (VERIFY with no data).
    ReadPinCounter,
    /// Send the PIN the kiosk client gave to the card, then sign the central service's challenge.
    VerifyPinAndSign,
    /// Have a token that authenticated its holder (an iPhone) sign the central service's challenge.
    SignOnDevice,
    /// Turn the camera on (if off) and run one face-matching attempt.
    RunFaceAttempt,
    /// Turn the camera off.
    StopCamera,
    /// Show the visual-check request at reception.
    AskStaff,
    /// Withdraw the visual-check request at reception.
    CancelStaffRequest,
    /// Send the check-in to the central service (or store it if the link is down).
    SubmitCheckin {
        method: Method,
        answers: Vec<ConsentAnswer>,
    },
    /// Forget everything about the card session: zeroize any PIN held, drop the certificate.
    EndCardSession,
}

/// Settings the machine needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskConfig {
    /// The reader has a card-face scanner (照合番号B) and a camera, so face matching can be offered.
    pub face_capable_reader: bool,
    /// Face attempts before the kiosk offers the other methods.
    pub max_face_attempts: u8,
    /// The consent screens to show, in order (from the environment settings).
    pub consent_screens: Vec<ConsentKind>,
}

impl Default for KioskConfig {
    fn default() -> Self {
        Self {
            face_capable_reader: false,
            max_face_attempts: 3,
            consent_screens: vec![ConsentKind::Surgery, ConsentKind::DiagnosisAndMedication],
        }
    }
}

/// An event that the current state does not accept. The state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the kiosk cannot take `{event}` while it is in `{state}`")]
pub struct IllegalTransition {
    pub state: &'static str,
    pub event: &'static str,
}

/// The kiosk: its state and its configuration.
#[derive(Debug, Clone)]
pub struct Kiosk {
    state: KioskState,
    config: KioskConfig,
}

impl Kiosk {
    pub fn new(config: KioskConfig) -> Self {
        Self {
            state: KioskState::Idle,
            config,
        }
    }

    pub fn state(&self) -> &KioskState {
        &self.state
    }

    pub fn config(&self) -> &KioskConfig {
        &self.config
    }

    /// New environment settings apply from the next card on; a check-in in progress keeps its screens.
    pub fn set_consent_screens(&mut self, screens: Vec<ConsentKind>) {
        self.config.consent_screens = screens;
    }

    /// Whether [`Kiosk::handle`] would take `event` now, without moving: lets the caller write an audit row
    /// before an action it must never take unlogged.
    pub fn check(&self, event: &KioskEvent) -> Result<(), IllegalTransition> {
        self.next(event).map(|_| ())
    }

    /// Applies one event. On success the state has moved and the effects must be carried out; on error
    /// nothing changed.
    pub fn handle(&mut self, event: KioskEvent) -> Result<Vec<Effect>, IllegalTransition> {
        let (next, effects) = self.next(&event)?;
        self.state = next;
        Ok(effects)
    }

    fn offered(&self, card: &CardFacts) -> MethodsOffered {
        MethodsOffered {
            face: self.config.face_capable_reader && card.face_scanner && !card.smartphone,
            pin: card.has_pin,
            staff_visual: true,
        }
    }

    /// The consent screens for this card: all the facility's, or, for a certificate in its grace period
    /// (qualification only, no medical information released), only the 医療費助成 question, which is not
    /// a viewing consent.
    fn screens_for(&self, card: &CardFacts) -> Vec<ConsentKind> {
        self.config
            .consent_screens
            .iter()
            .copied()
            .filter(|k| !card.certificate_in_grace || *k == ConsentKind::MedicalSubsidy)
            .collect()
    }

    /// After identity is confirmed: the first consent screen, or straight to the query.
    fn after_identity(&self, card: CardFacts, method: Method) -> (KioskState, Vec<Effect>) {
        let screens = self.screens_for(&card);
        match screens.first() {
            Some(&current) => (
                KioskState::Consents {
                    card,
                    method,
                    current,
                    screens,
                    answers: Vec::new(),
                },
                Vec::new(),
            ),
            None => (
                KioskState::Querying {
                    method,
                    answers: Vec::new(),
                    card_removed: false,
                },
                vec![Effect::SubmitCheckin {
                    method,
                    answers: Vec::new(),
                }],
            ),
        }
    }

    fn done(outcome: Outcome, mut effects: Vec<Effect>) -> (KioskState, Vec<Effect>) {
        effects.push(Effect::EndCardSession);
        (
            KioskState::Done {
                outcome,
                card_removed: false,
            },
            effects,
        )
    }

    fn next(&self, event: &KioskEvent) -> Result<(KioskState, Vec<Effect>), IllegalTransition> {
        use KioskEvent as E;
        use KioskState as S;
        let illegal = || IllegalTransition {
            state: state_name(&self.state),
            event: event_name(event),
        };
        let moved = match (&self.state, event) {
            (S::Idle, E::CardInserted) => (S::Identifying, vec![Effect::IdentifyCard]),

            // A phone has no grace after its certificate expires: refused at once, with what to do next.
            (S::Identifying, E::CardIdentified { card })
                if card.smartphone && card.certificate_expired =>
            {
                Self::done(
                    Outcome::Refused {
                        refusal: Refusal::PhoneCertificateExpired,
                    },
                    Vec::new(),
                )
            }
            // An iPhone authenticated its holder before the tap: nothing to choose, no PIN.
            (S::Identifying, E::CardIdentified { card }) if card.device_authenticates => {
                (S::DeviceSigning { card: *card }, vec![Effect::SignOnDevice])
            }
            (S::Identifying, E::CardIdentified { card }) => (
                S::MethodChoice {
                    card: *card,
                    offered: self.offered(card),
                },
                Vec::new(),
            ),
            (S::DeviceSigning { card }, E::DeviceSigned) => {
                self.after_identity(*card, Method::Phone)
            }
            // The card failed while it was being read or was checking the PIN: tell the patient at once
            // instead of waiting for an answer that will not come.
            (
                S::Identifying
                | S::PinCounter { .. }
                | S::PinVerifying { .. }
                | S::DeviceSigning { .. },
                E::CardRejected { problem },
            ) => Self::done(Outcome::CardProblem { problem: *problem }, Vec::new()),

            (S::MethodChoice { card, offered }, E::MethodChosen { method }) => match method {
                Method::Pin if offered.pin => {
                    (S::PinCounter { card: *card }, vec![Effect::ReadPinCounter])
                }
                Method::Face if offered.face => (
                    S::FaceMatching {
                        card: *card,
                        attempt: 1,
                    },
                    vec![Effect::RunFaceAttempt],
                ),
                // 目視確認 is started by staff (StaffVisualRequested), never chosen by the patient alone;
                // choosing it on the kiosk calls a staff member.
                Method::StaffVisual => (S::StaffVisual { card: *card }, vec![Effect::AskStaff]),
                _ => return Err(illegal()),
            },

            (S::PinCounter { card }, E::PinCounterRead { tries_left }) => {
                if *tries_left == 0 {
                    Self::done(Outcome::PinBlocked, Vec::new())
                } else {
                    (
                        S::PinEntry {
                            card: *card,
                            tries_left: *tries_left,
                        },
                        Vec::new(),
                    )
                }
            }
            (S::PinCounter { .. } | S::PinEntry { .. } | S::PinVerifying { .. }, E::PinBlocked) => {
                Self::done(Outcome::PinBlocked, Vec::new())
            }
            (S::PinEntry { card, .. }, E::PinSubmitted) => (
                S::PinVerifying { card: *card },
                vec![Effect::VerifyPinAndSign],
            ),
            (S::PinVerifying { card }, E::PinAccepted) => self.after_identity(*card, Method::Pin),
            // Wrong PIN: read the counter again before the next attempt (never trust our own count).
            (S::PinVerifying { card }, E::PinRejected { tries_left }) => {
                if *tries_left == 0 {
                    Self::done(Outcome::PinBlocked, Vec::new())
                } else {
                    (S::PinCounter { card: *card }, vec![Effect::ReadPinCounter])
                }
            }

            (S::FaceMatching { card, attempt }, E::FaceAttempted { result }) => match result {
                FaceAttempt::Matched => {
                    let (state, mut effects) = self.after_identity(*card, Method::Face);
                    effects.insert(0, Effect::StopCamera);
                    (state, effects)
                }
                FaceAttempt::NotMatched if *attempt < self.config.max_face_attempts => (
                    S::FaceMatching {
                        card: *card,
                        attempt: attempt + 1,
                    },
                    vec![Effect::RunFaceAttempt],
                ),
                // Out of attempts: offer the other methods; face is no longer offered for this card.
                FaceAttempt::NotMatched => (
                    S::MethodChoice {
                        card: *card,
                        offered: MethodsOffered {
                            face: false,
                            ..self.offered(card)
                        },
                    },
                    vec![Effect::StopCamera],
                ),
            },

            // Reception switches the kiosk to 目視確認 for a patient who cannot use face or PIN.
            (
                S::MethodChoice { card, .. }
                | S::PinCounter { card }
                | S::PinEntry { card, .. }
                | S::FaceMatching { card, .. },
                E::StaffVisualRequested,
            ) => {
                let mut effects = Vec::new();
                if matches!(self.state, S::FaceMatching { .. }) {
                    effects.push(Effect::StopCamera);
                }
                effects.push(Effect::AskStaff);
                (S::StaffVisual { card: *card }, effects)
            }
            (S::StaffVisual { card }, E::StaffConfirmed) => {
                self.after_identity(*card, Method::StaffVisual)
            }
            (S::StaffVisual { .. }, E::StaffDeclined) => {
                Self::done(Outcome::StaffDeclined, Vec::new())
            }

            (
                S::Consents {
                    card,
                    method,
                    current,
                    screens,
                    answers,
                },
                E::ConsentAnswered { given },
            ) => {
                let mut answers = answers.clone();
                answers.push(ConsentAnswer {
                    kind: *current,
                    given: *given,
                });
                match screens.get(answers.len()) {
                    Some(&next) => (
                        S::Consents {
                            card: *card,
                            method: *method,
                            current: next,
                            screens: screens.clone(),
                            answers,
                        },
                        Vec::new(),
                    ),
                    None => (
                        S::Querying {
                            method: *method,
                            answers: answers.clone(),
                            card_removed: false,
                        },
                        vec![Effect::SubmitCheckin {
                            method: *method,
                            answers,
                        }],
                    ),
                }
            }

            (S::Querying { method, .. }, E::CheckinAnswered) => {
                self.finish_query(Outcome::Confirmed { method: *method })
            }
            (S::Querying { method, .. }, E::CheckinDeferred) => {
                self.finish_query(Outcome::PendingOutage { method: *method })
            }
            (S::Querying { .. }, E::CheckinRefused { refusal }) => {
                self.finish_query(Outcome::Refused { refusal: *refusal })
            }
            // The check-in was already signed and sent: a patient who takes the card early does not cancel it.
            (
                S::Querying {
                    method, answers, ..
                },
                E::CardRemoved,
            ) => (
                S::Querying {
                    method: *method,
                    answers: answers.clone(),
                    card_removed: true,
                },
                Vec::new(),
            ),

            (S::Done { .. }, E::CardRemoved | E::Timeout) => (S::Idle, Vec::new()),

            // Card pulled in the middle: cancel everything and start over.
            (
                S::Identifying
                | S::MethodChoice { .. }
                | S::PinCounter { .. }
                | S::PinEntry { .. }
                | S::PinVerifying { .. }
                | S::DeviceSigning { .. }
                | S::FaceMatching { .. }
                | S::StaffVisual { .. }
                | S::Consents { .. },
                E::CardRemoved,
            ) => {
                let mut effects = self.undo_effects();
                effects.push(Effect::EndCardSession);
                (S::Idle, effects)
            }

            // The patient walked away, or pressed 中止: undo, tell them, and wait for the card to be removed.
            (
                S::MethodChoice { .. }
                | S::PinEntry { .. }
                | S::FaceMatching { .. }
                | S::StaffVisual { .. }
                | S::Consents { .. },
                E::Timeout,
            ) => Self::done(Outcome::TimedOut, self.undo_effects()),
            (
                S::MethodChoice { .. }
                | S::PinEntry { .. }
                | S::FaceMatching { .. }
                | S::StaffVisual { .. }
                | S::Consents { .. },
                E::Cancelled,
            ) => Self::done(Outcome::Cancelled, self.undo_effects()),

            _ => return Err(illegal()),
        };
        Ok(moved)
    }

    fn finish_query(&self, outcome: Outcome) -> (KioskState, Vec<Effect>) {
        let removed = matches!(
            self.state,
            KioskState::Querying {
                card_removed: true,
                ..
            }
        );
        if removed {
            (KioskState::Idle, vec![Effect::EndCardSession])
        } else {
            Self::done(outcome, Vec::new())
        }
    }

    /// What to undo when a flow is abandoned in the current state (the card session itself is ended by
    /// the caller).
    fn undo_effects(&self) -> Vec<Effect> {
        match self.state {
            KioskState::FaceMatching { .. } => vec![Effect::StopCamera],
            KioskState::StaffVisual { .. } => vec![Effect::CancelStaffRequest],
            _ => Vec::new(),
        }
    }
}

fn state_name(state: &KioskState) -> &'static str {
    match state {
        KioskState::Idle => "idle",
        KioskState::Identifying => "identifying",
        KioskState::MethodChoice { .. } => "method_choice",
        KioskState::PinCounter { .. } => "pin_counter",
        KioskState::PinEntry { .. } => "pin_entry",
        KioskState::PinVerifying { .. } => "pin_verifying",
        KioskState::DeviceSigning { .. } => "device_signing",
        KioskState::FaceMatching { .. } => "face_matching",
        KioskState::StaffVisual { .. } => "staff_visual",
        KioskState::Consents { .. } => "consents",
        KioskState::Querying { .. } => "querying",
        KioskState::Done { .. } => "done",
    }
}

fn event_name(event: &KioskEvent) -> &'static str {
    match event {
        KioskEvent::CardInserted => "card_inserted",
        KioskEvent::CardIdentified { .. } => "card_identified",
        KioskEvent::CardRejected { .. } => "card_rejected",
        KioskEvent::MethodChosen { .. } => "method_chosen",
        KioskEvent::StaffVisualRequested => "staff_visual_requested",
        KioskEvent::PinCounterRead { .. } => "pin_counter_read",
        KioskEvent::PinSubmitted => "pin_submitted",
        KioskEvent::PinAccepted => "pin_accepted",
        KioskEvent::PinRejected { .. } => "pin_rejected",
        KioskEvent::PinBlocked => "pin_blocked",
        KioskEvent::DeviceSigned => "device_signed",
        KioskEvent::FaceAttempted { .. } => "face_attempted",
        KioskEvent::StaffConfirmed => "staff_confirmed",
        KioskEvent::StaffDeclined => "staff_declined",
        KioskEvent::ConsentAnswered { .. } => "consent_answered",
        KioskEvent::CheckinAnswered => "checkin_answered",
        KioskEvent::CheckinDeferred => "checkin_deferred",
        KioskEvent::CheckinRefused { .. } => "checkin_refused",
        KioskEvent::CardRemoved => "card_removed",
        KioskEvent::Timeout => "timeout",
        KioskEvent::Cancelled => "cancelled",
    }
}

#[cfg(test)]
mod tests;
