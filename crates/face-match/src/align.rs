//! Alignment: the similarity transform (rotation, uniform scale, translation) that carries the 5 detected
//! landmarks closest, in least squares, to the standard 112×112 ArcFace template, then a bilinear warp.
//! SFace was trained on faces aligned this way.

use image::{Rgb, RgbImage};

/// Side of the aligned face.
pub const ALIGNED_SIDE: u32 = 112;

/// Where the eyes, nose tip and mouth corners sit in an aligned 112×112 face.
pub const TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// `[a, -b, tx; b, a, ty]`: maps a picture point to the aligned face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// The least-squares similarity from `src` to `dst` (closed form over the centred points).
    pub fn estimate(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Option<Self> {
        let n = src.len() as f32;
        let mean = |p: &[[f32; 2]; 5]| {
            let (sx, sy) = p.iter().fold((0.0, 0.0), |(x, y), q| (x + q[0], y + q[1]));
            [sx / n, sy / n]
        };
        let (ms, md) = (mean(src), mean(dst));
        let (mut dot, mut cross, mut norm) = (0f32, 0f32, 0f32);
        for (s, d) in src.iter().zip(dst) {
            let (sx, sy) = (s[0] - ms[0], s[1] - ms[1]);
            let (dx, dy) = (d[0] - md[0], d[1] - md[1]);
            dot += sx * dx + sy * dy;
            cross += sx * dy - sy * dx;
            norm += sx * sx + sy * sy;
        }
        if norm <= f32::EPSILON {
            return None;
        }
        let (a, b) = (dot / norm, cross / norm);
        Some(Self {
            a,
            b,
            tx: md[0] - (a * ms[0] - b * ms[1]),
            ty: md[1] - (b * ms[0] + a * ms[1]),
        })
    }

    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.tx,
            self.b * p[0] + self.a * p[1] + self.ty,
        ]
    }

    fn invert(&self, q: [f32; 2]) -> [f32; 2] {
        let det = self.a * self.a + self.b * self.b;
        let (x, y) = (q[0] - self.tx, q[1] - self.ty);
        [
            (self.a * x + self.b * y) / det,
            (-self.b * x + self.a * y) / det,
        ]
    }
}

/// The aligned 112×112 face, or `None` when the landmarks are degenerate.
pub fn align(img: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<RgbImage> {
    let t = Similarity::estimate(landmarks, &TEMPLATE)?;
    let mut out = RgbImage::new(ALIGNED_SIDE, ALIGNED_SIDE);
    for (u, v, px) in out.enumerate_pixels_mut() {
        let [x, y] = t.invert([u as f32, v as f32]);
        *px = bilinear(img, x, y);
    }
    Some(out)
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = img.dimensions();
    if !(x > -1.0 && y > -1.0 && x < w as f32 && y < h as f32) {
        return Rgb([0, 0, 0]);
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xi: f32, yi: f32| -> [f32; 3] {
        if xi < 0.0 || yi < 0.0 || xi >= w as f32 || yi >= h as f32 {
            return [0.0; 3];
        }
        let p = img.get_pixel(xi as u32, yi as u32).0;
        [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
    };
    let (p00, p10, p01, p11) = (
        at(x0, y0),
        at(x0 + 1.0, y0),
        at(x0, y0 + 1.0),
        at(x0 + 1.0, y0 + 1.0),
    );
    let mut c = [0u8; 3];
    for i in 0..3 {
        let top = p00[i] * (1.0 - fx) + p10[i] * fx;
        let bottom = p01[i] * (1.0 - fx) + p11[i] * fx;
        c[i] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_similarity() {
        let t = Similarity {
            a: 0.8,
            b: 0.3,
            tx: 5.0,
            ty: -7.0,
        };
        let src = [
            [10.0, 20.0],
            [50.0, 22.0],
            [30.0, 40.0],
            [15.0, 60.0],
            [45.0, 61.0],
        ];
        let dst = src.map(|p| t.apply(p));
        let e = Similarity::estimate(&src, &dst).unwrap();
        for (got, want) in [(e.a, t.a), (e.b, t.b), (e.tx, t.tx), (e.ty, t.ty)] {
            assert!((got - want).abs() < 1e-3, "{e:?}");
        }
        let back = e.invert(e.apply([3.0, 4.0]));
        assert!((back[0] - 3.0).abs() < 1e-3 && (back[1] - 4.0).abs() < 1e-3);
    }

    #[test]
    fn degenerate_landmarks_give_none() {
        assert!(Similarity::estimate(&[[1.0, 1.0]; 5], &TEMPLATE).is_none());
    }
}
