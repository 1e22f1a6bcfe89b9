//! The matcher on real face photographs (labelled photos from PyPI sdists, fetched at set-up time): pairs
//! of the same person match, pairs of different people do not, and a JPEG 2000 card photo matches a
//! camera-style photo of the same person.

mod common;

use common::*;
use face_match::{Decision, FaceMatcher, MATCH_THRESHOLD, QualityPolicy, picture};

fn compare(a: &image::RgbImage, b: &image::RgbImage) -> face_match::Comparison {
    matcher()
        .compare(a, &QualityPolicy::PHOTO, b, &QualityPolicy::PHOTO)
        .expect("compare")
}

#[test]
fn every_labelled_pair_is_decided_right() {
    let photos = labelled();
    let (mut same, mut different) = (Vec::new(), Vec::new());
    let analyses: Vec<_> = photos
        .iter()
        .map(|(name, _, img)| {
            let a = matcher()
                .analyze(img, &QualityPolicy::PHOTO)
                .expect("analyze");
            println!(
                "{name}: findings {:?} measures {:?}",
                a.findings, a.measures
            );
            a
        })
        .collect();
    for i in 0..photos.len() {
        for j in i + 1..photos.len() {
            let c = FaceMatcher::decide(analyses[i].clone(), analyses[j].clone());
            let Some(score) = c.similarity else { continue };
            let pair = format!("{} ~ {}", photos[i].0, photos[j].0);
            println!("pair {pair}: {score:.3} {:?}", c.decision);
            if photos[i].1 == photos[j].1 {
                same.push((pair, score));
            } else {
                different.push((pair, score));
            }
        }
    }
    let fr: Vec<_> = same.iter().filter(|(_, s)| *s < MATCH_THRESHOLD).collect();
    let fa: Vec<_> = different
        .iter()
        .filter(|(_, s)| *s >= MATCH_THRESHOLD)
        .collect();
    println!(
        "same-person pairs {} (false rejects {}), different-person pairs {} (false accepts {})",
        same.len(),
        fr.len(),
        different.len(),
        fa.len()
    );
    assert!(same.len() >= 6, "too few same-person pairs: {same:?}");
    assert!(different.len() >= 20, "too few different-person pairs");
    assert!(fr.is_empty(), "false rejects: {fr:?}");
    assert!(fa.is_empty(), "false accepts: {fa:?}");
}

#[test]
fn same_person_matches_and_different_people_do_not() {
    let (obama, obama2, biden) = (photo("obama.jpg"), photo("obama2.jpg"), photo("biden.jpg"));
    let c = compare(&obama, &obama2);
    assert_eq!(c.decision, Decision::Same, "{:?}", c.similarity);
    let c = compare(&obama, &biden);
    assert_eq!(c.decision, Decision::Different, "{:?}", c.similarity);
}

#[test]
fn jpeg2000_card_photo_matches_a_camera_photo_of_the_same_person() {
    let jp2 = card_photo_jp2(&photo("obama.jpg"), 240);
    assert!(jp2.starts_with(&[0, 0, 0, 0x0C, b'j', b'P']), "a JP2 file");
    let card = picture::decode(&jp2).expect("JPEG 2000 decodes");
    assert_eq!(card.dimensions(), (240, 320));
    let card_analysis = matcher()
        .analyze(&card, &QualityPolicy::PHOTO)
        .expect("analyze");
    assert!(
        card_analysis.is_clean(),
        "{:?} {:?}",
        card_analysis.findings,
        card_analysis.measures
    );
    for (frame, want) in [
        ("obama2.jpg", Decision::Same),
        ("obama3.jpg", Decision::Same),
        ("biden.jpg", Decision::Different),
    ] {
        let c = matcher()
            .compare(
                &card,
                &QualityPolicy::PHOTO,
                &photo(frame),
                &QualityPolicy::CAMERA,
            )
            .expect("compare");
        println!("card(obama) ~ {frame}: {:?}", c.similarity);
        assert_eq!(c.decision, want, "{frame}: {:?}", c.similarity);
    }
}
