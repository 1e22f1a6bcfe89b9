//! The service as a whole: who may connect, environment settings, fault injection.

mod common;

use common::*;
use mock_central::population::fixtures;
use mock_central::server::FaultSettings;
use serde_json::{Value, json};

#[tokio::test]
async fn only_valid_terminal_certificates_connect() {
    let env = start().await;
    let ok = env.client.get(env.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    for client in [
        None,
        Some(("terminal-revoked.crt", "terminal-revoked.key")),
        Some(("terminal-expired.crt", "terminal-expired.key")),
    ] {
        let c = mock_central::client::http_client(env.path(), client).unwrap();
        assert!(
            c.get(env.url("/healthz")).send().await.is_err(),
            "{client:?} must be refused"
        );
    }
    // A certificate from an unknown CA (a second data directory's terminal certificate).
    let other = tempfile::tempdir().unwrap();
    mock_central::init::init(
        other.path(),
        mock_central::population::FIXTURE_COUNT,
        1,
        &Default::default(),
    )
    .unwrap();
    let foreign =
        mock_central::client::tls_config(other.path(), Some(("terminal.crt", "terminal.key")))
            .unwrap();
    let mut trust_env = mock_central::client::tls_config(env.path(), None).unwrap();
    // Trust the server, present the foreign certificate.
    trust_env.client_auth_cert_resolver = foreign.client_auth_cert_resolver.clone();
    let c = reqwest::Client::builder()
        .use_preconfigured_tls(trust_env)
        .build()
        .unwrap();
    assert!(
        c.get(env.url("/healthz")).send().await.is_err(),
        "unknown CA must be refused"
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn environment_settings_change_only_with_the_admin_credential() {
    let env = start().await;
    let url = env.url("/v1/facility/settings");
    let s: Value = env
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["facility_code"], env.facility.as_str());
    assert_eq!(s["settings"]["character_code"], "UTF-8");
    let mut new = s["settings"].clone();
    new["character_code"] = "Shift_JIS".into();
    new["diagnosis_info"] = false.into();
    assert_eq!(
        env.client
            .put(&url)
            .json(&new)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let r = env
        .client
        .put(&url)
        .bearer_auth("wrong")
        .json(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The other facility's credential does not work here either.
    let tokyo_cred =
        mock_central::init::read_secret(env.path(), "admin-credential-tokyo.txt").unwrap();
    assert_eq!(
        env.client
            .put(&url)
            .bearer_auth(&tokyo_cred)
            .json(&new)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let cred = mock_central::init::read_secret(env.path(), "admin-credential.txt").unwrap();
    let mut bad = new.clone();
    bad["character_code"] = "EUC-JP".into();
    assert_eq!(
        env.client
            .put(&url)
            .bearer_auth(&cred)
            .json(&bad)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );
    let r: Value = env
        .client
        .put(&url)
        .bearer_auth(&cred)
        .json(&new)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["settings"]["character_code"], "Shift_JIS");

    // Results now come in Shift_JIS; a name outside JIS X 0208 is replaced by 〓.
    let a = post_message(
        &env,
        "OQSsiquc01req_sj.xml",
        single_request_for(&env.facility, fixtures::RARE_NAME, true),
    )
    .await;
    assert!(a.content_type.contains("Shift_JIS"), "{}", a.content_type);
    let r = single_result(inspect("OQSsiquc01res_sj.xml", &a.bytes));
    assert_eq!(
        r.message_header
            .character_code_identifier
            .as_ref()
            .unwrap()
            .code(),
        "1"
    );
    let rec = &r
        .message_body
        .result_list
        .unwrap()
        .result_of_qualification_confirmation[0];
    assert_eq!(rec.name.as_ref().unwrap().expose(), "〓田　凛");
    // 診療情報 switched off: YZK with 診療 is refused by setting.
    let a = post_message(
        &env,
        "YZKsiquc01req_off.xml",
        medical_request(
            &env.facility,
            fixtures::VALID,
            true,
            "202401",
            "202412",
            "4",
        ),
    )
    .await;
    let oqs_protocol::Message::MedicationResult(m) = inspect("YZKsiquc01res_off.xml", &a.bytes)
    else {
        panic!()
    };
    assert!(
        m.message_header
            .message_contents
            .unwrap()
            .contains("OQS-C2023")
    );

    // The Tokyo facility's settings are untouched.
    let tokyo = mock_central::client::http_client(
        env.path(),
        Some(("terminal-tokyo.crt", "terminal-tokyo.key")),
    )
    .unwrap();
    let t: Value = tokyo.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(t["settings"]["character_code"], "UTF-8");
    env.server.shutdown().await;
}

#[tokio::test]
async fn faults_from_options_and_the_admin_endpoint() {
    // Started down (as `serve --down`).
    let env = start_with(|o| {
        o.faults = FaultSettings {
            down: true,
            ..Default::default()
        }
    })
    .await;
    let r = env.client.get(env.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let admin = env.url("/v1/admin/faults");
    assert_eq!(
        env.client
            .put(&admin)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let token = mock_central::init::read_secret(env.path(), "operator-token.txt").unwrap();
    let put = |body: Value| {
        env.client
            .put(&admin)
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    assert_eq!(put(json!({})).await.unwrap().status().as_u16(), 200);
    assert_eq!(
        env.client
            .get(env.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // Error rate 0.5: exactly every second request fails (deterministic spread).
    put(json!({"error_rate": 0.5})).await.unwrap();
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(
            env.client
                .get(env.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(codes.iter().filter(|c| **c == 500).count(), 5, "{codes:?}");
    assert_eq!(
        put(json!({"error_rate": 1.5}))
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );

    // Latency.
    put(json!({"latency_ms": 300})).await.unwrap();
    let t = std::time::Instant::now();
    assert_eq!(
        env.client
            .get(env.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));

    // A downtime window ends by itself.
    put(json!({"down_for_secs": 1})).await.unwrap();
    assert_eq!(
        env.client
            .get(env.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        503
    );
    let f: Value = env
        .client
        .get(&admin)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(f["down_for_secs"].as_u64().unwrap() <= 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if env
            .client
            .get(env.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
            == 200
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "downtime did not end");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    env.server.shutdown().await;
}
