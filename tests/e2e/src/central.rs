//! Talking to the mock central service the way a facility's IT vendor does (curl over mutual TLS).

use std::process::Command;

use crate::MockCentral;

/// GETs the facility's environment settings, changes them with `edit`, and PUTs them back with the admin
/// credential.
pub fn change_settings(central: &MockCentral, edit: impl FnOnce(&mut serde_json::Value)) {
    let d = &central.dir;
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "--cacert"])
            .arg(d.join("ca.crt"))
            .arg("--cert")
            .arg(d.join("terminal.crt"))
            .arg("--key")
            .arg(d.join("terminal.key"))
            .args(extra)
            .arg(format!("{}v1/facility/settings", central.url()))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        out.stdout
    };
    let view: serde_json::Value = serde_json::from_slice(&curl(&[])).expect("settings JSON");
    let mut settings = view["settings"].clone();
    edit(&mut settings);
    let credential =
        std::fs::read_to_string(d.join("admin-credential.txt")).expect("admin credential");
    curl(&[
        "-X",
        "PUT",
        "-H",
        &format!("Authorization: Bearer {}", credential.trim()),
        "-H",
        "Content-Type: application/json",
        "--data",
        &settings.to_string(),
    ]);
}

/// The patient's access history as マイナポータル shows it, for this facility only: (at, items joined with ・,
/// method) per entry, newest first. `numbers` are 保険者番号, 記号, 番号, birth date (yyyyMMdd); `branch` the 枝番
/// where the 番号 is a family's.
pub fn portal_entries(
    central: &MockCentral,
    numbers: &(String, String, String, String),
    branch: Option<&str>,
) -> Vec<(String, String, String)> {
    let d = &central.dir;
    let (insurer, symbol, number, birth) = numbers;
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-G", "--cacert"])
        .arg(d.join("ca.crt"))
        .arg("--cert")
        .arg(d.join("terminal.crt"))
        .arg("--key")
        .arg(d.join("terminal.key"))
        .arg("--data-urlencode")
        .arg(format!("insurer_number={insurer}"))
        .arg("--data-urlencode")
        .arg(format!("symbol={symbol}"))
        .arg("--data-urlencode")
        .arg(format!("number={number}"))
        .arg("--data-urlencode")
        .arg(format!("birthdate={birth}"))
        .args(
            branch
                .map(|b| ["--data-urlencode".to_owned(), format!("branch={b}")])
                .into_iter()
                .flatten(),
        )
        .arg(format!("{}v1/access-history", central.url()))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).expect("history JSON");
    history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["facility_code"] == central.facility_code.as_str())
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            let items = e["items"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i.as_str())
                        .collect::<Vec<_>>()
                        .join("・")
                })
                .unwrap_or_default();
            (text("at"), items, text("method"))
        })
        .collect()
}

/// The insurer registers person `person`'s new qualification with the service (`oqs-mock-central
/// load-qualifications`), while the service keeps serving.
pub fn load_qualifications(central: &MockCentral, person: i64) {
    qualifications(central, "load-qualifications", person);
}

/// None of person `person`'s qualifications is registered yet (`oqs-mock-central withhold-qualifications`):
/// 該当資格なし until [`load_qualifications`].
pub fn withhold_qualifications(central: &MockCentral, person: i64) {
    qualifications(central, "withhold-qualifications", person);
}

fn qualifications(central: &MockCentral, command: &str, person: i64) {
    let out = Command::new(crate::bin("oqs-mock-central"))
        .arg(command)
        .arg("--dir")
        .arg(&central.dir)
        .args(["--person", &person.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("run oqs-mock-central {command}: {e}"));
    assert!(
        out.status.success() && !String::from_utf8_lossy(&out.stdout).starts_with('0'),
        "{command}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Which of a fixture person's qualifications [`qualification_numbers`] reads.
#[derive(Clone, Copy)]
pub enum Qualification {
    /// The current one (no 資格喪失年月日).
    Current,
    /// A current one the service has loaded: a check by its numbers answers 有効.
    Confirmed,
    /// A lost one.
    Lost,
    /// One the service has not loaded yet (as the patient would write it on a 申立書 from the new employer's
    /// papers).
    Pending,
}

use rusqlite::OptionalExtension;

/// 保険者番号 (trimmed), 記号, 番号, 枝番 and birth date (YYYY-MM-DD) of one of `person`'s qualifications, read from
/// the mock central's database.
pub fn qualification_numbers(
    central: &MockCentral,
    person: i64,
    which: Qualification,
) -> [String; 5] {
    try_qualification_numbers(central, person, which).expect("the fixture person's qualification")
}

/// [`qualification_numbers`], or `None` when `person` has no such qualification.
pub fn try_qualification_numbers(
    central: &MockCentral,
    person: i64,
    which: Qualification,
) -> Option<[String; 5]> {
    let condition = match which {
        Qualification::Current => "disq_date IS NULL",
        Qualification::Confirmed => "disq_date IS NULL AND loaded = 1",
        Qualification::Lost => "disq_date IS NOT NULL",
        Qualification::Pending => "loaded = 0",
    };
    let db = rusqlite::Connection::open(central.dir.join("central.sqlite3")).expect("central db");
    let [insurer, symbol, number, branch, birth]: [String; 5] = db
        .query_row(
            &format!(
                "SELECT insurer_number, symbol, number, branch, birth FROM qualifications \
                 WHERE person_id = ?1 AND {condition} ORDER BY id LIMIT 1"
            ),
            [person],
            |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
        )
        .optional()
        .expect("reading the mock central's qualifications")?;
    let digits: String = birth.chars().filter(char::is_ascii_digit).collect();
    let birth = format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..8]);
    Some([insurer.trim().to_owned(), symbol, number, branch, birth])
}
