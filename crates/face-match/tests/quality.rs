//! Each quality failure detected on a real example: the labelled photos, transformed (darkened, burnt out,
//! backlit, blurred, shrunk, cut, combined) in memory, and the group photo.

mod common;

use common::*;
use face_match::{Decision, Finding, QualityPolicy};
use image::RgbImage;

fn findings(img: &RgbImage) -> Vec<Finding> {
    let a = matcher()
        .analyze(img, &QualityPolicy::CAMERA)
        .expect("analyze");
    println!("findings {:?} measures {:?}", a.findings, a.measures);
    a.findings
}

fn assert_finding(what: &str, img: &RgbImage, want: Finding) {
    let f = findings(img);
    assert!(f.contains(&want), "{what}: expected {want:?}, found {f:?}");
}

#[test]
fn good_camera_photos_have_no_findings() {
    for name in ["obama.jpg", "obama2.jpg", "biden.jpg"] {
        assert_eq!(findings(&photo(name)), Vec::<Finding>::new(), "{name}");
    }
}

#[test]
fn no_face() {
    // The lower part of a real photo: suit, tie, microphone, desk.
    let img = photo("obama_32bit.png");
    let lower = image::imageops::crop_imm(&img, 0, 720, img.width(), img.height() - 720).to_image();
    assert_eq!(findings(&lower), vec![Finding::NoFace]);
    let c = matcher()
        .compare(&lower, &QualityPolicy::CAMERA, &img, &QualityPolicy::CAMERA)
        .unwrap();
    assert_eq!(c.decision, Decision::Undecided);
}

#[test]
fn several_faces() {
    assert_finding("the group photo", &photo("t1.jpg"), Finding::SeveralFaces);
    // Two people side by side at the same size.
    let (a, b) = (photo("obama2.jpg"), photo("biden.jpg"));
    let (fa, fb) = (main_face(&a), main_face(&b));
    let (ca, cb) = (crop_around(&a, fa.bbox, 0.6), crop_around(&b, fb.bbox, 0.6));
    let h = ca.height().max(cb.height());
    let cb = image::imageops::resize(
        &cb,
        cb.width() * h / cb.height(),
        h,
        image::imageops::FilterType::Triangle,
    );
    let ca = image::imageops::resize(
        &ca,
        ca.width() * h / ca.height(),
        h,
        image::imageops::FilterType::Triangle,
    );
    let mut both = RgbImage::new(ca.width() + cb.width(), h);
    image::imageops::replace(&mut both, &ca, 0, 0);
    image::imageops::replace(&mut both, &cb, i64::from(ca.width()), 0);
    assert_finding("two people side by side", &both, Finding::SeveralFaces);
    let c = matcher()
        .compare(&both, &QualityPolicy::CAMERA, &a, &QualityPolicy::CAMERA)
        .unwrap();
    assert_eq!(
        c.decision,
        Decision::Undecided,
        "no decision with two faces"
    );
}

#[test]
fn too_small() {
    let img = photo("obama2.jpg");
    let eyes = main_face(&img).eye_distance();
    // Shrink until the eyes are about 16 px apart: a person far from the camera.
    let k = 16.0 / eyes;
    let small = image::imageops::resize(
        &img,
        (img.width() as f32 * k) as u32,
        (img.height() as f32 * k) as u32,
        image::imageops::FilterType::Triangle,
    );
    assert_finding("far away", &small, Finding::TooSmall);
}

#[test]
fn cut_off() {
    let img = photo("obama.jpg");
    let f = main_face(&img);
    // Keep from the middle of the face to the right: half the face is outside the frame.
    let x0 = (f.bbox[0] + f.bbox[2] * 0.45) as u32;
    let cut = image::imageops::crop_imm(&img, x0, 0, img.width() - x0, img.height()).to_image();
    let found = findings(&cut);
    assert!(
        found.contains(&Finding::CutOff) || found == vec![Finding::NoFace],
        "half a face: {found:?}"
    );
    // The frame's top edge through the eyes.
    let y0 = (f.bbox[1] + f.bbox[3] * 0.42) as u32;
    let cut = image::imageops::crop_imm(&img, 0, y0, img.width(), img.height() - y0).to_image();
    let found = findings(&cut);
    assert!(
        found.contains(&Finding::CutOff) || found == vec![Finding::NoFace],
        "eyes cut: {found:?}"
    );
    // A real photo whose face runs off the frame (face_recognition's partial-face test image).
    assert_finding(
        "partial face photo",
        &photo("obama_partial_face2.jpg"),
        Finding::CutOff,
    );
}

#[test]
fn too_dark() {
    let dark = map_pixels(&photo("obama2.jpg"), |v| v * 0.18);
    assert_finding("underexposed", &dark, Finding::TooDark);
}

#[test]
fn too_bright() {
    let bright = map_pixels(&photo("obama2.jpg"), |v| v * 1.8 + 90.0);
    assert_finding("overexposed", &bright, Finding::TooBright);
}

#[test]
fn backlit() {
    // A bright window behind the person, the face in shadow.
    let img = photo("biden.jpg");
    let f = main_face(&img);
    let [x, y, w, h] = f.bbox;
    let mut lit = img.clone();
    for (px, py, p) in lit.enumerate_pixels_mut() {
        let (fx, fy) = (px as f32, py as f32);
        let in_person = fx >= x - 0.1 * w && fx < x + 1.1 * w && fy >= y - 0.3 * h;
        p.0 = p.0.map(|c| {
            let c = f32::from(c);
            if in_person {
                c * 0.35
            } else {
                (c * 0.2 + 215.0).min(255.0)
            }
            .round() as u8
        });
    }
    assert_finding("backlit", &lit, Finding::Backlit);
}

#[test]
fn blurred() {
    let img = photo("obama2.jpg");
    let f = main_face(&img);
    let blurred = image::imageops::blur(&img, f.width() / 30.0);
    assert_finding("out of focus", &blurred, Finding::Blurred);
}

#[test]
fn every_finding_has_a_message_for_the_patient() {
    for f in [
        Finding::NoFace,
        Finding::SeveralFaces,
        Finding::TooSmall,
        Finding::CutOff,
        Finding::TooDark,
        Finding::TooBright,
        Finding::Backlit,
        Finding::Blurred,
    ] {
        assert!(f.message_ja().ends_with('。'));
        assert!(!f.message_en().is_empty());
    }
}
