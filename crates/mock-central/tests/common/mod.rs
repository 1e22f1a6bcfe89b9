//! Shared helpers of the integration tests: a fresh data directory, a server on loopback, a
//! mutual-TLS client, request builders, card issuance, and the same checks `oqs file inspect` does.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use mock_central::population::{Generated, card_serial_bytes, generate_person};
use mock_central::server::{ServeOptions, Server};
use mock_central::store::Store;
use oqs_protocol::{FileName, Message};

pub const SEED: u64 = 7;
pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub server: Server,
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub facility: String,
}

impl Env {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn url(&self, p: &str) -> String {
        format!("{}{}", self.base, p)
    }
}

pub async fn start() -> Env {
    start_with(|_| {}).await
}

pub async fn start_with(tune: impl FnOnce(&mut ServeOptions)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let info = mock_central::init::init(dir.path(), 300, SEED, &Default::default()).unwrap();
    let mut opts = ServeOptions::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    opts.pool_size = 4;
    opts.clock = oqs_clock::test_clock();
    tune(&mut opts);
    let server = Server::start(opts).await.unwrap();
    let base = format!("https://localhost:{}", server.addr.port());
    let client = mock_central::client::terminal_client(dir.path()).unwrap();
    let store = Store::open(dir.path(), 2).unwrap();
    Env {
        dir,
        server,
        base,
        client,
        store,
        facility: info.facility_code,
    }
}

pub fn person(id: i64) -> Generated {
    generate_person(SEED, id)
}

/// Today by the tests' pinned clock (`OQS_TEST_NOW`), as `yyyyMMdd`.
pub fn today() -> String {
    oqs_clock::Clock::manual(oqs_clock::test_now()).ymd_jst()
}

/// This month by the tests' pinned clock, as `yyyyMM` (the end of a period that reaches today).
pub fn this_month() -> String {
    today()[..6].to_string()
}

/// An `OQSsiquc01req` body.
pub fn single_request(
    facility: &str,
    insurer: &str,
    symbol: &str,
    number: &str,
    branch: Option<&str>,
    birth: &str,
) -> String {
    let branch = branch
        .map(|b| format!("<InsuredBranchNumber>{b}</InsuredBranchNumber>"))
        .unwrap_or_default();
    let symbol = if symbol.is_empty() {
        String::new()
    } else {
        format!("<InsuredCardSymbol>{symbol}</InsuredCardSymbol>")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<XmlMsg><MessageHeader><QualificationConfirmationDate>{}</QualificationConfirmationDate><MedicalInstitutionCode>{facility}</MedicalInstitutionCode><ArbitraryFileIdentifier>it</ArbitraryFileIdentifier></MessageHeader>
<MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{insurer}</InsurerNumber>{symbol}<InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>{branch}<Birthdate>{birth}</Birthdate><LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#,
        today()
    )
}

/// The single request for person `id`'s first qualification.
pub fn single_request_for(facility: &str, id: i64, with_branch: bool) -> String {
    let g = person(id);
    let q = &g.qualifications[0];
    single_request(
        facility,
        &format!("{:>8}", q.insurer_number),
        &q.symbol,
        &q.number,
        with_branch.then_some(q.branch.as_str()),
        &mock_central::dates::ymd(g.person.birth),
    )
}

/// A `YZKsiquc01req` / `TKKsiquc01req` body for person `id`'s first qualification.
pub fn medical_request(
    facility: &str,
    id: i64,
    yzk: bool,
    start: &str,
    end: &str,
    category: &str,
) -> String {
    let g = person(id);
    let q = g.qualifications.last().unwrap();
    let insurer = format!("{:>8}", q.insurer_number);
    let period = if yzk {
        format!("<StartDate>{start}</StartDate><EndDate>{end}</EndDate>")
    } else {
        String::new()
    };
    let symbol = if q.symbol.is_empty() {
        String::new()
    } else {
        format!("<InsuranceCardSymbol>{}</InsuranceCardSymbol>", q.symbol)
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<XmlMsg><MessageHeader><MedicalInstitutionCode>{facility}</MedicalInstitutionCode><InsurerNumber>{insurer}</InsurerNumber>{symbol}<InsuredPersonIdentificationNumber>{}</InsuredPersonIdentificationNumber><BranchNumber>{}</BranchNumber><ArbitraryFileIdentifier>med</ArbitraryFileIdentifier></MessageHeader>
<MessageBody>{period}<FileCategory>{category}</FileCategory><PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag></MessageBody></XmlMsg>"#,
        q.number, q.branch
    )
}

pub struct Answer {
    pub status: u16,
    pub result_name: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

pub async fn post_message(env: &Env, name: &str, body: impl Into<Vec<u8>>) -> Answer {
    let r = env
        .client
        .post(env.url(&format!("/v1/messages/{name}")))
        .body(body.into())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let result_name = r
        .headers()
        .get("x-oqs-result-name")
        .map(|v| v.to_str().unwrap().to_string());
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = r.bytes().await.unwrap().to_vec();
    Answer {
        status,
        result_name,
        content_type,
        bytes,
    }
}

/// What `oqs file inspect` does: parse the name, read the file, and require no validation issue.
pub fn inspect(name: &str, bytes: &[u8]) -> Message {
    let file = FileName::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let decoded = oqs_protocol::read_message(bytes, file.kind(), file.direction())
        .unwrap_or_else(|e| panic!("{name} unreadable: {e}\n{}", String::from_utf8_lossy(bytes)));
    let issues = decoded.message.validate();
    assert!(
        issues.is_empty(),
        "{name} has issues: {issues:#?}\n{}",
        String::from_utf8_lossy(bytes)
    );
    // Keep a copy so the real `oqs file inspect` binary can be run over everything produced.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mock-central-results");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join(name), bytes);
    decoded.message
}

pub fn single_result(m: Message) -> oqs_protocol::SingleCheckResult {
    match m {
        Message::SingleCheckResult(r) => r,
        other => panic!("expected a single check result, got {}", other.name()),
    }
}

/// A card for person `id`: RSA key derived from the id, auth certificate from the data directory's
/// mock JPKI CA, valid between `not_before` and `not_after`.
pub fn issue_card(
    dir: &Path,
    id: i64,
    not_before: SystemTime,
    not_after: SystemTime,
) -> (Vec<u8>, rsa::RsaPrivateKey) {
    let ca = mock_jpki::MockJpkiCa::load(&dir.join(mock_central::init::JPKI_DIR)).unwrap();
    let key = mock_jpki::rsa_2048_from_seed("integration-card", id as u64).unwrap();
    let cert = ca
        .issue_auth_cert(
            &card_serial_bytes(id),
            &key.to_public_key(),
            not_before,
            not_after,
        )
        .unwrap();
    (cert, key)
}

pub fn valid_card(dir: &Path, id: i64) -> (Vec<u8>, rsa::RsaPrivateKey) {
    let now = oqs_clock::test_now();
    issue_card(
        dir,
        id,
        now - Duration::from_secs(86_400 * 365),
        now + Duration::from_secs(86_400 * 365 * 4),
    )
}

pub fn sign(key: &rsa::RsaPrivateKey, msg: &[u8]) -> Vec<u8> {
    use rsa::signature::{SignatureEncoding, Signer};
    rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone())
        .sign(msg)
        .to_vec()
}

pub async fn challenge(env: &Env) -> (String, Vec<u8>) {
    let c: serde_json::Value = env
        .client
        .post(env.url("/v1/checkin/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        c["challenge_id"].as_str().unwrap().to_string(),
        B64.decode(c["challenge"].as_str().unwrap()).unwrap(),
    )
}

pub struct CheckinAnswer {
    pub error_code: Option<String>,
    pub result: oqs_protocol::SingleCheckResult,
}

pub async fn post_checkin(env: &Env, body: serde_json::Value) -> CheckinAnswer {
    let r = env
        .client
        .post(env.url("/v1/checkin"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "check-in answered with HTTP {}",
        r.status()
    );
    let error_code = r
        .headers()
        .get("x-oqs-error-code")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = r.bytes().await.unwrap();
    let result = single_result(inspect("OQSsiquc01res_face_it.xml", &bytes));
    CheckinAnswer { error_code, result }
}

/// A PIN-path check-in of `cert`, signing the fresh challenge with `key`.
pub async fn pin_checkin(
    env: &Env,
    cert: &[u8],
    key: &rsa::RsaPrivateKey,
    consents: serde_json::Value,
) -> CheckinAnswer {
    let (id, ch) = challenge(env).await;
    post_checkin(
        env,
        serde_json::json!({
            "challenge_id": id,
            "auth_certificate": B64.encode(cert),
            "method": "pin",
            "signature": B64.encode(sign(key, &ch)),
            "consents": consents,
        }),
    )
    .await
}

pub fn all_consents() -> serde_json::Value {
    serde_json::json!({"pharmacists": true, "diagnosis": true, "operation": true, "checkup": true})
}

pub fn error_code(r: &oqs_protocol::SingleCheckResult) -> Option<&str> {
    r.message_header.error_code.as_deref()
}

pub fn validity(r: &oqs_protocol::SingleCheckResult) -> &str {
    r.message_body
        .qualification_validity
        .as_ref()
        .map(|v| v.code())
        .unwrap_or("")
}
