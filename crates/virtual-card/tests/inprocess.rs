//! The card layer against the in-process virtual card: the full PIN flow, the face photo, the four facts,
//! every variant, the 個人番号 guard (no command names its EF, as the card records), and removal at every APDU of every operation.

mod common;

use common::*;
use myna_card::{CardError, CardSession, PinState, Sex, TokenKind};
use virtual_card::{Faults, InProcessCard, Variant};

#[test]
fn pin_flow_counter_wrong_right_and_signature() {
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let mut s = CardSession::new(InProcessCard::new(p.to_card().unwrap()));
    let id = s.identify().unwrap();
    assert_eq!(id.token, TokenKind::PhysicalCard);
    assert_eq!(id.auth_pin, PinState::TriesLeft(3));
    let cert = s.auth_certificate().unwrap();
    mock_jpki::verify_auth_cert(ca.ca_cert_der(), &cert, std::time::SystemTime::now()).unwrap();
    assert_eq!(s.pin_tries_left().unwrap(), 3);
    assert_eq!(
        s.verify_pin(&wrong_pin(&p)),
        Err(CardError::WrongPin { tries_left: 2 })
    );
    assert_eq!(s.pin_tries_left().unwrap(), 2);
    assert!(s.sign_challenge(b"x").is_err(), "no signing before VERIFY");
    s.verify_pin(&auth_pin(&p)).unwrap();
    assert_eq!(s.pin_tries_left().unwrap(), 3);
    let sig = s.sign_challenge(b"challenge from central").unwrap();
    mock_jpki::verify_pkcs1_sha256(&cert, b"challenge from central", &sig).unwrap();
}

#[test]
fn blocked_card_is_reported_without_another_verify() {
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let mut s = CardSession::new(InProcessCard::new(p.to_card().unwrap()));
    for left in [2, 1] {
        assert_eq!(
            s.verify_pin(&wrong_pin(&p)),
            Err(CardError::WrongPin { tries_left: left })
        );
    }
    assert_eq!(s.verify_pin(&wrong_pin(&p)), Err(CardError::PinBlocked));
    let before = s.transport_mut().log().len();
    assert_eq!(s.verify_pin(&auth_pin(&p)), Err(CardError::PinBlocked));
    let sent = &s.transport_mut().log()[before..];
    assert!(
        sent.iter().all(|a| !(a[1] == 0x20 && a.len() > 4)),
        "a VERIFY with a PIN was sent to a blocked card"
    );
    assert_eq!(s.pin_tries_left(), Err(CardError::PinBlocked));
}

#[test]
fn variants_answer_as_documented() {
    let ca = ca();
    let blocked = profile(&ca, Variant::PinBlocked);
    let mut s = CardSession::new(InProcessCard::new(blocked.to_card().unwrap()));
    assert_eq!(s.identify().unwrap().auth_pin, PinState::Blocked);
    assert_eq!(
        s.verify_pin(&auth_pin(&blocked)),
        Err(CardError::PinBlocked)
    );

    let face_only = profile(&ca, Variant::FaceOnly);
    assert!(face_only.auth_pin.is_none());
    let mut s = CardSession::new(InProcessCard::new(face_only.to_card().unwrap()));
    assert_eq!(s.identify().unwrap().auth_pin, PinState::NotSet);
    assert_eq!(s.pin_tries_left(), Err(CardError::NoPinSet));
    assert_eq!(
        s.verify_pin(&myna_card::Pin::new("1234").unwrap()),
        Err(CardError::NoPinSet)
    );
    // The face route still works on a face-only card.
    assert!(
        !s.read_face_photo(&code_b(&face_only))
            .unwrap()
            .jpeg2000()
            .is_empty()
    );

    // Android: the スマホ用電子証明書 has its own PIN; nothing signs before it is verified.
    let phone = profile(&ca, Variant::Smartphone);
    let mut s = CardSession::new(InProcessCard::new(phone.to_card().unwrap()));
    let id = s.identify().unwrap();
    assert_eq!(id.token, TokenKind::SmartphoneAndroid);
    assert_eq!(id.auth_pin, PinState::TriesLeft(3));
    assert!(s.sign_challenge(b"c").is_err());
    assert!(s.verify_pin_and_sign(&auth_pin(&phone), b"c").is_ok());

    // iPhone: the phone authenticated its holder before the tap; no PIN on the reader, and the key signs.
    let iphone = profile(&ca, Variant::Iphone);
    assert!(iphone.auth_pin.is_none());
    let mut s = CardSession::new(InProcessCard::new(iphone.to_card().unwrap()));
    let id = s.identify().unwrap();
    assert_eq!(id.token, TokenKind::SmartphoneIos);
    assert_eq!(id.auth_pin, PinState::NotSet);
    let certificate = s.auth_certificate().unwrap();
    let signature = s.sign_challenge(b"challenge").unwrap();
    mock_jpki::verify_pkcs1_sha256(&certificate, b"challenge", &signature).unwrap();

    let now = std::time::SystemTime::now();
    let expired = profile(&ca, Variant::CertExpired);
    let der = expired.auth_cert_der().unwrap();
    assert_eq!(
        mock_jpki::verify_auth_cert(ca.ca_cert_der(), &der, now),
        Err(mock_jpki::CertError::Expired)
    );
    let expiring = profile(&ca, Variant::CertExpiring);
    let info =
        mock_jpki::verify_auth_cert(ca.ca_cert_der(), &expiring.auth_cert_der().unwrap(), now)
            .unwrap();
    assert!(info.expires_within(now, std::time::Duration::from_secs(90 * 86_400)));
    let revoked = profile(&ca, Variant::Revoked);
    assert!(revoked.revoked);
    assert_eq!(
        info.serial_hex().len(),
        revoked.serial.len(),
        "serials share one format"
    );
}

#[test]
fn face_photo_and_four_facts() {
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let mut s = CardSession::new(InProcessCard::new(p.to_card().unwrap()));
    let mut wrong = p.code_b.clone().into_bytes();
    wrong[13] = if wrong[13] == b'0' { b'1' } else { b'0' };
    let wrong = myna_card::VerificationCodeB::new(std::str::from_utf8(&wrong).unwrap()).unwrap();
    assert_eq!(
        s.read_face_photo(&wrong).unwrap_err(),
        CardError::WrongVerificationCode { tries_left: 9 }
    );
    let photo = s.read_face_photo(&code_b(&p)).unwrap();
    assert_eq!(photo.jpeg2000(), virtual_card::profile::SYNTHETIC_FACE_JP2);
    assert_eq!(s.transport_mut().card().code_b_tries(), Some(10));

    let facts = s.four_facts(&info_pin(&p)).unwrap();
    assert_eq!(facts.name(), p.holder.name);
    assert_eq!(facts.address(), p.holder.address);
    assert_eq!(facts.birth_date(), p.holder.birth_date.replace('-', ""));
    assert_eq!(
        facts.sex,
        if p.holder.sex == "male" {
            Sex::Male
        } else {
            Sex::Female
        }
    );
}

/// Runs every public operation of `CardSession`, in an order that exercises all paths.
fn run_everything(s: &mut CardSession<InProcessCard>, p: &virtual_card::CardProfile) {
    let _ = s.identify();
    let _ = s.auth_certificate();
    let _ = s.pin_tries_left();
    let _ = s.verify_pin(&wrong_pin(p));
    let _ = s.verify_pin(&auth_pin(p));
    let _ = s.sign_challenge(b"c");
    let _ = s.verify_pin_and_sign(&auth_pin(p), b"c");
    let _ = s.read_face_photo(&code_b(p));
    let _ = s.verification_code_b_state();
    let _ = s.card_info_pin_tries_left();
    let _ = s.four_facts(&info_pin(p));
    let _ = s.four_facts(&wrong_pin(p));
}

#[test]
fn no_operation_ever_names_a_my_number_ef() {
    let ca = ca();
    for variant in Variant::ALL {
        let p = profile(&ca, variant);
        if p.auth_pin.is_none() {
            continue;
        }
        let mut s = CardSession::new(InProcessCard::new(p.to_card().unwrap()));
        run_everything(&mut s, &p);
        assert!(s.transport_mut().log().len() > 30, "the operations did run");
        // The card records any command naming the card-info AP's 個人番号 EF (or a 照合番号A key), by
        // FID, path, short EF identifier, odd INS or key reference; none came.
        let seen = s.transport_mut().card().my_number_accesses();
        assert!(seen.is_empty(), "{variant:?}: {seen:?}");
    }
}

type Op = fn(&mut CardSession<InProcessCard>, &virtual_card::CardProfile) -> Result<(), CardError>;

fn operations() -> Vec<(&'static str, Op)> {
    vec![
        ("identify", |s, _| s.identify().map(drop)),
        ("auth_certificate", |s, _| s.auth_certificate().map(drop)),
        ("pin_tries_left", |s, _| s.pin_tries_left().map(drop)),
        ("verify_pin", |s, p| s.verify_pin(&auth_pin(p))),
        ("verify_pin_and_sign", |s, p| {
            s.verify_pin_and_sign(&auth_pin(p), b"c").map(drop)
        }),
        ("read_face_photo", |s, p| {
            s.read_face_photo(&code_b(p)).map(drop)
        }),
        ("four_facts", |s, p| s.four_facts(&info_pin(p)).map(drop)),
    ]
}

#[test]
fn removal_at_every_apdu_gives_a_typed_error_and_nothing_half_done() {
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let card = p.to_card().unwrap();
    for (name, op) in operations() {
        let mut clean = CardSession::new(InProcessCard::new(card.clone()));
        op(&mut clean, &p).unwrap_or_else(|e| panic!("{name}: {e}"));
        let n = clean.transport_mut().apdu_count();
        for k in 0..n {
            let mut s = CardSession::new(InProcessCard::with_faults(
                card.clone(),
                Faults::remove_after(k),
            ));
            assert_eq!(
                op(&mut s, &p),
                Err(CardError::CardRemoved),
                "{name} with removal at APDU {}",
                k + 1
            );
            // Put the card back: counters are whole, and the operation works from a clean session.
            s.transport_mut().reinsert();
            assert_eq!(s.transport_mut().card().auth_pin_tries(), Some(3), "{name}");
            assert_eq!(s.transport_mut().card().code_b_tries(), Some(10), "{name}");
            op(&mut s, &p).unwrap_or_else(|e| panic!("{name} after reinsertion at {k}: {e}"));
        }
    }
}

#[test]
fn garbage_answers_are_typed_errors() {
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let card = p.to_card().unwrap();
    for (name, op) in operations() {
        for from in 1..=3 {
            let mut s = CardSession::new(InProcessCard::with_faults(
                card.clone(),
                Faults {
                    garbage_from: Some(from),
                    ..Faults::default()
                },
            ));
            let e = op(&mut s, &p).expect_err(name);
            assert!(
                matches!(e, CardError::MalformedResponse(_)),
                "{name} garbage from {from}: {e:?}"
            );
        }
    }
}

#[test]
fn not_a_my_number_card() {
    struct Other;
    impl myna_card::Transport for Other {
        fn transmit(&mut self, _: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, CardError> {
            Ok(zeroize::Zeroizing::new(vec![0x6A, 0x82]))
        }
    }
    assert_eq!(
        CardSession::new(Other).identify(),
        Err(CardError::NotMyNumberCard)
    );
}
