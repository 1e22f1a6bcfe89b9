//! One test per transition of the kiosk machine, plus a property test over random event sequences.

use super::*;
use proptest::prelude::*;

const CARD: CardFacts = CardFacts {
    has_pin: true,
    smartphone: false,
    certificate_expiring: false,
    certificate_in_grace: false,
    face_scanner: true,
    device_authenticates: false,
    certificate_expired: false,
};
const FACE_ONLY: CardFacts = CardFacts {
    has_pin: false,
    smartphone: false,
    certificate_expiring: false,
    certificate_in_grace: false,
    face_scanner: true,
    device_authenticates: false,
    certificate_expired: false,
};

fn face_reader() -> KioskConfig {
    KioskConfig {
        face_capable_reader: true,
        ..KioskConfig::default()
    }
}

fn at(state: KioskState, config: KioskConfig) -> Kiosk {
    Kiosk { state, config }
}

fn step(k: &mut Kiosk, e: KioskEvent) -> Vec<Effect> {
    match k.handle(e.clone()) {
        Ok(effects) => effects,
        Err(err) => panic!("{e:?} refused: {err}"),
    }
}

fn refused(k: &mut Kiosk, e: KioskEvent) {
    let before = k.state().clone();
    let err = k.handle(e).expect_err("should be refused");
    assert_eq!(
        k.state(),
        &before,
        "a refused event must not move the state ({err})"
    );
}

fn method_choice(card: CardFacts, config: KioskConfig) -> Kiosk {
    let mut k = at(KioskState::Identifying, config);
    step(&mut k, KioskEvent::CardIdentified { card });
    k
}

fn done(outcome: Outcome) -> KioskState {
    KioskState::Done {
        outcome,
        card_removed: false,
    }
}

#[test]
fn idle_card_inserted_identifies_the_card() {
    let mut k = Kiosk::new(KioskConfig::default());
    assert_eq!(
        step(&mut k, KioskEvent::CardInserted),
        vec![Effect::IdentifyCard]
    );
    assert_eq!(k.state(), &KioskState::Identifying);
}

#[test]
fn identified_card_offers_methods_by_card_and_reader() {
    let k = method_choice(CARD, KioskConfig::default());
    let plain = MethodsOffered {
        face: false,
        pin: true,
        staff_visual: true,
    };
    assert_eq!(
        k.state(),
        &KioskState::MethodChoice {
            card: CARD,
            offered: plain
        }
    );

    let k = method_choice(CARD, face_reader());
    assert!(
        matches!(k.state(), KioskState::MethodChoice { offered, .. } if offered.face && offered.pin)
    );

    // 顔認証マイナンバーカード: no PIN to offer.
    let k = method_choice(FACE_ONLY, face_reader());
    assert!(
        matches!(k.state(), KioskState::MethodChoice { offered, .. } if offered.face && !offered.pin)
    );

    // A smartphone token has no photo.
    let phone = CardFacts {
        smartphone: true,
        ..CARD
    };
    let k = method_choice(phone, face_reader());
    assert!(
        matches!(k.state(), KioskState::MethodChoice { offered, .. } if !offered.face && offered.pin)
    );

    // A plain PC/SC reader: no card-face scanner, so no 照合番号B and no photo: PIN and staff only.
    let unscanned = CardFacts {
        face_scanner: false,
        ..CARD
    };
    let k = method_choice(unscanned, face_reader());
    assert!(matches!(
        k.state(),
        KioskState::MethodChoice { offered, .. } if !offered.face && offered.pin && offered.staff_visual
    ));
}

#[test]
fn rejected_card_ends_with_the_problem() {
    for problem in [
        CardProblem::NotMyNumberCard,
        CardProblem::Unreadable,
        CardProblem::ReaderBusy,
    ] {
        let mut k = at(KioskState::Identifying, KioskConfig::default());
        assert_eq!(
            step(&mut k, KioskEvent::CardRejected { problem }),
            vec![Effect::EndCardSession]
        );
        assert_eq!(k.state(), &done(Outcome::CardProblem { problem }));
    }
}

#[test]
fn choosing_pin_reads_the_counter_first() {
    let mut k = method_choice(CARD, KioskConfig::default());
    let effects = step(
        &mut k,
        KioskEvent::MethodChosen {
            method: Method::Pin,
        },
    );
    assert_eq!(effects, vec![Effect::ReadPinCounter]);
    assert_eq!(k.state(), &KioskState::PinCounter { card: CARD });
}

#[test]
fn methods_not_offered_are_refused() {
    let mut k = method_choice(FACE_ONLY, KioskConfig::default());
    refused(
        &mut k,
        KioskEvent::MethodChosen {
            method: Method::Pin,
        },
    );
    refused(
        &mut k,
        KioskEvent::MethodChosen {
            method: Method::Face,
        },
    );
}

#[test]
fn choosing_face_starts_the_first_attempt() {
    let mut k = method_choice(CARD, face_reader());
    let effects = step(
        &mut k,
        KioskEvent::MethodChosen {
            method: Method::Face,
        },
    );
    assert_eq!(effects, vec![Effect::RunFaceAttempt]);
    assert_eq!(
        k.state(),
        &KioskState::FaceMatching {
            card: CARD,
            attempt: 1
        }
    );
}

#[test]
fn choosing_staff_visual_calls_staff() {
    let mut k = method_choice(FACE_ONLY, KioskConfig::default());
    let effects = step(
        &mut k,
        KioskEvent::MethodChosen {
            method: Method::StaffVisual,
        },
    );
    assert_eq!(effects, vec![Effect::AskStaff]);
    assert_eq!(k.state(), &KioskState::StaffVisual { card: FACE_ONLY });
}

#[test]
fn counter_read_shows_tries_left() {
    let mut k = at(
        KioskState::PinCounter { card: CARD },
        KioskConfig::default(),
    );
    assert!(step(&mut k, KioskEvent::PinCounterRead { tries_left: 3 }).is_empty());
    assert_eq!(
        k.state(),
        &KioskState::PinEntry {
            card: CARD,
            tries_left: 3
        }
    );
}

#[test]
fn counter_at_zero_is_blocked_without_a_verify() {
    let mut k = at(
        KioskState::PinCounter { card: CARD },
        KioskConfig::default(),
    );
    let effects = step(&mut k, KioskEvent::PinCounterRead { tries_left: 0 });
    assert_eq!(effects, vec![Effect::EndCardSession]);
    assert!(!effects.contains(&Effect::VerifyPinAndSign));
    assert_eq!(k.state(), &done(Outcome::PinBlocked));
}

#[test]
fn blocked_reported_by_the_card_in_any_pin_state() {
    for state in [
        KioskState::PinCounter { card: CARD },
        KioskState::PinEntry {
            card: CARD,
            tries_left: 1,
        },
        KioskState::PinVerifying { card: CARD },
    ] {
        let mut k = at(state, KioskConfig::default());
        assert_eq!(
            step(&mut k, KioskEvent::PinBlocked),
            vec![Effect::EndCardSession]
        );
        assert_eq!(k.state(), &done(Outcome::PinBlocked));
    }
}

#[test]
fn submitted_pin_goes_to_the_card() {
    let mut k = at(
        KioskState::PinEntry {
            card: CARD,
            tries_left: 2,
        },
        KioskConfig::default(),
    );
    assert_eq!(
        step(&mut k, KioskEvent::PinSubmitted),
        vec![Effect::VerifyPinAndSign]
    );
    assert_eq!(k.state(), &KioskState::PinVerifying { card: CARD });
}

#[test]
fn accepted_pin_leads_to_the_first_consent_screen() {
    let mut k = at(
        KioskState::PinVerifying { card: CARD },
        KioskConfig::default(),
    );
    assert!(step(&mut k, KioskEvent::PinAccepted).is_empty());
    assert_eq!(
        k.state(),
        &KioskState::Consents {
            card: CARD,
            method: Method::Pin,
            current: ConsentKind::Surgery,
            screens: vec![ConsentKind::Surgery, ConsentKind::DiagnosisAndMedication],
            answers: vec![],
        }
    );
}

#[test]
fn accepted_pin_without_consent_screens_queries_at_once() {
    let config = KioskConfig {
        consent_screens: vec![],
        ..KioskConfig::default()
    };
    let mut k = at(KioskState::PinVerifying { card: CARD }, config);
    let effects = step(&mut k, KioskEvent::PinAccepted);
    assert_eq!(
        effects,
        vec![Effect::SubmitCheckin {
            method: Method::Pin,
            answers: vec![]
        }]
    );
    assert!(matches!(
        k.state(),
        KioskState::Querying {
            method: Method::Pin,
            ..
        }
    ));
}

#[test]
fn wrong_pin_rereads_the_counter_before_the_next_try() {
    let mut k = at(
        KioskState::PinVerifying { card: CARD },
        KioskConfig::default(),
    );
    assert_eq!(
        step(&mut k, KioskEvent::PinRejected { tries_left: 2 }),
        vec![Effect::ReadPinCounter]
    );
    assert_eq!(k.state(), &KioskState::PinCounter { card: CARD });
    step(&mut k, KioskEvent::PinCounterRead { tries_left: 2 });
    assert_eq!(
        k.state(),
        &KioskState::PinEntry {
            card: CARD,
            tries_left: 2
        }
    );
}

#[test]
fn third_wrong_pin_blocks() {
    let mut k = at(
        KioskState::PinVerifying { card: CARD },
        KioskConfig::default(),
    );
    assert_eq!(
        step(&mut k, KioskEvent::PinRejected { tries_left: 0 }),
        vec![Effect::EndCardSession]
    );
    assert_eq!(k.state(), &done(Outcome::PinBlocked));
}

#[test]
fn face_match_stops_the_camera_and_asks_consents() {
    let mut k = at(
        KioskState::FaceMatching {
            card: CARD,
            attempt: 2,
        },
        face_reader(),
    );
    let effects = step(
        &mut k,
        KioskEvent::FaceAttempted {
            result: FaceAttempt::Matched,
        },
    );
    assert_eq!(effects, vec![Effect::StopCamera]);
    assert!(matches!(
        k.state(),
        KioskState::Consents {
            method: Method::Face,
            ..
        }
    ));
}

#[test]
fn face_mismatch_retries_then_offers_the_other_methods() {
    let mut k = at(
        KioskState::FaceMatching {
            card: CARD,
            attempt: 1,
        },
        face_reader(),
    );
    let no = KioskEvent::FaceAttempted {
        result: FaceAttempt::NotMatched,
    };
    assert_eq!(step(&mut k, no.clone()), vec![Effect::RunFaceAttempt]);
    assert_eq!(
        k.state(),
        &KioskState::FaceMatching {
            card: CARD,
            attempt: 2
        }
    );
    step(&mut k, no.clone());
    assert_eq!(step(&mut k, no), vec![Effect::StopCamera]);
    assert_eq!(
        k.state(),
        &KioskState::MethodChoice {
            card: CARD,
            offered: MethodsOffered {
                face: false,
                pin: true,
                staff_visual: true
            }
        }
    );
    refused(
        &mut k,
        KioskEvent::MethodChosen {
            method: Method::Face,
        },
    );
}

#[test]
fn staff_can_switch_to_visual_check_from_every_waiting_state() {
    let cases = [
        (
            KioskState::MethodChoice {
                card: CARD,
                offered: MethodsOffered {
                    face: false,
                    pin: true,
                    staff_visual: true,
                },
            },
            vec![Effect::AskStaff],
        ),
        (
            KioskState::PinCounter { card: CARD },
            vec![Effect::AskStaff],
        ),
        (
            KioskState::PinEntry {
                card: CARD,
                tries_left: 1,
            },
            vec![Effect::AskStaff],
        ),
        (
            KioskState::FaceMatching {
                card: CARD,
                attempt: 1,
            },
            vec![Effect::StopCamera, Effect::AskStaff],
        ),
    ];
    for (state, want) in cases {
        let mut k = at(state, face_reader());
        assert_eq!(step(&mut k, KioskEvent::StaffVisualRequested), want);
        assert_eq!(k.state(), &KioskState::StaffVisual { card: CARD });
    }
    // Not once the PIN is with the card, and not at the end.
    refused(
        &mut at(KioskState::PinVerifying { card: CARD }, face_reader()),
        KioskEvent::StaffVisualRequested,
    );
    refused(
        &mut at(KioskState::Idle, face_reader()),
        KioskEvent::StaffVisualRequested,
    );
}

#[test]
fn staff_confirmation_and_refusal() {
    let mut k = at(
        KioskState::StaffVisual { card: FACE_ONLY },
        KioskConfig::default(),
    );
    step(&mut k, KioskEvent::StaffConfirmed);
    assert!(matches!(
        k.state(),
        KioskState::Consents {
            method: Method::StaffVisual,
            ..
        }
    ));

    let mut k = at(
        KioskState::StaffVisual { card: FACE_ONLY },
        KioskConfig::default(),
    );
    assert_eq!(
        step(&mut k, KioskEvent::StaffDeclined),
        vec![Effect::EndCardSession]
    );
    assert_eq!(k.state(), &done(Outcome::StaffDeclined));
}

#[test]
fn certificate_in_grace_skips_the_medical_consents_but_not_the_subsidy_question() {
    let in_grace = CardFacts {
        certificate_in_grace: true,
        ..CARD
    };
    let config = KioskConfig {
        consent_screens: vec![
            ConsentKind::Surgery,
            ConsentKind::DiagnosisAndMedication,
            ConsentKind::HealthCheckup,
        ],
        ..KioskConfig::default()
    };
    // No medical-information screen at all: straight to the query with no answers.
    let mut k = at(KioskState::PinVerifying { card: in_grace }, config.clone());
    let effects = step(&mut k, KioskEvent::PinAccepted);
    assert_eq!(
        effects,
        vec![Effect::SubmitCheckin {
            method: Method::Pin,
            answers: Vec::new()
        }]
    );
    // The 医療費助成 question is not a viewing consent: it stays.
    let mut with_subsidy = config;
    with_subsidy
        .consent_screens
        .push(ConsentKind::MedicalSubsidy);
    let mut k = at(
        KioskState::PinVerifying { card: in_grace },
        with_subsidy.clone(),
    );
    step(&mut k, KioskEvent::PinAccepted);
    assert!(matches!(
        k.state(),
        KioskState::Consents {
            current: ConsentKind::MedicalSubsidy,
            ..
        }
    ));
    // A valid card with the same settings gets every screen.
    let mut k = at(KioskState::PinVerifying { card: CARD }, with_subsidy);
    step(&mut k, KioskEvent::PinAccepted);
    assert!(matches!(
        k.state(),
        KioskState::Consents {
            current: ConsentKind::Surgery,
            ..
        }
    ));
}

#[test]
fn consent_screens_follow_the_settings_one_at_a_time() {
    let config = KioskConfig {
        consent_screens: vec![
            ConsentKind::Surgery,
            ConsentKind::DiagnosisAndMedication,
            ConsentKind::HealthCheckup,
        ],
        ..KioskConfig::default()
    };
    let mut k = at(KioskState::PinVerifying { card: CARD }, config);
    step(&mut k, KioskEvent::PinAccepted);
    assert!(step(&mut k, KioskEvent::ConsentAnswered { given: true }).is_empty());
    assert!(matches!(
        k.state(),
        KioskState::Consents {
            current: ConsentKind::DiagnosisAndMedication,
            ..
        }
    ));
    step(&mut k, KioskEvent::ConsentAnswered { given: false });
    let effects = step(&mut k, KioskEvent::ConsentAnswered { given: true });
    let answers = vec![
        ConsentAnswer {
            kind: ConsentKind::Surgery,
            given: true,
        },
        ConsentAnswer {
            kind: ConsentKind::DiagnosisAndMedication,
            given: false,
        },
        ConsentAnswer {
            kind: ConsentKind::HealthCheckup,
            given: true,
        },
    ];
    assert_eq!(
        effects,
        vec![Effect::SubmitCheckin {
            method: Method::Pin,
            answers: answers.clone()
        }]
    );
    assert_eq!(
        k.state(),
        &KioskState::Querying {
            method: Method::Pin,
            answers,
            card_removed: false
        }
    );
}

#[test]
fn settings_changed_mid_flow_apply_to_the_next_card() {
    let mut k = at(
        KioskState::PinVerifying { card: CARD },
        KioskConfig::default(),
    );
    step(&mut k, KioskEvent::PinAccepted);
    k.set_consent_screens(vec![ConsentKind::HealthCheckup]);
    step(&mut k, KioskEvent::ConsentAnswered { given: true });
    assert!(matches!(
        k.state(),
        KioskState::Consents {
            current: ConsentKind::DiagnosisAndMedication,
            ..
        }
    ));
    step(&mut k, KioskEvent::ConsentAnswered { given: true });
    step(&mut k, KioskEvent::CheckinAnswered);
    step(&mut k, KioskEvent::CardRemoved);
    step(&mut k, KioskEvent::CardInserted);
    step(&mut k, KioskEvent::CardIdentified { card: CARD });
    step(
        &mut k,
        KioskEvent::MethodChosen {
            method: Method::Pin,
        },
    );
    step(&mut k, KioskEvent::PinCounterRead { tries_left: 3 });
    step(&mut k, KioskEvent::PinSubmitted);
    step(&mut k, KioskEvent::PinAccepted);
    assert!(matches!(
        k.state(),
        KioskState::Consents {
            current: ConsentKind::HealthCheckup,
            ..
        }
    ));
}

fn querying(card_removed: bool) -> KioskState {
    KioskState::Querying {
        method: Method::Face,
        answers: vec![],
        card_removed,
    }
}

#[test]
fn query_outcomes() {
    let cases = [
        (
            KioskEvent::CheckinAnswered,
            Outcome::Confirmed {
                method: Method::Face,
            },
        ),
        (
            KioskEvent::CheckinDeferred,
            Outcome::PendingOutage {
                method: Method::Face,
            },
        ),
        (
            KioskEvent::CheckinRefused {
                refusal: Refusal::CertificateRevoked,
            },
            Outcome::Refused {
                refusal: Refusal::CertificateRevoked,
            },
        ),
    ];
    for (event, outcome) in cases {
        let mut k = at(querying(false), KioskConfig::default());
        assert_eq!(step(&mut k, event), vec![Effect::EndCardSession]);
        assert_eq!(k.state(), &done(outcome));
    }
}

#[test]
fn card_taken_during_the_query_does_not_cancel_it() {
    let mut k = at(querying(false), KioskConfig::default());
    assert!(step(&mut k, KioskEvent::CardRemoved).is_empty());
    assert_eq!(k.state(), &querying(true));
    assert_eq!(
        step(&mut k, KioskEvent::CheckinAnswered),
        vec![Effect::EndCardSession]
    );
    assert_eq!(k.state(), &KioskState::Idle);
}

#[test]
fn done_returns_to_idle_on_removal_or_timeout() {
    for e in [KioskEvent::CardRemoved, KioskEvent::Timeout] {
        let mut k = at(done(Outcome::PinBlocked), KioskConfig::default());
        assert!(step(&mut k, e).is_empty());
        assert_eq!(k.state(), &KioskState::Idle);
    }
}

fn mid_flow_states() -> Vec<(KioskState, Vec<Effect>)> {
    let offered = MethodsOffered {
        face: true,
        pin: true,
        staff_visual: true,
    };
    vec![
        (KioskState::Identifying, vec![]),
        (
            KioskState::MethodChoice {
                card: CARD,
                offered,
            },
            vec![],
        ),
        (KioskState::PinCounter { card: CARD }, vec![]),
        (
            KioskState::PinEntry {
                card: CARD,
                tries_left: 3,
            },
            vec![],
        ),
        (KioskState::PinVerifying { card: CARD }, vec![]),
        (
            KioskState::FaceMatching {
                card: CARD,
                attempt: 1,
            },
            vec![Effect::StopCamera],
        ),
        (
            KioskState::StaffVisual { card: CARD },
            vec![Effect::CancelStaffRequest],
        ),
        (
            KioskState::Consents {
                card: CARD,
                method: Method::Pin,
                current: ConsentKind::Surgery,
                screens: vec![ConsentKind::Surgery],
                answers: vec![],
            },
            vec![],
        ),
    ]
}

#[test]
fn card_removed_mid_flow_cancels_cleanly() {
    for (state, mut undo) in mid_flow_states() {
        let mut k = at(state, face_reader());
        undo.push(Effect::EndCardSession);
        assert_eq!(step(&mut k, KioskEvent::CardRemoved), undo);
        assert_eq!(k.state(), &KioskState::Idle);
    }
}

/// Timeout and 中止 both end the screens that wait for a person (undo, then the end screen with `outcome`);
/// while the card is working neither is accepted, the card's own answer comes first.
fn ends_waiting_states(event: KioskEvent, outcome: Outcome) {
    for (state, mut undo) in mid_flow_states() {
        let waits_for_a_person = matches!(
            state,
            KioskState::MethodChoice { .. }
                | KioskState::PinEntry { .. }
                | KioskState::FaceMatching { .. }
                | KioskState::StaffVisual { .. }
                | KioskState::Consents { .. }
        );
        let mut k = at(state, face_reader());
        if waits_for_a_person {
            undo.push(Effect::EndCardSession);
            assert_eq!(step(&mut k, event.clone()), undo);
            assert_eq!(k.state(), &done(outcome));
        } else {
            refused(&mut k, event.clone());
        }
    }
}

#[test]
fn inactivity_ends_waiting_states() {
    ends_waiting_states(KioskEvent::Timeout, Outcome::TimedOut);
}

#[test]
fn cancel_ends_waiting_states_with_its_own_message() {
    ends_waiting_states(KioskEvent::Cancelled, Outcome::Cancelled);
    refused(&mut Kiosk::new(face_reader()), KioskEvent::Cancelled);
    refused(
        &mut at(querying(false), KioskConfig::default()),
        KioskEvent::Cancelled,
    );
}

#[test]
fn a_card_failing_mid_flow_ends_with_the_card_problem() {
    for state in [
        KioskState::Identifying,
        KioskState::PinCounter { card: CARD },
        KioskState::PinVerifying { card: CARD },
    ] {
        let mut k = at(state, KioskConfig::default());
        assert_eq!(
            step(
                &mut k,
                KioskEvent::CardRejected {
                    problem: CardProblem::Unreadable
                }
            ),
            vec![Effect::EndCardSession]
        );
        assert_eq!(
            k.state(),
            &done(Outcome::CardProblem {
                problem: CardProblem::Unreadable
            })
        );
    }
    // Screens that wait for the patient do not read the card, so no card failure can arrive there.
    refused(
        &mut at(
            KioskState::PinEntry {
                card: CARD,
                tries_left: 3,
            },
            KioskConfig::default(),
        ),
        KioskEvent::CardRejected {
            problem: CardProblem::Unreadable,
        },
    );
}

#[test]
fn stray_events_are_refused_and_change_nothing() {
    refused(
        &mut Kiosk::new(KioskConfig::default()),
        KioskEvent::PinSubmitted,
    );
    refused(
        &mut Kiosk::new(KioskConfig::default()),
        KioskEvent::CardRemoved,
    );
    refused(
        &mut at(
            KioskState::PinEntry {
                card: CARD,
                tries_left: 3,
            },
            KioskConfig::default(),
        ),
        KioskEvent::PinAccepted,
    );
    refused(
        &mut at(done(Outcome::TimedOut), KioskConfig::default()),
        KioskEvent::CardInserted,
    );
    let err = Kiosk::new(KioskConfig::default())
        .handle(KioskEvent::ConsentAnswered { given: true })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the kiosk cannot take `consent_answered` while it is in `idle`"
    );
}

#[test]
fn state_serialises_for_the_windows() {
    let state = KioskState::PinEntry {
        card: CARD,
        tries_left: 1,
    };
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["state"], "pin_entry");
    assert_eq!(json["tries_left"], 1);
    let back: KioskState = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
}

fn any_event() -> impl Strategy<Value = KioskEvent> {
    let card = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(has_pin, smartphone, certificate_expiring, certificate_expired)| CardFacts {
            has_pin,
            smartphone,
            certificate_expiring,
            certificate_in_grace: !certificate_expiring && !has_pin,
            face_scanner: true,
            device_authenticates: smartphone && !has_pin,
            certificate_expired,
        },
    );
    prop_oneof![
        Just(KioskEvent::CardInserted),
        card.prop_map(|card| KioskEvent::CardIdentified { card }),
        Just(KioskEvent::CardRejected {
            problem: CardProblem::Unreadable
        }),
        prop_oneof![
            Just(Method::Face),
            Just(Method::Pin),
            Just(Method::StaffVisual)
        ]
        .prop_map(|method| KioskEvent::MethodChosen { method }),
        Just(KioskEvent::StaffVisualRequested),
        (0u8..4).prop_map(|tries_left| KioskEvent::PinCounterRead { tries_left }),
        Just(KioskEvent::PinSubmitted),
        Just(KioskEvent::PinAccepted),
        (0u8..3).prop_map(|tries_left| KioskEvent::PinRejected { tries_left }),
        Just(KioskEvent::PinBlocked),
        prop_oneof![Just(FaceAttempt::Matched), Just(FaceAttempt::NotMatched)]
            .prop_map(|result| KioskEvent::FaceAttempted { result }),
        Just(KioskEvent::StaffConfirmed),
        Just(KioskEvent::StaffDeclined),
        any::<bool>().prop_map(|given| KioskEvent::ConsentAnswered { given }),
        Just(KioskEvent::CheckinAnswered),
        Just(KioskEvent::CheckinDeferred),
        Just(KioskEvent::CheckinRefused {
            refusal: Refusal::Other
        }),
        Just(KioskEvent::CardRemoved),
        Just(KioskEvent::Timeout),
        Just(KioskEvent::Cancelled),
    ]
}

proptest! {
    /// Whatever arrives in whatever order: the PIN goes to the card only from the PIN entry screen, and a
    /// check-in is submitted only once per card session, after identity was confirmed.
    #[test]
    fn random_event_sequences_keep_the_rules(events in proptest::collection::vec(any_event(), 0..200)) {
        let mut k = Kiosk::new(face_reader());
        let mut submitted_this_card = false;
        for e in events {
            let before = k.state().clone();
            let Ok(effects) = k.handle(e.clone()) else {
                prop_assert_eq!(k.state(), &before);
                continue;
            };
            if effects.contains(&Effect::VerifyPinAndSign) {
                let from_pin_entry = matches!(before, KioskState::PinEntry { .. });
                prop_assert!(from_pin_entry, "PIN sent to the card from {:?}", before);
                prop_assert_eq!(&e, &KioskEvent::PinSubmitted);
            }
            let submits = effects.iter().any(|f| matches!(f, Effect::SubmitCheckin { .. }));
            if submits {
                prop_assert!(!submitted_this_card);
                submitted_this_card = true;
            }
            if matches!(e, KioskEvent::CardInserted) {
                submitted_this_card = false;
            }
        }
    }
}

const IPHONE: CardFacts = CardFacts {
    has_pin: false,
    smartphone: true,
    certificate_expiring: false,
    certificate_in_grace: false,
    face_scanner: false,
    device_authenticates: true,
    certificate_expired: false,
};

#[test]
fn an_iphone_signs_at_once_without_a_pin_or_a_choice() {
    let mut k = Kiosk::new(KioskConfig::default());
    k.handle(KioskEvent::CardInserted).unwrap();
    let effects = k
        .handle(KioskEvent::CardIdentified { card: IPHONE })
        .unwrap();
    assert_eq!(effects, vec![Effect::SignOnDevice]);
    assert!(matches!(k.state(), KioskState::DeviceSigning { .. }));
    // No PIN can be sent to it, and no method chosen.
    assert!(k.handle(KioskEvent::PinSubmitted).is_err());
    assert!(
        k.handle(KioskEvent::MethodChosen {
            method: Method::Pin
        })
        .is_err()
    );
    k.handle(KioskEvent::DeviceSigned).unwrap();
    assert!(matches!(
        k.state(),
        KioskState::Consents {
            method: Method::Phone,
            ..
        }
    ));
}

#[test]
fn an_expired_phone_certificate_is_refused_at_once_with_no_grace() {
    for card in [
        IPHONE,
        CardFacts {
            has_pin: true,
            device_authenticates: false,
            ..IPHONE
        },
    ] {
        let mut k = Kiosk::new(KioskConfig::default());
        k.handle(KioskEvent::CardInserted).unwrap();
        let expired = CardFacts {
            certificate_expired: true,
            ..card
        };
        let effects = k
            .handle(KioskEvent::CardIdentified { card: expired })
            .unwrap();
        assert_eq!(effects, vec![Effect::EndCardSession]);
        assert_eq!(
            k.state(),
            &KioskState::Done {
                outcome: Outcome::Refused {
                    refusal: Refusal::PhoneCertificateExpired
                },
                card_removed: false
            }
        );
    }
    // A card in its grace goes on (qualification only).
    let mut k = Kiosk::new(KioskConfig::default());
    k.handle(KioskEvent::CardInserted).unwrap();
    k.handle(KioskEvent::CardIdentified {
        card: CardFacts {
            certificate_expired: true,
            certificate_in_grace: true,
            ..CARD
        },
    })
    .unwrap();
    assert!(matches!(k.state(), KioskState::MethodChoice { .. }));
}
