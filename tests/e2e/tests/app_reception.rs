//! The reception list (オンライン資格確認結果一覧) in the real app window, against the real daemon, virtual cards
//! in a real pcscd reader (one face-capable) and the mock central service: a check by numbers at the counter
//! is a check-in with ◎; a face check-in gets ★; an old qualification's numbers answer 無効（新）; a card whose
//! certificate expires within three months is flagged with a renewal slip, and the patient's screen (the kiosk
//! window beside it) warns of it, as it says a certificate in its grace confirms qualification only; yesterday's
//! list comes back through
//! 前日 (the whole calendar moves one day between the two halves); and the 管理 tab's usage counts them.
//! Screenshots of each screen go to `target/e2e-screenshots/`.

use std::time::Duration;

use e2e::app::{AppWindow, Display, Driver, pdf_pages, screenshot_dir, squeezed};
use e2e::central::{Qualification, qualification_numbers};
use e2e::faces::{cards_with_portrait, face_kiosk_config, photos};
use e2e::kiosk::{Cards, InsertedCard, NORMAL, Oqs};
use e2e::staff::{ADMIN_PW, create_admin};
use e2e::{Daemon, MockCentral, in_keyutils_session, wait_for};

/// The card issued with a certificate that expired 30 days ago, inside the grace (`--variant mixed`, card 4).
const CERT_EXPIRED: u32 = 4;
/// The card issued with a certificate expiring within three months (`--variant mixed`, card 5).
const CERT_EXPIRING: u32 = 5;

/// Sets a field's value as a date picker does (WebDriver cannot type into one).
fn set_value(window: &AppWindow, css: &str, value: &str) {
    window.find(css);
    window.script(
        "const e = document.querySelector(arguments[0]); \
         const set = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(e), 'value').set; \
         set.call(e, arguments[1]); e.dispatchEvent(new Event('input', {bubbles: true}));",
        serde_json::json!([css, value]),
    );
}

/// A check by numbers through the 番号で確認 tab; returns the outcome the form shows.
fn check_by_numbers(reception: &AppWindow, numbers: &[String; 5]) -> String {
    let [insurer, symbol, number, branch, birth] = numbers;
    reception.click("[data-testid='tab-manual']");
    for (field, value) in [
        ("mc-insurer", insurer),
        ("mc-symbol", symbol),
        ("mc-number", number),
        ("mc-branch", branch),
    ] {
        set_value(reception, &format!("[data-testid='{field}']"), value);
    }
    set_value(reception, "[data-testid='mc-birth']", birth);
    reception.click("[data-testid='mc-submit']");
    let result = reception.find("[data-testid='mc-result']");
    reception
        .attribute_of(&result, "data-outcome")
        .unwrap_or_default()
}

fn open_reception(display: &Display, daemon: &Daemon) -> AppWindow {
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let forms_dir = daemon.root.join("forms");
    let window = AppWindow::open(
        Driver::start_with_env(display, &daemon.root, &[("OQS_FORMS_DIR", &forms_dir)]),
        &["--socket", socket.to_str().expect("socket path")],
    );
    window.interactive_ms();
    window.wait_text("[data-testid='central-state']", "オンライン");
    window
}

/// The list's rows of one method (`data-method`).
fn rows_of(reception: &AppWindow, method: &str) -> Vec<String> {
    reception
        .find_all(&format!(
            "[data-testid='checkin-row'][data-method='{method}']"
        ))
        .iter()
        .map(|r| reception.text_of(r))
        .collect()
}

/// Waits until the list shows `n` rows (a click re-renders it a moment later); if it never does, says what
/// the list held (each row's id, method and outcome, the day shown and the filter pressed).
fn wait_rows(reception: &AppWindow, n: usize) {
    wait_or_say(
        reception,
        &format!("{n} rows in the list"),
        || reception.find_all("[data-testid='checkin-row']").len() == n,
        "const rows = [...document.querySelectorAll(\"[data-testid='checkin-row']\")]\
           .map(r => `${r.dataset.id} ${r.dataset.method} ${r.dataset.outcome}`); \
         const day = document.querySelector(\"[data-testid='list-day']\"); \
         const pressed = [...document.querySelectorAll(\"[aria-pressed='true']\")].map(b => b.dataset.testid); \
         const summary = document.querySelector(\"[data-testid='today-summary']\"); \
         const problem = document.querySelector('.problem'); \
         return {rows, day: day && day.dataset.date, pressed, summary: summary && summary.textContent, \
                 problem: problem && problem.textContent};",
    );
}

/// Polls `done` for 30 s; if it never holds, panics with what `explain` (a script) reads off the page.
fn wait_or_say(reception: &AppWindow, what: &str, mut done: impl FnMut() -> bool, explain: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        if std::time::Instant::now() >= deadline {
            let shown = reception.script(explain, serde_json::json!([]));
            panic!("timed out after 30s waiting for {what}; the page shows {shown}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where the 保険証 filter button is on the screen (left, top in CSS pixels).
fn filter_position(reception: &AppWindow) -> (i64, i64) {
    let at = reception.script(
        "const r = document.querySelector(\"[data-testid='filter-numbers']\").getBoundingClientRect(); \
         return [Math.round(r.left), Math.round(r.top)];",
        serde_json::json!([]),
    );
    (
        at[0].as_i64().unwrap_or_default(),
        at[1].as_i64().unwrap_or_default(),
    )
}

/// Presses one of the list's filters (全対象 / 保険証 / 要確認) and waits until it shows pressed.
fn press_filter(reception: &AppWindow, filter: &str) {
    let css = format!("[data-testid='filter-{filter}']");
    reception.click(&css);
    wait_for(
        &format!("the {filter} filter pressed"),
        Duration::from_secs(30),
        || (reception.attribute(&css, "aria-pressed").as_deref() == Some("true")).then_some(()),
    );
}

#[test]
fn reception_list_marks_methods_validity_certificates_and_browses_yesterday() {
    if !in_keyutils_session(
        "reception_list_marks_methods_validity_certificates_and_browses_yesterday",
    ) {
        return;
    }
    let shots = screenshot_dir();
    let photos = photos();
    let (cards, work) = cards_with_portrait(CERT_EXPIRING, "obama.jpg");
    let camera = work.path().join("camera");
    std::fs::create_dir_all(&camera).expect("camera folder");
    std::fs::copy(photos.join("obama2.jpg"), camera.join("obama2.jpg")).expect("camera frame");
    let lease = pcsc_harness::reader();
    let mut central = MockCentral::start(100, Some(&cards.dir));
    let mut daemon = Daemon::start(
        &central,
        &face_kiosk_config(&lease.reader, &camera, &central, 3),
    );
    create_admin(&daemon);
    let oqs = Oqs::new(&daemon.root);
    let display = Display::start(&daemon.root);

    // Day 1: a check by numbers at the counter is a check-in, marked ◎.
    let reception = open_reception(&display, &daemon);
    let valid = qualification_numbers(&central, 1, Qualification::Current);
    assert_eq!(check_by_numbers(&reception, &valid), "valid");
    reception.click("[data-testid='tab-today']");
    // The list learns its day from the daemon a moment after the tab opens (empty until then).
    let day1 = wait_for("day 1's date on the list", Duration::from_secs(30), || {
        reception
            .attribute("[data-testid='list-day']", "data-date")
            .filter(|d| !d.is_empty())
    });
    let rows = rows_of(&reception, "insurance_numbers");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains('◎') && rows[0].contains("有効"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0].contains('〒'),
        "no 郵便番号 on the row: {}",
        rows[0]
    );
    reception.screenshot(&shots, "reception-list-1-numbers");

    // The calendar moves on one day: the central service and the daemon start again on the next day. The
    // window stays open; when it reconnects, its list is the new day's.
    central.stop();
    daemon.stop();
    e2e::clock().advance(Duration::from_secs(86_400));
    central.serve();
    daemon.restart();
    wait_for("today's (empty) list", Duration::from_secs(60), || {
        let day = reception.attribute("[data-testid='list-day']", "data-date")?;
        (!day.is_empty() && day != day1).then_some(())
    });
    reception.find("[data-testid='checkin-empty']");
    // The live list itself (not only the day filter) holds nothing of day 1: the window re-read it.
    wait_for("本日 0 件", Duration::from_secs(30), || {
        reception
            .text("[data-testid='today-summary']")
            .starts_with("本日 0 件")
            .then_some(())
    });

    // Day 2: a face check-in (★).
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    oqs.wait_screen("method_choice");
    oqs.ok(&["kiosk", "method", "face"], None);
    let matched = wait_for("the face match", Duration::from_secs(120), || {
        let s = oqs.screen();
        (s["screen"] != "face_capture" && s["screen"] != "card_present").then_some(s)
    });
    assert_eq!(
        matched["screen"], "consent",
        "the face should match: {matched}"
    );
    oqs.answer_consents("yes");
    let result = oqs.wait_screen("result");
    assert_eq!(result["outcome"], "valid", "{result}");
    card.remove();
    oqs.wait_screen("idle");
    reception.find("[data-testid='checkin-row'][data-method='face']");
    let face = rows_of(&reception, "face");
    assert!(
        face[0].contains('★') && face[0].contains("顔認証"),
        "{face:?}"
    );
    reception.screenshot(&shots, "reception-list-2-face");

    // A PIN check-in with a certificate that expires within three months: flagged, with a renewal slip.
    // The patient's screen is open beside the reception window from here on.
    let kiosk = e2e::app::open_kiosk(&display, &daemon, &lease.reader);
    let card = InsertedCard::insert(&cards, CERT_EXPIRING, lease.port, &daemon.root);
    // The kiosk warns before anything else (the daemon judges the card's certificate by oqs-clock).
    let choice = oqs.wait_screen("method_choice");
    assert_eq!(choice["certificate"], "expiring", "{choice}");
    let warning = "[data-testid='kiosk-certificate'][data-state='expiring']";
    kiosk.find(warning);
    let said = kiosk.text_without_ruby(warning);
    assert!(said.contains("3か月以内に有効期限が切れます"), "{said}");
    kiosk.screenshot(&shots, "kiosk-certificate-1-expiring");
    oqs.ok(&["kiosk", "method", "pin"], None);
    oqs.wait_screen("pin_entry");
    oqs.ok(
        &["kiosk", "pin"],
        Some(&format!("{}\n", cards.pin(CERT_EXPIRING))),
    );
    oqs.answer_consents("yes");
    oqs.wait_screen("result");
    card.remove();
    oqs.wait_screen("idle");
    let expiring = reception.find("[data-testid='checkin-row'][data-certificate='expiring']");
    assert!(
        reception
            .text_of(&expiring)
            .contains("3か月以内に有効期限切れ"),
        "{}",
        reception.text_of(&expiring)
    );
    assert_eq!(
        reception
            .find_all("[data-testid='checkin-row'][data-certificate='valid']")
            .len(),
        1,
        "the face check-in's certificate is valid"
    );
    reception.screenshot(&shots, "reception-list-3-expiring");
    reception.click("[data-testid='renewal-open']");
    let slip = reception.text("[data-testid='renewal-slip']");
    assert!(
        slip.contains("更新のご案内") && slip.contains("3か月以内に切れます"),
        "{slip}"
    );
    // The card's own date, read at the kiosk.
    let dates = reception.text("[data-testid='renewal-slip'] [data-testid='renewal-dates']");
    assert!(
        dates.contains("電子証明書の有効期限") && dates.contains('年'),
        "{dates}"
    );
    reception.screenshot(&shots, "reception-list-4-renewal-slip");
    reception.click("[data-testid='renewal-close']");

    // A certificate expired a month ago: qualification only, said in words.
    let card = InsertedCard::insert(&cards, CERT_EXPIRED, lease.port, &daemon.root);
    let choice = oqs.wait_screen("method_choice");
    assert_eq!(choice["certificate"], "expired_in_grace", "{choice}");
    let warning = "[data-testid='kiosk-certificate'][data-state='expired_in_grace']";
    kiosk.find(warning);
    let said = kiosk.text_without_ruby(warning);
    assert!(said.contains("資格の確認のみ行います"), "{said}");
    kiosk.screenshot(&shots, "kiosk-certificate-2-expired-in-grace");
    oqs.ok(&["kiosk", "method", "pin"], None);
    oqs.wait_screen("pin_entry");
    oqs.ok(
        &["kiosk", "pin"],
        Some(&format!("{}\n", cards.pin(CERT_EXPIRED))),
    );
    // Qualification only: not one 薬剤・診療情報 consent screen.
    assert_eq!(oqs.answer_consents("yes"), 0, "a consent screen was shown");
    oqs.wait_screen("result");
    card.remove();
    oqs.wait_screen("idle");
    let grace = reception.find("[data-testid='checkin-row'][data-certificate='expired_in_grace']");
    let grace = reception.text_of(&grace);
    assert!(grace.contains("証明書期限切れ（資格確認のみ）"), "{grace}");
    reception.screenshot(&shots, "reception-list-4b-expired-in-grace");
    // Its renewal slip, saved as PDF: the expired wording, the patient's name, never a 12-digit number.
    reception.click(
        "[data-testid='checkin-row'][data-certificate='expired_in_grace'] [data-testid='renewal-open']",
    );
    let slip = reception.text("[data-testid='renewal-slip']");
    assert!(slip.contains("有効期限が切れています"), "{slip}");
    reception.click("[data-testid='renewal-pdf']");
    let pdf = wait_for("the slip PDF", Duration::from_secs(60), || {
        reception.attribute("[data-testid='renewal-pdf-saved']", "data-path")
    });
    let text = squeezed(&pdf_pages(&pdf).join("\n"));
    let (holder, _, _) = cards.holder(CERT_EXPIRED);
    // The dates come from the card's certificate: its expiry, and the last day of the grace counted from
    // the end of the expiry month.
    let listed: serde_json::Value =
        serde_json::from_str(&oqs.ok(&["checkins"], None)).expect("checkins JSON");
    let record = listed["check_ins"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["certificate"] == "expired_in_grace"))
        .expect("the in-grace check-in")
        .clone();
    let (expires_on, grace_until) = (
        record["certificate_expires_on"].as_str().expect("expiry"),
        record["certificate_grace_until"].as_str().expect("grace"),
    );
    let expiry = oqs_clock::parse_instant(&format!("{expires_on}T12:00:00+09:00")).expect("a date");
    assert_eq!(
        oqs_clock::ymd(oqs_clock::certificate_grace_last_day(expiry)),
        grace_until.replace('-', ""),
        "{record}"
    );
    let long = |ymd: &str| {
        let n: Vec<u32> = ymd.split('-').filter_map(|p| p.parse().ok()).collect();
        format!("{}年{}月{}日", n[0], n[1], n[2])
    };
    let until = format!("{}まで", long(grace_until));
    for want in [
        "電子証明書更新のご案内",
        "有効期限切れ（資格確認のみ）",
        "市区町村の窓口",
        &squeezed(&holder),
        &long(expires_on),
        &until,
    ] {
        assert!(text.contains(want), "{want} not in the slip PDF: {text}");
    }
    assert!(
        !text
            .as_bytes()
            .windows(12)
            .any(|w| w.iter().all(u8::is_ascii_digit)),
        "a 12-digit number on the slip: {text}"
    );
    reception.screenshot(&shots, "reception-list-4c-renewal-slip-expired");
    reception.click("[data-testid='renewal-close']");

    // The old qualification of someone who has a new one: 無効（新）.
    let lost = qualification_numbers(&central, 3, Qualification::Lost);
    assert_eq!(check_by_numbers(&reception, &lost), "invalid");
    reception.click("[data-testid='tab-today']");
    let invalid = reception.find("[data-testid='checkin-row'][data-validity='3']");
    let text = reception.text_of(&invalid);
    assert!(text.contains("無効（新）") && text.contains('◎'), "{text}");
    assert!(
        text.contains("喪失 "),
        "no 資格喪失年月日 on the row: {text}"
    );
    // Numbers nobody has (a typo) are not a check-in.
    let typo = [
        valid[0].clone(),
        String::new(),
        "99999999".to_owned(),
        String::new(),
        "1950-01-01".to_owned(),
    ];
    check_by_numbers(&reception, &typo);
    reception.click("[data-testid='tab-today']");
    // 保険証 shows only the checks by numbers; 要確認 only what is not 有効.
    reception.find("[data-testid='checkin-row'][data-validity='3']");
    press_filter(&reception, "numbers");
    wait_rows(&reception, 1);
    press_filter(&reception, "unconfirmed");
    wait_for("the 要確認 filter", Duration::from_secs(30), || {
        (!reception.exists("[data-testid='checkin-row'][data-outcome='valid']")).then_some(())
    });
    let unconfirmed = reception.find_all("[data-testid='checkin-row']");
    let outcomes: Vec<(String, String)> = unconfirmed
        .iter()
        .map(|r| {
            (
                reception
                    .attribute_of(r, "data-outcome")
                    .unwrap_or_default(),
                reception
                    .attribute_of(r, "data-validity")
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        !outcomes.is_empty() && outcomes.iter().all(|(o, _)| o != "valid"),
        "{outcomes:?}"
    );
    assert!(outcomes.iter().any(|(_, v)| v == "3"), "{outcomes:?}");
    assert!(
        !reception.exists("[data-testid='checkin-row'][data-method='face']"),
        "the valid face check-in is not 要確認"
    );
    reception.screenshot(&shots, "reception-list-5-invalid-new");
    // 資格喪失年月日 and every 生年月日 in short 和暦 as the receipt computer prints them (`H 2. 1. 5`).
    let lost_on = reception.text("[data-testid='row-disqualified']");
    assert!(
        lost_on.starts_with("喪失 R") && !lost_on.contains('/'),
        "{lost_on}"
    );
    press_filter(&reception, "all");
    wait_rows(&reception, 4);
    for birth in reception.find_all("[data-testid='row-birth']") {
        let text = reception.text_of(&birth);
        assert!(
            text.starts_with(['M', 'T', 'S', 'H', 'R'])
                && text.contains('.')
                && !text.contains('/'),
            "{text}"
        );
    }

    // 前日: yesterday's list, from the daemon: the check by numbers of day 1 and nothing of today.
    let filter_at = filter_position(&reception);
    reception.click("[data-testid='day-prev']");
    wait_or_say(
        &reception,
        &format!("yesterday's list ({day1})"),
        || {
            reception
                .attribute("[data-testid='list-day']", "data-date")
                .as_deref()
                == Some(day1.as_str())
        },
        "const day = document.querySelector(\"[data-testid='list-day']\"); \
         const problem = document.querySelector('.problem'); \
         return {day: day && day.dataset.date, problem: problem && problem.textContent};",
    );
    // The toolbar does not move when the day shown changes (a click aimed at a filter while the day was
    // arriving once landed on another button).
    assert_eq!(
        filter_position(&reception),
        filter_at,
        "the 保険証 filter moved when the day changed"
    );
    let yesterday = reception.find_all("[data-testid='checkin-row']");
    assert_eq!(yesterday.len(), 1);
    assert_eq!(
        reception
            .attribute_of(&yesterday[0], "data-method")
            .as_deref(),
        Some("insurance_numbers")
    );
    reception.screenshot(&shots, "reception-list-6-yesterday");
    reception.click("[data-testid='day-next']");
    wait_rows(&reception, 4);

    // 管理 → 利用状況: three card check-ins and two checks by numbers over these two days.
    reception.click("[data-testid='tab-admin']");
    let csv_text = wait_for("the usage figures", Duration::from_secs(30), || {
        let t = reception.script(
            "const e = document.querySelector(\"[data-testid='usage-csv']\"); return e ? e.value : '';",
            serde_json::json!([]),
        );
        t.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
    });
    let (card, numbers) = csv_text
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((
                f.get(1)?.parse::<u32>().ok()?,
                f.get(2)?.parse::<u32>().ok()?,
            ))
        })
        .fold((0, 0), |(a, b), (c, n)| (a + c, b + n));
    assert_eq!((card, numbers), (3, 2), "{csv_text}");
    assert!(csv_text.contains("\n無効,"), "{csv_text}");
    reception.find("[data-testid='usage-rate-chart']");
    reception.screenshot(&shots, "reception-list-7-usage");

    // 環境設定情報 as the central service's form for a clinic (医科): 電子処方箋利用区分 with its Japanese
    // choices, and the items that apply at the central service only say so.
    reception.type_into("[data-testid='admin-account']", "admin");
    reception.type_into("[data-testid='admin-password']", ADMIN_PW);
    reception.click("[data-testid='admin-login']");
    reception.find("[data-testid='settings-form'][data-kind='clinic']");
    let prescription = reception.text("[data-testid='setting-e_prescription']");
    assert!(
        prescription.contains("電子処方箋 + 処方箋連携") && !prescription.contains("linkage"),
        "{prescription}"
    );
    assert!(
        reception
            .text("[data-testid='setting-character_code']")
            .contains("Shift_JIS")
    );
    for key in [
        "notebook_info",
        "specific_disease_name_info",
        "specific_disease_registration",
        "medical_assistance_info",
    ] {
        assert!(
            reception
                .text(&format!("[data-testid='setting-note-{key}']"))
                .contains("オンライン資格確認等システム側の設定です"),
            "{key}"
        );
    }
    assert!(!reception.exists("[data-testid='setting-refill_prescription']"));
    reception.script(
        "document.querySelector(\"[data-testid='settings-form']\").scrollIntoView();",
        serde_json::json!([]),
    );
    reception.screenshot(&shots, "reception-list-8-settings-form");
    reception.close();
}

/// `population::fixtures::DATA_LAG`: changed insurer, the new qualification not loaded yet.
const DATA_LAG: u32 = 7;

/// 保発0710第1号 at the reception window: a card check-in whose new qualification has not reached the central
/// service yet shows 資格無効; reception takes the 申立書 path in the detail (the new insurer's numbers, 3割), the
/// pre-filled 申立書 is shown and saved as PDF, the visit is listed under 要再確認, and after the insurer's
/// registration arrives 「今すぐ再確認」 confirms it; the list is saved as CSV. Screenshots of each new screen.
#[test]
fn a_visit_that_cannot_be_confirmed_goes_through_the_declaration_to_the_recheck() {
    if !in_keyutils_session(
        "a_visit_that_cannot_be_confirmed_goes_through_the_declaration_to_the_recheck",
    ) {
        return;
    }
    let shots = screenshot_dir();
    let cards = Cards::issue_for_people(DATA_LAG, 1, "normal");
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    let daemon = Daemon::start(
        &central,
        &format!(
            "[readers]\nnames = [\"{}\"]\n[kiosk]\ninactivity_timeout_secs = 120\n",
            lease.reader
        ),
    );
    create_admin(&daemon);
    let oqs = Oqs::new(&daemon.root);
    let display = Display::start(&daemon.root);
    let reception = open_reception(&display, &daemon);

    let card = InsertedCard::insert(&cards, DATA_LAG, lease.port, &daemon.root);
    e2e::kiosk::pin_checkin_answering(&oqs, &cards, DATA_LAG, "no");
    oqs.wait_screen("result");
    card.remove();
    reception.click("[data-testid='checkin-row'][data-outcome='invalid'] .rowbtn");
    reception.find("[data-testid='fallback-steps']");

    // The new insurer's numbers, as the patient writes them from the employer's papers.
    let [insurer, symbol, number, branch, _] =
        qualification_numbers(&central, i64::from(DATA_LAG), Qualification::Pending);
    reception.click("[data-testid='fallback-path-declaration']");
    for (field, value) in [
        ("claim-insurer", insurer.as_str()),
        ("claim-symbol", symbol.as_str()),
        ("claim-number", number.as_str()),
        ("claim-branch", branch.as_str()),
        ("claim-insurer-name", "新しい勤務先の健康保険組合"),
    ] {
        set_value(&reception, &format!("[data-testid='{field}']"), value);
    }
    reception.click("[data-testid='claim-share-3']");
    reception.screenshot(&shots, "reception-unconfirmed-1-declaration-form");
    reception.click("[data-testid='fallback-submit']");
    let outcome = reception.find("[data-testid='fallback-outcome']");
    assert_eq!(
        reception.attribute_of(&outcome, "data-state").as_deref(),
        Some("open"),
        "{}",
        reception.text_of(&outcome)
    );
    // The 申立書, pre-filled: the numbers, the share, the blanks the patient fills in.
    let form = reception.text("[data-testid='declaration']");
    for want in ["被保険者資格申立書", number.as_str(), "3割", "署名"] {
        assert!(form.contains(want), "{want} not on the form: {form}");
    }
    reception.screenshot(&shots, "reception-unconfirmed-2-declaration");
    reception.click("[data-testid='declaration-pdf']");
    let pdf = wait_for("the 申立書 PDF", Duration::from_secs(60), || {
        reception.attribute("[data-testid='declaration-pdf-saved']", "data-path")
    });
    let text = squeezed(&pdf_pages(&pdf).join("\n"));
    for want in ["被保険者資格申立書", "3割", number.as_str()] {
        assert!(text.contains(want), "{want} not in the PDF: {text}");
    }
    reception.click("[data-testid='declaration-close']");

    // 要再確認: listed open; the insurer's registration arrives; 今すぐ再確認 confirms it.
    reception.click("[data-testid='tab-unconfirmed']");
    let row = reception.find("[data-testid='unconfirmed-row'][data-state='open']");
    let text = reception.text_of(&row);
    assert!(
        text.contains("被保険者資格申立書") && text.contains("3割"),
        "{text}"
    );
    reception.screenshot(&shots, "reception-unconfirmed-3-list-open");
    e2e::central::load_qualifications(&central, i64::from(DATA_LAG));
    reception.click("[data-testid='unconfirmed-recheck']");
    let row = reception.find("[data-testid='unconfirmed-row'][data-state='confirmed']");
    assert!(
        reception.text_of(&row).contains("自動再確認"),
        "{}",
        reception.text_of(&row)
    );
    reception.wait_text("[data-testid='unconfirmed-last-run']", "有効 1");
    reception.screenshot(&shots, "reception-unconfirmed-4-list-confirmed");
    reception.click("[data-testid='unconfirmed-export']");
    let csv = wait_for("the CSV", Duration::from_secs(30), || {
        reception.attribute("[data-testid='unconfirmed-saved']", "data-path")
    });
    let csv = std::fs::read_to_string(&csv).expect("the CSV file");
    assert!(
        csv.starts_with('\u{feff}') && csv.contains("確認済"),
        "{csv}"
    );
}
