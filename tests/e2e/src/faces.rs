//! Faces for the tests that check in by face: the labelled photos fetched at set-up time, the card-style
//! portrait a virtual card carries, and a photo shown on a screen held up to the camera.

use std::path::{Path, PathBuf};

use crate::MockCentral;

use face_match::{FaceMatcher, QualityPolicy, picture};

/// The folder of labelled photos (`scripts/fetch-face-models.sh`); panics with the command that fetches
/// them when they are missing.
pub fn photos() -> PathBuf {
    let dir = face_match::models::find_model_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("photos");
    assert!(
        dir.join("obama.jpg").is_file(),
        "labelled photos missing in {}: run scripts/fetch-face-models.sh",
        dir.display()
    );
    dir
}

fn main_face(photo: &Path) -> (image::RgbImage, face_match::Face) {
    let img = picture::decode(&std::fs::read(photo).expect("photo")).expect("decode");
    let matcher = FaceMatcher::load_default().unwrap_or_else(|e| panic!("{e}"));
    let face = matcher
        .analyze(&img, &QualityPolicy::PHOTO)
        .expect("analyze")
        .main
        .expect("a face in the photo");
    (img, face)
}

/// Cards 1..=`count` (as [`crate::kiosk::Cards::issue_with_photo`]) carrying a card-style portrait of the person
/// in the labelled photo `person` (e.g. `obama.jpg`), and the test's work folder the portrait was made in.
pub fn cards_with_portrait(count: u32, person: &str) -> (crate::kiosk::Cards, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("temp dir");
    let portrait = work.path().join("card-portrait.png");
    card_portrait(&photos().join(person), &portrait);
    let cards = crate::kiosk::Cards::issue_with_photo(count, Some(&portrait));
    (cards, work)
}

/// A card-style portrait (PNG) of the person in `photo`, for `oqs-virtual-card issue --photo`.
pub fn card_portrait(photo: &Path, out: &Path) {
    let (img, face) = main_face(photo);
    face_match::portrait_crop(&img, &face, 240)
        .save(out)
        .expect("write the portrait");
}

/// `photo` framed as a kiosk camera would (the face and three quarters of a face around it), shown on a
/// phone screen held up to the camera and re-photographed (`face_match::replay`), written to `out` as a
/// PNG. The screen's grid is one the camera resolves, so the liveness check refuses it.
pub fn screen_replay(photo: &Path, out: &Path) {
    let (img, face) = main_face(photo);
    let [x, y, w, h] = face.bbox;
    let (x0, y0) = (
        (x - 0.75 * w).max(0.0) as u32,
        (y - 0.75 * h).max(0.0) as u32,
    );
    let (x1, y1) = (
        ((x + 1.75 * w) as u32).min(img.width()),
        ((y + 1.75 * h) as u32).min(img.height()),
    );
    let framed = image::imageops::crop_imm(&img, x0, y0, x1 - x0, y1 - y0).to_image();
    let shown = face_match::replay::screen(
        &framed,
        face_match::replay::Screen {
            pixel_pitch: 2.3,
            angle: 6.0,
            glare: 10.0,
            seed: 5,
        },
    );
    shown.save(out).expect("write the replay");
}

/// The daemon's configuration for a face kiosk on `reader` whose camera is the folder `camera`, with the
/// reader key the mock central service `central` registered, and `attempts` face attempts per card.
pub fn face_kiosk_config(
    reader: &str,
    camera: &Path,
    central: &MockCentral,
    attempts: u8,
) -> String {
    format!(
        "[readers]\nnames = [\"{reader}\"]\nface_capable = [\"{reader}\"]\n\
         [kiosk]\ninactivity_timeout_secs = 120\nmax_face_attempts = {attempts}\n\
         [face]\ncamera = \"folder:{camera}\"\nframes_per_attempt = 2\nframe_interval_ms = 0\n\
         reader_id = \"reader-01\"\nreader_key = \"{key}\"\n",
        camera = camera.display(),
        key = central.dir.join("reader-01.key").display(),
    )
}
