//! Emergency and disaster lookups over real mutual TLS, and what the patient sees afterwards.

mod common;

use base64::Engine as _;
use common::*;
use mock_central::population::fixtures;
use serde_json::{Value, json};

fn two_factors() -> Value {
    json!([{"element": "1", "method": "01"}, {"element": "3", "method": "02"}])
}

fn viewer() -> Value {
    json!({"id": "dr-tanaka", "emergency_permission": "1", "factors": two_factors()})
}

fn four_facts(name: &str, birth: &str, sex: &str, fourth: &str) -> Value {
    json!({"name": name, "birthdate": birth, "sex": sex, "insurer_name_or_address": fourth})
}

async fn post(env: &Env, path: &str, body: Value) -> (u16, Value) {
    let r = env
        .client
        .post(env.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn emergency_lookup_rules() {
    let env = start().await;
    let target = four_facts("石川　蓮", "19751010", "1", "珠洲");
    let req = |viewer: Value, facts: Value| json!({"viewer": viewer, "reason": "意識障害で救急搬送", "four_facts": facts});

    // No permission, one factor only, two factors of the same element.
    let (s, b) = post(
        &env,
        "/v1/emergency/lookup",
        req(
            json!({"id": "ns-1", "factors": two_factors()}),
            target.clone(),
        ),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("OQS-C2201")));
    let one = json!({"id": "dr-1", "emergency_permission": "1", "factors": [{"element": "1", "method": "01"}]});
    let (s, b) = post(&env, "/v1/emergency/lookup", req(one, target.clone())).await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("OQS-C2202")));
    let same = json!({"id": "dr-1", "emergency_permission": "1", "factors": [{"element": "1", "method": "01"}, {"element": "1", "method": "02"}]});
    let (s, _) = post(&env, "/v1/emergency/lookup", req(same, target.clone())).await;
    assert_eq!(s, 403);

    // Three facts only.
    let (s, b) = post(
        &env,
        "/v1/emergency/lookup",
        req(viewer(), four_facts("石川　蓮", "19751010", "1", "")),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("OQS-C2203")));
    // Several people match: ask for more, never list them.
    let (s, b) = post(
        &env,
        "/v1/emergency/lookup",
        req(viewer(), four_facts("山本　陽菜", "20100101", "2", "輪島")),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("OQS-C2205")));
    assert!(b.get("patient").is_none() && !b.to_string().contains("河井町"));
    // A more specific address part narrows it to one.
    let (s, b) = post(
        &env,
        "/v1/emergency/lookup",
        req(viewer(), four_facts("山本陽菜", "20100101", "2", "河井町")),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["patient"]["number"], "000013");
    // No match; the fourth fact must match partially, not be ignored.
    let (s, _) = post(
        &env,
        "/v1/emergency/lookup",
        req(viewer(), four_facts("石川　蓮", "19751010", "1", "札幌")),
    )
    .await;
    assert_eq!(s, 404);

    // Four facts (insurer name partial, variant characters folded) → the summary, flag 4, notice.
    let (s, b) = post(&env, "/v1/emergency/lookup", req(viewer(), target.clone())).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["medical_treatment_flag"], "4");
    assert_eq!(b["patient"]["name"], "石川　蓮");
    assert!(b["notice"].as_str().unwrap().contains("記録"));
    assert!(b["summary"]["medications"].is_array());
    let (s, _) = post(
        &env,
        "/v1/emergency/lookup",
        req(viewer(), four_facts("吉田　凛", "20000229", "2", "珠洲市")),
    )
    .await;
    assert_eq!(s, 200, "吉田 finds 𠮷田");

    // By the card in the reader (no PIN, no consent).
    let (cert, _) = valid_card(env.path(), fixtures::VALID);
    let (s, b) = post(
        &env,
        "/v1/emergency/lookup",
        json!({"viewer": viewer(), "reason": "心肺停止", "auth_certificate": B64.encode(&cert)}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["patient"]["name"], "山田　太郎");

    // The patient sees the emergency view in マイナポータル: facility, time, items, method.
    let g = person(fixtures::EMERGENCY);
    let q = &g.qualifications[0];
    let h: Value = env
        .client
        .get(env.url(&format!(
            "/v1/access-history?insurer_number=%20%20{}&symbol=1&number={}&birthdate=19751010",
            q.insurer_number, q.number
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let e = &h["entries"][0];
    assert_eq!(e["method"], "救急時医療情報閲覧（4情報）");
    assert_eq!(e["facility_name"], "石川みなと総合病院");
    assert!(
        e["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "薬剤情報")
    );
    assert!(
        e.get("viewer_id").is_none(),
        "the portal shows the facility, not the doctor"
    );
    env.server.shutdown().await;
}

fn cli(env: &Env, args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oqs-mock-central"))
        .args(args)
        .arg("--dir")
        .arg(env.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn disaster_lookup_only_inside_an_open_window() {
    let env = start().await;
    let body = json!({"viewer": {"id": "dr-sato"}, "consent": "oral", "four_facts": four_facts("石川　蓮", "19751010", "1", "珠洲")});
    let (s, b) = post(&env, "/v1/disaster/lookup", body.clone()).await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("OQS-C2301")));

    // A window in the past, and one for another prefecture: still closed.
    cli(
        &env,
        &[
            "disaster", "open", "--pref", "17", "--from", "20240101", "--to", "20240108",
        ],
    );
    cli(
        &env,
        &[
            "disaster", "open", "--pref", "15", "--from", "20200101", "--to", "20991231",
        ],
    );
    let (s, _) = post(&env, "/v1/disaster/lookup", body.clone()).await;
    assert_eq!(s, 403);

    // Open now for 石川県 (17): the facility in 石川 may look up; the Tokyo facility may not.
    let now = oqs_clock::to_jst(oqs_clock::test_now());
    let from = mock_central::dates::ymdhms(now - time::Duration::hours(1));
    let to = mock_central::dates::ymdhms(now + time::Duration::days(7));
    cli(
        &env,
        &[
            "disaster", "open", "--pref", "17", "--from", &from, "--to", &to,
        ],
    );
    let (s, b) = post(&env, "/v1/disaster/lookup", body.clone()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["mode"], "disaster");
    assert!(b["notice"].as_str().unwrap().contains("特例"));
    let w: Value = env
        .client
        .get(env.url("/v1/disaster/windows"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(w["open_now"], true);

    let tokyo = mock_central::client::http_client(
        env.path(),
        Some(("terminal-tokyo.crt", "terminal-tokyo.key")),
    )
    .unwrap();
    let r = tokyo
        .post(env.url("/v1/disaster/lookup"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // By insurance numbers + birth date; all four facts still required; consent must be stated.
    let g = person(fixtures::VALID);
    let q = &g.qualifications[0];
    let by_numbers = json!({"viewer": {"id": "dr-sato"}, "consent": "unobtainable",
        "insurance": {"insurer_number": q.insurer_number, "number": q.number, "birthdate": "19800401"}});
    let (s, b) = post(&env, "/v1/disaster/lookup", by_numbers).await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = post(&env, "/v1/disaster/lookup", json!({"viewer": {"id": "x"}, "consent": "oral", "four_facts": four_facts("石川　蓮", "19751010", "", "珠洲")})).await;
    assert_eq!(s, 400);
    let (s, _) = post(&env, "/v1/disaster/lookup", json!({"viewer": {"id": "x"}, "consent": "", "four_facts": four_facts("石川　蓮", "19751010", "1", "珠洲")})).await;
    assert_eq!(s, 400);

    // Recorded for the patient.
    let p = person(fixtures::EMERGENCY);
    let pq = &p.qualifications[0];
    let h: Value = env
        .client
        .get(env.url(&format!(
            "/v1/access-history?insurer_number={}&number={}&birthdate=19751010",
            pq.insurer_number, pq.number
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["entries"][0]["method"], "災害時医療情報閲覧（口頭同意）");
    env.server.shutdown().await;
}
