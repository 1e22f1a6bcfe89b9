//! The file relay end to end: real `oqs-readerd`, real mock central service over mutual TLS on loopback,
//! real folders. Requests are dropped in `req/` as a receipt computer does; results are read from `res/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::{
    Daemon, Deliveries, MockCentral, in_keyutils_session, single_check_request, wait_for, workspace,
};
use oqs_protocol::{FileName, Message, MessageKind, SegmentOfResult, read_file};

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for_file(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    wait_for(
        &format!("{}", path.display()),
        Duration::from_secs(30),
        || std::fs::read(&path).ok(),
    )
}

/// Every valid request sample, with its MedicalInstitutionCode set to the facility's.
fn request_samples(facility: &str) -> Vec<(String, Vec<u8>)> {
    let dir = workspace().join("tests/data/oqs/valid");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("valid samples") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if !name.contains("req_") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read sample");
        // The code is ASCII, so a byte replacement works for UTF-8 and Shift_JIS alike.
        let text = replace_code(&bytes, facility);
        out.push((name, text));
    }
    out.sort();
    out
}

fn replace_code(bytes: &[u8], facility: &str) -> Vec<u8> {
    let open = b"<MedicalInstitutionCode>";
    let Some(start) = bytes.windows(open.len()).position(|w| w == open) else {
        return bytes.to_vec();
    };
    let from = start + open.len();
    let mut out = bytes[..from].to_vec();
    out.extend_from_slice(facility.as_bytes());
    out.extend_from_slice(&bytes[from + 10..]);
    out
}

#[test]
fn every_request_kind_is_answered_in_res() {
    if !in_keyutils_session("every_request_kind_is_answered_in_res") {
        return;
    }
    let central = MockCentral::start(300, None);
    let daemon = Daemon::start(&central, "");
    let samples = request_samples(&central.facility_code);
    assert!(
        samples.len() >= 14,
        "expected every kind in UTF-8 and Shift_JIS, got {}",
        samples.len()
    );
    for (name, bytes) in &samples {
        daemon.drop_request(name, bytes);
    }
    let mut kinds = BTreeSet::new();
    for (name, _) in &samples {
        let parsed = FileName::parse(name).expect("sample name");
        let result_name = parsed.result_name().expect("result name");
        let bytes = wait_for_file(&daemon.res(), &result_name);
        let decoded = read_file(&result_name, &bytes)
            .unwrap_or_else(|e| panic!("{result_name} unreadable: {e}"));
        kinds.insert(parsed.kind().code());
        // An answer from the central service, not a terminal-side rejection.
        if let Message::SingleCheckResult(r) = &decoded.message {
            assert_eq!(
                r.message_header.segment_of_result,
                Some(SegmentOfResult::Normal),
                "{result_name}"
            );
        }
        assert!(
            !files(&daemon.res()).contains(&parsed.err_name()),
            "{name} was rejected"
        );
        // The request is kept (moved right after the result is handed over).
        wait_for_file(&daemon.work().join("done"), name);
    }
    assert_eq!(
        kinds.len(),
        MessageKind::ALL.len(),
        "kinds answered: {kinds:?}"
    );
    assert!(
        files(&daemon.req()).is_empty(),
        "req/ not emptied: {:?}",
        files(&daemon.req())
    );
}

#[test]
fn malformed_requests_get_error_results_and_are_kept() {
    if !in_keyutils_session("malformed_requests_get_error_results_and_are_kept") {
        return;
    }
    let central = MockCentral::start(100, None);
    let daemon = Daemon::start(&central, "");
    let dir = workspace().join("tests/data/oqs/malformed");
    let mut dropped: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("malformed samples") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name == "README.md" || !name.contains("req") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("sample");
        dropped.push((name, bytes));
    }
    assert!(!dropped.is_empty());
    for (name, bytes) in &dropped {
        daemon.drop_request(name, bytes);
    }
    for (name, bytes) in &dropped {
        let err_name = match FileName::parse(name) {
            Ok(parsed) => parsed.err_name(),
            Err(_) => format!("{name}.err"),
        };
        let err =
            String::from_utf8(wait_for_file(&daemon.res(), &err_name)).expect(".err is UTF-8");
        assert!(err.contains("code: OQS-E1"), "{err_name}: {err}");
        assert!(err.contains("message_en: "), "{err_name}: {err}");
        // The copy next to it is the request, byte for byte, and the original is kept.
        assert_eq!(&wait_for_file(&daemon.res(), name), bytes, "copy of {name}");
        assert_eq!(
            &wait_for_file(&daemon.work().join("error"), name),
            bytes,
            "kept {name}"
        );
        // A request of a known kind also gets an error result of its kind.
        if let Ok(parsed) = FileName::parse(name) {
            if let Ok(result_name) = parsed.result_name() {
                let result = wait_for_file(&daemon.res(), &result_name);
                let decoded = read_file(&result_name, &result).expect("error result readable");
                if let Message::SingleCheckResult(r) = decoded.message {
                    assert_eq!(
                        r.message_header.segment_of_result,
                        Some(SegmentOfResult::Abnormal)
                    );
                    assert!(
                        r.message_header
                            .error_code
                            .unwrap_or_default()
                            .starts_with("OQS-E1")
                    );
                }
            }
        }
    }
}

/// Consumes result files as a receipt computer does (moves them away). Deliveries are counted from the
/// kernel's rename events on `res/` ([`Deliveries`]), so a second delivery is seen whether or not the
/// first was consumed in between, and however late it comes.
struct Consumer {
    res: PathBuf,
    taken: PathBuf,
    deliveries: Deliveries,
    consumed: u32,
}

impl Consumer {
    fn new(res: PathBuf, taken: PathBuf) -> Self {
        std::fs::create_dir_all(&taken).expect("taken dir");
        let deliveries = Deliveries::watch(&res);
        Self {
            res,
            taken,
            deliveries,
            consumed: 0,
        }
    }

    /// Waits until every expected result was delivered.
    fn wait_all(&mut self, expected: &BTreeSet<String>) {
        wait_for(
            &format!("all {} results", expected.len()),
            Duration::from_secs(180),
            || {
                self.sweep();
                let counts = self.deliveries.counts();
                expected
                    .iter()
                    .all(|n| counts.contains_key(n))
                    .then_some(())
            },
        );
    }

    /// Each expected result delivered exactly once, nothing else, nothing written in place.
    fn assert_exactly_once(&mut self, expected: &BTreeSet<String>) {
        self.sweep();
        let expected: Vec<&String> = expected.iter().collect();
        self.deliveries.assert_exactly_once(&expected);
    }

    fn sweep(&mut self) {
        for name in files(&self.res) {
            let from = self.res.join(&name);
            let to = self.taken.join(format!("{name}.{}", self.consumed));
            if std::fs::rename(&from, &to).is_ok() {
                self.consumed += 1;
            }
        }
    }
}

#[test]
fn central_outage_during_500_requests_answers_each_once() {
    if !in_keyutils_session("central_outage_during_500_requests_answers_each_once") {
        return;
    }
    let mut central = MockCentral::start(100, None);
    let daemon = Daemon::start(&central, "");
    let mut consumer = Consumer::new(daemon.res(), daemon.root.join("taken"));
    let mut expected = BTreeSet::new();
    for i in 0..500 {
        if i == 100 {
            central.stop();
        }
        if i == 400 {
            // The service stays down until the daemon has seen it down and parked requests.
            wait_for(
                "requests parked during the outage",
                Duration::from_secs(60),
                || daemon.logs().contains("request waits").then_some(()),
            );
            central.serve();
        }
        let (name, bytes) = single_check_request(&central.facility_code, &format!("outage{i:04}"));
        expected.insert(name.replace("req_", "res_"));
        daemon.drop_request(&name, &bytes);
        if i % 50 == 0 {
            consumer.sweep();
        }
    }
    consumer.wait_all(&expected);
    // A late second delivery would come from the sweep of outgoing/ (every rescan) or a restart's recovery.
    let mut daemon = daemon;
    std::thread::sleep(Duration::from_secs(1));
    daemon.kill();
    daemon.restart();
    std::thread::sleep(Duration::from_secs(1));
    consumer.assert_exactly_once(&expected);
}

#[test]
fn sigkill_during_1000_requests_loses_nothing_and_duplicates_nothing() {
    if !in_keyutils_session("sigkill_during_1000_requests_loses_nothing_and_duplicates_nothing") {
        return;
    }
    let central = MockCentral::start(100, None);
    let mut daemon = Daemon::start(&central, "");
    let mut consumer = Consumer::new(daemon.res(), daemon.root.join("taken"));
    let mut expected = BTreeSet::new();
    let mut kills = 0;
    // Pseudo-random kill points, fixed so a failure can be replayed.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next_kill = 40;
    for i in 0..1000 {
        let (name, bytes) = single_check_request(&central.facility_code, &format!("kill{i:04}"));
        expected.insert(name.replace("req_", "res_"));
        daemon.drop_request(&name, &bytes);
        if i == next_kill {
            // Kill at a moment that varies: right away, or after the daemon had some time.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            std::thread::sleep(Duration::from_millis(state % 40));
            daemon.kill();
            kills += 1;
            consumer.sweep();
            daemon.restart();
            next_kill += 60 + (state % 40) as usize;
        }
        if i % 25 == 0 {
            consumer.sweep();
        }
    }
    assert!(kills >= 10, "only {kills} kills");
    consumer.wait_all(&expected);
    // A late second delivery would come from the sweep of outgoing/ or a restart's recovery.
    daemon.kill();
    daemon.restart();
    std::thread::sleep(Duration::from_secs(1));
    consumer.assert_exactly_once(&expected);
    assert!(files(&daemon.req()).is_empty());
}

/// 利用文字コード changed by an administrator through the daemon (as the app's 環境設定情報 form does): the
/// next result in `res/` is in the new encoding, without a card or a restart in between, and back again.
#[test]
fn the_relay_follows_the_character_code_an_administrator_sets() {
    if !in_keyutils_session("the_relay_follows_the_character_code_an_administrator_sets") {
        return;
    }
    use e2e::relayed_result_encoding;
    use e2e::staff::{ADMIN_PW, connect, create_admin, login, rt};
    use oqs_protocol::Encoding;
    use terminal_ipc::{Request, Response, Secret};

    let central = MockCentral::start(20, None);
    let daemon = Daemon::start(&central, "");
    create_admin(&daemon);
    let credential = std::fs::read_to_string(central.dir.join("admin-credential.txt"))
        .expect("admin credential");
    let rt = rt();
    let client = rt.block_on(connect(&daemon));
    let session = rt.block_on(login(&client, "admin", ADMIN_PW, None));
    let set = |code: &str| {
        let mut settings = match rt
            .block_on(client.request(Request::EnvironmentSettings {
                session: session.clone(),
            }))
            .expect("the settings")
        {
            Response::EnvironmentSettings { settings, .. } => settings,
            other => panic!("{other:?}"),
        };
        settings["character_code"] = code.into();
        let answer = rt
            .block_on(client.request(Request::SetEnvironmentSettings {
                session: session.clone(),
                credential: Secret::new(credential.trim()),
                settings,
            }))
            .expect("the settings are changed");
        assert!(
            matches!(answer, Response::EnvironmentSettings { .. }),
            "{answer:?}"
        );
    };
    let facility = central.facility_code.clone();

    let (encoding, declaration) = relayed_result_encoding(&daemon, &facility, "charset001");
    assert_eq!(encoding, Encoding::Utf8, "{declaration}");
    set("Shift_JIS");
    let (encoding, declaration) = relayed_result_encoding(&daemon, &facility, "charset002");
    assert_eq!(encoding, Encoding::ShiftJis, "{declaration}");
    assert!(
        declaration.starts_with("<?xml version=\"1.0\" encoding=\"Shift_JIS\""),
        "{declaration}"
    );
    set("UTF-8");
    let (encoding, declaration) = relayed_result_encoding(&daemon, &facility, "charset003");
    assert_eq!(encoding, Encoding::Utf8, "{declaration}");
    assert!(
        declaration.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\""),
        "{declaration}"
    );
}
