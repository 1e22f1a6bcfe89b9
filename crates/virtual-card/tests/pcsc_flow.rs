//! The card layer through the real pcscd and the vpcd driver: PIN flow, signature, face photo decoded to
//! pixels, four facts, no command naming the 個人番号 EF (as the card records it), and removal at every APDU of every operation.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use myna_card::{CardError, CardSession, PcscTransport, PinState};
use virtual_card::{Faults, Variant, VirtualCard, VpcdCard};

const PRESENCE: Duration = Duration::from_secs(5);

/// Inserts `card` into the leased reader and connects a session once pcscd sees it.
fn insert(
    lease: &pcsc_harness::ReaderLease,
    card: VirtualCard,
    faults: Faults,
) -> (VpcdCard, CardSession<PcscTransport>) {
    let ctx = context();
    let vpcd = VpcdCard::insert(card, lease.port, faults).expect("vpcd reachable");
    wait_card(&ctx, &lease.reader, true, PRESENCE);
    let t = PcscTransport::connect(&ctx, &pcsc_harness::cstring(&lease.reader)).expect("connect");
    (vpcd, CardSession::new(t))
}

fn remove(lease: &pcsc_harness::ReaderLease, vpcd: VpcdCard) -> VirtualCard {
    let card = vpcd.remove().expect("card state back");
    wait_card(&context(), &lease.reader, false, PRESENCE);
    card
}

#[test]
fn pin_flow_and_signature_over_pcsc() {
    let lease = pcsc_harness::reader();
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let (vpcd, mut s) = insert(&lease, p.to_card().unwrap(), Faults::default());

    let id = s.identify().unwrap();
    assert_eq!(id.auth_pin, PinState::TriesLeft(3));
    let cert = s.auth_certificate().unwrap();
    let info = mock_jpki::verify_auth_cert(ca.ca_cert_der(), &cert, SystemTime::now()).unwrap();
    assert_eq!(info.serial_hex(), p.serial);
    assert_eq!(s.pin_tries_left().unwrap(), 3);
    assert_eq!(
        s.verify_pin(&wrong_pin(&p)),
        Err(CardError::WrongPin { tries_left: 2 })
    );
    assert_eq!(s.pin_tries_left().unwrap(), 2);
    s.verify_pin(&auth_pin(&p)).unwrap();
    assert_eq!(s.pin_tries_left().unwrap(), 3);
    let challenge = b"nonce from the central service";
    let sig = s.sign_challenge(challenge).unwrap();
    mock_jpki::verify_pkcs1_sha256(&cert, challenge, &sig).unwrap();

    // Block it: two more wrong PINs after one wrong, then the right PIN is refused without a VERIFY.
    for expect in [
        Err(CardError::WrongPin { tries_left: 2 }),
        Err(CardError::WrongPin { tries_left: 1 }),
        Err(CardError::PinBlocked),
    ] {
        assert_eq!(s.verify_pin(&wrong_pin(&p)), expect);
    }
    let before = vpcd.apdu_count();
    assert_eq!(s.verify_pin(&auth_pin(&p)), Err(CardError::PinBlocked));
    let log = vpcd.apdu_log();
    assert!(
        log[before..].iter().all(|a| !(a[1] == 0x20 && a.len() > 4)),
        "a PIN was sent to a blocked card"
    );
    assert_eq!(s.identify().unwrap().auth_pin, PinState::Blocked);
    drop(s);
    let card = remove(&lease, vpcd);
    assert_eq!(card.auth_pin_tries(), Some(0));
}

#[test]
fn face_photo_decodes_to_pixels_and_four_facts_over_pcsc() {
    let lease = pcsc_harness::reader();
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let (vpcd, mut s) = insert(&lease, p.to_card().unwrap(), Faults::default());
    let photo = s.read_face_photo(&code_b(&p)).unwrap();
    let img = jpeg2k::Image::from_bytes(photo.jpeg2000()).expect("JPEG 2000 decodes");
    let px = img.get_pixels(None).expect("pixels");
    assert_eq!((px.width, px.height), (120, 160));
    match px.data {
        jpeg2k::ImagePixelData::Rgb8(d) => {
            assert_eq!(d.len(), 120 * 160 * 3);
            // centre of the synthetic face is skin-coloured, the corner is background blue
            let at = |x: usize, y: usize| &d[(y * 120 + x) * 3..(y * 120 + x) * 3 + 3];
            assert!(at(60, 90)[0] > 180, "face centre {:?}", at(60, 90));
            assert!(at(2, 150)[2] > 140, "background {:?}", at(2, 150));
        }
        other => panic!(
            "unexpected pixel format {:?}",
            std::mem::discriminant(&other)
        ),
    }
    let facts = s.four_facts(&info_pin(&p)).unwrap();
    assert_eq!(facts.name(), p.holder.name);
    drop(s);
    assert!(vpcd.my_number_accesses().is_empty());
    let card = remove(&lease, vpcd);
    assert!(card.my_number_accesses().is_empty());
}

type Op = fn(&mut CardSession<PcscTransport>, &virtual_card::CardProfile) -> Result<(), CardError>;

fn operations() -> Vec<(&'static str, Op)> {
    vec![
        ("identify", |s, _| s.identify().map(drop)),
        ("auth_certificate", |s, _| s.auth_certificate().map(drop)),
        ("pin_tries_left", |s, _| s.pin_tries_left().map(drop)),
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
fn removal_at_every_apdu_over_pcsc() {
    let lease = pcsc_harness::reader();
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let card = p.to_card().unwrap();
    for (name, op) in operations() {
        let (vpcd, mut s) = insert(&lease, card.clone(), Faults::default());
        op(&mut s, &p).unwrap_or_else(|e| panic!("{name}: {e}"));
        let n = vpcd.apdu_count();
        drop(s);
        remove(&lease, vpcd);
        for k in 0..n {
            let (vpcd, mut s) = insert(&lease, card.clone(), Faults::remove_after(k));
            let e = op(&mut s, &p).expect_err(name);
            assert!(
                e.is_card_gone(),
                "{name}, removed at APDU {}: {e:?} is not a card-removed error",
                k + 1
            );
            drop(s);
            let after = remove(&lease, vpcd);
            assert_eq!(after.auth_pin_tries(), Some(3), "{name} at {k}");
            assert_eq!(after.code_b_tries(), Some(10), "{name} at {k}");
        }
        eprintln!("{name}: removal at each of {n} APDUs gave a card-removed error");
    }
}

#[test]
fn slow_card_still_answers_and_garbage_is_typed() {
    let lease = pcsc_harness::reader();
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let slow = Faults {
        delay: Some(Duration::from_millis(150)),
        ..Faults::default()
    };
    let (vpcd, mut s) = insert(&lease, p.to_card().unwrap(), slow);
    assert_eq!(s.pin_tries_left().unwrap(), 3);
    drop(s);
    remove(&lease, vpcd);
    let garbage = Faults {
        garbage_from: Some(2),
        ..Faults::default()
    };
    let (vpcd, mut s) = insert(&lease, p.to_card().unwrap(), garbage);
    let e = s.identify().unwrap_err();
    assert!(matches!(e, CardError::MalformedResponse(_)), "{e:?}");
    drop(s);
    remove(&lease, vpcd);
}

#[test]
fn sharing_violation_and_reset_by_another_program_are_typed() {
    let lease = pcsc_harness::reader();
    let ca = ca();
    let p = profile(&ca, Variant::Normal);
    let (vpcd, mut s) = insert(&lease, p.to_card().unwrap(), Faults::default());
    let name = pcsc_harness::cstring(&lease.reader);
    let other_ctx = context();

    // Another program resets the card under our shared connection.
    let mut other = other_ctx
        .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .unwrap();
    other
        .reconnect(
            pcsc::ShareMode::Shared,
            pcsc::Protocols::ANY,
            pcsc::Disposition::ResetCard,
        )
        .unwrap();
    assert_eq!(s.pin_tries_left(), Err(CardError::CardReset));
    drop(s);
    drop(other);

    // Another program holds the reader exclusively.
    let exclusive = other_ctx
        .connect(&name, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY)
        .unwrap();
    let e = PcscTransport::connect(&context(), &name).unwrap_err();
    assert_eq!(e, CardError::SharingViolation);
    drop(exclusive);

    // And once it lets go, a fresh session works.
    let mut s = CardSession::new(PcscTransport::connect(&context(), &name).unwrap());
    assert_eq!(s.pin_tries_left().unwrap(), 3);
    drop(s);
    remove(&lease, vpcd);
}
