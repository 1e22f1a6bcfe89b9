//! The kiosk's spoken guidance (issue 19 item 1), in the real window under Xvfb against the real daemon, pcscd
//! with a virtual card and the mock central service, with the app's test hook `OQS_SPEECH_RECORD` keeping a copy
//! of every WAV the kiosk's speech path made (the same `speak` command and synthesizers the kiosk uses):
//! - the whole PIN check-in in Japanese (Open JTalk) and in English (espeak-ng): each screen recorded in the
//!   patient's language when it appears; each WAV is RIFF/WAVE PCM, not silent and as long as its text; the PIN
//!   pad says 「1桁目」…「4桁目」 and 訂正 says so, and neither a recorded text nor a log line holds the card's
//!   PIN; 🔊 says the current screen once more; Tagalog, which espeak-ng has no voice for, stays silent;
//! - `[kiosk] voice = false`: no 🔊, nothing asked of the speech path, no recording.
//!
//! The time from a screen's change to its WAV and to the audio element's play() is printed (no timing assert);
//! the figure is in docs/app.md.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::app::{AppWindow, KioskRig, enter_pin, kiosk_catalogue, next_kiosk_screen};
use e2e::kiosk::{Cards, InsertedCard, NORMAL, contains_standalone_digits};
use e2e::{Daemon, in_keyutils_session, wait_for};
use serde_json::{Value, json};

/// The quietest a spoken message may be: RMS over the whole file of 0.01 of full scale (−40 dBFS). Speech from
/// both synthesizers measures about 0.05–0.15.
const RMS_FLOOR: f64 = 0.01;
/// A message's duration per character of its text (spaces not counted), plus up to 1 s of leading and trailing
/// silence: Japanese (Open JTalk) 0.05–0.5 s a character, alphabetic languages (espeak-ng) 0.04–0.5 s. The
/// catalogue's wording measures 0.16–0.3 s (ja) and 0.06–0.12 s (en) a character.
const PER_CHAR_MAX: f64 = 0.5;
const SILENCE_ALLOWANCE: f64 = 1.0;

fn per_char_min(lang: &str) -> f64 {
    if lang == "ja" { 0.05 } else { 0.04 }
}

#[derive(Debug, Clone)]
struct Recording {
    file: PathBuf,
    text: String,
    lang: String,
}

/// The recordings so far, in the order they were made.
fn recordings(dir: &Path) -> Vec<Recording> {
    let Ok(log) = std::fs::read_to_string(dir.join("speech.jsonl")) else {
        return Vec::new();
    };
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            Recording {
                file: dir.join(v["file"].as_str().expect("file")),
                text: v["text"].as_str().expect("text").to_owned(),
                lang: v["lang"].as_str().expect("lang").to_owned(),
            }
        })
        .collect()
}

/// The first recording from `from` on in `lang` whose text holds `needle` (catalogue text as read); its index.
/// On a time-out the recordings and the page's speech trace are shown.
fn wait_recording(
    kiosk: &AppWindow,
    dir: &Path,
    from: usize,
    lang: &str,
    needle: &str,
) -> (usize, Recording) {
    let needle = squeeze(needle);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let all = recordings(dir);
        if let Some(found) = all
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, r)| r.lang == lang && squeeze(&r.text).contains(&needle))
        {
            return (found.0, found.1.clone());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {lang} recording of {needle:?} from #{from} in 60 s; recordings:\n{}\ntrace: {:#}\n{}",
            all.iter()
                .map(|r| format!("{} {}: {}", r.file.display(), r.lang, r.text))
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Array(trace(kiosk)),
            kiosk.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A PCM WAV's format and samples (16-bit only: what Open JTalk and espeak-ng write).
struct Wav {
    rate: u32,
    channels: u16,
    samples: Vec<i16>,
}

fn parse_wav(bytes: &[u8], what: &str) -> Wav {
    assert!(
        bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "{what}: not RIFF/WAVE"
    );
    let (mut format, mut data) = (None, None);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        match id {
            b"fmt " => format = Some(body.to_vec()),
            b"data" => data = Some(body.to_vec()),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let format = format.unwrap_or_else(|| panic!("{what}: no fmt chunk"));
    let data = data.unwrap_or_else(|| panic!("{what}: no data chunk"));
    let u16_at = |i: usize| u16::from_le_bytes([format[i], format[i + 1]]);
    assert_eq!(u16_at(0), 1, "{what}: not PCM");
    assert_eq!(u16_at(14), 16, "{what}: not 16-bit");
    let channels = u16_at(2);
    let rate = u32::from_le_bytes(format[4..8].try_into().expect("4 bytes"));
    assert!(
        channels >= 1 && rate >= 8000,
        "{what}: {channels} ch at {rate} Hz"
    );
    let samples = data
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    Wav {
        rate,
        channels,
        samples,
    }
}

/// Checks one recording's WAV: PCM, not silent, a duration that fits its text. Returns (seconds, RMS).
fn check_wav(r: &Recording) -> (f64, f64) {
    let bytes = std::fs::read(&r.file).unwrap_or_else(|e| panic!("{}: {e}", r.file.display()));
    let what = format!("{} ({}: {:?})", r.file.display(), r.lang, r.text);
    let wav = parse_wav(&bytes, &what);
    let frames = wav.samples.len() / usize::from(wav.channels);
    let seconds = frames as f64 / f64::from(wav.rate);
    let rms = (wav
        .samples
        .iter()
        .map(|&s| (f64::from(s) / 32768.0).powi(2))
        .sum::<f64>()
        / wav.samples.len().max(1) as f64)
        .sqrt();
    assert!(rms > RMS_FLOOR, "{what}: silent (RMS {rms:.4})");
    let chars = r.text.chars().filter(|c| !c.is_whitespace()).count() as f64;
    let (low, high) = (
        per_char_min(&r.lang) * chars,
        PER_CHAR_MAX * chars + SILENCE_ALLOWANCE,
    );
    assert!(
        (low..=high).contains(&seconds),
        "{what}: {seconds:.2} s for {chars} characters (expected {low:.2}–{high:.2} s)"
    );
    (seconds, rms)
}

/// The kiosk page's speech trace (`window.__oqsSpeech`).
fn trace(kiosk: &AppWindow) -> Vec<Value> {
    kiosk
        .script("return window.__oqsSpeech || [];", json!([]))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The whole PIN check-in spoken in `lang` (chosen on the first screen unless Japanese), its recordings looked
/// for from index `from` on and each checked. Returns the index after the last one.
fn spoken_check_in(
    kiosk: &AppWindow,
    cards: &Cards,
    lease: &pcsc_harness::ReaderLease,
    daemon: &Daemon,
    rec: &Path,
    lang: &str,
    from: usize,
) -> usize {
    let w = kiosk_catalogue(lang);
    let mut from = from;
    let step = |needle: &str, from: &mut usize| {
        let (i, r) = wait_recording(kiosk, rec, *from, lang, needle);
        let (seconds, rms) = check_wav(&r);
        eprintln!("spoken [{lang}] {seconds:5.2} s RMS {rms:.3}: {}", r.text);
        *from = i + 1;
        r
    };
    if lang != "ja" {
        kiosk.click("[data-testid='lang']");
        kiosk.click(&format!("[data-testid='lang-{lang}']"));
    }
    kiosk.wait_text("[data-testid='kiosk-title']", &w["placeCard"]);
    step(&w["placeCard"], &mut from);

    let card = InsertedCard::insert(cards, NORMAL, lease.port, &daemon.root);
    kiosk.wait_text("[data-testid='kiosk-title']", &w["chooseMethod"]);
    step(&w["chooseMethod"], &mut from);
    kiosk.click("[data-testid='method-pin']");
    kiosk.wait_text("[data-testid='kiosk-title']", &w["pinTitle"]);
    step(&w["pinTitle"], &mut from);

    // 🔊 says the screen again: one more recording, of the same screen.
    let before = recordings(rec).len();
    kiosk.click("[data-testid='kiosk-repeat']");
    let again = step(&w["pinTitle"], &mut from);
    assert_eq!(
        recordings(rec).len(),
        before + 1,
        "🔊 made more than one recording"
    );
    assert!(squeeze(&again.text).contains(&squeeze(&w["pinTitle"])));

    // The pad: a digit then 訂正, then the PIN; each press by its position, never its value.
    let pin = cards.pin(NORMAL);
    // With a PIN made of the digits 1–4, a pad that said the digit would pass for one that says the position.
    let mut digits: Vec<char> = pin.chars().collect();
    digits.sort_unstable();
    assert_ne!(
        digits,
        ['1', '2', '3', '4'],
        "this card's PIN cannot tell digits from positions"
    );
    let first = &pin[..1];
    kiosk.click(&format!("[data-testid='pin-{first}']"));
    let one = w["pinDigitEntered"].replace("{n}", "1");
    assert_eq!(squeeze(&step(&one, &mut from).text), squeeze(&one));
    kiosk.click("[data-testid='pin-clear']");
    step(&w["pinCleared"], &mut from);
    let pad_from = from;
    enter_pin(kiosk, &pin);
    for n in 1..=4 {
        let said = w["pinDigitEntered"].replace("{n}", &n.to_string());
        let (_, r) = wait_recording(kiosk, rec, pad_from, lang, &said);
        assert_eq!(squeeze(&r.text), squeeze(&said));
        check_wav(&r);
    }
    if lang == "ja" {
        let texts: Vec<String> = recordings(rec)[pad_from..]
            .iter()
            .map(|r| r.text.clone())
            .collect();
        for n in 1..=4 {
            assert!(
                texts.iter().any(|t| t.contains(&format!("{n}桁目"))),
                "no 「{n}桁目」 in {texts:?}"
            );
        }
    }

    // Each consent screen, then the result.
    let mut shown: Vec<String> = Vec::new();
    loop {
        let screen = next_kiosk_screen(kiosk);
        if screen == "result" {
            break;
        }
        if shown.last() == Some(&screen) {
            continue;
        }
        let yes = format!("[data-consent='{screen}'] [data-testid='consent-yes']");
        kiosk.find(&yes);
        step(&w[&format!("consentTitle.{screen}")], &mut from);
        kiosk.click(&yes);
        shown.push(screen);
    }
    assert_eq!(shown.len(), 4, "{shown:?}");
    kiosk.wait_text("[data-testid='kiosk-title']", &w["result.valid.title"]);
    step(&w["result.valid.title"], &mut from);
    card.remove();
    // The next patient is greeted in Japanese again.
    let ja = kiosk_catalogue("ja");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    let (i, r) = wait_recording(kiosk, rec, from, "ja", &ja["placeCard"]);
    check_wav(&r);
    i + 1
}

/// Prints, per language, the time from each screen's change to its WAV and to the start of its playback, from
/// the page's trace (screens whose playback started; the pad's and 🔊's messages are not screen changes).
fn print_latency(kiosk: &AppWindow) {
    let trace = trace(kiosk);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for t in &trace {
        *outcomes
            .entry(t["outcome"].as_str().unwrap_or("pending").to_owned())
            .or_default() += 1;
    }
    for lang in ["ja", "en"] {
        let (mut ready, mut play): (Vec<f64>, Vec<f64>) = trace
            .iter()
            .filter(|t| t["lang"] == lang && t["reason"] != "pin" && t["reason"] != "repeat")
            .filter_map(|t| {
                let shown = t["shown"].as_f64()?;
                Some((t["ready"].as_f64()? - shown, t["play"].as_f64()? - shown))
            })
            .unzip();
        ready.sort_by(f64::total_cmp);
        play.sort_by(f64::total_cmp);
        let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
        let max = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
        eprintln!(
            "figure: [{lang}] screen change to WAV ready: median {:.0} ms, max {:.0} ms; to playback started: \
             median {:.0} ms, max {:.0} ms ({} screens)",
            median(&ready),
            max(&ready),
            median(&play),
            max(&play),
            play.len()
        );
    }
    eprintln!("figure: speech outcomes {outcomes:?}");
}

#[test]
fn the_kiosk_speaks_each_screen_of_a_pin_check_in_in_japanese_and_english_and_never_the_pin() {
    if !in_keyutils_session(
        "the_kiosk_speaks_each_screen_of_a_pin_check_in_in_japanese_and_english_and_never_the_pin",
    ) {
        return;
    }
    let rig = KioskRig::start("");
    let (cards, lease, daemon) = (&rig.cards, &rig.lease, &rig.daemon);
    let rec = daemon.root.join("speech");
    let kiosk = rig.open_kiosk(&[("OQS_SPEECH_RECORD", &rec)]);
    let ja = kiosk_catalogue("ja");
    // 🔊 is ≥ 44 px.
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    let size = kiosk.script(
        "const r = document.querySelector(\"[data-testid='kiosk-repeat']\").getBoundingClientRect(); \
         return [r.width, r.height];",
        json!([]),
    );
    assert!(
        size[0].as_f64().unwrap_or(0.0) >= 44.0 && size[1].as_f64().unwrap_or(0.0) >= 44.0,
        "🔊 is {size}"
    );

    // From the first recording: the first screen may have been said already.
    let next = spoken_check_in(&kiosk, cards, lease, daemon, &rec, "ja", 0);
    spoken_check_in(&kiosk, cards, lease, daemon, &rec, "en", next);

    // The smartphone guide is spoken too: which phone, then where to hold it.
    let from = recordings(&rec).len();
    kiosk.click("[data-testid='phone-guide']");
    let (_, choose) = wait_recording(&kiosk, &rec, from, "ja", &ja["phone.chooseTitle"]);
    check_wav(&choose);
    kiosk.click("[data-testid='phone-android']");
    let (_, tap) = wait_recording(&kiosk, &rec, from, "ja", &ja["phone.tapAndroid"]);
    check_wav(&tap);
    kiosk.click("[data-testid='phone-back']");
    kiosk.click("[data-testid='phone-back']");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);

    // Tagalog has no espeak-ng voice: its screens stay silent (the shell answers no_voice, nothing recorded).
    let from = recordings(&rec).len();
    let tl = kiosk_catalogue("tl");
    kiosk.click("[data-testid='lang']");
    kiosk.click("[data-testid='lang-tl']");
    kiosk.wait_text("[data-testid='kiosk-title']", &tl["placeCard"]);
    wait_for(
        "the Tagalog screen's no_voice",
        Duration::from_secs(30),
        || {
            trace(&kiosk)
                .iter()
                .any(|t| t["lang"] == "tl" && t["outcome"] == "no_voice")
                .then_some(())
        },
    );
    assert!(
        recordings(&rec)[from..].iter().all(|r| r.lang != "tl"),
        "a Tagalog recording"
    );

    // Never the PIN: not in any recorded text, not in the app's or the daemon's logs.
    let pin = cards.pin(NORMAL);
    let all = recordings(&rec);
    for r in &all {
        assert!(
            !contains_standalone_digits(&r.text, &pin) && !r.text.contains(&pin),
            "the PIN was spoken: {:?}",
            r.text
        );
    }
    for (name, log) in [("app", kiosk.log_text()), ("daemon", daemon.logs())] {
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| contains_standalone_digits(l, &pin))
            .collect();
        assert!(
            lines.is_empty(),
            "the PIN reached the {name}'s log: {lines:?}"
        );
    }
    eprintln!(
        "figure: {} recordings checked (RMS > {RMS_FLOOR}, {}–{PER_CHAR_MAX} s a character + {SILENCE_ALLOWANCE} s)",
        all.len(),
        per_char_min("ja")
    );
    print_latency(&kiosk);
    kiosk.close();
}

#[test]
fn a_kiosk_with_voice_off_says_nothing() {
    if !in_keyutils_session("a_kiosk_with_voice_off_says_nothing") {
        return;
    }
    let rig = KioskRig::start("voice = false\n");
    let rec = rig.daemon.root.join("speech");
    let kiosk = rig.open_kiosk(&[("OQS_SPEECH_RECORD", &rec)]);
    let ja = kiosk_catalogue("ja");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    let card = InsertedCard::insert(&rig.cards, NORMAL, rig.lease.port, &rig.daemon.root);
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["chooseMethod"]);
    assert!(!kiosk.exists("[data-testid='kiosk-repeat']"), "🔊 shown");
    kiosk.click("[data-testid='method-pin']");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["pinTitle"]);
    kiosk.click("[data-testid='pin-1']");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["pinTitle"]);
    // The page asked nothing of the speech path on any of these screens, and nothing was recorded.
    assert_eq!(trace(&kiosk), Vec::<Value>::new());
    assert!(recordings(&rec).is_empty(), "recordings with voice = false");
    assert!(!rec.join("speech.jsonl").exists());
    card.remove();
    kiosk.close();
}
