//! Offline 1:1 face matching for the kiosk: is the person in front of the camera the person on the card
//! photo?
//!
//! The pipeline, all in pure Rust (tract) and all in memory:
//! 1. [`picture::decode`]: JPEG / PNG frames and the JPEG 2000 card photo into RGB.
//! 2. [`detect`]: YuNet finds faces with 5 landmarks (640 letterbox).
//! 3. [`quality`]: checks before matching — no face, several faces, too small, cut off, too dark, too
//!    bright, backlit, blurred — each with a message for the patient ([`Finding::message_ja`]); for
//!    camera frames, [`liveness`]: a photo or a screen held up to the camera is refused.
//! 4. [`align`]: a similarity transform carries the landmarks onto the 112×112 ArcFace template.
//! 5. SFace turns the aligned face into a 128-d vector, L2-normalised; two faces are compared by cosine
//!    similarity, and [`MATCH_THRESHOLD`] decides.
//!
//! The models are loaded once ([`FaceMatcher::load`]) from files put in place at set-up time and checked
//! against their SHA-256 ([`models`]). Camera input is behind [`camera::FrameSource`].
//!
//! Nothing here writes a picture, a face or an embedding anywhere, and nothing logs them; `Debug` of the
//! types that carry them shows sizes only.

pub mod align;
pub mod camera;
pub mod detect;
pub mod liveness;
pub mod models;
pub mod picture;
pub mod quality;
pub mod replay;

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

pub use detect::Face;
pub use quality::{Finding, Measures, QualityPolicy};

/// Two faces whose cosine similarity is at least this are judged the same person.
///
/// OpenCV publishes 0.363 for SFace (its LFW operating point). On the labelled photos gathered here
/// (`docs/face-matching.md`: 10 same-person and 68 different-person pairs, far too few to measure error
/// rates) same-person pairs scored 0.67–0.89 (0.997 for a near-duplicate) and different-person pairs at
/// most 0.315. The threshold sits at 0.45: above OpenCV's, because a false accept (someone checking in with
/// another person's card) costs more at a reception desk than a false reject (the patient looks again, or
/// uses the PIN); and well below the lowest same-person score, because kiosk frames and chip photos are
/// poorer than these portraits.
pub const MATCH_THRESHOLD: f32 = 0.45;

/// Failures of the face matcher. A face that cannot be matched is not an error: it is a [`Finding`].
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(
        "the face models are not installed (looked in {looked_in}); run scripts/fetch-face-models.sh or set OQS_FACE_MODELS"
    )]
    ModelsMissing { looked_in: String },
    #[error("could not read the face model {path}: {source}")]
    ModelRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the face model {path} is not the expected file (SHA-256 {found}, expected {expected}); fetch it again"
    )]
    ModelDigest {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("the face model {file} could not be loaded: {detail}")]
    Model { file: String, detail: String },
    #[error("the picture could not be read: {0}")]
    Unreadable(String),
    #[error("face inference failed: {0}")]
    Inference(String),
    #[error("the camera failed: {0}")]
    Camera(String),
}

/// A face embedding: 128 numbers, L2-normalised. It describes a person: never logged or stored.
#[derive(Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Cosine similarity (both vectors are unit length), in −1 … 1.
    pub fn similarity(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Embedding({} dims)", self.0.len())
    }
}

/// What was found in one picture.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Every face detected, best score first.
    pub faces: Vec<Face>,
    /// The face that would be matched (the largest).
    pub main: Option<Face>,
    pub findings: Vec<Finding>,
    pub measures: Measures,
    /// The liveness measures of the main face, when the policy asks for them and the face could be
    /// examined.
    pub liveness: Option<liveness::LivenessMeasures>,
    /// The embedding of the main face, unless a finding blocks any decision.
    pub embedding: Option<Embedding>,
}

impl Analysis {
    /// No finding at all: good enough to match at the kiosk.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.embedding.is_some()
    }
}

/// The outcome of comparing two faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The same person.
    Same,
    /// Different people.
    Different,
    /// No decision: a picture has no usable face (see the findings).
    Undecided,
}

/// A 1:1 comparison of two pictures.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub similarity: Option<f32>,
    pub decision: Decision,
    pub first: Analysis,
    pub second: Analysis,
}

/// The models, loaded once. `Send + Sync`: one matcher can serve every reader.
pub struct FaceMatcher {
    detector: detect::Detector,
    recognizer: models::Runnable,
}

impl std::fmt::Debug for FaceMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaceMatcher")
    }
}

impl FaceMatcher {
    /// Loads both models from `dir`, checking their digests.
    pub fn load(dir: &Path) -> Result<Self, FaceError> {
        let side = detect::INPUT_SIDE;
        let detector = models::load(
            dir,
            models::DETECTOR_FILE,
            models::DETECTOR_SHA256,
            [1, 3, side, side],
        )?;
        let names = output_names(&detector);
        let detector = detect::Detector::new(detector, &names)?;
        let a = align::ALIGNED_SIDE as usize;
        let recognizer = models::load(
            dir,
            models::RECOGNIZER_FILE,
            models::RECOGNIZER_SHA256,
            [1, 3, a, a],
        )?;
        Ok(Self {
            detector,
            recognizer,
        })
    }

    /// Loads the models from the first folder of [`models::default_model_dirs`] that has them.
    pub fn load_default() -> Result<Self, FaceError> {
        Self::load(&models::find_model_dir()?)
    }

    /// Every face in the picture, best first.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Face>, FaceError> {
        self.detector.detect(img)
    }

    /// The 128-d embedding of an aligned 112×112 face.
    pub fn embed_aligned(&self, aligned: &RgbImage) -> Result<Embedding, FaceError> {
        let side = align::ALIGNED_SIDE as usize;
        let mut input = vec![0f32; 3 * side * side];
        for (x, y, p) in aligned.enumerate_pixels() {
            let at = y as usize * side + x as usize;
            for c in 0..3 {
                input[c * side * side + at] = f32::from(p[c]);
            }
        }
        let tensor = Tensor::from_shape(&[1, 3, side, side], &input).map_err(detect::run_error)?;
        let out = self
            .recognizer
            .run(tvec!(tensor.into()))
            .map_err(detect::run_error)?;
        let v = out
            .first()
            .ok_or_else(|| FaceError::Inference("no embedding output".into()))?
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>())
            .map_err(detect::run_error)?
            .to_vec();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return Err(FaceError::Inference("the embedding is empty".into()));
        }
        Ok(Embedding(v.into_iter().map(|x| x / norm).collect()))
    }

    /// Detects, checks quality, aligns and embeds the main face of a picture.
    pub fn analyze(&self, img: &RgbImage, policy: &QualityPolicy) -> Result<Analysis, FaceError> {
        let faces = self.detect(img)?;
        let Some(main) = faces
            .iter()
            .max_by(|a, b| (a.width() * a.height()).total_cmp(&(b.width() * b.height())))
            .copied()
        else {
            let luma = quality::mean_luma(img);
            let mut findings = vec![Finding::NoFace];
            if luma < policy.min_face_luma * 0.6 {
                findings.push(Finding::TooDark);
            } else if luma > policy.max_face_luma + 20.0 {
                findings.push(Finding::TooBright);
            }
            return Ok(Analysis {
                faces,
                main: None,
                findings,
                measures: Measures::default(),
                liveness: None,
                embedding: None,
            });
        };
        let aligned = align::align(img, &main.landmarks);
        let (mut findings, measures) =
            quality::assess(img, &faces, &main, aligned.as_ref(), policy);
        // A face that cannot be matched anyway (too small, cut off, …) is not examined: the patient is
        // told what to change first.
        let liveness = (policy.check_liveness && !findings.iter().any(|f| f.blocks_decision()))
            .then(|| liveness::measure(img, &main));
        if liveness.is_some_and(|m| m.is_presentation_attack()) {
            findings.insert(0, Finding::PhotoOrScreen);
        }
        let embedding = match &aligned {
            Some(a) if !findings.iter().any(|f| f.blocks_decision()) => {
                Some(self.embed_aligned(a)?)
            }
            _ => None,
        };
        Ok(Analysis {
            faces,
            main: Some(main),
            findings,
            measures,
            liveness,
            embedding,
        })
    }

    /// Decodes and analyses a picture given as bytes (JPEG, PNG or JPEG 2000).
    pub fn analyze_bytes(
        &self,
        bytes: &[u8],
        policy: &QualityPolicy,
    ) -> Result<Analysis, FaceError> {
        self.analyze(&picture::decode(bytes)?, policy)
    }

    /// Compares two analysed pictures.
    pub fn decide(first: Analysis, second: Analysis) -> Comparison {
        let similarity = match (&first.embedding, &second.embedding) {
            (Some(a), Some(b)) => Some(a.similarity(b)),
            _ => None,
        };
        let decision = match similarity {
            Some(s) if s >= MATCH_THRESHOLD => Decision::Same,
            Some(_) => Decision::Different,
            None => Decision::Undecided,
        };
        Comparison {
            similarity,
            decision,
            first,
            second,
        }
    }

    /// A full 1:1 verification of two pictures.
    pub fn compare(
        &self,
        first: &RgbImage,
        first_policy: &QualityPolicy,
        second: &RgbImage,
        second_policy: &QualityPolicy,
    ) -> Result<Comparison, FaceError> {
        Ok(Self::decide(
            self.analyze(first, first_policy)?,
            self.analyze(second, second_policy)?,
        ))
    }
}

fn output_names(model: &models::Runnable) -> Vec<String> {
    let m = model.model();
    m.output_outlets()
        .map(|outs| {
            outs.iter()
                .map(|o| {
                    m.outlet_label(*o)
                        .map(str::to_owned)
                        .unwrap_or_else(|| m.node(o.node).name.clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A passport-style 3:4 portrait around `face`, `width` pixels wide: the face fills about half the width,
/// as on a My Number Card photo. Used to make card photos for virtual cards and tests; parts outside the
/// picture are filled with grey.
pub fn portrait_crop(img: &RgbImage, face: &Face, width: u32) -> RgbImage {
    let [x, y, w, h] = face.bbox;
    let crop_w = w / 0.55;
    let crop_h = crop_w * 4.0 / 3.0;
    let cx = x + w / 2.0;
    let top = y + h / 2.0 - crop_h * 0.45;
    let height = width * 4 / 3;
    let scale = crop_w / width as f32;
    let mut out = RgbImage::from_pixel(width, height, image::Rgb([128, 128, 128]));
    for (u, v, px) in out.enumerate_pixels_mut() {
        let sx = cx - crop_w / 2.0 + (u as f32 + 0.5) * scale;
        let sy = top + (v as f32 + 0.5) * scale;
        if sx >= 0.0 && sy >= 0.0 && (sx as u32) < img.width() && (sy as u32) < img.height() {
            *px = *img.get_pixel(sx as u32, sy as u32);
        }
    }
    // Nearest-neighbour sampling above aliases when shrinking a lot; a light blur evens it out.
    if scale > 2.0 {
        out = image::imageops::blur(&out, (scale / 4.0).min(1.5));
    }
    out
}
