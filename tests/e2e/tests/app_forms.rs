//! The viewer's official forms in the real app window (Tauri under Xvfb, WebDriver) against the real daemon
//! and the mock central service: after a PIN check-in with consent, 特定健康診査受診結果 shows the seed 003
//! sample (mock person 1) with exactly the official marks, 診療／薬剤情報一覧 lists 手術・診療・薬剤 in one go,
//! and both are saved as PDF through the app's PDF writer; pdftotext reads the title, the header fields, the
//! disclaimer and every line back, and every page repeats the header. Screenshots go to
//! `target/e2e-screenshots/`.

use std::time::Duration;

use e2e::app::{
    AppWindow, Display, Driver, change_settings, enter_pin, next_kiosk_screen, pdf_pages,
    screenshot_dir, squeezed,
};
use e2e::kiosk::{Cards, InsertedCard, NORMAL};
use e2e::staff::{ADMIN_PW, create_admin};
use e2e::{Daemon, MockCentral, in_keyutils_session, wait_for};

/// Every cell of the form on screen, row by row (`[data-testid=rowid]` rows of the form `form`).
fn screen_rows(window: &AppWindow, form: &str) -> Vec<Vec<String>> {
    let v = window.script(
        "return [...document.querySelectorAll(arguments[0])].map(r => \
           [...r.querySelectorAll('td')].map(c => c.textContent.trim()));",
        serde_json::json!([format!("[data-testid='{form}'] tbody tbody tr")]),
    );
    serde_json::from_value(v).expect("rows")
}

/// 「PDFで保存」 and the path it reports (表示 clears the previous one).
fn save_pdf(window: &AppWindow) -> String {
    assert!(!window.exists("[data-testid='viewer-pdf-saved']"));
    window.click("[data-testid='viewer-pdf']");
    wait_for("the PDF to be saved", Duration::from_secs(30), || {
        if window.exists("[data-testid='viewer-problem']") {
            panic!(
                "saving the PDF failed: {}",
                window.text("[data-testid='viewer-problem']")
            );
        }
        window
            .exists("[data-testid='viewer-pdf-saved']")
            .then_some(())
    });
    window
        .attribute("[data-testid='viewer-pdf-saved']", "data-path")
        .expect("the saved PDF's path")
}

/// The PDF holds the title, the header fields, the disclaimer and every line of the screen's form, and every
/// page repeats the title, 作成日 and the header.
fn assert_pdf_matches(pdf: &str, window: &AppWindow, form: &str, title: &str) -> usize {
    let pages = pdf_pages(pdf);
    let all = squeezed(&pages.join("\n"));
    let header = window.script(
        "return [...document.querySelectorAll(arguments[0])].map(c => c.textContent.trim());",
        serde_json::json!([format!(
            "[data-testid='{form}'] [data-testid='form-header'] th, [data-testid='{form}'] [data-testid='form-header'] td"
        )]),
    );
    let header: Vec<String> = serde_json::from_value(header).expect("header cells");
    assert!(header.len() >= 16, "{header:?}");
    for (n, page) in pages.iter().enumerate() {
        let page = squeezed(page);
        assert!(page.contains(title), "page {} lacks the title", n + 1);
        assert!(page.contains("作成日"), "page {} lacks 作成日", n + 1);
        assert!(
            page.contains(&format!("{}/{}ページ", n + 1, pages.len())),
            "page {} lacks its number",
            n + 1
        );
        for cell in header.iter().filter(|c| !c.is_empty()) {
            assert!(
                page.contains(&squeezed(cell)),
                "page {} lacks the header field {cell}",
                n + 1
            );
        }
        if n + 1 < pages.len() {
            assert!(page.contains("---次頁へ続く---"), "page {}", n + 1);
        }
    }
    for note in window.find_all(&format!("[data-testid='{form}'] [data-testid='form-note']")) {
        let note = squeezed(&window.text_of(&note));
        assert!(all.contains(&note), "the PDF lacks the note {note}");
    }
    let rows = screen_rows(window, form);
    assert!(!rows.is_empty());
    for row in &rows {
        for cell in row.iter().filter(|c| !c.is_empty()) {
            assert!(
                all.contains(&squeezed(cell)),
                "the PDF lacks {cell:?} of {row:?}"
            );
        }
    }
    pages.len()
}

#[test]
fn the_viewer_shows_prints_and_saves_the_official_forms() {
    if !in_keyutils_session("the_viewer_shows_prints_and_saves_the_official_forms") {
        return;
    }
    let shots = screenshot_dir();
    let cards = Cards::issue(1);
    let lease = pcsc_harness::reader();
    let central = MockCentral::start(100, Some(&cards.dir));
    change_settings(&central, |s| {
        s["operation_info"] = true.into();
        s["checkup_info"] = true.into();
        s["medication_info"] = true.into();
        s["diagnosis_info"] = true.into();
    });
    let daemon = Daemon::start(
        &central,
        &format!("[readers]\nnames = [\"{}\"]\n", lease.reader),
    );
    create_admin(&daemon);
    let socket = daemon.root.join("run/oqs-readerd.sock");
    let socket = socket.to_str().expect("socket path");
    let forms_dir = daemon.root.join("forms");
    let display = Display::start(&daemon.root);
    let config = daemon.config.to_str().expect("config path").to_owned();
    let reception = AppWindow::open(
        Driver::start_with_env(&display, &daemon.root, &[("OQS_FORMS_DIR", &forms_dir)]),
        &["--socket", socket, "--config", &config],
    );
    let kiosk = AppWindow::open(
        Driver::start(&display, &daemon.root),
        &["--kiosk", "--socket", socket, "--reader", &lease.reader],
    );
    kiosk.wait_text("[data-testid='kiosk-title']", "マイナンバーカード");

    // Card holder 1 is mock person 1, whose checkups are the seed 003 sample; consent to everything.
    let card = InsertedCard::insert(&cards, NORMAL, lease.port, &daemon.root);
    kiosk.click("[data-testid='method-pin']");
    enter_pin(&kiosk, &cards.pin(NORMAL));
    loop {
        let screen = next_kiosk_screen(&kiosk);
        if screen == "result" {
            break;
        }
        kiosk.click(&format!(
            "[data-consent='{screen}'] [data-testid='consent-yes']"
        ));
        // The next screen replaces this one.
        wait_for("the next screen", Duration::from_secs(30), || {
            (!kiosk.exists(&format!("[data-consent='{screen}']"))).then_some(())
        });
    }
    kiosk.wait_text("[data-testid='kiosk-title']", "受付が完了しました");
    card.remove();

    reception.find("[data-testid='checkin-row']");
    reception.click("[data-testid='tab-viewer']");
    reception.type_into("[data-testid='viewer-account']", "admin");
    reception.type_into("[data-testid='viewer-password']", ADMIN_PW);
    reception.click("[data-testid='viewer-login']");
    reception.find("[data-testid='consented-row']");
    reception.click("[data-testid='consented-open']");
    reception.find("[data-testid='patient-detail']");
    // 患者情報詳細: 保険者名, 記号・番号・枝番, 生年月日 in 和暦, 照会番号 and the note.
    let detail = reception.text("[data-testid='patient-detail']");
    for needle in [
        "照会番号",
        "保険者名",
        "記号",
        "番号",
        "枝番",
        "診療月の翌月中途から閲覧可能になります。",
    ] {
        assert!(
            detail.contains(needle),
            "患者情報詳細 lacks {needle}: {detail}"
        );
    }
    let birth = reception.text("[data-testid='patient-birth']");
    assert!(
        ["明治", "大正", "昭和", "平成", "令和"]
            .iter()
            .any(|era| birth.starts_with(era))
            && birth.ends_with('日'),
        "生年月日 is not in 和暦: {birth}"
    );
    assert!(
        !reception
            .text("[data-testid='patient-insurer-name']")
            .is_empty()
    );
    reception.screenshot(&shots, "forms-1-patient-detail");

    // The whole period: 2021-09 to this month of the tests' calendar.
    let today = oqs_clock::rfc3339(e2e::clock().now());
    let this_month = &today[..7];
    reception.click("input[value='range']");
    for (label, month) in [("診療年月 (自)", "2021-09"), ("診療年月 (至)", this_month)] {
        reception.script(
            "const e = document.querySelector(`input[aria-label='${arguments[0]}']`); \
             const set = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(e), 'value').set; \
             set.call(e, arguments[1]); e.dispatchEvent(new Event('input', {bubbles: true}));",
            serde_json::json!([label, month]),
        );
    }

    // 特定健康診査受診結果: the seed's sample once a year, only LDL 154 carries ▲ (TG 190, 血糖 114 and
    // HbA1c 6.1 do not), the mark before the value.
    reception.click("[data-testid='info-checkup']");
    reception.click("[data-testid='viewer-show']");
    reception.find("[data-testid='form-checkup']");
    let form = reception.text("[data-testid='form-checkup']");
    for needle in [
        "特定健康診査受診結果",
        "作成日",
        "資格情報",
        "労働安全衛生法に基づく健康診断",
        "特定健診情報",
        "既往歴 (医師記載)",
        "他覚症状 (医師記載)",
        "基本項目",
        "血圧",
        "脂質",
        "肝機能",
        "血糖",
        "尿検査",
        "詳細項目",
        "▲140以上",
        "▽34以下",
        "▽45.0未満",
        "▽男12.0以下 女11.0以下",
        "健診機関",
        "※がついている結果は",
    ] {
        assert!(form.contains(needle), "the checkup form lacks {needle}");
    }
    let dates = reception.script(
        "return [...document.querySelectorAll(\"[data-testid='form-checkup'] [data-testid='form-section'] thead th\")]\
           .map(c => c.textContent.trim()).filter(t => /^\\d{4}\\/06\\/15$/.test(t));",
        serde_json::json!([]),
    );
    let dates: Vec<String> = serde_json::from_value(dates).expect("dates");
    assert!(
        dates.len() >= 2 * 2,
        "several 実施日 side by side (twice: findings and results): {dates:?}"
    );
    let columns = dates.len() / 2;
    let marks = reception.script(
        "return [...document.querySelectorAll(\"[data-testid='form-checkup'] [data-mark]\")]\
           .map(c => [c.parentElement.children[1].textContent.trim(), c.textContent.trim()]);",
        serde_json::json!([]),
    );
    let marks: Vec<(String, String)> = serde_json::from_value(marks).expect("marks");
    assert_eq!(
        marks,
        vec![("LDLコレステロール".to_owned(), "▲ 154".to_owned()); columns],
        "only LDL 154 is marked, in every 実施日"
    );
    for value in [
        "190",
        "114",
        "6.1",
        "117",
        "52",
        "(-)",
        "特記すべきことなし",
    ] {
        assert!(form.contains(value), "the checkup form lacks {value}");
    }
    reception.screenshot(&shots, "forms-2-checkup");
    let checkup_pdf = save_pdf(&reception);
    assert!(checkup_pdf.starts_with(forms_dir.to_str().expect("forms dir")));
    let checkup_pages = assert_pdf_matches(
        &checkup_pdf,
        &reception,
        "form-checkup",
        "特定健康診査受診結果",
    );
    let text = squeezed(&pdf_pages(&checkup_pdf).join(""));
    assert!(text.contains("▲154") && !text.contains("▲190") && !text.contains("▲6.1"));

    // 診療／薬剤情報一覧: 手術・診療・薬剤 (処方・調剤) in one go, on several pages with the header repeated.
    reception.click("[data-testid='info-medication']");
    reception.click("[data-testid='viewer-show']");
    reception.find("[data-testid='form-medication']");
    let form = reception.text("[data-testid='form-medication']");
    for needle in [
        "診療／薬剤情報一覧",
        "作成日",
        "この診療／薬剤情報一覧は、",
        "受診歴",
        "診療／薬剤実績",
        "入外等",
        "数量/日数/回数",
    ] {
        assert!(form.contains(needle), "the list lacks {needle}");
    }
    let kinds = reception.script(
        "return [...new Set([...document.querySelectorAll(\"[data-testid='medical-line']\")]\
           .map(r => r.children[2].textContent.trim()))];",
        serde_json::json!([]),
    );
    let kinds: Vec<String> = serde_json::from_value(kinds).expect("kinds");
    for kind in ["診療", "処方", "調剤", "手術", "透析"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} line: {kinds:?}");
    }
    // Mock person 1's month 2022-02 (crates/mock-central history.rs `valid_fixture_month`): an operation,
    // dialysis, and two drugs dispensed 院内, a 屯服 with its 成分名, 【用法】, ＜1回用量＞ and
    // 【用法等の特別指示】 and a 外用 ointment, each on the line the official list prints.
    let rows = screen_rows(&reception, "form-medication");
    let line_with = |needle: &str| -> Vec<String> {
        rows.iter()
            .find(|r| r.len() == 7 && r[5].contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {rows:?}"))
            .clone()
    };
    let surgery = line_with("水晶体再建術");
    assert_eq!(surgery[2], "手術", "{surgery:?}");
    assert!(surgery[4].contains("北陸大学病院"), "{surgery:?}");
    let dialysis = line_with("人工腎臓");
    assert_eq!(
        (dialysis[2].as_str(), dialysis[6].as_str()),
        ("透析", "3回"),
        "{dialysis:?}"
    );
    let as_needed = line_with("アセトアミノフェン錠２００ｍｇ (アセトアミノフェン)");
    assert_eq!(as_needed[3], "院内 屯服", "{as_needed:?}");
    assert!(
        as_needed[5].contains("【用法】疼痛時 ／ ＜1回1錠＞ ／ 【用法等の特別指示】１日３回まで"),
        "{as_needed:?}"
    );
    assert_eq!(as_needed[6], "1錠 10回分", "{as_needed:?}");
    let ointment = line_with("ゲンタマイシン硫酸塩軟膏０．１％ (ゲンタマイシン硫酸塩)");
    assert_eq!(
        (ointment[3].as_str(), ointment[6].as_str()),
        ("院内 外用", "10g 1処方分"),
        "{ointment:?}"
    );
    assert!(
        !ointment[5].contains("＜"),
        "no 1回用量 for an ointment: {ointment:?}"
    );
    assert!(
        rows.iter().any(|r| r.len() == 7 && r[3] == "院外 内服"),
        "a clinic's prescription is 院外 内服: {rows:?}"
    );
    reception.screenshot(&shots, "forms-3-medication");
    let medication_pdf = save_pdf(&reception);
    let medication_pages = assert_pdf_matches(
        &medication_pdf,
        &reception,
        "form-medication",
        "診療／薬剤情報一覧",
    );
    let text = squeezed(&pdf_pages(&medication_pdf).join(""));
    for needle in [
        "水晶体再建術",
        "人工腎臓",
        "(アセトアミノフェン)",
        "【用法等の特別指示】１日３回まで",
        "＜1回1錠＞",
        "院内屯服",
        "院内外用",
    ] {
        assert!(text.contains(&squeezed(needle)), "the PDF lacks {needle}");
    }
    assert!(
        medication_pages >= 2,
        "four years of a patient's history fit on {medication_pages} page"
    );

    let figures = format!(
        "forms figures: checkup PDF {checkup_pages} page(s), medication PDF {medication_pages} pages\n"
    );
    print!("{figures}");
    std::fs::write(shots.join("forms-figures.txt"), &figures).expect("write the figures");
    kiosk.close();
    reception.close();
}
