//! The kiosk window's display modes and keyboard use (issue 19 item 4), in the real window under Xvfb against
//! the real daemon, pcscd with a virtual card and the mock central service:
//! - the whole PIN check-in in 「車いす・座ったまま」: every enabled control in the lower half of the viewport on
//!   every screen, at 1024×768 and 1280×800, nothing outside the viewport;
//! - the whole PIN check-in in 「大きな文字・白黒反転」 by the keyboard alone (Tab, Shift+Tab, Enter, Space, digit
//!   keys, Backspace; no click): every text 7:1 or more, every control 44×44 px or more, the focus on the first
//!   control of each screen with a visible ring;
//! - both modes back to the facility's default for the next patient;
//! - both modes at once through the whole PIN check-in in Japanese and in every other language of the chooser;
//! - the daemon's countdown before the inactivity time-out: tones counted, 「続ける」 keeps the screen, without it
//!   the kiosk times out and returns to the first screen; the facility's default display comes from the daemon.

use std::time::Duration;

use e2e::app::{
    AppWindow, Display, KIOSK_SIZES, KioskRig, ask_every_consent, assert_contrast,
    assert_contrast_at_least, assert_fits, enter_pin, kiosk_catalogue, next_kiosk_screen,
    open_kiosk, screenshot_dir,
};
use e2e::kiosk::{Cards, InsertedCard, NORMAL, Oqs, kiosk_daemon};
use e2e::{Daemon, MockCentral, in_keyutils_session, wait_for};
use serde_json::json;

const TAB: &str = "\u{E004}";
const SHIFT: &str = "\u{E008}";
const ENTER: &str = "\u{E007}";
const BACKSPACE: &str = "\u{E003}";

/// Enabled, visible controls whose top is above half the viewport's height.
const UPPER_HALF_SCRIPT: &str = r#"
const half = window.innerHeight / 2, out = [];
for (const e of document.querySelectorAll('button, input, select, textarea, a[href], [role=button]')) {
  const r = e.getBoundingClientRect();
  if (!r.width || !r.height || e.disabled || getComputedStyle(e).visibility === 'hidden') continue;
  if (r.top < half) out.push(`${e.dataset.testid || e.tagName} top ${Math.round(r.top)} < ${half}`);
}
return out;
"#;

/// Enabled, visible controls smaller than 44×44 px.
const SMALL_TARGETS_SCRIPT: &str = r#"
const out = [];
for (const e of document.querySelectorAll('button, input, select, textarea, a[href], [role=button]')) {
  const r = e.getBoundingClientRect();
  if (!r.width || !r.height || getComputedStyle(e).visibility === 'hidden') continue;
  if (r.width < 44 || r.height < 44) out.push(`${e.dataset.testid || e.tagName} ${Math.round(r.width)}x${Math.round(r.height)}`);
}
return out;
"#;

/// The focused element's outline: [testid, style, width px, contrast of its colour against the kiosk's
/// background].
const FOCUS_RING_SCRIPT: &str = r#"
function lum(c) {
  const p = c.match(/rgba?\(([^)]+)\)/)[1].split(',').map(s => parseFloat(s));
  const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(p[0]) + 0.7152 * f(p[1]) + 0.0722 * f(p[2]);
}
const e = document.activeElement;
if (!e || e === document.body) return ['', 'none', 0, 0];
const s = getComputedStyle(e);
const a = lum(s.outlineColor), b = lum(getComputedStyle(document.querySelector('main.kiosk')).backgroundColor);
return [e.dataset.testid || e.tagName, s.outlineStyle, parseFloat(s.outlineWidth), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
"#;

fn root_attr(kiosk: &AppWindow, name: &str) -> String {
    kiosk
        .attribute("main.kiosk", name)
        .unwrap_or_else(|| panic!("the kiosk's root has no {name}"))
}

/// The seated layout's promise on the current screen, at each kiosk size: every enabled control in the lower
/// half, nothing outside the viewport; a screenshot at each size.
fn check_seated(kiosk: &AppWindow, screen: &str) {
    assert_eq!(root_attr(kiosk, "data-layout"), "seated", "{screen}");
    let (w, h) = kiosk.size();
    for (width, height) in KIOSK_SIZES {
        kiosk.resize(width, height);
        kiosk.screenshot(
            &screenshot_dir(),
            &format!("kiosk-{screen}-{width}x{height}"),
        );
        let high: Vec<String> = kiosk
            .script(UPPER_HALF_SCRIPT, json!([]))
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            high.is_empty(),
            "seated layout, {screen} screen at {width}x{height}: controls in the upper half:\n{}",
            high.join("\n")
        );
        let outside = kiosk.outside_viewport();
        assert!(
            outside.is_empty(),
            "seated layout, {screen} screen does not fit {width}x{height}:\n{}",
            outside.join("\n")
        );
    }
    kiosk.resize(w, h);
}

/// The focus is on `focused` and shows a ring 3 px or wider with 3:1 or more against the page.
fn assert_focus_ring(kiosk: &AppWindow, screen: &str, focused: &str) {
    let ring = kiosk.script(FOCUS_RING_SCRIPT, json!([]));
    assert_eq!(ring[0].as_str(), Some(focused), "{ring}");
    assert_ne!(
        ring[1].as_str(),
        Some("none"),
        "{screen}: no focus ring: {ring}"
    );
    assert!(
        ring[2].as_f64().unwrap_or(0.0) >= 3.0,
        "{screen}: thin focus ring: {ring}"
    );
    assert!(
        ring[3].as_f64().unwrap_or(0.0) >= 3.0,
        "{screen}: faint focus ring: {ring}"
    );
}

/// The high-contrast mode's promise on the current screen: the focus on `focused` with a visible ring, every
/// text 7:1 or more, every control 44×44 px or more, the screen fits both kiosk sizes (screenshots).
fn check_high_contrast(kiosk: &AppWindow, screen: &str, focused: &str) -> f64 {
    assert_eq!(root_attr(kiosk, "data-contrast"), "high", "{screen}");
    wait_for(
        &format!("the focus on `{focused}` on the {screen} screen"),
        Duration::from_secs(10),
        || (kiosk.focused() == focused).then_some(()),
    );
    assert_focus_ring(kiosk, screen, focused);
    let small = kiosk.script(SMALL_TARGETS_SCRIPT, json!([]));
    assert_eq!(small, json!([]), "{screen}: targets under 44x44 px");
    // A screenshot at 1024×768 (`kiosk-contrast-*-1024x768.png`).
    assert_fits(kiosk, &screenshot_dir(), &format!("contrast-{screen}"));
    assert_contrast_at_least(kiosk, &format!("high-contrast {screen}"), 7.0)
}

/// The whole PIN check-in by touch in `lang` with the card inserted now, each screen checked by
/// [`check_seated`] and for contrast (7:1 when high contrast is on too, AA otherwise); screenshots
/// `kiosk-{name}-*`. The card
/// is removed at the end.
fn seated_check_in(
    kiosk: &AppWindow,
    cards: &Cards,
    lease: &pcsc_harness::ReaderLease,
    daemon: &Daemon,
    lang: &str,
    name: &str,
) {
    let ja = kiosk_catalogue(lang);
    let check = |screen: &str| {
        check_seated(kiosk, &format!("{name}-{screen}"));
        if root_attr(kiosk, "data-contrast") == "high" {
            assert_contrast_at_least(kiosk, &format!("{name} {screen}"), 7.0);
        } else {
            // The seated layout in normal contrast keeps WCAG AA (4.5:1, 3:1 for large text).
            assert_contrast(kiosk, &format!("{name} {screen}"));
        }
    };
    let card = InsertedCard::insert(cards, NORMAL, lease.port, &daemon.root);
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["chooseMethod"]);
    check("2-method");
    kiosk.click("[data-testid='method-pin']");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["pinTitle"]);
    check("3-pin");
    enter_pin(kiosk, &cards.pin(NORMAL));
    let mut shown = Vec::new();
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
        check(&format!("4-consent-{screen}"));
        kiosk.click(&yes);
        shown.push(screen);
    }
    assert_eq!(shown.len(), 4, "{shown:?}");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["result.valid.title"]);
    check("5-result");
    card.remove();
}

fn h1_px(kiosk: &AppWindow) -> f64 {
    kiosk
        .script(
            "return parseFloat(getComputedStyle(document.querySelector('h1')).fontSize);",
            json!([]),
        )
        .as_f64()
        .expect("h1 font size")
}

#[test]
fn the_kiosk_checks_in_seated_then_in_high_contrast_by_keyboard_alone_and_resets_both() {
    if !in_keyutils_session(
        "the_kiosk_checks_in_seated_then_in_high_contrast_by_keyboard_alone_and_resets_both",
    ) {
        return;
    }
    let rig = KioskRig::start("");
    let (cards, lease, daemon) = (&rig.cards, &rig.lease, &rig.daemon);
    let kiosk = rig.open_kiosk(&[]);
    let ja = kiosk_catalogue("ja");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    assert_eq!(root_attr(&kiosk, "data-layout"), "standard");
    assert_eq!(root_attr(&kiosk, "data-contrast"), "normal");
    assert_eq!(
        kiosk
            .text_without_ruby("[data-testid='mode-seated']")
            .trim(),
        ja["layoutSeated"]
    );
    assert_eq!(
        kiosk
            .text_without_ruby("[data-testid='mode-contrast']")
            .trim(),
        ja["highContrast"]
    );
    let pin = cards.pin(NORMAL);

    // 1. Seated, by touch: every screen of the PIN check-in.
    kiosk.click("[data-testid='mode-seated']");
    assert_eq!(
        kiosk
            .attribute("[data-testid='mode-seated']", "aria-pressed")
            .as_deref(),
        Some("true")
    );
    check_seated(&kiosk, "seated-1-idle");
    seated_check_in(&kiosk, cards, lease, daemon, "ja", "seated");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    wait_for("the standard layout again", Duration::from_secs(10), || {
        (root_attr(&kiosk, "data-layout") == "standard").then_some(())
    });
    assert_eq!(
        kiosk
            .attribute("[data-testid='mode-seated']", "aria-pressed")
            .as_deref(),
        Some("false")
    );
    let standard_h1 = h1_px(&kiosk);

    // 2. High contrast, by the keyboard alone: the focus starts on the first control (the language button).
    wait_for(
        "the focus on the language button",
        Duration::from_secs(10),
        || (kiosk.focused() == "lang").then_some(()),
    );
    kiosk.keys(TAB);
    assert_eq!(kiosk.focused(), "mode-seated");
    kiosk.keys(TAB);
    assert_eq!(kiosk.focused(), "mode-contrast");
    kiosk.chord(&[SHIFT, TAB]);
    assert_eq!(kiosk.focused(), "mode-seated");
    assert_focus_ring(&kiosk, "standard idle", "mode-seated");
    kiosk.keys(TAB);
    kiosk.keys(" ");
    wait_for("high contrast on", Duration::from_secs(10), || {
        (root_attr(&kiosk, "data-contrast") == "high").then_some(())
    });
    assert!(
        h1_px(&kiosk) > standard_h1,
        "high contrast type {} px is not larger than the standard {standard_h1} px",
        h1_px(&kiosk)
    );
    let mut worst = check_high_contrast(&kiosk, "1-idle", "mode-contrast");

    let card = InsertedCard::insert(cards, NORMAL, lease.port, &daemon.root);
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["chooseMethod"]);
    worst = worst.min(check_high_contrast(&kiosk, "2-method", "method-pin"));
    kiosk.keys(ENTER);
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["pinTitle"]);
    worst = worst.min(check_high_contrast(&kiosk, "3-pin", "pin-1"));
    // A wrong digit taken back with Backspace, then the PIN by digit keys and Enter.
    kiosk.keys("9");
    kiosk.keys(BACKSPACE);
    kiosk.keys(&pin[..3]);
    let filled = || kiosk.find_all("[data-testid='pin-dots'] span.filled").len();
    wait_for("three dots", Duration::from_secs(10), || {
        (filled() == 3).then_some(())
    });
    kiosk.keys(&pin[3..]);
    wait_for("four dots", Duration::from_secs(10), || {
        (filled() == 4).then_some(())
    });
    kiosk.keys(ENTER);
    let mut shown = Vec::new();
    loop {
        let screen = next_kiosk_screen(&kiosk);
        if screen == "result" {
            break;
        }
        if shown.last() == Some(&screen) {
            continue;
        }
        kiosk.find(&format!(
            "[data-consent='{screen}'] [data-testid='consent-yes']"
        ));
        worst = worst.min(check_high_contrast(
            &kiosk,
            &format!("4-consent-{screen}"),
            "consent-yes",
        ));
        if shown.is_empty() {
            kiosk.keys(TAB);
            assert_eq!(kiosk.focused(), "consent-no");
            kiosk.chord(&[SHIFT, TAB]);
            assert_eq!(kiosk.focused(), "consent-yes");
        }
        // Space presses the focused 同意する (Enter on the method screen, above).
        kiosk.keys(" ");
        shown.push(screen);
    }
    assert_eq!(shown.len(), 4, "{shown:?}");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["result.valid.title"]);
    assert_eq!(root_attr(&kiosk, "data-contrast"), "high");
    assert_fits(&kiosk, &screenshot_dir(), "contrast-5-result");
    worst = worst.min(assert_contrast_at_least(
        &kiosk,
        "high-contrast result",
        7.0,
    ));

    card.remove();
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    wait_for("the normal contrast again", Duration::from_secs(10), || {
        (root_attr(&kiosk, "data-contrast") == "normal").then_some(())
    });
    assert_eq!(root_attr(&kiosk, "data-layout"), "standard");

    // 3. Both at once, by touch.
    kiosk.click("[data-testid='mode-seated']");
    kiosk.click("[data-testid='mode-contrast']");
    assert_eq!(root_attr(&kiosk, "data-contrast"), "high");
    check_seated(&kiosk, "both-1-idle");
    seated_check_in(&kiosk, cards, lease, daemon, "ja", "both");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    eprintln!(
        "figure: the kiosk's worst contrast in high-contrast mode {worst:.2}:1 (7:1 required)"
    );
    kiosk.close();
}

#[test]
fn every_language_checks_in_with_both_modes_on_and_fits() {
    if !in_keyutils_session("every_language_checks_in_with_both_modes_on_and_fits") {
        return;
    }
    let cards = Cards::issue(1);
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    ask_every_consent(&central);
    let daemon = kiosk_daemon(&central, &lease);
    let display = Display::start(&daemon.root);
    let kiosk = open_kiosk(&display, &daemon, &lease.reader);
    for lang in ["en", "zh-Hans", "ko", "vi", "pt", "es", "tl", "ne"] {
        let w = kiosk_catalogue(lang);
        kiosk.click("[data-testid='lang']");
        kiosk.click(&format!("[data-testid='lang-{lang}']"));
        kiosk.wait_text("[data-testid='kiosk-title']", &w["placeCard"]);
        kiosk.click("[data-testid='mode-seated']");
        kiosk.click("[data-testid='mode-contrast']");
        assert_eq!(root_attr(&kiosk, "data-contrast"), "high");
        check_seated(&kiosk, &format!("both-{lang}-1-idle"));
        assert_contrast_at_least(&kiosk, &format!("{lang} idle"), 7.0);
        seated_check_in(
            &kiosk,
            &cards,
            &lease,
            &daemon,
            lang,
            &format!("both-{lang}"),
        );
        kiosk.wait_text(
            "[data-testid='kiosk-title']",
            &kiosk_catalogue("ja")["placeCard"],
        );
    }
    kiosk.close();
}

/// The seconds the countdown shows now (None when it is not on screen).
fn countdown_left(kiosk: &AppWindow) -> Option<u32> {
    kiosk
        .script(
            "const c = document.querySelector(\"[data-testid='countdown']\"); return c ? Number(c.dataset.left) : null;",
            json!([]),
        )
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
}

fn tones(kiosk: &AppWindow) -> (u64, u64) {
    let v = kiosk.script(
        "return [window.__oqsTones || 0, window.__oqsToneFailures || 0];",
        json!([]),
    );
    (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0))
}

#[test]
fn the_kiosk_counts_down_aloud_before_its_time_out_and_continue_keeps_the_screen() {
    if !in_keyutils_session(
        "the_kiosk_counts_down_aloud_before_its_time_out_and_continue_keeps_the_screen",
    ) {
        return;
    }
    let cards = Cards::issue(1);
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    // A short wait with a long countdown, generous for a slow machine; this facility starts every patient in
    // the seated, high-contrast display.
    let daemon = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 20\ncountdown_secs = 12\n\
             default_layout = \"seated\"\ndefault_high_contrast = true\n",
            lease.reader
        ),
    );
    let display = Display::start(&daemon.root);
    let kiosk = open_kiosk(&display, &daemon, &lease.reader);
    let ja = kiosk_catalogue("ja");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    // Nothing waits for a patient at the first screen: 続ける is refused.
    let refused = Oqs::new(&daemon.root).run(&["kiosk", "continue"], None);
    assert!(!refused.status.success(), "continue at idle was accepted");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("続ける"), "{stderr}");
    let defaults = || {
        wait_for(
            "the facility's default display",
            Duration::from_secs(10),
            || {
                (root_attr(&kiosk, "data-layout") == "seated"
                    && root_attr(&kiosk, "data-contrast") == "high")
                    .then_some(())
            },
        )
    };
    defaults();
    // This patient prefers the normal contrast (and keeps the seated layout).
    kiosk.click("[data-testid='mode-contrast']");
    assert_eq!(root_attr(&kiosk, "data-contrast"), "normal");

    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["chooseMethod"]);
    assert!(countdown_left(&kiosk).is_none(), "a countdown at once");
    let (before, _) = tones(&kiosk);

    // The countdown comes from the daemon, one event a second, with a tone for each.
    let first = wait_for("the countdown", Duration::from_secs(40), || {
        countdown_left(&kiosk)
    });
    assert!(first <= 12, "the countdown starts at {first}");
    let text = kiosk.text_without_ruby("[data-testid='countdown-text']");
    assert!(
        text.contains("秒で最初の画面に戻ります") && text.contains("あと"),
        "{text}"
    );
    wait_for("two more seconds counted", Duration::from_secs(10), || {
        countdown_left(&kiosk)
            .is_some_and(|n| n + 2 <= first)
            .then_some(())
    });
    let (played, failed) = tones(&kiosk);
    assert_eq!(failed, 0, "WebAudio refused the countdown's tones");
    assert!(
        played >= before + 3,
        "{} tones for at least three seconds of countdown",
        played - before
    );
    // 「続ける」 is in reach in the seated layout too.
    check_seated(&kiosk, "seated-countdown");
    // 続ける has the focus: Enter keeps the patient's screen.
    wait_for("the focus on 続ける", Duration::from_secs(10), || {
        (kiosk.focused() == "countdown-continue").then_some(())
    });
    assert_eq!(
        kiosk
            .text_without_ruby("[data-testid='countdown-continue']")
            .trim(),
        ja["keepGoing"]
    );
    kiosk.keys(ENTER);
    wait_for("the countdown to go", Duration::from_secs(10), || {
        countdown_left(&kiosk).is_none().then_some(())
    });
    assert_eq!(root_attr(&kiosk, "data-screen"), "method_choice");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["chooseMethod"]);
    let (after_continue, _) = tones(&kiosk);

    // Without 続ける: the countdown again, then the time-out notice, then the first screen.
    wait_for("the countdown again", Duration::from_secs(40), || {
        countdown_left(&kiosk)
    });
    kiosk.find_within("[data-notice='timeout']", Duration::from_secs(40));
    assert!(countdown_left(&kiosk).is_none());
    let (played, _) = tones(&kiosk);
    assert!(
        played > after_continue + 3,
        "the second countdown played {} tones",
        played - after_continue
    );
    kiosk.find_within("[data-screen='idle']", Duration::from_secs(60));
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    // The next patient starts in the facility's display again.
    defaults();
    card.remove();
    kiosk.close();
}
