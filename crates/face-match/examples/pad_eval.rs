//! The presentation-attack evaluation behind `docs/face-matching.md`: every labelled photo as a live face
//! (as it is and in five camera-like variants) and as 10 simulated replays (5 prints, 5 screens, see
//! `face_match::replay`), each through the kiosk's own analysis (`QualityPolicy::CAMERA`).
//!
//!   cargo run --release -p face-match --example pad_eval
//!
//! Prints the periodicity of each class, APCER and BPCER at the threshold and around it, how many replays
//! would have been matched to the person without the check, and the cost per frame.
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use face_match::liveness::{self, PERIODICITY_LIMIT};
use face_match::replay::{self, Print, Screen};
use face_match::{Finding, MATCH_THRESHOLD, QualityPolicy};
use image::RgbImage;

struct Sample {
    class: &'static str,
    periodicity: Option<f32>,
    refused_as_replay: bool,
    /// Refused for another reason (no face, cut off, …) before the liveness check.
    refused_otherwise: bool,
    /// Without the check, a clean frame that matches the live photo it was made from.
    would_match: bool,
}

fn bona_fide_variants(img: &RgbImage) -> Vec<RgbImage> {
    vec![
        img.clone(),
        replay::jpeg(img, 60),
        replay::jpeg(img, 92),
        image::imageops::resize(
            img,
            img.width() / 2,
            img.height() / 2,
            image::imageops::FilterType::Triangle,
        ),
        map_pixels(img, |v| v * 0.55),
        map_pixels(img, |v| v * 1.2 + 25.0),
    ]
}

pub fn prints(seed: u32) -> Vec<Print> {
    [
        (2.2, 0.06, 0.0),
        (3.0, 0.15, 5.0),
        (4.0, 0.10, -9.0),
        (5.0, 0.06, 2.0),
        (6.5, 0.15, -4.0),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (dot_pitch, ink_black, angle))| Print {
        dot_pitch,
        ink_black,
        angle,
        seed: seed * 16 + i as u32 + 1,
    })
    .collect()
}

pub fn screens(seed: u32) -> Vec<Screen> {
    [
        (1.2, 0.0, 0.0),
        (1.6, 3.0, 40.0),
        (2.0, -7.0, 0.0),
        (2.6, 12.0, 20.0),
        (3.4, 0.5, 40.0),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (pixel_pitch, angle, glare))| Screen {
        pixel_pitch,
        angle,
        glare,
        seed: seed * 16 + i as u32 + 9,
    })
    .collect()
}

fn main() {
    let m = matcher();
    let mut samples = Vec::new();
    let mut pad_time = Duration::ZERO;
    let mut pad_runs = 0u32;
    for (n, (label, _, img)) in labelled().into_iter().enumerate() {
        // What a kiosk camera frames: the face and some of what surrounds it.
        let img = if label == "obama_partial_face2.jpg" {
            img
        } else {
            framed(&img)
        };
        let reference = m
            .analyze(&img, &QualityPolicy::PHOTO)
            .expect("analyze")
            .embedding;
        let mut run = |class: &'static str, frame: &RgbImage| {
            let a = m.analyze(frame, &QualityPolicy::CAMERA).expect("analyze");
            if let Some(face) = a.main {
                let t = Instant::now();
                let _ = liveness::measure(frame, &face);
                pad_time += t.elapsed();
                pad_runs += 1;
            }
            let refused_as_replay = a.findings.contains(&Finding::PhotoOrScreen);
            let refused_otherwise =
                !refused_as_replay && a.findings.iter().any(|f| f.blocks_decision());
            // Without the check: analyse again with it off, and match against the live photo.
            let plain = m
                .analyze(
                    frame,
                    &QualityPolicy {
                        check_liveness: false,
                        ..QualityPolicy::CAMERA
                    },
                )
                .expect("analyze");
            let would_match = plain.findings.is_empty()
                && matches!((&reference, &plain.embedding), (Some(r), Some(e)) if r.similarity(e) >= MATCH_THRESHOLD);
            samples.push(Sample {
                class,
                periodicity: a.liveness.map(|l| l.periodicity),
                refused_as_replay,
                refused_otherwise,
                would_match,
            });
        };
        for v in bona_fide_variants(&img) {
            run("live", &v);
        }
        for p in prints(n as u32) {
            run("print", &replay::print(&img, p));
        }
        for s in screens(n as u32) {
            run("screen", &replay::screen(&img, s));
        }
        eprintln!("{label}: done");
    }

    println!("threshold {PERIODICITY_LIMIT}");
    println!(
        "| class | n | periodicity min / median / max | refused as photo or screen | refused for another finding | passed the check | of those, would match the person |"
    );
    println!("|---|---|---|---|---|---|---|");
    for class in ["live", "print", "screen"] {
        let of: Vec<&Sample> = samples.iter().filter(|s| s.class == class).collect();
        let mut p: Vec<f32> = of.iter().filter_map(|s| s.periodicity).collect();
        p.sort_by(f32::total_cmp);
        let refused = of.iter().filter(|s| s.refused_as_replay).count();
        let other = of.iter().filter(|s| s.refused_otherwise).count();
        let passed: Vec<&&Sample> = of
            .iter()
            .filter(|s| !s.refused_as_replay && !s.refused_otherwise)
            .collect();
        let matched = passed.iter().filter(|s| s.would_match).count();
        println!(
            "| {class} | {} | {:.1} / {:.1} / {:.1} | {refused} | {other} | {} | {matched} |",
            of.len(),
            p.first().copied().unwrap_or(0.0),
            p.get(p.len() / 2).copied().unwrap_or(0.0),
            p.last().copied().unwrap_or(0.0),
            passed.len(),
        );
    }
    // Error rates over the samples the check saw (a face that reached it), at several thresholds.
    println!();
    println!("| threshold | BPCER (live refused) | APCER print | APCER screen | APCER all |");
    println!("|---|---|---|---|---|");
    for t in [10.0f32, 12.0, 15.0, PERIODICITY_LIMIT, 20.0, 25.0, 30.0] {
        let rate = |class: &str, attack: bool| {
            let seen: Vec<f32> = samples
                .iter()
                .filter(|s| s.class == class || (class == "attack" && s.class != "live"))
                .filter_map(|s| s.periodicity)
                .collect();
            let hit = seen.iter().filter(|&&p| (p > t) != attack).count();
            format!(
                "{}/{} = {:.1} %",
                hit,
                seen.len(),
                100.0 * hit as f32 / seen.len().max(1) as f32
            )
        };
        println!(
            "| {t} | {} | {} | {} | {} |",
            rate("live", false),
            rate("print", true),
            rate("screen", true),
            rate("attack", true)
        );
    }
    println!();
    println!(
        "liveness check: {:.2} ms per frame (mean of {pad_runs})",
        pad_time.as_secs_f64() * 1000.0 / f64::from(pad_runs.max(1))
    );
}
