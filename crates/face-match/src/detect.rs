//! Face detection with YuNet: boxes and 5 landmarks (right eye, left eye, nose tip, mouth corners, as seen
//! in the picture: first the eye on the picture's left).
//!
//! The picture is scaled to fit 640×640 without changing its aspect and padded at the right and bottom
//! (a letterbox), fed as BGR 0–255, and the 12 outputs (class score, objectness, box, landmarks at strides
//! 8, 16 and 32) are decoded as the OpenCV implementation does: score = √(cls · obj), centre =
//! (column + dx) · stride, size = exp(dw) · stride, landmark = (column + kx) · stride. Overlapping boxes are
//! removed by non-maximum suppression. A 320 letterbox was tried and gave a false accept on small faces
//! cropped from a group photo, so 640 it is.

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::FaceError;
use crate::models::Runnable;

/// The side of the square the detector sees.
pub const INPUT_SIDE: usize = 640;
/// Detections below this score are dropped (OpenCV's sample uses 0.9 for display; 0.6 keeps faces that are
/// dark or blurred so that the quality checks, not the detector, name the problem).
pub const SCORE_THRESHOLD: f32 = 0.6;
const NMS_IOU: f32 = 0.3;
const STRIDES: [usize; 3] = [8, 16, 32];

/// One detected face, in the picture's pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// Left, top, width, height.
    pub bbox: [f32; 4],
    /// (x, y) of right eye, left eye, nose tip, right and left mouth corners (picture's left first).
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

impl Face {
    pub fn width(&self) -> f32 {
        self.bbox[2]
    }

    pub fn height(&self) -> f32 {
        self.bbox[3]
    }

    /// Distance between the eyes in pixels.
    pub fn eye_distance(&self) -> f32 {
        let [a, b] = [self.landmarks[0], self.landmarks[1]];
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
    }

    fn iou(&self, other: &Face) -> f32 {
        let [ax, ay, aw, ah] = self.bbox;
        let [bx, by, bw, bh] = other.bbox;
        let ix = (ax + aw).min(bx + bw) - ax.max(bx);
        let iy = (ay + ah).min(by + bh) - ay.max(by);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        inter / (aw * ah + bw * bh - inter)
    }
}

pub(crate) struct Detector {
    model: Runnable,
    /// Output positions of cls, obj, bbox, kps for each stride.
    outputs: [[usize; 4]; 3],
}

impl Detector {
    pub(crate) fn new(model: Runnable, output_names: &[String]) -> Result<Self, FaceError> {
        let find = |name: String| {
            output_names
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| FaceError::Model {
                    file: crate::models::DETECTOR_FILE.into(),
                    detail: format!("no output named {name}"),
                })
        };
        let mut outputs = [[0; 4]; 3];
        for (i, s) in STRIDES.iter().enumerate() {
            for (j, kind) in ["cls", "obj", "bbox", "kps"].iter().enumerate() {
                outputs[i][j] = find(format!("{kind}_{s}"))?;
            }
        }
        Ok(Self { model, outputs })
    }

    /// Every face scoring at least [`SCORE_THRESHOLD`], best first.
    pub(crate) fn detect(&self, img: &RgbImage) -> Result<Vec<Face>, FaceError> {
        let (w, h) = img.dimensions();
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let scale = INPUT_SIDE as f32 / w.max(h) as f32;
        let (sw, sh) = (
            ((w as f32 * scale).round() as u32).clamp(1, INPUT_SIDE as u32),
            ((h as f32 * scale).round() as u32).clamp(1, INPUT_SIDE as u32),
        );
        let resized;
        let scaled = if (sw, sh) == (w, h) {
            img
        } else {
            resized = image::imageops::resize(img, sw, sh, image::imageops::FilterType::Triangle);
            &resized
        };
        let side = INPUT_SIDE;
        let mut input = vec![0f32; 3 * side * side];
        for (x, y, p) in scaled.enumerate_pixels() {
            let at = y as usize * side + x as usize;
            // BGR planes.
            input[at] = f32::from(p[2]);
            input[side * side + at] = f32::from(p[1]);
            input[2 * side * side + at] = f32::from(p[0]);
        }
        let tensor = Tensor::from_shape(&[1, 3, side, side], &input).map_err(run_error)?;
        let out = self.model.run(tvec!(tensor.into())).map_err(run_error)?;
        let mut faces = Vec::new();
        for (i, &stride) in STRIDES.iter().enumerate() {
            let view = |j: usize| -> Result<&[f32], FaceError> {
                out.get(self.outputs[i][j])
                    .ok_or_else(|| run_error(anyhow::anyhow!("missing output")))?
                    .try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>())
                    .map_err(run_error)
            };
            let (cls, obj, bbox, kps) = (view(0)?, view(1)?, view(2)?, view(3)?);
            let cols = side / stride;
            let cells = cols * cols;
            if cls.len() < cells
                || obj.len() < cells
                || bbox.len() < 4 * cells
                || kps.len() < 10 * cells
            {
                return Err(run_error(anyhow::anyhow!("unexpected output sizes")));
            }
            for idx in 0..cells {
                let score = (cls[idx].clamp(0.0, 1.0) * obj[idx].clamp(0.0, 1.0)).sqrt();
                if score < SCORE_THRESHOLD {
                    continue;
                }
                let (r, c) = ((idx / cols) as f32, (idx % cols) as f32);
                let s = stride as f32;
                let b = &bbox[4 * idx..4 * idx + 4];
                let cx = (c + b[0]) * s;
                let cy = (r + b[1]) * s;
                let bw = b[2].exp() * s;
                let bh = b[3].exp() * s;
                let k = &kps[10 * idx..10 * idx + 10];
                let mut landmarks = [[0f32; 2]; 5];
                for (n, l) in landmarks.iter_mut().enumerate() {
                    *l = [(k[2 * n] + c) * s / scale, (k[2 * n + 1] + r) * s / scale];
                }
                faces.push(Face {
                    bbox: [
                        (cx - bw / 2.0) / scale,
                        (cy - bh / 2.0) / scale,
                        bw / scale,
                        bh / scale,
                    ],
                    landmarks,
                    score,
                });
            }
        }
        faces.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut kept: Vec<Face> = Vec::new();
        for f in faces {
            if kept.iter().all(|k| k.iou(&f) <= NMS_IOU) {
                kept.push(f);
            }
        }
        Ok(kept)
    }
}

pub(crate) fn run_error(e: impl std::fmt::Display) -> FaceError {
    FaceError::Inference(e.to_string())
}
