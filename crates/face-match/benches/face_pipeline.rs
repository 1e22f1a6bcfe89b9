//! Face pipeline timings on this machine: detect + align + embed + liveness of one 640×480 camera frame
//! (and without the liveness check, and the check alone), and a full
//! 1:1 verification (decode the JPEG 2000 card photo, analyse it, analyse a frame, compare). Prints the
//! median and 95th percentile. Run with `cargo bench -p face-match` (needs scripts/fetch-face-models.sh and
//! opj_compress).

use std::time::{Duration, Instant};

use face_match::{FaceMatcher, QualityPolicy, picture};
use image::RgbImage;

const RUNS: usize = 40;

fn main() {
    let t = Instant::now();
    let matcher = FaceMatcher::load_default().unwrap_or_else(|e| panic!("{e}"));
    println!("load + optimise both models: {:.0} ms", ms(t.elapsed()));
    let dir = face_match::models::find_model_dir()
        .expect("models")
        .join("photos");
    let read =
        |n: &str| picture::decode(&std::fs::read(dir.join(n)).expect("photo")).expect("decode");
    let frame = camera_frame(&read("obama2.jpg"));
    let card = card_jp2(&matcher, &read("obama.jpg"));

    let per_frame = time(|| {
        let a = matcher
            .analyze(&frame, &QualityPolicy::CAMERA)
            .expect("analyze");
        assert!(a.embedding.is_some());
    });
    report(
        "detect + align + embed + liveness, one 640×480 frame",
        &per_frame,
    );

    let no_liveness = QualityPolicy {
        check_liveness: false,
        ..QualityPolicy::CAMERA
    };
    let without = time(|| {
        let a = matcher.analyze(&frame, &no_liveness).expect("analyze");
        assert!(a.embedding.is_some());
    });
    report("  the same without the liveness check", &without);

    let face = matcher
        .analyze(&frame, &QualityPolicy::CAMERA)
        .expect("analyze")
        .main
        .expect("a face");
    let liveness = time(|| {
        let m = face_match::liveness::measure(&frame, &face);
        assert!(!m.is_presentation_attack());
    });
    report("  of which the liveness check", &liveness);

    let detect_only = time(|| {
        matcher.detect(&frame).expect("detect");
    });
    report("  of which detection (640 letterbox)", &detect_only);

    let verify = time(|| {
        let photo = picture::decode(&card).expect("jp2");
        let c = matcher
            .compare(
                &photo,
                &QualityPolicy::PHOTO,
                &frame,
                &QualityPolicy::CAMERA,
            )
            .expect("compare");
        assert_eq!(c.decision, face_match::Decision::Same);
    });
    report(
        "full 1:1 verification (JPEG 2000 card photo vs frame)",
        &verify,
    );
}

fn camera_frame(img: &RgbImage) -> RgbImage {
    // Crop to 4:3 around the centre, scale to 640×480 like a webcam frame.
    let (w, h) = img.dimensions();
    let (cw, ch) = if w * 3 > h * 4 {
        (h * 4 / 3, h)
    } else {
        (w, w * 3 / 4)
    };
    let crop = image::imageops::crop_imm(img, (w - cw) / 2, (h - ch) / 3, cw, ch).to_image();
    image::imageops::resize(&crop, 640, 480, image::imageops::FilterType::Triangle)
}

fn card_jp2(matcher: &FaceMatcher, img: &RgbImage) -> Vec<u8> {
    let face = matcher
        .analyze(img, &QualityPolicy::PHOTO)
        .expect("analyze")
        .main
        .expect("face");
    let portrait = face_match::portrait_crop(img, &face, 240);
    let dir = tempfile::tempdir().expect("temp");
    let png = dir.path().join("card.png");
    let jp2 = dir.path().join("card.jp2");
    portrait.save(&png).expect("png");
    let ok = std::process::Command::new("opj_compress")
        .arg("-i")
        .arg(&png)
        .arg("-o")
        .arg(&jp2)
        .args(["-r", "20"])
        .output()
        .expect("opj_compress")
        .status
        .success();
    assert!(ok, "opj_compress failed");
    std::fs::read(&jp2).expect("jp2")
}

fn time(mut f: impl FnMut()) -> Vec<Duration> {
    f(); // warm-up
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn report(what: &str, runs: &[Duration]) {
    let mut v: Vec<f64> = runs.iter().map(|d| ms(*d)).collect();
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    let p95 = v[((v.len() as f64 * 0.95).ceil() as usize)
        .saturating_sub(1)
        .min(v.len() - 1)];
    println!(
        "{what}: median {median:.1} ms, p95 {p95:.1} ms ({} runs)",
        v.len()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
