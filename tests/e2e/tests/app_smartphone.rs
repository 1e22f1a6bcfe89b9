//! The smartphone マイナ保険証 at the real kiosk window (issue 17 items 1 and 2): one patient screen over a card
//! reader and the NFC reader beside it (`[kiosk.east]`). From the first screen the patient opens the smartphone
//! guide, picks iPhone or Android and is shown where to hold the phone; an Android phone then asks for its
//! スマホ用 PIN on the kiosk, an iPhone for none; both end on the result. Every new screen is checked to fit
//! 1024x768 and 1280x800, for contrast, in Japanese and in English, with screenshots. The reception window then
//! marks each check-in as the phone it came from (★ スマホ暗証番号, ★ スマホ).

use e2e::app::{
    AppWindow, Display, assert_contrast, assert_fits, enter_pin, kiosk_catalogue as catalogue,
    next_kiosk_screen, open_kiosk, open_staff_window, screenshot_dir,
};
use e2e::kiosk::{Cards, InsertedCard};
use e2e::{Daemon, MockCentral, clock, in_keyutils_session};

const ANDROID: u32 = 1;
const IPHONE: u32 = 2;
const EXPIRED_ANDROID: u32 = 3;
const DAY: u64 = 86_400;

/// Answers every consent screen with the first answer until the result.
fn consent_through(kiosk: &AppWindow) {
    let mut answered: Option<String> = None;
    loop {
        let screen = next_kiosk_screen(kiosk);
        if screen == "result" {
            return;
        }
        // The screen just answered may still be showing.
        if answered.as_deref() == Some(screen.as_str()) {
            continue;
        }
        kiosk.click(&format!(
            "[data-consent='{screen}'] [data-testid='consent-yes']"
        ));
        answered = Some(screen);
    }
}

fn guide_to(kiosk: &AppWindow, shots: &std::path::Path, lang: &str, phone: &str) {
    let w = catalogue(lang);
    kiosk.click("[data-testid='phone-guide']");
    kiosk.wait_text("[data-testid='kiosk-title']", &w["phone.chooseTitle"]);
    assert_fits(kiosk, shots, &format!("phone-choose-{lang}"));
    assert_contrast(kiosk, "phone-choose");
    kiosk.click(&format!("[data-testid='phone-{phone}']"));
    kiosk.wait_text("[data-testid='kiosk-title']", &w["phone.tapTitle"]);
    let tap = kiosk.text_without_ruby("[data-testid='phone-tap']");
    let how = if phone == "iphone" {
        &w["phone.tapIphone"]
    } else {
        &w["phone.tapAndroid"]
    };
    assert!(tap.contains(how.as_str()), "{tap}");
    assert_fits(kiosk, shots, &format!("phone-tap-{phone}-{lang}"));
    assert_contrast(kiosk, "phone-tap");
}

#[test]
fn the_kiosk_guides_a_smartphone_and_checks_in_android_and_iphone() {
    if !in_keyutils_session("the_kiosk_guides_a_smartphone_and_checks_in_android_and_iphone") {
        return;
    }
    let shots = screenshot_dir();
    let cards = Cards::issue_for_people(ANDROID, 1, "smartphone");
    cards.issue_more(IPHONE, 1, "iphone", clock().now_secs());
    // Issued four years and a month ago: its certificate expired about a month ago.
    cards.issue_more(
        EXPIRED_ANDROID,
        1,
        "smartphone",
        clock().now_secs() - (4 * 365 + 30) * DAY,
    );
    // Both at once: two tests each holding one reader and waiting for another would wait for ever.
    let (card_reader, nfc_reader) = pcsc_harness::two_readers();
    let central = MockCentral::start(100, Some(&cards.dir));
    let daemon = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{a}\", \"{b}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n\
             [kiosk.east]\nreaders = [\"{a}\", \"{b}\"]\n",
            a = card_reader.reader,
            b = nfc_reader.reader
        ),
    );
    let display = Display::start(&daemon.root);
    let kiosk = open_kiosk(&display, &daemon, "east");
    let ja = catalogue("ja");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);

    // The patient's window may use no core API of the web view (the capability grants none): asking its own
    // window's title is refused as not allowed.
    let core = kiosk.script(
        "const label = window.__TAURI_INTERNALS__.metadata.currentWindow.label; \
         return window.__TAURI_INTERNALS__.invoke('plugin:window|title', {label}) \
           .then(() => 'allowed', (e) => 'refused: ' + e);",
        serde_json::json!([]),
    );
    assert!(
        core.as_str().is_some_and(|s| s.contains("not allowed")),
        "a core window command was not refused for want of permission: {core}"
    );

    // Back from the guide returns to the first screen.
    kiosk.click("[data-testid='phone-guide']");
    kiosk.click("[data-testid='phone-back']");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);

    // Android, in Japanese: the guide, then the phone's PIN on the kiosk.
    guide_to(&kiosk, &shots, "ja", "android");
    let phone = InsertedCard::insert(&cards, ANDROID, nfc_reader.port, &daemon.root);
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["chooseMethod"]);
    kiosk.click("[data-testid='method-pin']");
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["pinTitle"]);
    enter_pin(&kiosk, &cards.pin(ANDROID));
    consent_through(&kiosk);
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["result.valid.title"]);
    kiosk.screenshot(&shots, "kiosk-phone-android-result");
    phone.remove();
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);

    // iPhone, in English: no PIN screen at all.
    let en = catalogue("en");
    kiosk.click("[data-testid='lang']");
    kiosk.click("[data-testid='lang-en']");
    guide_to(&kiosk, &shots, "en", "iphone");
    let phone = InsertedCard::insert(&cards, IPHONE, nfc_reader.port, &daemon.root);
    consent_through(&kiosk);
    assert!(
        !kiosk.exists("[data-testid='pin-ok']"),
        "an iPhone was asked for a PIN"
    );
    kiosk.wait_text("[data-testid='kiosk-title']", &en["result.valid.title"]);
    kiosk.screenshot(&shots, "kiosk-phone-iphone-result");
    phone.remove();
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);

    // A phone whose certificate expired: refused at once, with what to do next.
    let phone = InsertedCard::insert(&cards, EXPIRED_ANDROID, nfc_reader.port, &daemon.root);
    kiosk.wait_text(
        "[data-testid='kiosk-title']",
        &ja["notice.phone_certificate_expired.title"],
    );
    assert_fits(&kiosk, &shots, "phone-certificate-expired");
    assert_contrast(&kiosk, "phone-certificate-expired");
    phone.remove();
    kiosk.wait_text("[data-testid='kiosk-title']", &ja["placeCard"]);

    // Reception sees how each arrived: ★ スマホ暗証番号 for the Android phone, ★ スマホ for the iPhone.
    let reception = open_staff_window(&display, &daemon);
    reception.click("[data-testid='tab-today']");
    for (method, label) in [("smartphone_pin", "スマホ暗証番号"), ("phone", "スマホ")] {
        let row =
            format!("[data-testid='checkin-row'][data-method='{method}'][data-outcome='valid']");
        reception.find(&row);
        let mark = reception.text(&format!("{row} [data-testid='row-mark']"));
        assert!(
            mark.contains('★') && mark.contains(label),
            "{method}: {mark}"
        );
    }
    reception.screenshot(&shots, "reception-phone-marks");
}
