//! `POST /v1/messages/{request file name}`: request file in, result file out.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oqs_protocol::{
    BulkConfirmUnit, BulkDownloadRequest, BulkQuery, BulkQueryRequest, BulkQuerySearchInfo,
    BulkRegistrationUnit, BulkResult, BulkResultBody, BulkUploadReceipt, BulkUploadRequest,
    CheckupResult, Decoded, Direction, Encoding, FileName, MedicalInfoRequest,
    MedicalTreatmentFlag, MedicationResult, Message, MessageKind, ProcessingResultStatus,
    QualificationConfirmSearchInfo, RefNumberBulkResult, RefNumberBulkResultBody, RefNumberRequest,
    RefNumberResult, RefNumberResultBody, ReferenceClassification,
    ReferenceNumberRegistrationResult, ResultHeader, SegmentOfResult, SingleCheckRequest,
    SingleCheckResult, read_file, write_message,
};
use time::OffsetDateTime;
use tracing::info;

use crate::dates::{add_months, history_start, parse_ym, parse_ymd, parse_ymdhms, ymdhms};
use crate::error::CentralError;
use crate::results::{
    self, ConsentView, MedicalHeader, RecordOptions, consent_kind, validity_code,
};
use crate::server::{Caller, Shared, api_error, internal};
use crate::store::{AccessEntry, Eligibility, Facility, Record, SearchKeys, Store, Validity};

/// Central-side error codes (ErrorCode with SegmentOfResult 9; see docs/mock-central.md).
pub mod codes {
    pub const UNREADABLE: &str = "OQS-C2002";
    pub const INVALID: &str = "OQS-C2003";
    pub const WRONG_FACILITY: &str = "OQS-C2004";
    pub const UNKNOWN_FACILITY: &str = "OQS-C2005";
    pub const UNKNOWN_RECEPTION: &str = "OQS-C2010";
    pub const TOO_MANY: &str = "OQS-C2012";
    pub const NO_CONSENT: &str = "OQS-C2020";
    pub const BAD_PERIOD: &str = "OQS-C2021";
    pub const NOT_IDENTIFIED: &str = "OQS-C2022";
    pub const SETTING_OFF: &str = "OQS-C2023";
    pub const PDF_UNSUPPORTED: &str = "OQS-C2024";
    pub const UNENCODABLE: &str = "OQS-C2025";
    /// Per-person: keys not found / several people match (ProcessingResultStatus 2 in bulk units).
    pub const PERSON_NOT_FOUND: &str = "OQS-C2030";
    pub const PERSON_MULTIPLE: &str = "OQS-C2031";
}

/// The most uploads one bulk file may hold.
pub const BULK_LIMIT: usize = 10_000;

pub(crate) fn encoding_of(f: &Facility) -> Encoding {
    if f.settings.character_code == "Shift_JIS" {
        Encoding::ShiftJis
    } else {
        Encoding::Utf8
    }
}

fn xml_response(result_name: &str, msg: &Message, enc: Encoding) -> Response {
    let (bytes, enc) = match write_message(msg, enc) {
        Ok(b) => (b, enc),
        // Unencodable characters were replaced already; a failure here is a bug, answer in UTF-8 rather than nothing.
        Err(_) => match write_message(msg, Encoding::Utf8) {
            Ok(b) => (b, Encoding::Utf8),
            Err(e) => {
                return api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    codes::UNENCODABLE,
                    e.to_string(),
                );
            }
        },
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("application/xml; charset={}", enc.label())) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(result_name) {
        h.insert("x-oqs-result-name", v);
    }
    resp
}

/// A whole-file error result of the right kind for `kind`.
pub(crate) fn error_message(kind: MessageKind, code: &str, message: &str, time: &str) -> Message {
    let header = ResultHeader {
        process_execution_time: Some(time.to_string()),
        segment_of_result: Some(SegmentOfResult::Abnormal),
        error_code: Some(code.to_string()),
        error_message: Some(message.to_string()),
        ..ResultHeader::default()
    };
    match kind {
        MessageKind::SingleCheck => Message::SingleCheckResult(SingleCheckResult {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::BulkUpload => Message::BulkUploadReceipt(BulkUploadReceipt {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::BulkDownload => Message::BulkResult(BulkResult {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::RefNumberSingle => Message::RefNumberResult(RefNumberResult {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::RefNumberBulk | MessageKind::BulkQueryUpload(_) => {
            Message::BulkUploadReceipt(BulkUploadReceipt {
                message_header: header,
                ..Default::default()
            })
        }
        MessageKind::BulkQueryDownload(_) => Message::BulkResult(BulkResult {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::RefNumberBulkDownload => Message::RefNumberBulkResult(RefNumberBulkResult {
            message_header: header,
            ..Default::default()
        }),
        // YZK/TKK results carry ResultCode/MessageContents instead of SegmentOfResult/ErrorCode.
        MessageKind::Medication => {
            let mut m = MedicationResult::error(format!("[{code}] {message}"));
            m.message_header.process_execution_time = Some(time.to_string());
            Message::MedicationResult(m)
        }
        MessageKind::Checkup => {
            let mut m = CheckupResult::error(format!("[{code}] {message}"));
            m.message_header.process_execution_time = Some(time.to_string());
            Message::CheckupResult(m)
        }
    }
}

/// Set the facility code and file identifier of an error result from what the request said.
fn echo_header(msg: &mut Message, facility: &str, arbitrary: Option<String>) {
    match msg {
        Message::SingleCheckResult(m) => set(&mut m.message_header, facility, arbitrary),
        Message::BulkUploadReceipt(m) => set(&mut m.message_header, facility, arbitrary),
        Message::BulkResult(m) => set(&mut m.message_header, facility, arbitrary),
        Message::RefNumberResult(m) => set(&mut m.message_header, facility, arbitrary),
        Message::RefNumberBulkResult(m) => set(&mut m.message_header, facility, arbitrary),
        Message::MedicationResult(m) => {
            m.message_header.medical_institution_code = Some(facility.to_string());
            m.message_header.arbitrary_file_identifier = arbitrary;
        }
        Message::CheckupResult(m) => {
            m.message_header.medical_institution_code = Some(facility.to_string());
            m.message_header.arbitrary_file_identifier = arbitrary;
        }
        _ => {}
    }
    fn set(h: &mut ResultHeader, facility: &str, arbitrary: Option<String>) {
        h.medical_institution_code = Some(facility.to_string());
        h.arbitrary_file_identifier = arbitrary;
    }
}

fn request_identity(msg: &Message) -> (Option<String>, Option<String>) {
    match msg {
        Message::SingleCheckRequest(m) => (
            m.message_header.medical_institution_code.clone(),
            m.message_header.arbitrary_file_identifier.clone(),
        ),
        Message::BulkUploadRequest(m) => (
            m.message_header.medical_institution_code.clone(),
            m.message_header.arbitrary_file_identifier.clone(),
        ),
        Message::BulkDownloadRequest(m) => (
            m.message_header.medical_institution_code.clone(),
            m.message_header.arbitrary_file_identifier.clone(),
        ),
        Message::BulkQueryRequest(m) => (
            m.message_header.medical_institution_code.clone(),
            m.message_header.arbitrary_file_identifier.clone(),
        ),
        Message::RefNumberRequest(m) => (
            m.message_header.medical_institution_code.clone(),
            m.message_header.arbitrary_file_identifier.clone(),
        ),
        Message::MedicationRequest(m) | Message::CheckupRequest(m) => (
            m.message_header.medical_institution_code.clone(),
            m.message_header.arbitrary_file_identifier.clone(),
        ),
        _ => (None, None),
    }
}

pub(crate) async fn handle(
    State(state): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let file = match FileName::parse(&name) {
        Ok(f) if f.direction() == Direction::Request => f,
        Ok(_) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "OQS-C2001",
                format!("{name} is a result file name; send a request file (…req_….xml)"),
            );
        }
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "OQS-C2001",
                format!("file name not understood: {e}"),
            );
        }
    };
    let result_name = match file.result_name() {
        Ok(n) => n,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, "OQS-C2001", e.to_string()),
    };
    let facility = match state.store.facility(&caller.facility_code) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return api_error(
                StatusCode::FORBIDDEN,
                codes::UNKNOWN_FACILITY,
                "この端末証明書の医療機関は登録されていません",
            );
        }
        Err(e) => return internal(e),
    };
    let enc = encoding_of(&facility);
    let now = state.clock.now_jst();
    let time = ymdhms(now);
    let span = tracing::info_span!("message", kind = file.kind().code(), facility = %facility.code);
    let _g = span.enter();
    let kind = file.kind();
    let fail = |code: &str, message: &str, arbitrary: Option<String>| {
        let mut m = error_message(kind, code, message, &time);
        echo_header(&mut m, &facility.code, arbitrary);
        info!(code, "request rejected");
        xml_response(&result_name, &m, enc)
    };
    let decoded = match read_file(&name, &body) {
        Ok(d) => d,
        Err(e) => {
            return fail(
                codes::UNREADABLE,
                &format!("要求ファイルを読み取れません: {e}"),
                None,
            );
        }
    };
    let (institution, arbitrary) = request_identity(&decoded.message);
    let issues = decoded.message.validate();
    if !issues.is_empty() {
        let text: Vec<String> = issues.iter().take(5).map(|i| i.to_string()).collect();
        return fail(
            codes::INVALID,
            &format!(
                "要求ファイルの内容に誤りがあります ({} 件): {}",
                issues.len(),
                text.join(" | ")
            ),
            arbitrary,
        );
    }
    if institution.as_deref() != Some(facility.code.as_str()) {
        return fail(
            codes::WRONG_FACILITY,
            &format!(
                "医療機関コード {} は端末証明書の医療機関 ({}) と一致しません",
                institution.unwrap_or_default(),
                facility.code
            ),
            arbitrary,
        );
    }
    let outcome = match decoded.message {
        Message::SingleCheckRequest(req) => single(&state.store, &facility, &req, now, enc)
            .map(|r| r.map(Message::SingleCheckResult)),
        Message::BulkUploadRequest(req) => bulk_upload(&state, &facility, &req, now, &body)
            .map(|r| r.map(Message::BulkUploadReceipt)),
        Message::BulkDownloadRequest(req) if kind == MessageKind::RefNumberBulkDownload => {
            reference_numbers_download(&state, &facility, &req, now)
                .map(|r| r.map(Message::RefNumberBulkResult))
        }
        Message::BulkDownloadRequest(req) => {
            let upload = match kind {
                MessageKind::BulkQueryDownload(q) => MessageKind::BulkQueryUpload(q),
                _ => MessageKind::BulkUpload,
            };
            bulk_download(&state, &facility, &req, upload, now, enc)
                .map(|r| r.map(Message::BulkResult))
        }
        Message::BulkQueryRequest(req) => match kind {
            MessageKind::BulkQueryUpload(q) => {
                bulk_query_upload(&state, &facility, &req, q, now, &body)
                    .map(|r| r.map(Message::BulkUploadReceipt))
            }
            _ => Ok(Err((
                codes::INVALID,
                "ファイル名と内容が一致しません".to_string(),
            )
                .into())),
        },
        Message::RefNumberRequest(req) if kind == MessageKind::RefNumberBulk => {
            reference_numbers_upload(&state, &facility, &req, now, &body)
                .map(|r| r.map(Message::BulkUploadReceipt))
        }
        Message::RefNumberRequest(req) => {
            register_reference_numbers(&state.store, &facility, &req, now)
                .map(Message::RefNumberResult)
                .map(Ok)
        }
        Message::MedicationRequest(req) => medical(
            &state.store,
            &facility,
            &req,
            MessageKind::Medication,
            now,
            enc,
        ),
        Message::CheckupRequest(req) => medical(
            &state.store,
            &facility,
            &req,
            MessageKind::Checkup,
            now,
            enc,
        ),
        _ => Ok(Err((
            codes::INVALID,
            "結果ファイルは送信できません".to_string(),
        )
            .into())),
    };
    match outcome {
        Ok(Ok(m)) => xml_response(&result_name, &m, enc),
        Ok(Err(Rejected::Message(m))) => xml_response(&result_name, &m, enc),
        Ok(Err(Rejected::Code(code, message))) => fail(code, &message, arbitrary),
        Err(e) => internal(e),
    }
}

/// Why a request got an error result.
pub(crate) enum Rejected {
    Code(&'static str, String),
    /// A complete result (e.g. 処理中) that is not an error file but not the final answer either.
    Message(Box<Message>),
}

impl From<(&'static str, String)> for Rejected {
    fn from((c, m): (&'static str, String)) -> Self {
        Rejected::Code(c, m)
    }
}

type Outcome<T> = Result<Result<T, Rejected>, CentralError>;

fn keys_of(s: &QualificationConfirmSearchInfo) -> SearchKeys {
    search_keys(
        &s.insurer_number,
        &s.insured_card_symbol,
        &s.insured_identification_number,
        &s.insured_branch_number,
        &s.birthdate,
    )
}

/// The search keys from the elements of a request (whichever kind holds them).
fn search_keys(
    insurer: &Option<String>,
    symbol: &Option<oqs_protocol::Pii>,
    number: &Option<oqs_protocol::Pii>,
    branch: &Option<oqs_protocol::Pii>,
    birth: &Option<oqs_protocol::Pii>,
) -> SearchKeys {
    let text = |p: &Option<oqs_protocol::Pii>| p.as_ref().map(|p| p.expose().to_string());
    SearchKeys {
        insurer_number: insurer.clone().unwrap_or_default(),
        symbol: text(symbol),
        number: text(number).unwrap_or_default(),
        branch: text(branch),
        birth: text(birth).unwrap_or_default(),
    }
}

/// Consents of a person at a facility, as the results report them.
pub(crate) fn consent_view(
    store: &Store,
    person: i64,
    facility: &str,
    now: OffsetDateTime,
) -> Result<ConsentView, CentralError> {
    let mut view = ConsentView::default();
    for (kind, t, a) in store.consents(person, facility)? {
        let valid = parse_ymdhms(&a).is_some_and(|a| a > now);
        let slot = match kind.as_str() {
            consent_kind::PHARMACISTS => &mut view.pharmacists,
            consent_kind::DIAGNOSIS => &mut view.diagnosis,
            consent_kind::OPERATION => &mut view.operation,
            consent_kind::CHECKUP => &mut view.checkup,
            _ => continue,
        };
        *slot = Some((t, a, valid));
    }
    Ok(view)
}

fn records_to_results(
    store: &Store,
    facility: &Facility,
    e: &Eligibility,
    limit_consent: Option<&str>,
    now: OffsetDateTime,
    enc: Encoding,
) -> Result<Vec<oqs_protocol::ResultOfQualificationConfirmation>, CentralError> {
    let mut out = Vec::with_capacity(e.records.len());
    for r in &e.records {
        let consents = consent_view(store, r.person_id, &facility.code, now)?;
        out.push(results::result_record(
            r,
            &RecordOptions {
                on: now.date(),
                encoding: enc,
                limit_consent,
                consents: Some(&consents),
            },
        ));
    }
    Ok(out)
}

fn single(
    store: &Store,
    facility: &Facility,
    req: &SingleCheckRequest,
    now: OffsetDateTime,
    enc: Encoding,
) -> Outcome<SingleCheckResult> {
    let Some(info) = req.message_body.qualification_confirm_search_info.as_ref() else {
        return Ok(Err((
            codes::INVALID,
            "QualificationConfirmSearchInfo がありません".to_string(),
        )
            .into()));
    };
    let on = req
        .message_header
        .qualification_confirmation_date
        .as_deref()
        .and_then(parse_ymd)
        .unwrap_or(now.date());
    let e = store.eligibility(&keys_of(info), on, &facility.code)?;
    let time = ymdhms(now);
    let limit = (info
        .limit_application_certificate_related_cons_flg
        .as_ref()
        .map(|f| f.code())
        == Some("1"))
    .then_some(time.as_str());
    let mut list = records_to_results(store, facility, &e, limit, now, enc)?;
    let aid = match e.records.first() {
        Some(r) if e.validity != crate::store::Validity::Multiple => {
            store.public_aid(r.person_id, on)?
        }
        _ => None,
    };
    let validity = crate::medical_aid::add_public_aid(
        e.validity,
        &mut list,
        aid.as_ref(),
        facility,
        on,
        false,
        enc,
    );
    let mut res = SingleCheckResult::answer(req, time.clone(), validity, list);
    res.message_header.reference_classification = Some(ReferenceClassification::InsuranceCardInfo);
    res.apply_disclosure_restriction();
    Ok(Ok(res))
}

fn bulk_upload(
    state: &Shared,
    facility: &Facility,
    req: &BulkUploadRequest,
    now: OffsetDateTime,
    raw: &[u8],
) -> Outcome<BulkUploadReceipt> {
    let n = req.message_body.qualification_confirm_search_info.len();
    if n == 0 || n > BULK_LIMIT {
        return Ok(Err((
            codes::TOO_MANY,
            format!("一括照会は1〜{BULK_LIMIT}件で送信してください (受信 {n} 件)"),
        )
            .into()));
    }
    let reception = accept_job(state, facility, now, raw, MessageKind::BulkUpload, None)?;
    info!(records = n, "bulk upload accepted");
    Ok(Ok(BulkUploadReceipt::accepted(req, ymdhms(now), reception)))
}

/// Keeps an upload of `kind` (and its `outcome` when it was processed at once) and gives it a new 受付番号;
/// its result is ready after the bulk delay.
fn accept_job(
    state: &Shared,
    facility: &Facility,
    now: OffsetDateTime,
    raw: &[u8],
    kind: MessageKind,
    outcome: Option<Vec<u8>>,
) -> Result<String, CentralError> {
    let seq = state
        .reception_seq
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        % 10_000;
    let reception = format!("{}{:04}", ymdhms(now), seq);
    let ready = now.unix_timestamp() + state.bulk_delay.as_secs() as i64;
    state.store.insert_bulk_job(
        &reception,
        &crate::store::BulkJob {
            facility_code: facility.code.clone(),
            received_at: ymdhms(now),
            ready_at: ready,
            request: raw.to_vec(),
            kind: kind.code().to_string(),
            outcome,
        },
    )?;
    Ok(reception)
}

/// The upload kept under `reception` for this facility and of this upload kind; an error result otherwise
/// (another facility's number is reported as unknown: it must not learn that it exists), or the 処理中
/// header (`SegmentOfResult` 2) while it is not ready.
fn ready_job(
    state: &Shared,
    facility: &Facility,
    reception: &str,
    upload: MessageKind,
    header: &ResultHeader,
    now: OffsetDateTime,
    in_progress: impl FnOnce(ResultHeader, &crate::store::BulkJob) -> Message,
) -> Outcome<crate::store::BulkJob> {
    let job = match state.store.bulk_job(reception)? {
        Some(j) if j.facility_code == facility.code && j.kind == upload.code() => j,
        _ => {
            return Ok(Err((
                codes::UNKNOWN_RECEPTION,
                format!("受付番号 {reception} の一括要求は見つかりません"),
            )
                .into()));
        }
    };
    if now.unix_timestamp() < job.ready_at {
        let mut header = header.clone();
        // Not a failure: every client reads "retry later" from this header. D retries on `SegmentOfResult`
        // 2; R takes a result with no `ErrorCode` and no `BulkRegistrationUnit` as 未確定 and asks again,
        // but any `ErrorCode` as a failure, so none is set. The message is for people (M shows it).
        header.segment_of_result = Some(SegmentOfResult::InProgress);
        header.error_code = None;
        header.error_message =
            Some("処理中です。しばらくしてから再度結果を取得してください。".into());
        return Ok(Err(Rejected::Message(Box::new(in_progress(header, &job)))));
    }
    Ok(Ok(job))
}

/// `OQSmuimm01`: the registrations are made now, once, and answered by a receipt with 受付番号 (R's first
/// step); their outcome is kept with the job and `OQSmuimm02` gives it.
fn reference_numbers_upload(
    state: &Shared,
    facility: &Facility,
    req: &RefNumberRequest,
    now: OffsetDateTime,
    raw: &[u8],
) -> Outcome<BulkUploadReceipt> {
    let n = req.message_body.reference_number_registration_info.len();
    if n == 0 || n > BULK_LIMIT {
        return Ok(Err((
            codes::TOO_MANY,
            format!("照会番号一括登録は1〜{BULK_LIMIT}件で送信してください (受信 {n} 件)"),
        )
            .into()));
    }
    let registered = register_reference_numbers(&state.store, facility, req, now)?;
    let outcome = serde_json::to_vec(&registered)?;
    let reception = accept_job(
        state,
        facility,
        now,
        raw,
        MessageKind::RefNumberBulk,
        Some(outcome),
    )?;
    info!(records = n, "reference number registration accepted");
    let upload = BulkUploadRequest {
        message_header: req.message_header.clone(),
        ..Default::default()
    };
    Ok(Ok(BulkUploadReceipt::accepted(
        &upload,
        ymdhms(now),
        reception,
    )))
}

/// `OQSmuimm02`: one `BulkRegistrationUnit` per uploaded registration, in upload order.
fn reference_numbers_download(
    state: &Shared,
    facility: &Facility,
    req: &BulkDownloadRequest,
    now: OffsetDateTime,
) -> Outcome<RefNumberBulkResult> {
    let reception = req
        .message_body
        .reception_number
        .clone()
        .unwrap_or_default();
    let mut header = ResultHeader::answering(&req.message_header, ymdhms(now));
    header.reception_number = Some(reception.clone());
    let job = match ready_job(
        state,
        facility,
        &reception,
        MessageKind::RefNumberBulk,
        &header,
        now,
        |mut h, job| {
            h.arbitrary_file_identifier = upload_identifier(job).or(h.arbitrary_file_identifier);
            Message::RefNumberBulkResult(RefNumberBulkResult {
                message_header: h,
                ..Default::default()
            })
        },
    )? {
        Ok(job) => job,
        Err(e) => return Ok(Err(e)),
    };
    let registered: RefNumberResult = match job.outcome.as_deref().map(serde_json::from_slice) {
        Some(Ok(r)) => r,
        _ => {
            return Ok(Err((
                codes::UNREADABLE,
                "保存された照会番号一括登録の結果を読み取れません".to_string(),
            )
                .into()));
        }
    };
    // R's 02 request carries no ArbitraryFileIdentifier, yet R checks that the result names its upload's
    // (reference §7): the result belongs to the upload, so it carries the upload's identifier.
    header.arbitrary_file_identifier = registered
        .message_header
        .arbitrary_file_identifier
        .clone()
        .or(header.arbitrary_file_identifier);
    Ok(Ok(RefNumberBulkResult {
        message_header: header,
        message_body: RefNumberBulkResultBody {
            bulk_registration_unit: registered
                .message_body
                .reference_number_registration_result
                .into_iter()
                .map(|r| BulkRegistrationUnit {
                    reference_number_registration_info: r.reference_number_registration_info,
                    processing_result_status: r.processing_result_status,
                    processing_result_code: r.processing_result_code,
                    processing_result_message: r.processing_result_message,
                })
                .collect(),
        },
    }))
}

/// The `ArbitraryFileIdentifier` of a kept 照会番号 upload (its stored outcome echoes it).
fn upload_identifier(job: &crate::store::BulkJob) -> Option<String> {
    let outcome: RefNumberResult = serde_json::from_slice(job.outcome.as_deref()?).ok()?;
    outcome.message_header.arbitrary_file_identifier
}

/// `OQSmutic01` / `OQSmuhvq01` / `OQSmuonq01`: a query by period is kept under a new 受付番号; the period a
/// kind needs is checked now (医療扶助: `MedicalTreatmentMonth`; 訪問: consent dates; オンライン: consent or
/// examination dates).
fn bulk_query_upload(
    state: &Shared,
    facility: &Facility,
    req: &BulkQueryRequest,
    query: BulkQuery,
    now: OffsetDateTime,
    raw: &[u8],
) -> Outcome<BulkUploadReceipt> {
    let info = req
        .message_body
        .qualification_confirm_search_info
        .clone()
        .unwrap_or_default();
    if query_period(&info, query).is_none() {
        let needed = match query {
            BulkQuery::MedicalAid => "MedicalTreatmentMonth (yyyyMM)",
            BulkQuery::HomeVisit => "ConsentDateFrom と ConsentDateTo (yyyyMMdd)",
            BulkQuery::Online => {
                "ConsentDateFrom と ConsentDateTo、または ExaminationDateFrom と ExaminationDateTo (yyyyMMdd)"
            }
        };
        return Ok(Err((
            codes::BAD_PERIOD,
            format!("この一括照会には {needed} を指定してください"),
        )
            .into()));
    }
    let reception = accept_job(
        state,
        facility,
        now,
        raw,
        MessageKind::BulkQueryUpload(query),
        None,
    )?;
    info!(kind = query.prefix(), "bulk query accepted");
    let upload = BulkUploadRequest {
        message_header: req.message_header.clone(),
        ..Default::default()
    };
    Ok(Ok(BulkUploadReceipt::accepted(
        &upload,
        ymdhms(now),
        reception,
    )))
}

/// The period of a query as `yyyyMMdd` bounds, if the query has the one its kind needs.
fn query_period(info: &BulkQuerySearchInfo, query: BulkQuery) -> Option<(String, String)> {
    let range = |from: &Option<String>, to: &Option<String>| match (from, to) {
        (Some(f), Some(t)) if parse_ymd(f).is_some() && parse_ymd(t).is_some() && f <= t => {
            Some((f.clone(), t.clone()))
        }
        _ => None,
    };
    match query {
        BulkQuery::MedicalAid => {
            let month = info.medical_treatment_month.as_deref()?;
            parse_ym(month)?;
            Some((format!("{month}01"), format!("{month}31")))
        }
        BulkQuery::HomeVisit => range(&info.consent_date_from, &info.consent_date_to),
        BulkQuery::Online => range(&info.consent_date_from, &info.consent_date_to)
            .or_else(|| range(&info.examination_date_from, &info.examination_date_to)),
    }
}

/// The result of a query by period: one `BulkConfirmUnit` per patient of the facility in the period (a
/// person who gave this facility a consent, i.e. was confirmed with a card there, within it), with the
/// 照会番号 registered for them. 訪問 and オンライン answer with the person's insurance on the day the query was
/// received; 医療扶助 only with the people on 医療扶助 in the `MedicalTreatmentMonth`, each with their insurance
/// (if valid then) and their A1 qualification holding that month's 医療券・調剤券 (validity 6 while the welfare
/// office has not registered them).
#[allow(clippy::too_many_arguments)]
fn query_result(
    state: &Shared,
    facility: &Facility,
    job: &crate::store::BulkJob,
    query: BulkQuery,
    header: ResultHeader,
    on: time::Date,
    now: OffsetDateTime,
    enc: Encoding,
) -> Outcome<BulkResult> {
    let info = match read_file(&format!("{}01req_stored.xml", query.prefix()), &job.request) {
        Ok(Decoded {
            message: Message::BulkQueryRequest(u),
            ..
        }) => u
            .message_body
            .qualification_confirm_search_info
            .unwrap_or_default(),
        _ => {
            return Ok(Err((
                codes::UNREADABLE,
                "保存された一括照会を読み取れません".to_string(),
            )
                .into()));
        }
    };
    let Some((from, to)) = query_period(&info, query) else {
        return Ok(Err(
            (codes::BAD_PERIOD, "照会期間がありません".to_string()).into()
        ));
    };
    let mut units = Vec::new();
    for person in state.store.patients_consented(&facility.code, &from, &to)? {
        let unit = match query {
            BulkQuery::MedicalAid => {
                // The month's tickets as they stand at its last day, or on the day the query came if sooner.
                let Some(first) = parse_ym(&from[..6]) else {
                    continue;
                };
                let at = (add_months(first, 1) - time::Duration::days(1)).min(on);
                if at < first {
                    continue;
                }
                let Some(aid) = state.store.public_aid(person, at)? else {
                    continue;
                };
                let e = state
                    .store
                    .eligibility_of_person(person, at, &facility.code)?;
                let mut list = records_to_results(&state.store, facility, &e, None, now, enc)?;
                let validity = crate::medical_aid::add_public_aid(
                    e.validity,
                    &mut list,
                    Some(&aid),
                    facility,
                    at,
                    true,
                    enc,
                );
                if !list.iter().any(|r| r.is_medical_assistance()) {
                    continue;
                }
                bulk_unit(None, validity, list)
            }
            BulkQuery::HomeVisit | BulkQuery::Online => {
                let e = state
                    .store
                    .eligibility_of_person(person, on, &facility.code)?;
                let list = records_to_results(&state.store, facility, &e, None, now, enc)?;
                bulk_unit(None, validity_code(e.validity), list)
            }
        };
        units.push(unit);
    }
    let mut res = BulkResult {
        message_header: header,
        message_body: BulkResultBody {
            bulk_confirm_unit: units,
        },
    };
    res.recount();
    Ok(Ok(res))
}

/// A unit of a bulk result: the person's qualifications, restricted as a single result would be, and their
/// 照会番号 in both places the clients read them (`BulkConfirmUnit::list_reference_numbers`).
fn bulk_unit(
    info: Option<QualificationConfirmSearchInfo>,
    validity: oqs_protocol::QualificationValidity,
    mut list: Vec<oqs_protocol::ResultOfQualificationConfirmation>,
) -> BulkConfirmUnit {
    oqs_protocol::apply_disclosure_restriction(&mut list);
    let mut unit = BulkConfirmUnit {
        qualification_confirm_search_info: info,
        processing_result_status: Some(ProcessingResultStatus::Normal),
        processing_result_code: None,
        processing_result_message: None,
        qualification_validity: Some(validity),
        result_of_qualification_confirmation: list,
        reference_number: Vec::new(),
    };
    unit.list_reference_numbers();
    unit
}

fn bulk_download(
    state: &Shared,
    facility: &Facility,
    req: &BulkDownloadRequest,
    upload_kind: MessageKind,
    now: OffsetDateTime,
    enc: Encoding,
) -> Outcome<BulkResult> {
    let reception = req
        .message_body
        .reception_number
        .clone()
        .unwrap_or_default();
    let time = ymdhms(now);
    let mut header = ResultHeader::answering(&req.message_header, time.clone());
    header.reception_number = Some(reception.clone());
    let job = match ready_job(
        state,
        facility,
        &reception,
        upload_kind,
        &header,
        now,
        |h, _| {
            Message::BulkResult(BulkResult {
                message_header: h,
                ..Default::default()
            })
        },
    )? {
        Ok(job) => job,
        Err(e) => return Ok(Err(e)),
    };
    let on = crate::dates::parse_ymdhms(&job.received_at)
        .map(|t| t.date())
        .unwrap_or(now.date());
    if let MessageKind::BulkQueryUpload(query) = upload_kind {
        return query_result(state, facility, &job, query, header, on, now, enc);
    }
    let upload = match read_file("OQSmuquc01req_stored.xml", &job.request) {
        Ok(d) => match d.message {
            Message::BulkUploadRequest(u) => u,
            _ => {
                return Ok(Err((
                    codes::UNREADABLE,
                    "保存された一括照会を読み取れません".to_string(),
                )
                    .into()));
            }
        },
        Err(e) => {
            return Ok(Err((
                codes::UNREADABLE,
                format!("保存された一括照会を読み取れません: {e}"),
            )
                .into()));
        }
    };
    let mut units = Vec::with_capacity(upload.message_body.qualification_confirm_search_info.len());
    for info in &upload.message_body.qualification_confirm_search_info {
        let e = state
            .store
            .eligibility(&keys_of(info), on, &facility.code)?;
        let limit = (info
            .limit_application_certificate_related_cons_flg
            .as_ref()
            .map(|f| f.code())
            == Some("1"))
        .then_some(time.as_str());
        let list = records_to_results(&state.store, facility, &e, limit, now, enc)?;
        units.push(bulk_unit(
            Some(info.clone()),
            validity_code(e.validity),
            list,
        ));
    }
    let mut res = BulkResult {
        message_header: header,
        message_body: BulkResultBody {
            bulk_confirm_unit: units,
        },
    };
    res.recount();
    Ok(Ok(res))
}

fn register_reference_numbers(
    store: &Store,
    facility: &Facility,
    req: &RefNumberRequest,
    now: OffsetDateTime,
) -> Result<RefNumberResult, CentralError> {
    let mut out = Vec::new();
    for info in &req.message_body.reference_number_registration_info {
        let keys = search_keys(
            &info.insurer_number,
            &info.insured_card_symbol,
            &info.insured_identification_number,
            &info.insured_branch_number,
            &info.birthdate,
        );
        let e = store.eligibility(&keys, now.date(), &facility.code)?;
        let (status, code, message) = match (e.validity, e.records.as_slice()) {
            (Validity::Multiple, _) => (
                ProcessingResultStatus::Error,
                Some(codes::PERSON_MULTIPLE),
                Some("複数の資格が該当しました。枝番を指定してください。"),
            ),
            (_, [rec]) => {
                let number = info
                    .reference_number
                    .as_ref()
                    .map(|p| p.expose().to_string())
                    .unwrap_or_default();
                store.register_reference_number(&facility.code, rec.qualification_id, &number)?;
                (ProcessingResultStatus::Normal, None, None)
            }
            _ => (
                ProcessingResultStatus::Error,
                Some(codes::PERSON_NOT_FOUND),
                Some("該当する資格情報がありません。"),
            ),
        };
        out.push(ReferenceNumberRegistrationResult {
            reference_number_registration_info: Some(info.clone()),
            processing_result_status: Some(status),
            processing_result_code: code.map(str::to_string),
            processing_result_message: message.map(str::to_string),
        });
    }
    Ok(RefNumberResult {
        message_header: ResultHeader::answering(&req.message_header, ymdhms(now)),
        message_body: RefNumberResultBody {
            reference_number_registration_result: out,
        },
    })
}

fn medical(
    store: &Store,
    facility: &Facility,
    req: &MedicalInfoRequest,
    kind: MessageKind,
    now: OffsetDateTime,
    enc: Encoding,
) -> Outcome<Message> {
    let h = &req.message_header;
    let b = &req.message_body;
    let category = b
        .file_category
        .as_ref()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| "2".into());
    if category == "1" || category == "3" {
        return Ok(Err((codes::PDF_UNSUPPORTED, "模擬中央サービスはPDFを提供しません。FileCategory 2 (XML) または 4 (薬剤＋診療XML) を指定してください。".to_string()).into()));
    }
    let medication = kind == MessageKind::Medication;
    let s = &facility.settings;
    if medication && !s.medication_info
        || !medication && !s.checkup_info
        || medication && category == "4" && !s.diagnosis_info
    {
        return Ok(Err((codes::SETTING_OFF, "環境設定情報でこの情報の利用が「利用しない」になっています。管理アカウントで設定を変更してください。".to_string()).into()));
    }
    // Period: yyyyMM, clamped to 2021-09 … this month; a period wholly before 2021-09 is refused. Without a
    // StartDate, 薬剤・診療 cover the last 6 months and 特定健診 the last 5 years (the years a checkup result
    // is kept for viewing: one checkup a year, so a shorter window would often hold none).
    let this_month = crate::dates::date(now.year(), u8::from(now.month()), 1);
    let default_months = if medication { 6 } else { 60 };
    let start = match b.start_date.as_deref() {
        Some(s) => match parse_ym(s) {
            Some(d) => d,
            None => {
                return Ok(Err((
                    codes::BAD_PERIOD,
                    format!("StartDate {s} は yyyyMM で指定してください"),
                )
                    .into()));
            }
        },
        None => add_months(this_month, 1 - default_months),
    };
    let end = match b.end_date.as_deref() {
        Some(s) => match parse_ym(s) {
            Some(d) => add_months(d, 1) - time::Duration::days(1),
            None => {
                return Ok(Err((
                    codes::BAD_PERIOD,
                    format!("EndDate {s} は yyyyMM で指定してください"),
                )
                    .into()));
            }
        },
        None => now.date(),
    };
    if end < history_start() || start > end {
        return Ok(Err((
            codes::BAD_PERIOD,
            "指定期間に提供できる情報はありません（2021年9月以降の期間を指定してください）"
                .to_string(),
        )
            .into()));
    }
    let keys = search_keys(
        &h.insurer_number,
        &h.insurance_card_symbol,
        &h.insured_person_identification_number,
        &h.branch_number,
        &None,
    );
    let people = store.people_by_number(&keys, now.date())?;
    let record: Record = match people.as_slice() {
        [r] => r.clone(),
        [] => {
            return Ok(Err((
                codes::NOT_IDENTIFIED,
                "被保険者番号等に該当する患者がいません".to_string(),
            )
                .into()));
        }
        _ => {
            return Ok(Err((
                codes::NOT_IDENTIFIED,
                "複数の患者が該当しました。枝番を指定してください。".to_string(),
            )
                .into()));
        }
    };
    let emergency = b.medical_treatment_flag.as_ref() == Some(&MedicalTreatmentFlag::Emergency);
    if emergency {
        return Ok(Err((codes::NO_CONSENT, "救急時の閲覧は /v1/emergency/lookup を使用してください（閲覧者の権限と二要素認証が必要です）".to_string()).into()));
    }
    // Consent: each information kind needs its own valid consent at this facility.
    let needed: &[&str] = if medication {
        if category == "4" {
            &[consent_kind::PHARMACISTS, consent_kind::DIAGNOSIS]
        } else {
            &[consent_kind::PHARMACISTS]
        }
    } else {
        &[consent_kind::CHECKUP]
    };
    let view = consent_view(store, record.person_id, &facility.code, now)?;
    for k in needed {
        let c = match *k {
            consent_kind::PHARMACISTS => &view.pharmacists,
            consent_kind::DIAGNOSIS => &view.diagnosis,
            _ => &view.checkup,
        };
        match c {
            Some((_, _, true)) => {}
            Some((_, a, false)) => {
                return Ok(Err((codes::NO_CONSENT, format!("患者の閲覧同意の有効期限 ({a}) が切れています。マイナ保険証で再度同意を取得してください。")).into()));
            }
            None => {
                return Ok(Err((
                    codes::NO_CONSENT,
                    "患者の閲覧同意がありません".to_string(),
                )
                    .into()));
            }
        }
    }
    let surgery = medication
        && category == "4"
        && matches!(view.operation, Some((_, _, true)))
        && s.operation_info;
    let birth = parse_ymd(&record.birth).unwrap_or(history_start());
    let dialysis = record.diseases.iter().any(|d| d.category == "1");
    let hist = crate::history::history(
        store.seed,
        record.person_id,
        birth,
        dialysis,
        start,
        end,
        now.date(),
    );
    let header = MedicalHeader {
        time: ymdhms(now),
        facility: Some(facility.code.clone()),
        arbitrary: h.arbitrary_file_identifier.clone(),
        record: &record,
        encoding: enc,
    };
    let mut items = vec![];
    let msg = if medication {
        items.push("薬剤情報");
        if category == "4" {
            items.push("診療情報");
        }
        if surgery {
            items.push("手術情報");
        }
        Message::MedicationResult(results::medication_result(
            &header,
            &hist,
            category == "4",
            surgery,
        ))
    } else {
        items.push("特定健診情報");
        Message::CheckupResult(results::checkup_result(&header, &hist))
    };
    store.log_access(&AccessEntry {
        person_id: record.person_id,
        facility_code: facility.code.clone(),
        facility_name: facility.name.clone(),
        at: ymdhms(now),
        items: items.into_iter().map(str::to_string).collect(),
        // The patient's access history says where the visit was (our convention: the 診療区分 the request
        // carried, docs/mock-central.md).
        method: match b.medical_treatment_flag {
            Some(MedicalTreatmentFlag::HomeVisit) => "閲覧同意（マイナ保険証・訪問診療等）",
            Some(MedicalTreatmentFlag::Online) => "閲覧同意（マイナ保険証・オンライン診療等）",
            _ => "閲覧同意（マイナ保険証）",
        }
        .into(),
        viewer_id: None,
        reason: None,
    })?;
    Ok(Ok(msg))
}
