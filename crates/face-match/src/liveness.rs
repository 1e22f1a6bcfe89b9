//! Presentation-attack detection: is the face in front of the camera a live face, or a photo or a screen
//! held up to it?
//!
//! No trained anti-spoofing model can be had here (no PyPI package reachable from this project ships one:
//! see `docs/face-matching.md`), so the check is a cue that follows from how a replay is made, measured
//! on the face itself at the camera's own resolution. A screen is a grid of red, green and blue
//! sub-pixels and a print is a grid of ink dots; re-photographed, either leaves narrow peaks in the
//! spectrum of the face (the grid itself, or the moiré it makes with the camera's pixels), while skin, hair
//! and eyes spread their energy over the spectrum.
//!
//! The measure, **periodicity**: the inner face (a square of 0.8 face widths, at most 160 pixels, never
//! resampled), in luma and in two colour differences, goes through a Hann window and a 2-D FFT; each bin
//! in the band 0.09–0.45 cycles/pixel is divided by the mean of its ring of equal frequency, and the
//! measure is the mean of the 20 largest of these ratios, in the channel where it is highest. Left out
//! are the bins next to the axes (a camera's scaler and interlacing leave their lines there: one labelled
//! photo has such a line), next to the multiples of 1/8 (JPEG's blocks; 1/16 in colour, stored at half
//! resolution) and above 0.45 (demosaicing).
//!
//! What it cannot see: a grid finer than the camera resolves (a high-density phone screen or a fine
//! print held far enough away) leaves no peak; the evaluation shows how many such replays pass.
//!
//! The threshold was set on live faces only (the labelled photos and their darkened, brightened, halved
//! and recompressed versions), with a margin; the replays were not looked at to set it. The check costs
//! about a millisecond per frame.

use image::RgbImage;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::detect::Face;

/// A face whose periodicity is above this is taken for a photo or a screen: the highest live face of the
/// evaluation (14.6, `docs/face-matching.md`) with a fifth more as margin.
pub const PERIODICITY_LIMIT: f32 = 18.0;
/// How many of the largest ratios are averaged.
const PEAKS: usize = 20;

/// The side of the largest square of the face that is examined, in picture pixels.
const MAX_SIDE: usize = 160;
/// Below this side the face is too small for the cue to mean anything, and it is not examined.
const MIN_SIDE: usize = 24;
/// The examined band, in cycles per pixel.
const BAND: (f32, f32) = (0.09, 0.49);
/// Frequencies above this on either axis are left out (cycles per pixel).
const NYQUIST_EDGE: f32 = 0.45;

/// The liveness measures of one face (numbers only, no picture content).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LivenessMeasures {
    /// Mean of the 20 largest bin-to-ring ratios (see the module documentation); 0 when not measured.
    pub periodicity: f32,
    /// Where in the face spectrum the peak is, in cycles per pixel (x, y).
    pub peak_at: [f32; 2],
    /// The channel with the highest periodicity.
    pub channel: Channel,
    /// The side of the examined square, in picture pixels (0: the face was too small to examine).
    pub side: u32,
}

impl LivenessMeasures {
    /// True when the measures point to a photo or a screen.
    pub fn is_presentation_attack(&self) -> bool {
        self.periodicity > PERIODICITY_LIMIT
    }
}

/// Measures the face `face` of the picture `img`.
pub fn measure(img: &RgbImage, face: &Face) -> LivenessMeasures {
    let [x, y, w, h] = face.bbox;
    // The inner face: from the eyebrows to the mouth, between the cheeks; clothing and background, which
    // may be striped, stay out.
    let side = (0.8 * w.min(h)).floor().max(0.0) as usize;
    let side = side.min(MAX_SIDE);
    if side < MIN_SIDE {
        return LivenessMeasures::default();
    }
    let cx = x + w / 2.0;
    let cy = y + h * 0.55;
    let x0 = (cx - side as f32 / 2.0).round() as i64;
    let y0 = (cy - side as f32 / 2.0).round() as i64;
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    let n = side;
    let hann: Vec<f32> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / n as f32).cos())
        .collect();
    let mut best = LivenessMeasures::default();
    for channel in Channel::ALL {
        let mut values = Vec::with_capacity(n * n);
        for v in 0..n as i64 {
            for u in 0..n as i64 {
                let p = img
                    .get_pixel(
                        (x0 + u).clamp(0, iw - 1) as u32,
                        (y0 + v).clamp(0, ih - 1) as u32,
                    )
                    .0
                    .map(f32::from);
                values.push(channel.of(p));
            }
        }
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        let mut data: Vec<Complex32> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| Complex32::new((v - mean) * hann[i % n] * hann[i / n], 0.0))
            .collect();
        let (periodicity, peak_at) = spectral_peak(&mut data, n, channel.block());
        if periodicity > best.periodicity {
            best = LivenessMeasures {
                periodicity,
                peak_at,
                channel,
                side: n as u32,
            };
        }
    }
    best.side = n as u32;
    best
}

/// Which part of the colour is examined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Brightness.
    #[default]
    Luma,
    /// Red against brightness: a screen's red stripes and a print's cyan dots.
    RedDifference,
    /// Blue against brightness: a screen's blue stripes and a print's yellow dots.
    BlueDifference,
}

impl Channel {
    const ALL: [Channel; 3] = [
        Channel::Luma,
        Channel::RedDifference,
        Channel::BlueDifference,
    ];

    fn of(self, p: [f32; 3]) -> f32 {
        let y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        match self {
            Channel::Luma => y,
            Channel::RedDifference => p[0] - y,
            Channel::BlueDifference => p[2] - y,
        }
    }

    /// The period of JPEG's blocks in this channel (colour is stored at half resolution).
    fn block(self) -> f32 {
        match self {
            Channel::Luma => 8.0,
            _ => 16.0,
        }
    }
}

/// 2-D FFT of the `n`×`n` row-major `data` in place, then the largest bin-to-ring ratio in [`BAND`].
fn spectral_peak(data: &mut [Complex32], n: usize, block: f32) -> (f32, [f32; 2]) {
    let mut planner = FftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(n);
    for row in data.chunks_exact_mut(n) {
        fft.process(row);
    }
    let mut column = vec![Complex32::new(0.0, 0.0); n];
    for c in 0..n {
        for r in 0..n {
            column[r] = data[r * n + c];
        }
        fft.process(&mut column);
        for r in 0..n {
            data[r * n + c] = column[r];
        }
    }
    // Signed frequency of index i, in cycles per pixel.
    let freq = |i: usize| -> f32 {
        let i = i as f32;
        let n = n as f32;
        if i <= n / 2.0 { i / n } else { (i - n) / n }
    };
    // Near a multiple of 1/8 (JPEG's block grid), or near the Nyquist frequency (where a camera's
    // demosaicing and interlacing leave their own lines), on either axis: left out.
    let left_out = |f: f32| -> bool {
        let k = (f.abs() * block).round();
        (k >= 1.0 && (f.abs() - k / block).abs() * n as f32 <= 2.0)
            || f.abs() > NYQUIST_EDGE
            || f.abs() * n as f32 <= 1.0
    };
    let power: Vec<f32> = data.iter().map(|z| z.norm_sqr()).collect();
    let rings = n / 2 + 1;
    let mut ring_sum = vec![0f64; rings];
    let mut ring_count = vec![0u32; rings];
    let mut bins = Vec::with_capacity(n * n / 2);
    for r in 0..n {
        for c in 0..n {
            let (fx, fy) = (freq(c), freq(r));
            let radius = (fx * fx + fy * fy).sqrt();
            if !(BAND.0..BAND.1).contains(&radius) {
                continue;
            }
            let ring = ((radius * n as f32).round() as usize).min(rings - 1);
            let power = power[r * n + c];
            ring_sum[ring] += f64::from(power);
            ring_count[ring] += 1;
            // The spectrum of a real picture is symmetric: one half is enough.
            let upper = fy > 0.0 || (fy == 0.0 && fx > 0.0);
            if upper && !left_out(fx) && !left_out(fy) {
                bins.push((ring, power, [fx, fy]));
            }
        }
    }
    // The largest ratios, with where the largest is.
    let mut ratios: Vec<(f32, [f32; 2])> = bins
        .into_iter()
        .filter(|b| ring_count[b.0] >= 8)
        .filter_map(|(ring, power, at)| {
            let mean = (ring_sum[ring] / f64::from(ring_count[ring])) as f32;
            (mean > 0.0).then_some((power / mean, at))
        })
        .collect();
    ratios.sort_by(|a, b| b.0.total_cmp(&a.0));
    let Some(&(_, at)) = ratios.first() else {
        return (0.0, [0.0; 2]);
    };
    let top = &ratios[..ratios.len().min(PEAKS)];
    (top.iter().map(|r| r.0).sum::<f32>() / PEAKS as f32, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_box(side: f32) -> Face {
        Face {
            bbox: [10.0, 10.0, side, side],
            landmarks: [[0.0; 2]; 5],
            score: 1.0,
        }
    }

    #[test]
    fn a_grid_is_periodic_and_noise_is_not() {
        let mut seed = 12345u32;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 64) as f32
        };
        let noisy = RgbImage::from_fn(300, 300, |_, _| {
            let v = 100 + noise() as u8;
            image::Rgb([v, v, v])
        });
        let m = measure(&noisy, &face_box(250.0));
        assert!(m.periodicity < 20.0, "noise: {m:?}");
        // A grid 2.7 pixels wide (not a multiple of 1/8), turned by 10°, over the same noise.
        let (sin, cos) = 10f32.to_radians().sin_cos();
        let grid = RgbImage::from_fn(300, 300, |x, y| {
            let phase = ((x as f32 * cos + y as f32 * sin) / 2.7).fract();
            let v = if phase < 0.5 { 150 } else { 90 } + noise() as u8 / 4;
            image::Rgb([v, v, v])
        });
        let m = measure(&grid, &face_box(250.0));
        assert!(m.is_presentation_attack(), "grid: {m:?}");
    }

    #[test]
    fn jpeg_block_lines_are_left_out() {
        // An 8-pixel grid (what JPEG blocks leave) is not taken for a screen.
        let blocks = RgbImage::from_fn(300, 300, |x, y| {
            let v = if x % 8 == 0 || y % 8 == 0 { 140 } else { 120 };
            image::Rgb([v, v, v])
        });
        assert!(!measure(&blocks, &face_box(250.0)).is_presentation_attack());
    }

    #[test]
    fn a_tiny_face_is_not_examined() {
        let img = RgbImage::from_pixel(100, 100, image::Rgb([128, 128, 128]));
        let m = measure(&img, &face_box(25.0));
        assert_eq!(m.side, 0);
        assert!(!m.is_presentation_attack());
    }
}
