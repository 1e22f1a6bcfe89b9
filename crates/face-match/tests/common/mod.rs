//! Shared by the face tests: the matcher (loaded once), the labelled photos fetched at set-up time, and
//! picture transforms that make quality failures out of real photos. Nothing here skips: a missing model
//! or photo fails with the command that installs it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use face_match::{FaceMatcher, QualityPolicy, picture};
use image::{Rgb, RgbImage};

pub fn matcher() -> &'static FaceMatcher {
    static M: OnceLock<FaceMatcher> = OnceLock::new();
    M.get_or_init(|| {
        FaceMatcher::load_default().unwrap_or_else(|e| {
            panic!("{e} (scripts/setup-debian.sh runs scripts/fetch-face-models.sh)")
        })
    })
}

pub fn photo_dir() -> PathBuf {
    let dir = face_match::models::find_model_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("photos");
    assert!(
        dir.join("obama.jpg").is_file(),
        "the labelled photos are missing in {}: run scripts/fetch-face-models.sh",
        dir.display()
    );
    dir
}

pub fn photo(name: &str) -> RgbImage {
    let path = photo_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    picture::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The labelled pictures: (label, person). Faces cut from the insightface group photo are people of
/// their own, labelled t1-face-N (each face is a different person).
pub fn labelled() -> Vec<(String, String, RgbImage)> {
    let mut out = Vec::new();
    for (name, person) in [
        ("obama.jpg", "obama"),
        ("obama2.jpg", "obama"),
        ("obama3.jpg", "obama"),
        ("obama_32bit.png", "obama"),
        ("obama_partial_face.jpg", "obama"),
        ("obama_partial_face2.jpg", "obama"),
        ("biden.jpg", "biden"),
        ("tom_hanks.png", "hanks"),
    ] {
        out.push((name.to_owned(), person.to_owned(), photo(name)));
    }
    for (i, crop) in group_faces().into_iter().enumerate() {
        out.push((
            format!("t1-face-{}", i + 1),
            format!("t1-person-{}", i + 1),
            crop,
        ));
    }
    out
}

/// Each face of the group photo, cut out with a margin of one face width.
pub fn group_faces() -> Vec<RgbImage> {
    let img = photo("t1.jpg");
    let mut faces = matcher().detect(&img).expect("detect");
    faces.sort_by(|a, b| a.bbox[0].total_cmp(&b.bbox[0]));
    faces
        .iter()
        .map(|f| crop_around(&img, f.bbox, 1.0))
        .collect()
}

/// A crop around `bbox` with `margin` face sizes on each side, clipped to the picture.
pub fn crop_around(img: &RgbImage, bbox: [f32; 4], margin: f32) -> RgbImage {
    let [x, y, w, h] = bbox;
    let x0 = (x - margin * w).max(0.0) as u32;
    let y0 = (y - margin * h).max(0.0) as u32;
    let x1 = ((x + w + margin * w) as u32).min(img.width());
    let y1 = ((y + h + margin * h) as u32).min(img.height());
    image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image()
}

/// The picture cut to what a kiosk camera frames: the main face with three quarters of a face on each
/// side (the replays are made from this, which keeps them quick to make).
pub fn framed(img: &RgbImage) -> RgbImage {
    crop_around(img, main_face(img).bbox, 0.75)
}

/// The main face of a picture (panics if there is none).
pub fn main_face(img: &RgbImage) -> face_match::Face {
    matcher()
        .analyze(img, &QualityPolicy::CAMERA)
        .expect("analyze")
        .main
        .expect("a face")
}

pub fn map_pixels(img: &RgbImage, f: impl Fn(f32) -> f32) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        *p = Rgb(p.0.map(|c| f(f32::from(c)).round().clamp(0.0, 255.0) as u8));
    }
    out
}

/// Makes a card-style JPEG 2000 photo: a portrait crop around the face, scaled to `width` pixels wide,
/// compressed with OpenJPEG's `opj_compress` (package libopenjp2-tools) at ratio 20.
pub fn card_photo_jp2(img: &RgbImage, width: u32) -> Vec<u8> {
    let portrait = face_match::portrait_crop(img, &main_face(img), width);
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("card.png");
    portrait.save(&png).expect("write png");
    let jp2 = dir.path().join("card.jp2");
    let out = std::process::Command::new("opj_compress")
        .arg("-i")
        .arg(&png)
        .arg("-o")
        .arg(&jp2)
        .args(["-r", "20"])
        .output()
        .expect(
            "run opj_compress (apt package libopenjp2-tools, installed by scripts/setup-debian.sh)",
        );
    assert!(
        out.status.success(),
        "opj_compress: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&jp2).expect("read jp2")
}
