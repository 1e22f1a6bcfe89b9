//! The kiosk's message catalogues (`ui/src/kiosk/locales/*.json`): every language has exactly the keys of
//! `ja.json`, no empty value, the same `{name}` placeholders per key, and only the markup the kiosk renders
//! (`<ruby>`, `<rt>`, `<br>`). A missing or misspelt key would otherwise show the raw key on a patient's screen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The languages of the kiosk's chooser (issue 19), as the file names and the page's `lang` attribute spell them.
const LANGUAGES: [&str; 9] = ["ja", "en", "zh-Hans", "ko", "vi", "pt", "es", "tl", "ne"];

fn locales() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/kiosk/locales")
}

fn catalogue(lang: &str) -> BTreeMap<String, String> {
    let path = locales().join(format!("{lang}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{} is not one flat object", path.display()));
    object
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{lang}.json: `{k}` is not a string: {v}"));
            (k.clone(), v.to_owned())
        })
        .collect()
}

/// The `{name}` placeholders of a message.
fn placeholders(message: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                found.insert(after[..close].to_owned());
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    found
}

/// The HTML tags of a message (`ruby`, `/ruby`, `br` …).
fn tags(message: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = message;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            found.push(after.to_owned());
            break;
        };
        found.push(after[..close].to_owned());
        rest = &after[close + 1..];
    }
    found
}

#[test]
fn the_locales_folder_holds_exactly_the_nine_languages() {
    let mut files: Vec<String> = std::fs::read_dir(locales())
        .expect("ui/src/kiosk/locales")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    files.sort();
    let mut expected: Vec<String> = LANGUAGES.iter().map(|l| format!("{l}.json")).collect();
    expected.sort();
    assert_eq!(files, expected);
}

#[test]
fn every_catalogue_has_the_keys_and_placeholders_of_ja_and_no_empty_value() {
    let reference = catalogue("ja");
    assert!(reference.len() > 50, "ja.json has {} keys", reference.len());
    let mut problems = Vec::new();
    for lang in LANGUAGES {
        let messages = catalogue(lang);
        let keys: BTreeSet<&String> = messages.keys().collect();
        let expected: BTreeSet<&String> = reference.keys().collect();
        for missing in expected.difference(&keys) {
            problems.push(format!("{lang}.json lacks `{missing}`"));
        }
        for extra in keys.difference(&expected) {
            problems.push(format!("{lang}.json has `{extra}`, which ja.json does not"));
        }
        for (key, message) in &messages {
            if message.trim().is_empty() {
                problems.push(format!("{lang}.json: `{key}` is empty"));
            }
            let ja = reference.get(key).map(|m| placeholders(m));
            if ja.as_ref().is_some_and(|ja| *ja != placeholders(message)) {
                problems.push(format!(
                    "{lang}.json: `{key}` has placeholders {:?}, ja.json {ja:?}",
                    placeholders(message)
                ));
            }
            for tag in tags(message) {
                if !["ruby", "/ruby", "rt", "/rt", "br"].contains(&tag.as_str()) {
                    problems.push(format!("{lang}.json: `{key}` has the tag <{tag}>"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn each_language_names_itself_and_japanese_keeps_its_furigana() {
    let own = [
        ("ja", "日本語"),
        ("en", "English"),
        ("zh-Hans", "简体中文"),
        ("ko", "한국어"),
        ("vi", "Tiếng Việt"),
        ("pt", "Português"),
        ("es", "Español"),
        ("tl", "Tagalog"),
        ("ne", "नेपाली"),
    ];
    for (lang, name) in own {
        assert_eq!(catalogue(lang)["languageName"], name, "{lang}.json");
    }
    let ja = catalogue("ja");
    assert!(ja["placeCard"].contains("<ruby>置<rt>お</rt></ruby>"));
    assert_eq!(ja["officialWording"], "正式な文言");
    // Furigana is for Japanese: no other catalogue carries ruby markup.
    for lang in LANGUAGES.iter().filter(|l| **l != "ja") {
        for (key, message) in catalogue(lang) {
            assert!(!message.contains("<ruby>"), "{lang}.json: `{key}` has ruby");
        }
    }
}

#[test]
fn the_placeholder_and_tag_readers_see_what_is_there() {
    assert_eq!(
        placeholders("Try {n} of {of}"),
        BTreeSet::from(["n".to_owned(), "of".to_owned()])
    );
    assert!(placeholders("no placeholder").is_empty());
    assert_eq!(
        tags("a<br>b<ruby>c<rt>d</rt></ruby>"),
        ["br", "ruby", "rt", "/rt", "/ruby"]
    );
}

#[test]
fn every_face_finding_has_its_guidance_in_the_catalogue() {
    use face_match::Finding::{self, *};
    // No wildcard: a new finding fails to compile here until it is listed.
    fn position(f: Finding) -> usize {
        match f {
            NoFace => 0,
            SeveralFaces => 1,
            TooSmall => 2,
            CutOff => 3,
            TooDark => 4,
            TooBright => 5,
            Backlit => 6,
            Blurred => 7,
            PhotoOrScreen => 8,
        }
    }
    let all = [
        NoFace,
        SeveralFaces,
        TooSmall,
        CutOff,
        TooDark,
        TooBright,
        Backlit,
        Blurred,
        PhotoOrScreen,
    ];
    assert!(all.iter().enumerate().all(|(i, &f)| position(f) == i));
    let ja = catalogue("ja");
    for f in all {
        let reason = serde_json::to_value(f).expect("serialise");
        let key = format!("faceGuidance.{}", reason.as_str().expect("a name"));
        assert!(ja.contains_key(&key), "{key} is missing from ja.json");
    }
    for reason in ["not_matched", "camera_error"] {
        let key = format!("faceGuidance.{reason}");
        assert!(ja.contains_key(&key), "{key} is missing from ja.json");
    }
}
