//! Quality checks made before a face is matched, each with a short message the kiosk shows the patient.
//!
//! The measures are simple and explainable: the number and size of the detected faces, whether the face
//! box leaves the picture, the mean brightness of the face and of what surrounds it, the share of burnt-out
//! pixels, and the sharpness of the aligned face (variance of its Laplacian, so it does not depend on how
//! large the face was in the picture). Thresholds were set on the labelled photos and on darkened,
//! brightened, backlit and blurred versions of them (see `docs/face-matching.md`).

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::detect::Face;

/// Something about a picture that stops or weakens the match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// No face was found.
    NoFace,
    /// More than one face of similar size: the match would not know whose face it is.
    SeveralFaces,
    /// The face is too small (too far from the camera, or a tiny photo).
    TooSmall,
    /// Part of the face is outside the picture.
    CutOff,
    /// The face is too dark.
    TooDark,
    /// The face is too bright (burnt out).
    TooBright,
    /// The light is behind the person: the face is much darker than the background.
    Backlit,
    /// The face is blurred (movement or focus).
    Blurred,
    /// The face is a photo or a screen held up to the camera, not a live face ([`crate::liveness`]).
    PhotoOrScreen,
}

impl Finding {
    /// True for findings after which no decision can be made at all.
    pub fn blocks_decision(self) -> bool {
        matches!(
            self,
            Finding::NoFace
                | Finding::SeveralFaces
                | Finding::TooSmall
                | Finding::CutOff
                | Finding::PhotoOrScreen
        )
    }

    /// What the kiosk tells the patient (Japanese).
    pub fn message_ja(self) -> &'static str {
        match self {
            Finding::NoFace => "顔が見つかりません。カメラの正面に立ってください。",
            Finding::SeveralFaces => "複数の顔が映っています。お一人でカメラの前に立ってください。",
            Finding::TooSmall => "顔が小さすぎます。もう少しカメラに近づいてください。",
            Finding::CutOff => "顔の一部が画面の外に出ています。枠の中央に顔を合わせてください。",
            Finding::TooDark => "暗すぎます。明るい場所で、顔に光が当たるようにしてください。",
            Finding::TooBright => "明るすぎます。強い光が顔に当たらないようにしてください。",
            Finding::Backlit => "逆光です。後ろからの強い光を避けてください。",
            Finding::Blurred => "画像がぶれています。動かずにカメラを見てください。",
            Finding::PhotoOrScreen => "写真や画面ではなく、ご本人のお顔をカメラに向けてください。",
        }
    }

    /// The same message in English (logs, `oqs face compare`).
    pub fn message_en(self) -> &'static str {
        match self {
            Finding::NoFace => "no face found",
            Finding::SeveralFaces => "more than one face",
            Finding::TooSmall => "the face is too small",
            Finding::CutOff => "the face is cut off at the edge of the picture",
            Finding::TooDark => "the face is too dark",
            Finding::TooBright => "the face is too bright",
            Finding::Backlit => "backlit: the face is much darker than the background",
            Finding::Blurred => "the face is blurred",
            Finding::PhotoOrScreen => "a photo or a screen, not a live face",
        }
    }
}

/// Thresholds of the checks. A camera frame and a card photo are held to different sizes and sharpness:
/// the chip photo is small and compressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityPolicy {
    /// Minimum distance between the eyes, in picture pixels.
    pub min_eye_distance: f32,
    /// A second face at least this fraction of the main face's width counts as another person.
    pub second_face_ratio: f32,
    /// A face box may leave the picture by this fraction of its size before it counts as cut off.
    pub cut_off_margin: f32,
    /// Mean face brightness (0–255) below which the face is too dark.
    pub min_face_luma: f32,
    /// Mean face brightness above which the face is too bright.
    pub max_face_luma: f32,
    /// Share of burnt-out face pixels (≥ 250) above which the face is too bright.
    pub max_saturated: f32,
    /// Backlit when the surroundings are brighter than the face by this much (0–255) …
    pub backlight_gap: f32,
    /// … and the face is darker than this.
    pub backlight_face_luma: f32,
    /// Minimum sharpness (variance of the Laplacian of the aligned grey face).
    pub min_sharpness: f32,
    /// Whether the face must be a live face, not a photo or a screen ([`crate::liveness`]).
    pub check_liveness: bool,
}

impl QualityPolicy {
    /// For camera frames at the kiosk.
    pub const CAMERA: QualityPolicy = QualityPolicy {
        min_eye_distance: 24.0,
        second_face_ratio: 0.5,
        cut_off_margin: 0.08,
        min_face_luma: 55.0,
        max_face_luma: 210.0,
        max_saturated: 0.25,
        backlight_gap: 70.0,
        backlight_face_luma: 110.0,
        min_sharpness: 40.0,
        check_liveness: true,
    };

    /// For the card photo (small, JPEG 2000 compressed, taken in good light).
    pub const PHOTO: QualityPolicy = QualityPolicy {
        min_eye_distance: 14.0,
        min_sharpness: 15.0,
        check_liveness: false,
        ..QualityPolicy::CAMERA
    };
}

/// The measures behind the findings, for the evaluation report and the logs (no picture content).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    pub faces: usize,
    pub eye_distance: f32,
    pub face_luma: f32,
    pub surround_luma: f32,
    pub saturated: f32,
    pub sharpness: f32,
}

/// Mean brightness of the whole picture (used when no face is found, to say "too dark" rather than "no
/// face" when that is the reason).
pub fn mean_luma(img: &RgbImage) -> f32 {
    let n = img.pixels().len().max(1) as f32;
    img.pixels().map(|p| luma(p.0)).sum::<f32>() / n
}

fn luma(p: [u8; 3]) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

/// The findings for a picture whose faces were detected; `main` is the face that would be matched.
pub(crate) fn assess(
    img: &RgbImage,
    faces: &[Face],
    main: &Face,
    aligned: Option<&RgbImage>,
    policy: &QualityPolicy,
) -> (Vec<Finding>, Measures) {
    let mut findings = Vec::new();
    let (w, h) = (img.width() as f32, img.height() as f32);
    let others = faces
        .iter()
        .filter(|f| *f != main && f.width() >= policy.second_face_ratio * main.width())
        .count();
    if others > 0 {
        findings.push(Finding::SeveralFaces);
    }
    let eye_distance = main.eye_distance();
    if eye_distance < policy.min_eye_distance {
        findings.push(Finding::TooSmall);
    }
    let [x, y, bw, bh] = main.bbox;
    let (mx, my) = (policy.cut_off_margin * bw, policy.cut_off_margin * bh);
    let landmark_out = main
        .landmarks
        .iter()
        .any(|l| l[0] < 0.0 || l[1] < 0.0 || l[0] >= w || l[1] >= h);
    if x < -mx || y < -my || x + bw > w + mx || y + bh > h + my || landmark_out {
        findings.push(Finding::CutOff);
    }

    // Brightness of the central part of the face box (skin, not hair or background) and of a frame
    // around the face box as large as the face.
    let clamp = |v: f32, hi: f32| v.clamp(0.0, hi) as u32;
    let (fx0, fy0) = (clamp(x + 0.2 * bw, w), clamp(y + 0.2 * bh, h));
    let (fx1, fy1) = (clamp(x + 0.8 * bw, w), clamp(y + 0.8 * bh, h));
    let (sx0, sy0) = (clamp(x - bw, w), clamp(y - 0.5 * bh, h));
    let (sx1, sy1) = (clamp(x + 2.0 * bw, w), clamp(y + 1.5 * bh, h));
    let (mut face_sum, mut face_n, mut saturated) = (0f32, 0u32, 0u32);
    let (mut sur_sum, mut sur_n) = (0f32, 0u32);
    for yy in sy0..sy1 {
        for xx in sx0..sx1 {
            let p = img.get_pixel(xx, yy).0;
            let l = luma(p);
            let inside_face = xx >= fx0 && xx < fx1 && yy >= fy0 && yy < fy1;
            let inside_box =
                xx as f32 >= x && (xx as f32) < x + bw && yy as f32 >= y && (yy as f32) < y + bh;
            if inside_face {
                face_sum += l;
                face_n += 1;
                if p.iter().all(|&c| c >= 250) {
                    saturated += 1;
                }
            } else if !inside_box {
                sur_sum += l;
                sur_n += 1;
            }
        }
    }
    let face_luma = if face_n > 0 {
        face_sum / face_n as f32
    } else {
        0.0
    };
    let surround_luma = if sur_n > 0 {
        sur_sum / sur_n as f32
    } else {
        face_luma
    };
    let saturated = if face_n > 0 {
        saturated as f32 / face_n as f32
    } else {
        0.0
    };
    let backlit =
        surround_luma - face_luma > policy.backlight_gap && face_luma < policy.backlight_face_luma;
    if backlit {
        findings.push(Finding::Backlit);
    } else if face_luma < policy.min_face_luma {
        findings.push(Finding::TooDark);
    }
    if face_luma > policy.max_face_luma || saturated > policy.max_saturated {
        findings.push(Finding::TooBright);
    }
    let sharpness = aligned.map(sharpness).unwrap_or(0.0);
    if aligned.is_some() && sharpness < policy.min_sharpness {
        findings.push(Finding::Blurred);
    }
    (
        findings,
        Measures {
            faces: faces.len(),
            eye_distance,
            face_luma,
            surround_luma,
            saturated,
            sharpness,
        },
    )
}

/// Variance of the 4-neighbour Laplacian over the central part of the aligned grey face.
pub fn sharpness(aligned: &RgbImage) -> f32 {
    let gray: GrayImage = image::imageops::grayscale(aligned);
    let (w, h) = gray.dimensions();
    let g = |x: u32, y: u32| f32::from(gray.get_pixel(x, y).0[0]);
    let (x0, x1, y0, y1) = (w / 6, w - w / 6, h / 6, h - h / 12);
    let mut values = Vec::new();
    for y in y0.max(1)..y1.min(h - 1) {
        for x in x0.max(1)..x1.min(w - 1) {
            values.push(g(x - 1, y) + g(x + 1, y) + g(x, y - 1) + g(x, y + 1) - 4.0 * g(x, y));
        }
    }
    if values.is_empty() {
        return 0.0;
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n
}
