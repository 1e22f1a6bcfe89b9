//! Check-in by face, end to end: a virtual card whose JPEG 2000 photo is a real face (from the labelled
//! photos fetched at set-up time), served through pcscd + vpcd; the daemon's camera is a folder of
//! pictures; the real mock central service checks the reader's signed attestation. The same person checks
//! in by face; another person is rejected at every attempt and then offered the PIN, which works. A
//! screen showing the card holder's photo, held up to the camera, is refused at every attempt.
//! Also `oqs face compare` and its exit codes.

use std::path::Path;
use std::process::Command;

use e2e::faces::{card_portrait, cards_with_portrait, face_kiosk_config, photos, screen_replay};
use e2e::kiosk::{Cards, InsertedCard, NORMAL, Oqs};
use e2e::{Daemon, MockCentral, bin, in_keyutils_session};

/// The camera shows `photo` (the folder is read when a face check opens the camera).
fn show_camera(camera: &Path, photo: &Path) {
    if camera.exists() {
        std::fs::remove_dir_all(camera).expect("clear camera folder");
    }
    std::fs::create_dir_all(camera).expect("camera folder");
    std::fs::copy(photo, camera.join(photo.file_name().expect("name"))).expect("copy frame");
}

fn start_face_kiosk(
    cards: &Cards,
    lease: &pcsc_harness::ReaderLease,
    camera: &Path,
) -> (MockCentral, Daemon, Oqs) {
    let central = MockCentral::start(100, Some(&cards.dir));
    let daemon = Daemon::start(
        &central,
        &face_kiosk_config(&lease.reader, camera, &central, 3),
    );
    let oqs = Oqs::new(&daemon.root);
    (central, daemon, oqs)
}

/// Waits until the kiosk leaves the face step (and the card reading before it); returns the next screen.
fn wait_while_matching(oqs: &Oqs) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = oqs.screen();
        if s["screen"] != "face_capture" && s["screen"] != "card_present" {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "stuck in {s}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits through the face attempts until the kiosk offers the methods again; returns the guidance shown
/// on the way (each distinct face-capture screen that had one) and the method screen.
fn attempts_until_method_choice(oqs: &Oqs) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut guidance: Vec<serde_json::Value> = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let after = loop {
        let s = oqs.screen();
        assert!(
            std::time::Instant::now() < deadline,
            "the face attempts did not end in 120 s; the kiosk shows {s}"
        );
        if s["screen"] == "face_capture" && s["guidance"].is_object() && guidance.last() != Some(&s)
        {
            guidance.push(s.clone());
        }
        if s["screen"] == "method_choice" {
            break s;
        }
        assert!(
            s["screen"] == "face_capture" || s["screen"] == "card_present",
            "unexpected screen during the face attempts: {s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    (guidance, after)
}

fn methods(screen: &serde_json::Value) -> Vec<String> {
    screen["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect()
}

/// No picture of any kind (JPEG, PNG, JPEG 2000) under `dir`.
fn assert_no_pictures(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let head: Vec<u8> = std::fs::read(&p)
                .unwrap_or_default()
                .into_iter()
                .take(12)
                .collect();
            let picture = head.starts_with(&[0xFF, 0xD8, 0xFF])
                || head.starts_with(b"\x89PNG")
                || head.starts_with(&[0, 0, 0, 0x0C, b'j', b'P'])
                || head.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]);
            assert!(
                !picture,
                "a picture was written by the daemon: {}",
                p.display()
            );
        }
    }
}

#[test]
fn face_checkin_same_person_succeeds_other_person_is_rejected_then_pin() {
    if !in_keyutils_session("face_checkin_same_person_succeeds_other_person_is_rejected_then_pin") {
        return;
    }
    let photos = photos();
    let (cards, work) = cards_with_portrait(1, "obama.jpg");
    let camera = work.path().join("camera");
    show_camera(&camera, &photos.join("obama2.jpg"));
    let lease = pcsc_harness::reader();
    let (_central, daemon, oqs) = start_face_kiosk(&cards, &lease, &camera);

    // The same person in front of the camera: check-in by face.
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    let choice = oqs.wait_screen("method_choice");
    assert!(methods(&choice).contains(&"face".to_owned()), "{choice}");
    oqs.ok(&["kiosk", "method", "face"], None);
    let matched = wait_while_matching(&oqs);
    assert_eq!(
        matched["screen"], "consent",
        "the face should match: {matched}"
    );
    let consents = oqs.answer_consents("yes");
    assert!(
        consents >= 1,
        "no consent screen after the face match: {}",
        oqs.screen()
    );
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "{result}");
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    let rows = today["check_ins"].as_array().expect("check_ins");
    assert_eq!(rows.len(), 1, "{today}");
    assert_eq!(rows[0]["method"], "face", "{today}");
    card.remove();
    oqs.wait_screen("idle");

    // Another person: every attempt is rejected with guidance, then face is no longer offered and the
    // PIN is.
    show_camera(&camera, &photos.join("biden.jpg"));
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "face"], None);
    let (seen, after) = attempts_until_method_choice(&oqs);
    let methods_after = methods(&after);
    assert!(!methods_after.contains(&"face".to_owned()), "{after}");
    assert!(methods_after.contains(&"pin".to_owned()), "{after}");
    if let Some(g) = seen.last() {
        assert_eq!(g["guidance"]["reason"], "not_matched", "{g}");
        assert!(g["attempts"] == 3, "{g}");
    }
    let logs = daemon.logs();
    assert_eq!(
        logs.matches("face did not match the card photo").count(),
        3,
        "three attempts"
    );
    oqs.ok(&["kiosk", "method", "pin"], None);
    oqs.wait_screen("pin_entry");
    oqs.ok(&["kiosk", "pin"], Some(&format!("{}\n", cards.pin(NORMAL))));
    oqs.answer_consents("yes");
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "{result}");
    card.remove();
    oqs.wait_screen("idle");

    // The camera was closed after each face check; no photo or frame reached the disk.
    assert!(
        logs.matches("camera opened").count() >= 2,
        "camera opened per face check"
    );
    assert_no_pictures(&daemon.root);
}

#[test]
fn plain_reader_without_card_face_scanner_offers_pin_and_staff_only() {
    if !in_keyutils_session("plain_reader_without_card_face_scanner_offers_pin_and_staff_only") {
        return;
    }
    let photos = photos();
    let work = tempfile::tempdir().expect("temp dir");
    let camera = work.path().join("camera");
    show_camera(&camera, &photos.join("obama2.jpg"));
    let cards = Cards::issue(1);
    let lease = pcsc_harness::reader();
    // Face is configured for the reader, but the reader cannot scan the card face (no 照合番号B).
    let (_central, daemon, oqs) = start_face_kiosk(&cards, &lease, &camera);
    let _card = InsertedCard::insert_with(
        &cards,
        NORMAL,
        lease.port,
        &daemon.root,
        &["--plain-reader"],
    );
    let choice = oqs.wait_screen("method_choice");
    assert_eq!(methods(&choice), vec!["pin", "staff_visual"], "{choice}");
    let refused = oqs.run(&["kiosk", "method", "face"], None);
    assert!(!refused.status.success(), "face must be refused");
}

fn face_compare(a: &Path, b: &Path) -> (i32, String, String) {
    face_compare_with(a, b, &[])
}

fn face_compare_with(a: &Path, b: &Path, flags: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("oqs"))
        .args(["face", "compare"])
        .args(flags)
        .arg(a)
        .arg(b)
        .output()
        .expect("run oqs face compare");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn oqs_face_compare_exit_codes() {
    let p = photos();
    let work = tempfile::tempdir().expect("temp dir");

    let (code, out, err) = face_compare(&p.join("obama.jpg"), &p.join("obama2.jpg"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("similarity: 0.") && out.contains("same person"),
        "{out}"
    );

    let (code, out, err) = face_compare(&p.join("obama.jpg"), &p.join("biden.jpg"));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("different people"), "{out}");

    // JPEG 2000 in: the card photo against a camera-style photo.
    let portrait = work.path().join("card.png");
    card_portrait(&p.join("obama.jpg"), &portrait);
    let jp2 = work.path().join("card.jp2");
    let ok = Command::new("opj_compress")
        .arg("-i")
        .arg(&portrait)
        .arg("-o")
        .arg(&jp2)
        .args(["-r", "20"])
        .output()
        .expect("opj_compress (libopenjp2-tools)")
        .status
        .success();
    assert!(ok);
    let (code, out, err) = face_compare(&jp2, &p.join("obama3.jpg"));
    assert_eq!(code, 0, "{out}{err}");
    // PNG in.
    let (code, out, err) = face_compare(&p.join("tom_hanks.png"), &jp2);
    assert_eq!(code, 1, "{out}{err}");

    // No decision: several faces, no face, unreadable.
    let (code, out, err) = face_compare(&p.join("t1.jpg"), &p.join("obama.jpg"));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("more than one face"), "{err}");
    let garbage = work.path().join("garbage.jpg");
    std::fs::write(&garbage, b"not a picture").expect("write");
    let (code, _, err) = face_compare(&garbage, &p.join("obama.jpg"));
    assert_eq!(code, 2);
    assert!(err.contains("could not be read"), "{err}");
    let blank = work.path().join("blank.png");
    image_blank(&blank);
    let (code, _, err) = face_compare(&blank, &p.join("obama.jpg"));
    assert_eq!(code, 2);
    assert!(err.contains("no face"), "{err}");

    // The second picture is a screen held up to the camera: no decision, said so. Without the liveness
    // check the same two pictures are the same person: it is the check that refuses.
    let replay = work.path().join("screen-replay.png");
    screen_replay(&p.join("obama2.jpg"), &replay);
    let (code, out, err) = face_compare(&jp2, &replay);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("a photo or a screen, not a live face"),
        "{err}"
    );
    let (code, out, err) = face_compare_with(&jp2, &replay, &["--no-liveness"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = face_compare_with(&jp2, &replay, &["--json"]);
    assert_eq!(code, 2, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        report["b"]["findings"][0]["finding"], "photo_or_screen",
        "{report}"
    );
    assert!(
        report["b"]["periodicity"]
            .as_f64()
            .is_some_and(|p| p > 18.0),
        "{report}"
    );
}

#[test]
fn a_screen_held_up_to_the_camera_is_refused_at_every_attempt() {
    if !in_keyutils_session("a_screen_held_up_to_the_camera_is_refused_at_every_attempt") {
        return;
    }
    let photos = photos();
    let (cards, work) = cards_with_portrait(1, "obama.jpg");
    // The card holder's own photo, on a phone screen held up to the camera.
    let camera = work.path().join("camera");
    let replay = work.path().join("replay.png");
    screen_replay(&photos.join("obama2.jpg"), &replay);
    show_camera(&camera, &replay);
    let lease = pcsc_harness::reader();
    let (_central, daemon, oqs) = start_face_kiosk(&cards, &lease, &camera);

    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "face"], None);
    let (seen, after) = attempts_until_method_choice(&oqs);
    let guidance: Vec<&serde_json::Value> = seen.iter().map(|s| &s["guidance"]).collect();
    // Each attempt failed as a replay, and after three the face is no longer offered: the PIN is.
    let methods_after = methods(&after);
    assert!(!methods_after.contains(&"face".to_owned()), "{after}");
    assert!(methods_after.contains(&"pin".to_owned()), "{after}");
    assert!(!guidance.is_empty(), "no guidance was shown");
    for g in &guidance {
        assert_eq!(g["reason"], "photo_or_screen", "{g}");
        assert!(
            g["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("写真や画面ではなく")),
            "{g}"
        );
    }
    let logs = daemon.logs();
    assert_eq!(
        logs.matches("face refused: a photo or a screen").count(),
        3,
        "three attempts, each refused"
    );
    assert_eq!(logs.matches("face matched the card photo").count(), 0);
    card.remove();
    oqs.wait_screen("idle");
    let today: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    assert!(
        today["check_ins"]
            .as_array()
            .is_none_or(|rows| rows.iter().all(|r| r["method"] != "face")),
        "{today}"
    );
    assert_no_pictures(&daemon.root);
}

fn image_blank(path: &Path) {
    let img =
        face_match::picture::decode(&std::fs::read(photos().join("tom_hanks.png")).expect("png"))
            .expect("decode");
    let grey = image::RgbImage::from_pixel(img.width(), img.height(), image::Rgb([120, 120, 120]));
    grey.save(path).expect("write blank");
}
