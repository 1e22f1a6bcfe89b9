//! Card check-in: a fresh challenge, then the card's authentication certificate plus either the
//! card's signature over the challenge (PIN path) or a face-match attestation signed by a
//! registered reader, plus the consents the patient gave at the kiosk.

use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use oqs_protocol::{
    Encoding, Message, MessageKind, PrescriptionIssueSelect, ProcessingResultStatus,
    ReferenceClassification, ResultHeader, ResultList, SegmentOfResult, SingleCheckResult,
    SingleCheckResultBody, write_message,
};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::info;

use crate::dates::{ymd, ymdhms};
use crate::error::CentralError;
use crate::messages::{consent_view, encoding_of, error_message};
use crate::results::{self, RecordOptions, consent_kind};
use crate::server::{Caller, Challenge, Shared, api_error, internal};
use crate::store::{AccessEntry, Facility};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// How long a challenge may be used.
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(300);
/// Consent lasts 24 hours (AvailableTime).
pub const CONSENT_LIFETIME: time::Duration = time::Duration::hours(24);
/// An offline proof (a check-in taken during an outage) is accepted this long after it was taken.
pub const OFFLINE_PROOF_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How far in the future an offline proof's time may lie (clock skew between terminal and service).
pub const OFFLINE_PROOF_SKEW: Duration = Duration::from_secs(300);
/// The domain label of offline challenges.
pub const OFFLINE_LABEL: &[u8] = b"oqs-offline-checkin";

/// Check-in error codes (see docs/mock-central.md).
pub mod codes {
    pub const BAD_REQUEST: &str = "OQS-C2100";
    pub const CHALLENGE: &str = "OQS-C2101";
    pub const CERTIFICATE: &str = "OQS-C2102";
    pub const EXPIRED: &str = "OQS-C2103";
    pub const REVOKED: &str = "OQS-C2104";
    pub const SIGNATURE: &str = "OQS-C2105";
    pub const READER: &str = "OQS-C2106";
    pub const ATTESTATION: &str = "OQS-C2107";
    pub const UNKNOWN_CARD: &str = "OQS-C2108";
    pub const NO_PIN: &str = "OQS-C2109";
    /// The offline proof is unreadable, older than 24 hours, or from the future.
    pub const OFFLINE_PROOF: &str = "OQS-C2110";
    /// ProcessingResultCode (付帯情報): the certificate expires within three months.
    pub const EXPIRING: &str = "OQS-C2111";
    /// ProcessingResultCode: expired but inside the grace period; eligibility only, no consents.
    pub const IN_GRACE: &str = "OQS-C2112";
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ChallengeResponse {
    pub challenge_id: String,
    /// 32 random bytes, base64.
    pub challenge: String,
    /// yyyyMMddHHmmss (JST)
    pub expires_at: String,
}

/// `POST /v1/checkin` body.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    /// The challenge from `/v1/checkin/challenge`; empty when `offline` is given.
    #[serde(default)]
    pub challenge_id: String,
    /// A check-in taken during an outage: the card signed [`offline_challenge`] instead of a server
    /// challenge.
    #[serde(default)]
    pub offline: Option<OfflineProof>,
    /// The card's 利用者証明用電子証明書 (DER, base64).
    pub auth_certificate: String,
    pub method: CheckinMethod,
    /// PIN path: RSASSA-PKCS1-v1_5 SHA-256 signature over the raw challenge bytes (base64).
    #[serde(default)]
    pub signature: Option<String>,
    /// Face path: the reader's signed attestation.
    #[serde(default)]
    pub attestation: Option<Attestation>,
    #[serde(default)]
    pub consents: Consents,
    /// OQSCD017 処方箋発行形態 chosen at the kiosk: "1" 電子処方箋, "2" 紙.
    #[serde(default)]
    pub prescription_issue_select: Option<String>,
    /// Echoed as the result's ArbitraryFileIdentifier (generated when absent).
    #[serde(default)]
    pub arbitrary_file_identifier: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckinMethod {
    Pin,
    Face,
    /// 目視確認: a staff member compared the patient with the card photo; the certificate is read without a
    /// PIN, so there is no card signature.
    Visual,
    /// スマートフォン (iPhone): the phone authenticated its holder before the tap and signed the challenge.
    Device,
}

/// The public part of an offline proof; the card's signature over [`offline_challenge`] is the request's
/// `signature`.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OfflineProof {
    /// When the check-in was taken, Unix milliseconds.
    pub taken_at_ms: i64,
    /// 16 random bytes chosen by the terminal, base64.
    pub nonce: String,
}

/// SHA-256 over `"oqs-offline-checkin"` ‖ facility code (10 ASCII digits) ‖ `taken_at_ms` (8 bytes,
/// big-endian) ‖ nonce: the challenge a card signs when no server challenge can be fetched.
pub fn offline_challenge(facility_code: &str, taken_at_ms: i64, nonce: &[u8]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(OFFLINE_LABEL);
    ctx.update(facility_code.as_bytes());
    ctx.update(&taken_at_ms.to_be_bytes());
    ctx.update(nonce);
    ctx.finish().as_ref().to_vec()
}

/// Consents given on the kiosk's screens (each needs the matching environment setting).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default)]
#[serde(deny_unknown_fields)]
pub struct Consents {
    /// 薬剤情報
    #[serde(default)]
    pub pharmacists: bool,
    /// 診療情報
    #[serde(default)]
    pub diagnosis: bool,
    /// 手術情報
    #[serde(default)]
    pub operation: bool,
    /// 特定健診情報
    #[serde(default)]
    pub checkup: bool,
    /// 「医療費助成の各種受給者証を利用しますか」: `Some(true)` 利用する, `Some(false)` 利用しない, `None` not asked.
    #[serde(default)]
    pub medical_subsidy: Option<bool>,
}

/// A face-match attestation: `document` is the base64 of the JSON bytes of an
/// [`AttestationDocument`]; `signature` the base64 Ed25519 signature over exactly those bytes.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub reader_id: String,
    pub document: String,
    pub signature: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AttestationDocument {
    pub reader_id: String,
    /// SHA-256 of the card certificate DER, lowercase hex.
    pub card_certificate_sha256: String,
    /// The challenge (base64) this match answers.
    pub challenge: String,
    /// yyyyMMddHHmmss (JST)
    pub matched_at: String,
    /// Similarity score of the face match (0.0 … 1.0).
    pub score: f64,
}

pub fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random(n: usize) -> Result<Vec<u8>, CentralError> {
    let mut b = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| CentralError::Tls("no system randomness".into()))?;
    Ok(b)
}

pub(crate) async fn challenge(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    let (id, bytes) = match (random(16), random(32)) {
        (Ok(i), Ok(b)) => (i.iter().map(|b| format!("{b:02x}")).collect::<String>(), b),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let now = Instant::now();
    {
        let mut map = match state.challenges.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.retain(|_, c| c.expires > now);
        map.insert(
            id.clone(),
            Challenge {
                facility: caller.facility_code.clone(),
                bytes: bytes.clone(),
                expires: now + CHALLENGE_LIFETIME,
            },
        );
    }
    let expires = state.clock.now_jst() + CHALLENGE_LIFETIME;
    Json(ChallengeResponse {
        challenge_id: id,
        challenge: B64.encode(bytes),
        expires_at: ymdhms(expires),
    })
    .into_response()
}

fn xml(msg: &Message, enc: Encoding, error_code: Option<&str>) -> Response {
    let bytes = match write_message(msg, enc).or_else(|_| write_message(msg, Encoding::Utf8)) {
        Ok(b) => b,
        Err(e) => {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "OQS-C2025",
                e.to_string(),
            );
        }
    };
    let mut r = (StatusCode::OK, bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("application/xml; charset={}", enc.label())) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(code) = error_code.and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert("x-oqs-error-code", code);
    }
    r
}

pub(crate) async fn checkin(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let req: CheckinRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                codes::BAD_REQUEST,
                format!("check-in JSON is invalid: {e}"),
            );
        }
    };
    let facility = match state.store.facility(&caller.facility_code) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return api_error(
                StatusCode::FORBIDDEN,
                "OQS-C2005",
                "この端末証明書の医療機関は登録されていません",
            );
        }
        Err(e) => return internal(e),
    };
    let enc = encoding_of(&facility);
    let now = state.clock.now_jst();
    let time = ymdhms(now);
    let arbitrary = req
        .arbitrary_file_identifier
        .clone()
        .unwrap_or_else(|| format!("face_{time}"));
    let fail = |code: &str, message: &str| {
        let mut m = error_message(MessageKind::SingleCheck, code, message, &time);
        if let Message::SingleCheckResult(r) = &mut m {
            r.message_header.medical_institution_code = Some(facility.code.clone());
            r.message_header.arbitrary_file_identifier = Some(arbitrary.clone());
            r.message_header.reference_classification = Some(ReferenceClassification::MyNumberCard);
            r.message_header.qualification_confirmation_date = Some(ymd(now.date()));
        }
        info!(code, "check-in refused");
        xml(&m, enc, Some(code))
    };
    // A terminal that crashed after sending sends the same check-in again (same ArbitraryFileIdentifier): it
    // gets the first answer back, and consents and the access record are not written twice.
    let resent = match req.arbitrary_file_identifier.as_deref() {
        Some(id) => match state.store.checkin_answer(&facility.code, id) {
            Ok(kept) => kept,
            Err(e) => return internal(e),
        },
        None => None,
    };
    if let Some(kept) = resent {
        info!("check-in sent again: the first answer is returned");
        return kept_response(kept.body, &kept.content_type, kept.error_code.as_deref());
    }
    let response = match run(&state, &facility, &req, now, enc, &arbitrary) {
        Ok(Ok(m)) => xml(&Message::SingleCheckResult(m), enc, None),
        Ok(Err((code, message))) => fail(code, &message),
        Err(e) => return internal(e),
    };
    let Some(id) = req.arbitrary_file_identifier.as_deref() else {
        return response;
    };
    keep_answer(&state, &facility.code, id, response, now).await
}

/// Stores an answer for [`Store::keep_checkin_answer`] and returns it unchanged.
async fn keep_answer(
    state: &Shared,
    facility: &str,
    id: &str,
    response: Response,
    now: OffsetDateTime,
) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "OQS-C2025",
            "the answer could not be kept",
        );
    };
    if parts.status == StatusCode::OK {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(header::CONTENT_TYPE.as_str()).unwrap_or_default();
        let error_code = header("x-oqs-error-code");
        if let Err(e) = state.store.keep_checkin_answer(
            facility,
            id,
            &bytes,
            &content_type,
            error_code.as_deref(),
            now,
        ) {
            return internal(e);
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn kept_response(body: Vec<u8>, content_type: &str, error_code: Option<&str>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(code) = error_code.and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert("x-oqs-error-code", code);
    }
    r
}

type Refusal = (&'static str, String);

fn run(
    state: &Shared,
    facility: &Facility,
    req: &CheckinRequest,
    now: OffsetDateTime,
    enc: Encoding,
    arbitrary: &str,
) -> Result<Result<SingleCheckResult, Refusal>, CentralError> {
    let challenge = match &req.offline {
        Some(proof) => match offline_proof_challenge(&facility.code, proof, state.clock.now()) {
            Some(c) => c,
            None => {
                return Ok(Err((
                    codes::OFFLINE_PROOF,
                    "通信障害時の本人確認の証明が読めないか、24時間を過ぎています。もう一度カードを読み取ってください。"
                        .into(),
                )));
            }
        },
        None => {
            let challenge = {
                let mut map = match state.challenges.lock() {
                    Ok(m) => m,
                    Err(p) => p.into_inner(),
                };
                map.remove(&req.challenge_id)
            };
            match challenge {
                Some(c) if c.facility == facility.code && c.expires > Instant::now() => c.bytes,
                _ => {
                    return Ok(Err((
                        codes::CHALLENGE,
                        "チャレンジが無効か期限切れです。もう一度カードを読み取ってください。"
                            .into(),
                    )));
                }
            }
        }
    };
    let Ok(cert) = B64.decode(req.auth_certificate.trim()) else {
        return Ok(Err((
            codes::CERTIFICATE,
            "利用者証明用電子証明書を読み取れません (base64)".into(),
        )));
    };
    let system_now = state.clock.now();
    let (info, in_grace) = match mock_jpki::verify_auth_cert(&state.jpki_ca_der, &cert, system_now)
    {
        Ok(i) => (i, false),
        Err(mock_jpki::CertError::Expired) => {
            // Expired card certificates still answer eligibility (not consents) until the end of the
            // third month after the expiry month (oqs_clock::certificate_in_grace): valid at the earliest
            // expiry still in its grace means in it.
            let threshold = oqs_clock::certificate_grace_threshold(system_now);
            match mock_jpki::verify_auth_cert(&state.jpki_ca_der, &cert, threshold) {
                Ok(i) => (i, true),
                Err(_) => {
                    return Ok(Err((codes::EXPIRED, "マイナンバーカードの電子証明書の有効期限が切れています（3か月を超過）。市区町村の窓口で更新してください。".into())));
                }
            }
        }
        Err(e) => {
            return Ok(Err((
                codes::CERTIFICATE,
                format!("利用者証明用電子証明書を検証できません: {e}"),
            )));
        }
    };
    let Some(card) = state.store.card(&info.serial_hex())? else {
        return Ok(Err((
            codes::UNKNOWN_CARD,
            "このカードの電子証明書は登録されていません".into(),
        )));
    };
    if card.revoked {
        return Ok(Err((codes::REVOKED, "マイナンバーカードの電子証明書は失効しています。市区町村の窓口にお問い合わせください。".into())));
    }
    // The card's (or phone's) signature over the challenge, for the methods that sign.
    let signature_refusal = || {
        let Some(sig) = req
            .signature
            .as_deref()
            .and_then(|s| B64.decode(s.trim()).ok())
        else {
            return Some((codes::SIGNATURE, "カードの署名がありません".to_owned()));
        };
        mock_jpki::verify_pkcs1_sha256(&cert, &challenge, &sig)
            .is_err()
            .then(|| (codes::SIGNATURE, "カードの署名を検証できません".to_owned()))
    };
    let method_label = match req.method {
        CheckinMethod::Pin => {
            if card.no_pin {
                return Ok(Err((
                    codes::NO_PIN,
                    "暗証番号のないカードです。顔認証または目視確認を選んでください。".into(),
                )));
            }
            if let Some(refusal) = signature_refusal() {
                return Ok(Err(refusal));
            }
            "マイナ保険証（暗証番号）"
        }
        // An iPhone authenticated its holder itself; its signature is the proof.
        CheckinMethod::Device => {
            if let Some(refusal) = signature_refusal() {
                return Ok(Err(refusal));
            }
            "マイナ保険証（スマートフォン）"
        }
        CheckinMethod::Face => {
            if let Err(refusal) = check_attestation(state, facility, req, &cert, &challenge)? {
                return Ok(Err(refusal));
            }
            "マイナ保険証（顔認証）"
        }
        // The facility's staff vouched for the patient; the mutually authenticated terminal is the proof.
        CheckinMethod::Visual => "マイナ保険証（目視確認）",
    };
    let eligibility =
        state
            .store
            .eligibility_of_person(card.person_id, now.date(), &facility.code)?;
    let time = ymdhms(now);
    let mut given: Vec<&str> = Vec::new();
    if !in_grace {
        let s = &facility.settings;
        let c = &req.consents;
        for (wanted, enabled, kind) in [
            (c.pharmacists, s.medication_info, consent_kind::PHARMACISTS),
            (c.diagnosis, s.diagnosis_info, consent_kind::DIAGNOSIS),
            (c.operation, s.operation_info, consent_kind::OPERATION),
            (c.checkup, s.checkup_info, consent_kind::CHECKUP),
        ] {
            if wanted && enabled {
                given.push(kind);
            }
        }
        state.store.record_consents(
            card.person_id,
            &facility.code,
            &given,
            now,
            now + CONSENT_LIFETIME,
        )?;
    }
    let view = consent_view(&state.store, card.person_id, &facility.code, now)?;
    // Since 2024-10 the 限度額 consent screen is gone: card check-ins always carry 限度額 information.
    let mut list: Vec<_> = eligibility
        .records
        .iter()
        .map(|r| {
            results::result_record(
                r,
                &RecordOptions {
                    on: now.date(),
                    encoding: enc,
                    limit_consent: Some(&time),
                    consents: Some(&view),
                },
            )
        })
        .collect();
    let aid = state.store.public_aid(card.person_id, now.date())?;
    let validity = crate::medical_aid::add_public_aid(
        eligibility.validity,
        &mut list,
        aid.as_ref(),
        facility,
        now.date(),
        true,
        enc,
    );
    if facility.settings.medical_subsidy_info {
        if let Some(answer) = req.consents.medical_subsidy {
            let subsidies = if answer {
                state.store.subsidies(card.person_id, now.date())?
            } else {
                Vec::new()
            };
            crate::medical_aid::add_subsidies(&mut list, answer, &subsidies, enc);
        }
    }
    let (code, message) = if in_grace {
        (
            Some(codes::IN_GRACE),
            Some(
                "電子証明書の有効期限が切れています（3か月以内）。資格確認のみ行いました。市区町村の窓口で更新してください。",
            ),
        )
    } else if oqs_clock::certificate_expiring(info.not_after, state.clock.now()) {
        (
            Some(codes::EXPIRING),
            Some("電子証明書の有効期限が3か月以内に切れます。市区町村の窓口で更新してください。"),
        )
    } else {
        (None, None)
    };
    let mut items = vec!["資格情報".to_string()];
    items.extend(given.iter().map(|k| match *k {
        consent_kind::PHARMACISTS => "薬剤情報（同意）".to_string(),
        consent_kind::DIAGNOSIS => "診療情報（同意）".to_string(),
        consent_kind::OPERATION => "手術情報（同意）".to_string(),
        _ => "特定健診情報（同意）".to_string(),
    }));
    state.store.log_access(&AccessEntry {
        person_id: card.person_id,
        facility_code: facility.code.clone(),
        facility_name: facility.name.clone(),
        at: time.clone(),
        items,
        method: method_label.into(),
        viewer_id: None,
        reason: None,
    })?;
    info!(
        method = method_label,
        validity = validity.code(),
        consents = given.len(),
        "check-in answered"
    );
    let mut result = SingleCheckResult {
        message_header: ResultHeader {
            process_execution_time: Some(time.clone()),
            qualification_confirmation_date: Some(ymd(now.date())),
            medical_institution_code: Some(facility.code.clone()),
            arbitrary_file_identifier: Some(arbitrary.to_string()),
            reference_classification: Some(ReferenceClassification::MyNumberCard),
            segment_of_result: Some(SegmentOfResult::Normal),
            ..ResultHeader::default()
        },
        message_body: SingleCheckResultBody {
            processing_result_status: Some(ProcessingResultStatus::Normal),
            processing_result_code: code.map(str::to_string),
            processing_result_message: message.map(str::to_string),
            qualification_validity: Some(validity),
            prescription_issue_select: req
                .prescription_issue_select
                .as_deref()
                .map(PrescriptionIssueSelect::from_code),
            qualification_confirm_search_info: None,
            result_list: Some(ResultList {
                result_of_qualification_confirmation: list,
            }),
        },
    };
    result.apply_disclosure_restriction();
    Ok(Ok(result))
}

/// The challenge an offline proof stands for, if the proof is readable and taken within the last 24 hours.
pub fn offline_proof_challenge(
    facility_code: &str,
    proof: &OfflineProof,
    now: SystemTime,
) -> Option<Vec<u8>> {
    let nonce = B64.decode(proof.nonce.trim()).ok()?;
    if nonce.len() != 16 {
        return None;
    }
    let now_ms =
        i64::try_from(now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_millis()).ok()?;
    let age = now_ms.checked_sub(proof.taken_at_ms)?;
    let lifetime = i64::try_from(OFFLINE_PROOF_LIFETIME.as_millis()).ok()?;
    let skew = i64::try_from(OFFLINE_PROOF_SKEW.as_millis()).ok()?;
    if age > lifetime || age < -skew {
        return None;
    }
    Some(offline_challenge(facility_code, proof.taken_at_ms, &nonce))
}

fn check_attestation(
    state: &Shared,
    facility: &Facility,
    req: &CheckinRequest,
    cert: &[u8],
    challenge: &[u8],
) -> Result<Result<(), Refusal>, CentralError> {
    let Some(att) = req.attestation.as_ref() else {
        return Ok(Err((
            codes::ATTESTATION,
            "顔認証の証明 (attestation) がありません".into(),
        )));
    };
    let key = match state.store.reader_key(&att.reader_id)? {
        Some((fac, key)) if fac == facility.code => key,
        _ => {
            return Ok(Err((
                codes::READER,
                format!("カードリーダー {} は登録されていません", att.reader_id),
            )));
        }
    };
    let (Ok(doc_bytes), Ok(sig)) = (
        B64.decode(att.document.trim()),
        B64.decode(att.signature.trim()),
    ) else {
        return Ok(Err((
            codes::ATTESTATION,
            "顔認証の証明を読み取れません (base64)".into(),
        )));
    };
    if !crate::pki::verify_reader_signature(&key, &doc_bytes, &sig) {
        return Ok(Err((
            codes::READER,
            "顔認証の証明の署名を検証できません".into(),
        )));
    }
    let Ok(doc) = serde_json::from_slice::<AttestationDocument>(&doc_bytes) else {
        return Ok(Err((
            codes::ATTESTATION,
            "顔認証の証明の内容を読み取れません".into(),
        )));
    };
    if doc.reader_id != att.reader_id
        || doc.card_certificate_sha256 != sha256_hex(cert)
        || doc.challenge != B64.encode(challenge)
    {
        return Ok(Err((
            codes::ATTESTATION,
            "顔認証の証明がこのカードまたはこのチャレンジのものではありません".into(),
        )));
    }
    Ok(Ok(()))
}
