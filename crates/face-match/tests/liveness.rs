//! Presentation-attack detection on the labelled photos (live faces) and on simulated replays of them
//! (`face_match::replay`): a subset of the evaluation in `examples/pad_eval.rs`, whose full figures are in
//! `docs/face-matching.md`.
mod common;

use common::*;
use face_match::replay::{self, Print, Screen};
use face_match::{Finding, QualityPolicy};
use image::RgbImage;

fn findings(img: &RgbImage) -> Vec<Finding> {
    matcher()
        .analyze(img, &QualityPolicy::CAMERA)
        .expect("analyze")
        .findings
}

#[test]
fn live_faces_are_not_taken_for_replays() {
    // Every labelled photo, as it is, recompressed and at half size: none is refused as a photo or a
    // screen (the evaluation's BPCER is 0 of 72).
    let mut seen = 0;
    for (label, _, img) in labelled() {
        for (variant, v) in [
            ("as is", img.clone()),
            ("jpeg 60", replay::jpeg(&img, 60)),
            (
                "half",
                image::imageops::resize(
                    &img,
                    img.width() / 2,
                    img.height() / 2,
                    image::imageops::FilterType::Triangle,
                ),
            ),
        ] {
            let a = matcher()
                .analyze(&v, &QualityPolicy::CAMERA)
                .expect("analyze");
            assert!(
                !a.findings.contains(&Finding::PhotoOrScreen),
                "{label} {variant}: a live face refused: {:?}",
                a.liveness
            );
            seen += usize::from(a.liveness.is_some_and(|l| l.side > 0));
        }
    }
    assert!(seen >= 30, "only {seen} faces were examined");
}

/// The replays of the evaluation's kinds, with the seed `seed`.
fn replays(img: &RgbImage, seed: u32) -> Vec<(String, RgbImage)> {
    let mut out = Vec::new();
    for (dot_pitch, ink_black, angle) in [
        (2.2, 0.06, 0.0),
        (3.0, 0.15, 5.0),
        (4.0, 0.10, -9.0),
        (5.0, 0.06, 2.0),
        (6.5, 0.15, -4.0),
    ] {
        let p = Print {
            dot_pitch,
            ink_black,
            angle,
            seed,
        };
        out.push((format!("{p:?}"), replay::print(img, p)));
    }
    for (pixel_pitch, angle, glare) in [
        (1.2, 0.0, 0.0),
        (1.6, 3.0, 40.0),
        (2.0, -7.0, 0.0),
        (2.3, 6.0, 10.0),
        (2.6, 12.0, 20.0),
        (3.4, 0.5, 40.0),
    ] {
        let s = Screen {
            pixel_pitch,
            angle,
            glare,
            seed,
        };
        out.push((format!("{s:?}"), replay::screen(img, s)));
    }
    out
}

#[test]
fn replays_the_camera_resolves_are_refused_and_the_rate_holds() {
    // Four photos of two people, framed as a kiosk camera would, each as 11 replays. Those whose grid
    // the camera resolves (3 and 4 pixel prints, 2.3 and 3.4 pixel screens) are refused every time; of
    // all replays that reach the check, at most 35 % pass it (the evaluation's APCER over all 14 photos is
    // in docs/face-matching.md).
    let mut attacks = 0;
    let mut passed = Vec::new();
    for name in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"] {
        for (what, r) in replays(&framed(&photo(name)), 5) {
            let found = findings(&r);
            let resolved = [
                "dot_pitch: 3.0",
                "dot_pitch: 4.0",
                "pixel_pitch: 2.3",
                "pixel_pitch: 3.4",
            ]
            .iter()
            .any(|k| what.contains(k));
            if resolved {
                // Refused: as a replay, or (a few tilted prints) because no face is found at all.
                assert!(
                    found.contains(&Finding::PhotoOrScreen) || found.contains(&Finding::NoFace),
                    "{name} {what}: {found:?}"
                );
            }
            if found
                .iter()
                .any(|f| f.blocks_decision() && *f != Finding::PhotoOrScreen)
            {
                continue;
            }
            attacks += 1;
            if !found.contains(&Finding::PhotoOrScreen) {
                passed.push(format!("{name} {what}"));
            }
        }
    }
    println!("{} of {attacks} replays passed: {passed:#?}", passed.len());
    assert!(attacks >= 25, "only {attacks} replays reached the check");
    assert!(
        passed.len() * 100 <= attacks * 35,
        "{} of {attacks} replays passed: {passed:#?}",
        passed.len()
    );
}
