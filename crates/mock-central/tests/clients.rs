//! Golden tests against what real clients read (issue 20, reference/oqs-clients.md): for every result kind, a
//! file the product writes is read back by our reader, and every element of a sample built by hand from the
//! reference's element list (`tests/data/oqs/clients/`, README there) is found in it at the same place. Our
//! reader must also keep every element of the sample, so a client's element our structs drop fails here.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use mock_central::population::fixtures;
use oqs_protocol::{Message, read_file};

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/oqs/clients")
}

/// Element paths with a value or children (`MessageBody/ResultList/ResultOfQualificationConfirmation/Name`),
/// list positions left out, from the message as our reader understood it.
fn paths(message: &Message) -> BTreeSet<String> {
    fn walk(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    if v.is_null() {
                        continue;
                    }
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}/{key}")
                    };
                    out.insert(path.clone());
                    walk(v, &path, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, prefix, out)),
            _ => {}
        }
    }
    let value = serde_json::to_value(message).expect("a message is JSON");
    let mut out = BTreeSet::new();
    // Below the variant name (`SingleCheckResult`), which is ours, not an element.
    if let Some(inner) = value.as_object().and_then(|m| m.values().next()) {
        walk(inner, "", &mut out);
    }
    out
}

/// Every element name in the raw text of a file.
fn element_names(text: &str) -> BTreeSet<String> {
    text.split('<')
        .skip(1)
        .filter(|t| !t.starts_with(['/', '?', '!']))
        .map(|t| {
            t.split(|c: char| c == '>' || c == '/' || c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .filter(|n| n != "XmlMsg")
        .collect()
}

/// Reads the hand-built sample of `name` and checks that the product's `product` holds all of it.
fn assert_holds(sample: &str, product_name: &str, product: &[u8]) {
    let path = clients_dir().join(sample);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let read = read_file(sample, &bytes)
        .unwrap_or_else(|e| panic!("{sample}: our reader refuses the clients' shape: {e}"));
    let sample_paths = paths(&read.message);
    let names: BTreeSet<String> = sample_paths
        .iter()
        .filter_map(|p| p.rsplit('/').next().map(str::to_owned))
        .collect();
    let text = String::from_utf8(bytes).expect("samples are UTF-8");
    let dropped: Vec<_> = element_names(&text).difference(&names).cloned().collect();
    assert!(dropped.is_empty(), "{sample}: our reader drops {dropped:?}");
    let ours = read_file(product_name, product)
        .unwrap_or_else(|e| panic!("{product_name}: our reader refuses our own file: {e}"));
    let product_paths = paths(&ours.message);
    let missing: Vec<_> = sample_paths.difference(&product_paths).cloned().collect();
    assert!(
        missing.is_empty(),
        "{product_name} lacks what the client of {sample} reads: {missing:?}"
    );
}

fn download(f: &str, reception: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode></MessageHeader><MessageBody><ReceptionNumber>{reception}</ReceptionNumber></MessageBody></XmlMsg>"#
    )
}

fn reception_of(name: &str, bytes: &[u8]) -> String {
    match inspect(name, bytes) {
        Message::BulkUploadReceipt(r) => r
            .message_body
            .reception_number
            .expect("a receipt has ReceptionNumber"),
        other => panic!("{name}: {}", other.name()),
    }
}

#[tokio::test]
async fn every_result_kind_holds_what_its_clients_read() {
    let env = start_with(|o| o.bulk_delay = Duration::ZERO).await;
    let f = env.facility.clone();
    let now = oqs_clock::Clock::manual(oqs_clock::test_now()).now_jst();
    let until = now + time::Duration::hours(24);
    for id in [fixtures::VALID, fixtures::EMERGENCY] {
        env.store
            .record_consents(
                id,
                &f,
                &mock_central::results::consent_kind::ALL,
                now,
                until,
            )
            .unwrap();
    }

    // 資格確認 (myclinic's required elements).
    let a = post_message(
        &env,
        "OQSsiquc01req_g1.xml",
        single_request_for(&f, fixtures::VALID, true),
    )
    .await;
    assert_holds("OQSsiquc01res_M.xml", "OQSsiquc01res_g1.xml", &a.bytes);

    // 照会番号, single (MynaReception).
    let g = person(fixtures::VALID);
    let q = &g.qualifications[0];
    let registration = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>g2</ArbitraryFileIdentifier></MessageHeader><MessageBody><ReferenceNumberRegistrationInfo><ReferenceNumber>1234</ReferenceNumber><InsurerNumber>{:>8}</InsurerNumber><InsuredCardSymbol>{}</InsuredCardSymbol><InsuredIdentificationNumber>{}</InsuredIdentificationNumber><InsuredBranchNumber>{}</InsuredBranchNumber></ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>"#,
        q.insurer_number, q.symbol, q.number, q.branch
    );
    let a = post_message(&env, "OQSsiimm01req_g2.xml", registration.clone()).await;
    assert_holds("OQSsiimm01res_R.xml", "OQSsiimm01res_g2.xml", &a.bytes);

    // 照会番号, bulk in two steps (MynaReception).
    let a = post_message(&env, "OQSmuimm01req_g3.xml", registration).await;
    assert_holds("OQSmuimm01res_R.xml", "OQSmuimm01res_g3.xml", &a.bytes);
    let reception = reception_of("OQSmuimm01res_g3.xml", &a.bytes);
    let a = post_message(&env, "OQSmuimm02req_g3.xml", download(&f, &reception)).await;
    assert_holds("OQSmuimm02res_R.xml", "OQSmuimm02res_g3.xml", &a.bytes);

    // 一括照会 (OQSDrug): the registered 照会番号 comes back under BulkConfirmUnit.
    let s = single_request_for(&f, fixtures::VALID, true);
    let info = &s[s.find("<QualificationConfirmSearchInfo>").unwrap()
        ..s.find("</QualificationConfirmSearchInfo>").unwrap()
            + "</QualificationConfirmSearchInfo>".len()];
    let upload = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>g4</ArbitraryFileIdentifier></MessageHeader><MessageBody>{info}</MessageBody></XmlMsg>"#
    );
    let a = post_message(&env, "OQSmuquc01req_g4.xml", upload).await;
    assert_holds("OQSmuquc01res_D.xml", "OQSmuquc01res_g4.xml", &a.bytes);
    let reception = reception_of("OQSmuquc01res_g4.xml", &a.bytes);
    let a = post_message(&env, "OQSmuquc02req_g4.xml", download(&f, &reception)).await;
    assert_holds("OQSmuquc02res_D.xml", "OQSmuquc02res_g4.xml", &a.bytes);

    // The bulk queries by period (OQSDrug): both patients consented today.
    let today = today();
    let month = &today[..6];
    for (prefix, query) in [
        (
            "OQSmutic",
            format!("<MedicalTreatmentMonth>{month}</MedicalTreatmentMonth>"),
        ),
        (
            "OQSmuhvq",
            format!(
                "<ConsentDateFrom>{today}</ConsentDateFrom><ConsentDateTo>{today}</ConsentDateTo><MedicalTreatmentFlag>2</MedicalTreatmentFlag>"
            ),
        ),
        (
            "OQSmuonq",
            format!(
                "<ConsentDateFrom>{today}</ConsentDateFrom><ConsentDateTo>{today}</ConsentDateTo><MedicalTreatmentFlag>3</MedicalTreatmentFlag>"
            ),
        ),
    ] {
        let upload = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><MedicalInstitutionCode>{f}</MedicalInstitutionCode><ArbitraryFileIdentifier>g5</ArbitraryFileIdentifier></MessageHeader><MessageBody><QualificationConfirmSearchInfo>{query}</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#
        );
        let name = format!("{prefix}01res_g5.xml");
        let a = post_message(&env, &format!("{prefix}01req_g5.xml"), upload).await;
        assert_holds(&format!("{prefix}01res_D.xml"), &name, &a.bytes);
        let reception = reception_of(&name, &a.bytes);
        let a = post_message(
            &env,
            &format!("{prefix}02req_g5.xml"),
            download(&f, &reception),
        )
        .await;
        assert_holds(
            &format!("{prefix}02res_D.xml"),
            &format!("{prefix}02res_g5.xml"),
            &a.bytes,
        );
    }

    // 薬剤・診療 and 特定健診 (OQSDrug).
    let a = post_message(
        &env,
        "YZKsiquc01req_g6.xml",
        medical_request(&f, fixtures::EMERGENCY, true, "202109", &this_month(), "4"),
    )
    .await;
    assert_holds("YZKsiquc01res_D.xml", "YZKsiquc01res_g6.xml", &a.bytes);
    let a = post_message(
        &env,
        "TKKsiquc01req_g6.xml",
        medical_request(&f, fixtures::EMERGENCY, false, "", "", "2"),
    )
    .await;
    assert_holds("TKKsiquc01res_D.xml", "TKKsiquc01res_g6.xml", &a.bytes);

    env.server.shutdown().await;
}
