//! Simulated presentation attacks, for the evaluation of [`crate::liveness`] and the tests: a live photo
//! printed on paper or shown on a screen, then re-photographed by the kiosk camera.
//!
//! Each replay follows the physics of the attack, step by step, with the parameters in the open:
//! - **print**: the ink cannot make black (paper still reflects where ink is thickest) and its colours are
//!   weaker; the printer lays the picture out as a clustered-dot screen per ink (cyan 15°, magenta 75°,
//!   yellow 0°, black 45°) with `dot_pitch` camera pixels between dots;
//! - **screen**: each screen pixel is three vertical stripes, red, green and blue, with a dark gap between
//!   them; the screen is `pixel_pitch` camera pixels per screen pixel, turned by `angle` degrees against
//!   the camera, with a reflection of the room (a bright gradient) on its glass;
//! - **the camera**: each camera pixel integrates the light over its own square (3×3 samples), the lens
//!   blurs a little, the sensor adds noise, and the frame is a JPEG at quality 85.
//!
//! Nothing here is used by the kiosk; it makes test pictures only.

use image::{Rgb, RgbImage};

/// How a print replay is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Print {
    /// Camera pixels between two dots of the halftone screen.
    pub dot_pitch: f32,
    /// Reflectance where the ink is darkest (0–1): 0.06 for a photo printer on glossy paper, 0.15 for an
    /// office printer on plain paper.
    pub ink_black: f32,
    /// Turn of the paper against the camera, in degrees.
    pub angle: f32,
    /// Seed of the sensor noise.
    pub seed: u32,
}

/// How a screen replay is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Screen {
    /// Camera pixels per screen pixel.
    pub pixel_pitch: f32,
    /// Turn of the screen against the camera, in degrees.
    pub angle: f32,
    /// Brightness (0–255) added at the brightest end of the glass reflection.
    pub glare: f32,
    /// Seed of the sensor noise.
    pub seed: u32,
}

const SAMPLES: u32 = 3;

/// The photo `img`, printed and re-photographed.
pub fn print(img: &RgbImage, p: Print) -> RgbImage {
    // Ink screens: angle of each of cyan, magenta, yellow (the black screen is folded into the three).
    let screens: [(f32, f32); 3] = [15f32, 75.0, 0.0].map(|a| a.to_radians().sin_cos());
    let black = p.ink_black.clamp(0.0, 0.9);
    let k = std::f32::consts::TAU / p.dot_pitch;
    let light = collect(img.dimensions(), p.angle, |u, v| {
        let src = sample(img, u, v);
        // Paper's weaker colours: each channel pulled a quarter of the way towards the grey.
        let grey = (src[0] + src[1] + src[2]) / 3.0;
        std::array::from_fn(|c| {
            // The ink coverage that makes the wanted reflectance, laid out as clustered dots.
            let coverage = 1.0 - to_linear(0.75 * src[c] + 0.25 * grey);
            let (sin, cos) = screens[c];
            let (a, b) = (cos * u + sin * v, -sin * u + cos * v);
            let spot = 0.5 - 0.25 * ((k * a).cos() + (k * b).cos());
            if spot < coverage { black } else { 1.0 }
        })
    });
    let (w, h) = img.dimensions();
    let out = RgbImage::from_fn(w, h, |x, y| {
        Rgb(light[(y * w + x) as usize].map(|a| to_byte(from_linear(a))))
    });
    camera(out, p.seed)
}

/// The photo `img`, shown on a screen and re-photographed.
pub fn screen(img: &RgbImage, s: Screen) -> RgbImage {
    let pitch = s.pixel_pitch.max(0.5);
    let light = collect(img.dimensions(), s.angle, |x, y| {
        // Screen coordinates, in screen pixels.
        let (u, v) = (x / pitch, y / pitch);
        let (pu, pv) = (u.floor(), v.floor());
        let (fu, fv) = (u - pu, v - pv);
        // The picture as the screen shows it: one colour per screen pixel.
        let src = sample(img, (pu + 0.5) * pitch, (pv + 0.5) * pitch);
        // Which sub-pixel stripe, and the dark gaps around it (fill factor 0.8).
        let stripe = ((fu * 3.0) as usize).min(2);
        let within = fu * 3.0 - stripe as f32;
        let lit = (0.1..0.9).contains(&within) && (0.05..0.95).contains(&fv);
        let mut out = [0f32; 3];
        if lit {
            // Three stripes share the pixel: each gives three times its channel's share.
            out[stripe] = to_linear(src[stripe]) * 3.0 / 0.8 / 0.9;
        }
        out
    });
    let (w, h) = img.dimensions();
    let out = RgbImage::from_fn(w, h, |x, y| {
        let glare = s.glare * (x as f32 / w as f32 + y as f32 / h as f32) / 2.0;
        Rgb(light[(y * w + x) as usize].map(|a| to_byte(from_linear(a.min(1.0)) + glare / 255.0)))
    });
    camera(out, s.seed)
}

/// The linear light each camera pixel of a `(w, h)` frame collects: the mean of `light` over the pixel's
/// square (3×3 samples), each sample taken where it falls on the paper or screen, which is turned by
/// `angle` degrees about the frame's centre.
fn collect((w, h): (u32, u32), angle: f32, light: impl Fn(f32, f32) -> [f32; 3]) -> Vec<[f32; 3]> {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (sin, cos) = angle.to_radians().sin_cos();
    let n = (SAMPLES * SAMPLES) as f32;
    let mut out = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0f32; 3];
            for sy in 0..SAMPLES {
                for sx in 0..SAMPLES {
                    let dx = x as f32 + (sx as f32 + 0.5) / SAMPLES as f32 - cx;
                    let dy = y as f32 + (sy as f32 + 0.5) / SAMPLES as f32 - cy;
                    let l = light(cx + cos * dx - sin * dy, cy + sin * dx + cos * dy);
                    for c in 0..3 {
                        acc[c] += l[c];
                    }
                }
            }
            out.push(acc.map(|a| a / n));
        }
    }
    out
}

/// The camera's lens blur, sensor noise and JPEG.
fn camera(img: RgbImage, seed: u32) -> RgbImage {
    let blurred = image::imageops::blur(&img, 0.6);
    let mut state = seed.max(1);
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        // Sum of four uniforms: roughly normal, σ ≈ 2.3 grey levels.
        (0..4)
            .map(|i| ((state >> (i * 8)) & 0xff) as f32)
            .sum::<f32>()
            / 4.0
            / 32.0
            - 4.0
    };
    let noisy = RgbImage::from_fn(blurred.width(), blurred.height(), |x, y| {
        let p = blurred.get_pixel(x, y).0;
        let n = noise();
        Rgb(p.map(|c| (f32::from(c) + n).round().clamp(0.0, 255.0) as u8))
    });
    jpeg(&noisy, 85)
}

/// `img` through a JPEG encoder at `quality` and back.
pub fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    if img.write_with_encoder(encoder).is_err() {
        return img.clone();
    }
    image::load_from_memory(&bytes).map_or_else(|_| img.clone(), |d| d.to_rgb8())
}

/// Bilinear sample of `img` at (x, y) in picture pixels, 0–1 per channel; outside the picture, a
/// mid-grey (the rest of the paper or of the screen).
fn sample(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width() as f32, img.height() as f32);
    if x < 0.0 || y < 0.0 || x >= w || y >= h {
        return [0.5; 3];
    }
    let (x, y) = ((x - 0.5).max(0.0), (y - 0.5).max(0.0));
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = (
        (x0 + 1).min(img.width() - 1),
        (y0 + 1).min(img.height() - 1),
    );
    let (tx, ty) = (x - x0 as f32, y - y0 as f32);
    let at = |xx: u32, yy: u32| img.get_pixel(xx, yy).0.map(|c| f32::from(c) / 255.0);
    let (a, b, c, d) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
    std::array::from_fn(|i| {
        (a[i] * (1.0 - tx) + b[i] * tx) * (1.0 - ty) + (c[i] * (1.0 - tx) + d[i] * tx) * ty
    })
}

fn to_linear(v: f32) -> f32 {
    v.clamp(0.0, 1.0).powf(2.2)
}

fn from_linear(v: f32) -> f32 {
    v.clamp(0.0, 1.0).powf(1.0 / 2.2)
}

fn to_byte(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}
