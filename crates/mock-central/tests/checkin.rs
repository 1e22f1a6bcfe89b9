//! Card check-in over real mutual TLS: PIN signature, face attestation, certificate states,
//! consents and their expiry, and the medical information they unlock.

mod common;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use common::*;
use mock_central::checkin::{AttestationDocument, sha256_hex};
use mock_central::pki::ReaderKey;
use mock_central::population::fixtures;
use oqs_protocol::Message;

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn pin_checkin_records_consents_that_unlock_medical_information() {
    let env = start().await;
    let f = env.facility.clone();
    // Before any consent: YZK is refused.
    let a = post_message(
        &env,
        "YZKsiquc01req_m0.xml",
        medical_request(&f, fixtures::EMERGENCY, true, "202401", &this_month(), "4"),
    )
    .await;
    let Message::MedicationResult(r) = inspect("YZKsiquc01res_m0.xml", &a.bytes) else {
        panic!()
    };
    assert!(
        r.message_header
            .message_contents
            .unwrap()
            .contains("OQS-C2020")
    );

    let (cert, key) = valid_card(env.path(), fixtures::EMERGENCY);
    let a = pin_checkin(&env, &cert, &key, all_consents()).await;
    assert_eq!(a.error_code, None);
    let r = a.result;
    assert_eq!(
        r.message_header
            .reference_classification
            .as_ref()
            .unwrap()
            .code(),
        "1"
    );
    assert_eq!(validity(&r), "1");
    let rec = &r
        .message_body
        .result_list
        .as_ref()
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert_eq!(rec.pharmacists_info_cons_flg.as_ref().unwrap().code(), "1");
    let cons = rec.pharmacists_info_cons_time.clone().unwrap();
    let avail = rec.pharmacists_info_available_time.clone().unwrap();
    let (c, a) = (
        mock_central::dates::parse_ymdhms(&cons).unwrap(),
        mock_central::dates::parse_ymdhms(&avail).unwrap(),
    );
    assert_eq!(
        (a - c).whole_hours(),
        24,
        "AvailableTime is ConsTime + 24 h"
    );
    assert_eq!(
        rec.limit_application_certificate_related_cons_flg
            .as_ref()
            .unwrap()
            .code(),
        "1"
    );

    // Now 薬剤+診療 (with 手術) and 特定健診 are provided.
    let a = post_message(
        &env,
        "YZKsiquc01req_m1.xml",
        medical_request(&f, fixtures::EMERGENCY, true, "202109", &this_month(), "4"),
    )
    .await;
    let Message::MedicationResult(r) = inspect("YZKsiquc01res_m1.xml", &a.bytes) else {
        panic!()
    };
    assert_eq!(r.message_header.result_code.as_ref().unwrap().code(), "1");
    assert!(r.message_body.cz_di_inf.is_some() || !r.message_body.me_tr_month_inf.is_empty());
    let a = post_message(
        &env,
        "TKKsiquc01req_m2.xml",
        medical_request(&f, fixtures::EMERGENCY, false, "", "", "2"),
    )
    .await;
    let Message::CheckupResult(r) = inspect("TKKsiquc01res_m2.xml", &a.bytes) else {
        panic!()
    };
    assert_eq!(r.message_header.result_code.as_ref().unwrap().code(), "1");
    assert!(!r.message_body.specific_health_checkup_info.is_empty());

    // Nothing before 2021-09.
    let a = post_message(
        &env,
        "YZKsiquc01req_m3.xml",
        medical_request(&f, fixtures::EMERGENCY, true, "202001", "202108", "2"),
    )
    .await;
    let Message::MedicationResult(r) = inspect("YZKsiquc01res_m3.xml", &a.bytes) else {
        panic!()
    };
    assert!(
        r.message_header
            .message_contents
            .unwrap()
            .contains("OQS-C2021")
    );
    let a = post_message(
        &env,
        "YZKsiquc01req_m4.xml",
        medical_request(&f, fixtures::EMERGENCY, true, "202001", &this_month(), "2"),
    )
    .await;
    let Message::MedicationResult(r) = inspect("YZKsiquc01res_m4.xml", &a.bytes) else {
        panic!()
    };
    let months: Vec<String> = r
        .message_body
        .cz_di_inf
        .iter()
        .flat_map(|c| c.months.iter().filter_map(|m| m.month.clone()))
        .collect();
    assert!(months.iter().all(|m| m.as_str() >= "202109"), "{months:?}");

    // Consent is per facility: the Tokyo facility has none.
    let tokyo = mock_central::client::http_client(
        env.path(),
        Some(("terminal-tokyo.crt", "terminal-tokyo.key")),
    )
    .unwrap();
    let body = medical_request(
        "1310100026",
        fixtures::EMERGENCY,
        true,
        "202401",
        &this_month(),
        "2",
    );
    let bytes = tokyo
        .post(env.url("/v1/messages/YZKsiquc01req_m5.xml"))
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let Message::MedicationResult(r) = inspect("YZKsiquc01res_m5.xml", &bytes) else {
        panic!()
    };
    assert!(
        r.message_header
            .message_contents
            .unwrap()
            .contains("OQS-C2020")
    );

    // Consent expiry: once AvailableTime has passed, YZK is refused and results show 2 (期限切れ).
    let g = person(fixtures::EMERGENCY);
    env.store
        .set_consent_expiry(
            g.person.id,
            &f,
            oqs_clock::to_jst(oqs_clock::test_now()) - time::Duration::minutes(1),
        )
        .unwrap();
    let a = post_message(
        &env,
        "YZKsiquc01req_m6.xml",
        medical_request(&f, fixtures::EMERGENCY, true, "202401", &this_month(), "2"),
    )
    .await;
    let Message::MedicationResult(r) = inspect("YZKsiquc01res_m6.xml", &a.bytes) else {
        panic!()
    };
    assert!(
        r.message_header
            .message_contents
            .unwrap()
            .contains("OQS-C2020")
    );
    let body = single_request(
        &f,
        &format!("{:>8}", g.qualifications[0].insurer_number),
        "１",
        &g.qualifications[0].number,
        None,
        "19751010",
    );
    let r = single_result(inspect(
        "OQSsiquc01res_m7.xml",
        &post_message(&env, "OQSsiquc01req_m7.xml", body).await.bytes,
    ));
    let rec = &r
        .message_body
        .result_list
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert_eq!(rec.pharmacists_info_cons_flg.as_ref().unwrap().code(), "2");

    // The patient sees the check-in and the views in the access history.
    let q = &g.qualifications[0];
    let h: serde_json::Value = env
        .client
        .get(env.url(&format!(
            "/v1/access-history?insurer_number={}&number={}&birthdate=19751010",
            q.insurer_number, q.number
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = h["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["method"] == "マイナ保険証（暗証番号）")
    );
    assert!(entries.iter().any(|e| {
        e["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "特定健診情報")
    }));
    assert!(entries.iter().all(
        |e| e["facility_name"] == "石川みなと総合病院" && e["at"].as_str().unwrap().len() == 14
    ));
    env.server.shutdown().await;
}

#[tokio::test]
async fn face_checkin_needs_a_registered_reader_attestation() {
    let env = start().await;
    let reader = ReaderKey::load(&env.path().join("reader-01.key")).unwrap();
    let (cert, _) = valid_card(env.path(), fixtures::VALID);
    let attest = |ch: &[u8], key: &ReaderKey, reader_id: &str, cert: &[u8]| {
        let doc = AttestationDocument {
            reader_id: reader_id.into(),
            card_certificate_sha256: sha256_hex(cert),
            challenge: B64.encode(ch),
            matched_at: "20261122093000".into(),
            score: 0.93,
        };
        let bytes = serde_json::to_vec(&doc).unwrap();
        serde_json::json!({"reader_id": reader_id, "document": B64.encode(&bytes), "signature": B64.encode(key.sign(&bytes))})
    };
    let body = |id: &str, att: serde_json::Value| serde_json::json!({"challenge_id": id, "auth_certificate": B64.encode(&cert), "method": "face", "attestation": att, "consents": all_consents()});
    let (id, ch) = challenge(&env).await;
    let a = post_checkin(&env, body(&id, attest(&ch, &reader, "reader-01", &cert))).await;
    assert_eq!(a.error_code, None);
    assert_eq!(validity(&a.result), "1");

    // An unregistered key claiming to be reader-01.
    let rogue = ReaderKey::generate().unwrap();
    let (id, ch) = challenge(&env).await;
    assert_eq!(
        post_checkin(&env, body(&id, attest(&ch, &rogue, "reader-01", &cert)))
            .await
            .error_code
            .as_deref(),
        Some("OQS-C2106")
    );
    // An unknown reader id.
    let (id, ch) = challenge(&env).await;
    assert_eq!(
        post_checkin(&env, body(&id, attest(&ch, &reader, "reader-99", &cert)))
            .await
            .error_code
            .as_deref(),
        Some("OQS-C2106")
    );
    // An attestation of an older challenge.
    let (id, _) = challenge(&env).await;
    assert_eq!(
        post_checkin(
            &env,
            body(&id, attest(b"old challenge", &reader, "reader-01", &cert))
        )
        .await
        .error_code
        .as_deref(),
        Some("OQS-C2107")
    );
    // A no-PIN card can use the face path.
    let (cert2, _) = valid_card(env.path(), fixtures::CARD_NO_PIN);
    let (id, ch) = challenge(&env).await;
    let mut b = body(&id, attest(&ch, &reader, "reader-01", &cert2));
    b["auth_certificate"] = B64.encode(&cert2).into();
    assert_eq!(post_checkin(&env, b).await.error_code, None);
    env.server.shutdown().await;
}

#[tokio::test]
async fn certificate_states_decide_the_checkin() {
    let env = start().await;
    let now = oqs_clock::test_now();
    // Revoked (card reported lost).
    let (cert, key) = valid_card(env.path(), fixtures::CARD_REVOKED);
    assert_eq!(
        pin_checkin(&env, &cert, &key, all_consents())
            .await
            .error_code
            .as_deref(),
        Some("OQS-C2104")
    );
    // Expired a month ago: eligibility only, no consents, a notice.
    let (cert, key) = issue_card(
        env.path(),
        fixtures::CARD_EXPIRED_IN_GRACE,
        now - DAY * 1800,
        now - DAY * 30,
    );
    let a = pin_checkin(&env, &cert, &key, all_consents()).await;
    assert_eq!(a.error_code, None);
    assert_eq!(validity(&a.result), "1");
    assert_eq!(
        a.result.message_body.processing_result_code.as_deref(),
        Some("OQS-C2112")
    );
    let rec = &a
        .result
        .message_body
        .result_list
        .as_ref()
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert_eq!(rec.pharmacists_info_cons_flg.as_ref().unwrap().code(), "0");
    // Expired six months ago: refused.
    let (cert, key) = issue_card(
        env.path(),
        fixtures::CARD_EXPIRED_LONG_AGO,
        now - DAY * 1900,
        now - DAY * 180,
    );
    assert_eq!(
        pin_checkin(&env, &cert, &key, all_consents())
            .await
            .error_code
            .as_deref(),
        Some("OQS-C2103")
    );
    // The grace counts from the end of the expiry month: a certificate that expired an hour into the first
    // day of the month three months back is still in it (up to 122 days ago), one that expired an hour
    // before that day is not.
    let threshold = oqs_clock::certificate_grace_threshold(now);
    for (expired, code) in [
        (threshold + DAY / 24, None),
        (threshold - DAY / 24, Some("OQS-C2103")),
    ] {
        let (cert, key) = issue_card(
            env.path(),
            fixtures::CARD_EXPIRED_IN_GRACE,
            now - DAY * 1900,
            expired,
        );
        let answer = pin_checkin(&env, &cert, &key, all_consents()).await;
        assert_eq!(answer.error_code.as_deref(), code, "expired at {expired:?}");
    }
    // Expiring within three months: answered, with the renewal notice.
    let (cert, key) = issue_card(
        env.path(),
        fixtures::VALID,
        now - DAY * 1800,
        now + DAY * 30,
    );
    let a = pin_checkin(&env, &cert, &key, all_consents()).await;
    assert_eq!(
        a.result.message_body.processing_result_code.as_deref(),
        Some("OQS-C2111")
    );
    // A certificate from another CA.
    let other = mock_jpki::MockJpkiCa::generate(SEED + 1).unwrap();
    let key = mock_jpki::rsa_2048_from_seed("integration-card", fixtures::VALID as u64).unwrap();
    let forged = other
        .issue_auth_cert(
            &mock_central::population::card_serial_bytes(fixtures::VALID),
            &key.to_public_key(),
            now - DAY,
            now + DAY * 365,
        )
        .unwrap();
    assert_eq!(
        pin_checkin(&env, &forged, &key, all_consents())
            .await
            .error_code
            .as_deref(),
        Some("OQS-C2102")
    );
    // Right certificate, wrong key (signature does not verify).
    let (cert, _) = valid_card(env.path(), fixtures::VALID);
    let wrong = mock_jpki::rsa_2048_from_seed("someone-else", 1).unwrap();
    assert_eq!(
        pin_checkin(&env, &cert, &wrong, all_consents())
            .await
            .error_code
            .as_deref(),
        Some("OQS-C2105")
    );
    // PIN path with a 顔認証マイナンバーカード.
    let (cert, key) = valid_card(env.path(), fixtures::CARD_NO_PIN);
    assert_eq!(
        pin_checkin(&env, &cert, &key, all_consents())
            .await
            .error_code
            .as_deref(),
        Some("OQS-C2109")
    );
    // A challenge is single-use.
    let (cert, key) = valid_card(env.path(), fixtures::VALID);
    let (id, ch) = challenge(&env).await;
    let body = serde_json::json!({"challenge_id": id, "auth_certificate": B64.encode(&cert), "method": "pin", "signature": B64.encode(sign(&key, &ch))});
    assert_eq!(post_checkin(&env, body.clone()).await.error_code, None);
    assert_eq!(
        post_checkin(&env, body).await.error_code.as_deref(),
        Some("OQS-C2101")
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn cards_issued_by_the_virtual_card_tool_are_linked_by_serial() {
    // A profile as `oqs-virtual-card issue` writes it (only the fields the central reads matter).
    let cards = tempfile::tempdir().unwrap();
    let ca = mock_jpki::MockJpkiCa::load_or_generate(cards.path(), 42).unwrap();
    let serial = [0x4A, 0x01, 0x02, 0x03, 0, 0, 0, 1];
    let key = mock_jpki::rsa_2048_from_seed("card-1", 42).unwrap();
    let now = oqs_clock::test_now();
    let cert = ca
        .issue_auth_cert(&serial, &key.to_public_key(), now - DAY, now + DAY * 1000)
        .unwrap();
    let profile = r#"format = 1
index = 1
seed = 42
variant = "normal"
serial = "4A01020300000001"
revoked = false
[holder]
name = "佐藤　翔"
kana = "サトウ　ショウ"
birth_date = "1990-06-15"
sex = "male"
address = "石川県金沢市広坂２－１－１"
"#;
    std::fs::write(cards.path().join("card-0001.toml"), profile).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = mock_central::init::InitOptions {
        jpki_ca_dir: None,
        cards_dir: Some(cards.path().to_path_buf()),
    };
    mock_central::init::init(dir.path(), 50, SEED, &opts).unwrap();
    let mut opts =
        mock_central::server::ServeOptions::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    opts.clock = oqs_clock::test_clock();
    let server = mock_central::server::Server::start(opts).await.unwrap();
    let client = mock_central::client::terminal_client(dir.path()).unwrap();
    let base = format!("https://localhost:{}", server.addr.port());
    let c: serde_json::Value = client
        .post(format!("{base}/v1/checkin/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ch = B64.decode(c["challenge"].as_str().unwrap()).unwrap();
    let body = serde_json::json!({"challenge_id": c["challenge_id"], "auth_certificate": B64.encode(&cert), "method": "pin",
        "signature": B64.encode(sign(&key, &ch))});
    let bytes = client
        .post(format!("{base}/v1/checkin"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r = single_result(inspect("OQSsiquc01res_face_linked.xml", &bytes));
    assert_eq!(error_code(&r), None, "{}", String::from_utf8_lossy(&bytes));
    let rec = &r
        .message_body
        .result_list
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert_eq!(rec.name.as_ref().unwrap().expose(), "佐藤　翔");
    assert_eq!(rec.name_kana.as_ref().unwrap().expose(), "ｻﾄｳ ｼｮｳ");
    assert_eq!(rec.birthdate.as_ref().unwrap().expose(), "19900615");
    server.shutdown().await;
}

#[test]
fn offline_challenge_matches_the_terminal() {
    // The same vector is checked by reader-daemon (checkin::offline_challenge).
    let c = mock_central::checkin::offline_challenge("1710100014", 1_790_000_000_000, &[7u8; 16]);
    let hex: String = c.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "3c4460d7f0564c073e7f15c8eae1baf0e023ec4c06885d984e8ef48dcbbfd8ff"
    );
}

fn offline_body(
    facility: &str,
    cert: &[u8],
    key: &rsa::RsaPrivateKey,
    taken_at_ms: i64,
    nonce: [u8; 16],
) -> serde_json::Value {
    let challenge = mock_central::checkin::offline_challenge(facility, taken_at_ms, &nonce);
    serde_json::json!({
        "auth_certificate": base64::engine::general_purpose::STANDARD.encode(cert),
        "method": "pin",
        "signature": base64::engine::general_purpose::STANDARD.encode(sign(key, &challenge)),
        "offline": {"taken_at_ms": taken_at_ms,
                    "nonce": base64::engine::general_purpose::STANDARD.encode(nonce)},
        "consents": all_consents(),
        // One check-in, one identifier: the service answers an identifier it has seen with its first answer.
        "arbitrary_file_identifier": format!("face_{taken_at_ms}_{:02x}", nonce[0]),
    })
}

#[tokio::test]
async fn offline_checkin_is_accepted_within_24_hours_only() {
    let env = start().await;
    let f = env.facility.clone();
    let (cert, key) = valid_card(env.path(), fixtures::EMERGENCY);
    let now_ms = i64::try_from(
        oqs_clock::test_now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    // Taken two hours ago, during an outage: accepted, consents recorded.
    let body = offline_body(&f, &cert, &key, now_ms - 2 * 3_600_000, [1; 16]);
    let a = post_checkin(&env, body.clone()).await;
    assert_eq!(a.error_code, None);
    assert_eq!(validity(&a.result), "1");
    assert_eq!(
        a.result.message_header.arbitrary_file_identifier.as_deref(),
        body["arbitrary_file_identifier"].as_str()
    );
    // Sent again (a terminal that crashed after sending): the same answer, the check-in recorded once.
    let before = env.store.checkin_answer_count(&f).unwrap();
    let again = post_checkin(&env, body).await;
    assert_eq!(again.error_code, None);
    assert_eq!(
        again.result.message_header.process_execution_time,
        a.result.message_header.process_execution_time
    );
    assert_eq!(env.store.checkin_answer_count(&f).unwrap(), before);
    // Older than 24 hours, or from the future: refused.
    for taken in [now_ms - 25 * 3_600_000, now_ms + 3_600_000] {
        let a = post_checkin(&env, offline_body(&f, &cert, &key, taken, [2; 16])).await;
        assert_eq!(a.error_code.as_deref(), Some("OQS-C2110"));
    }
    // A signature over another proof (different nonce) does not verify.
    let mut body = offline_body(&f, &cert, &key, now_ms, [3; 16]);
    body["offline"]["nonce"] =
        serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode([4u8; 16]));
    let a = post_checkin(&env, body).await;
    assert_eq!(a.error_code.as_deref(), Some("OQS-C2105"));
    // Another facility's proof does not verify either (the facility is inside the challenge).
    let a = post_checkin(
        &env,
        offline_body("1310100026", &cert, &key, now_ms, [5; 16]),
    )
    .await;
    assert_eq!(a.error_code.as_deref(), Some("OQS-C2105"));
}
