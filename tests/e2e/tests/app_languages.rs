//! The kiosk window in languages other than Japanese and English (issue 19): the whole PIN check-in (method,
//! PIN, every consent screen, result) in 简体中文, Tiếng Việt and नेपाली, one check-in per language with the same
//! card inserted again. Each screen is checked against the language's catalogue, for contrast (WCAG AA) and for
//! fitting 1024×768 and 1280×800, with a screenshot; the consent screens show the official Japanese wording,
//! marked 「正式な文言」, above the translation; after each result the page is Japanese again. The first
//! screen's language button names every language in its own words.

use std::time::Duration;

use e2e::app::{
    AppWindow, KioskRig, assert_contrast, assert_fits, enter_pin, kiosk_catalogue as catalogue,
    next_kiosk_screen, screenshot_dir,
};
use e2e::kiosk::{InsertedCard, NORMAL};
use e2e::{in_keyutils_session, wait_for};

/// Whether the page (`<html lang>`) and the kiosk's root element are both in `lang`.
fn page_is_in(kiosk: &AppWindow, lang: &str) -> bool {
    let v = kiosk.script(
        "const m = document.querySelector('main.kiosk'); \
         return [document.documentElement.lang, m ? m.getAttribute('lang') : ''];",
        serde_json::json!([]),
    );
    v[0].as_str() == Some(lang) && v[1].as_str() == Some(lang)
}

/// Contrast, fit at the kiosk sizes and a screenshot of the current screen, named by language and screen.
fn check_screen(kiosk: &AppWindow, lang: &str, screen: &str) -> f64 {
    let shots = screenshot_dir();
    let name = format!("{lang}-{screen}");
    kiosk.screenshot(&shots, &format!("kiosk-lang-{name}"));
    assert_fits(kiosk, &shots, &format!("lang-{name}"));
    assert_contrast(kiosk, &name)
}

#[test]
fn the_kiosk_checks_in_with_a_pin_in_chinese_vietnamese_and_nepali_and_resets_to_japanese() {
    if !in_keyutils_session(
        "the_kiosk_checks_in_with_a_pin_in_chinese_vietnamese_and_nepali_and_resets_to_japanese",
    ) {
        return;
    }
    // Every consent screen the settings can call for, so each is seen in each language.
    let rig = KioskRig::start("");
    let (cards, lease, daemon) = (&rig.cards, &rig.lease, &rig.daemon);
    let kiosk = rig.open_kiosk(&[]);
    let ja = catalogue("ja");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
    assert!(page_is_in(&kiosk, "ja"));

    // The first screen's language button names every other language in its own words (a patient finds
    // theirs without reading Japanese); the chooser lists each language by its own name.
    let names = kiosk.text("[data-testid='lang-names']");
    for name in [
        "English",
        "简体中文",
        "한국어",
        "Tiếng Việt",
        "Português",
        "Español",
        "Tagalog",
        "नेपाली",
    ] {
        assert!(
            names.contains(name),
            "the language button lacks {name}: {names}"
        );
    }
    assert!(!names.contains("日本語"), "{names}");
    kiosk.click("[data-testid='lang']");
    kiosk.find("[data-testid='lang-chooser']");
    for (code, name) in [
        ("ja", "日本語"),
        ("en", "English"),
        ("zh-Hans", "简体中文"),
        ("ko", "한국어"),
        ("vi", "Tiếng Việt"),
        ("pt", "Português"),
        ("es", "Español"),
        ("tl", "Tagalog"),
        ("ne", "नेपाली"),
    ] {
        let css = format!("[data-testid='lang-{code}']");
        assert_eq!(kiosk.text(&css), name);
        assert_eq!(kiosk.attribute(&css, "lang").as_deref(), Some(code));
    }
    let mut worst = check_screen(&kiosk, "ja", "chooser");
    kiosk.click("[data-testid='lang-ja']");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);

    let pin = cards.pin(NORMAL);
    for lang in ["zh-Hans", "vi", "ne"] {
        let w = catalogue(lang);
        kiosk.click("[data-testid='lang']");
        kiosk.click(&format!("[data-testid='lang-{lang}']"));
        kiosk.wait_text("[data-testid='kiosk-title']", &w["placeCard"]);
        assert!(page_is_in(&kiosk, lang), "the page is not in {lang}");
        worst = worst.min(check_screen(&kiosk, lang, "1-idle"));

        let card = InsertedCard::insert(cards, NORMAL, lease.port, &daemon.root);
        kiosk.wait_text("[data-testid='kiosk-title']", &w["chooseMethod"]);
        assert_eq!(kiosk.text("[data-testid='method-pin']"), w["pin"]);
        worst = worst.min(check_screen(&kiosk, lang, "2-method"));
        kiosk.click("[data-testid='method-pin']");
        kiosk.wait_text("[data-testid='kiosk-title']", &w["pinTitle"]);
        let tries = w["triesLeft.other"].replace("{n}", "3");
        kiosk.wait_text("[data-testid='tries-left']", &tries);
        assert_eq!(kiosk.text("[data-testid='pin-ok']"), w["ok"]);
        worst = worst.min(check_screen(&kiosk, lang, "3-pin"));
        enter_pin(&kiosk, &pin);

        let mut shown = Vec::new();
        loop {
            let screen = next_kiosk_screen(&kiosk);
            if screen == "result" {
                break;
            }
            if shown.last() == Some(&screen) {
                continue;
            }
            let within =
                |testid: &str| format!("[data-consent='{screen}'] [data-testid='{testid}']");
            kiosk.wait_text(
                &within("consent-text"),
                &w[&format!("consentText.{screen}")],
            );
            // The official Japanese wording, marked in Japanese and in the patient's language, above it.
            let official = kiosk.text_without_ruby(&within("consent-official"));
            for needle in [
                &ja[&format!("consentText.{screen}")],
                &ja["officialWording"],
                &w["officialWording"],
            ] {
                assert!(
                    official.contains(needle.as_str()),
                    "{lang} {screen}: the official wording lacks `{needle}`: {official}"
                );
            }
            assert_eq!(
                kiosk
                    .attribute(&within("consent-official"), "lang")
                    .as_deref(),
                Some("ja")
            );
            let (yes, no) = if screen == "medical_subsidy" {
                ("use", "notUse")
            } else {
                ("agree", "disagree")
            };
            assert_eq!(kiosk.text(&within("consent-yes")), w[yes]);
            assert_eq!(kiosk.text(&within("consent-no")), w[no]);
            worst = worst.min(check_screen(&kiosk, lang, &format!("4-consent-{screen}")));
            kiosk.click(&within("consent-yes"));
            shown.push(screen);
        }
        assert_eq!(
            shown,
            [
                "surgery",
                "medical_and_medication",
                "health_checkup",
                "medical_subsidy"
            ],
            "{lang}"
        );
        kiosk.wait_text("[data-testid='kiosk-title']", &w["result.valid.title"]);
        kiosk.wait_text("[data-testid='kiosk-next']", &w["result.valid.next"]);
        assert!(page_is_in(&kiosk, lang), "the page is not in {lang}");
        worst = worst.min(check_screen(&kiosk, lang, "5-result"));

        // The next patient starts in Japanese.
        card.remove();
        kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);
        wait_for(
            "the page to be Japanese again",
            Duration::from_secs(10),
            || page_is_in(&kiosk, "ja").then_some(()),
        );
        kiosk.screenshot(&screenshot_dir(), &format!("kiosk-lang-{lang}-6-reset"));
    }
    eprintln!("figure: the kiosk's worst contrast in zh-Hans, vi and ne {worst:.2}:1");
    kiosk.close();
}
