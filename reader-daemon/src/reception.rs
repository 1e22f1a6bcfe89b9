//! Reception's requests beyond the kiosk: a check by the numbers on an insurance card or 資格確認書 (one at a
//! time, or row by row from a reservation list), 同意取得済み患者一覧, and the consented medical information
//! (診療・薬剤 / 手術 / 特定健診) for a period. Viewing needs a medical-information viewer or an administrator;
//! every view, answered or refused by the central service, is an audit row.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use central_client::CentralClient;
use facility_store::{AuditEntry, CheckIn, Consent, Store, StoreError};
use oqs_protocol::{
    CheckupResult, Direction, Encoding, FileCategory, FileName, MedicalInfoRequest,
    MedicalInfoRequestBody, MedicalInfoRequestHeader, MedicalInfoResultCode, MedicalTreatmentFlag,
    MedicationResult, Message, MessageKind, Pii, ProvisionConsent, QualificationConfirmSearchInfo,
    RequestHeader, SingleCheckRequest, SingleCheckRequestBody, read_message, write_message,
};
use terminal_ipc::{
    CheckInRecord, CheckupValue, CheckupView, ConsentedPatientView, EligibilityView, ErrorBody,
    ErrorCode, Event, InsuranceNumbers, MedicalInfoKind, MedicalInfoView, MedicalLine, PeerInfo,
    RangeFlag, Response, Secret, Sensitive,
};
use tracing::info;

use crate::accounts::{Accounts, SessionUser, audit, blocking, internal};
use crate::checkin::{
    CheckinService, consent_item_of_str, outcome_of_result, patient_view_of, record_of,
};

/// Check-ins as reception shows them: the record, the consents still valid for it, and the name typed at
/// reception for 外字 (blocking: call from `spawn_blocking`).
pub fn reception_records(
    store: &Store,
    rows: &[CheckIn],
) -> Result<Vec<CheckInRecord>, StoreError> {
    let consents = store.all_valid_consents(store.now_millis())?;
    let ids: Vec<&str> = rows.iter().map(|c| c.check_in_id.as_str()).collect();
    let local_names = store.local_names(&ids)?;
    Ok(rows
        .iter()
        .map(|c| {
            let mut record = record_of(c, &[], None);
            record.consents = consents
                .iter()
                .filter(|k| k.check_in_id.as_deref() == Some(&c.check_in_id))
                .map(|k| consent_item_of_str(&k.item))
                .collect();
            if let (Some(p), Some(name)) =
                (record.patient.as_mut(), local_names.get(&c.check_in_id))
            {
                p.local_name = Some(Sensitive::new(name.clone()));
            }
            record
        })
        .collect())
}

/// The longest local name accepted (characters).
const MAX_LOCAL_NAME: usize = 64;

/// Reception's checks and viewing.
pub struct Reception {
    pub store: Arc<Store>,
    pub central: CentralClient,
    pub accounts: Arc<Accounts>,
    /// 医療機関コード, put in the requests' headers.
    pub facility_code: String,
    /// To drop its cached environment settings when an administrator changes them.
    pub checkin: CheckinService,
    seq: AtomicU64,
}

fn bad_request(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::BadRequest, message)
}

fn central_error(e: central_client::CentralError) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::CentralUnavailable,
        format!(
            "オンライン資格確認等システムに接続できません。時間をおいてもう一度お試しください。The central service \
             cannot be reached ({e})."
        ),
    )
}

/// `YYYY-MM-DD` (or `YYYYMMDD`) → `YYYYMMDD`, checked.
fn compact_date(text: &str, what: &str) -> Result<String, ErrorBody> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let ok = digits.len() == 8
        && chrono::NaiveDate::parse_from_str(&digits, "%Y%m%d").is_ok()
        && text.chars().all(|c| c.is_ascii_digit() || c == '-');
    if ok {
        Ok(digits)
    } else {
        Err(bad_request(format!(
            "{what}は YYYY-MM-DD で入力してください。{what} must be a date (YYYY-MM-DD)."
        )))
    }
}

fn non_empty(p: &Sensitive) -> Option<Pii> {
    let v = p.expose().trim();
    (!v.is_empty()).then(|| Pii::new(v.to_owned()))
}

impl Reception {
    pub fn new(
        store: Arc<Store>,
        central: CentralClient,
        accounts: Arc<Accounts>,
        facility_code: String,
        checkin: CheckinService,
    ) -> Self {
        Self {
            store,
            central,
            accounts,
            facility_code,
            checkin,
            seq: AtomicU64::new(0),
        }
    }

    /// Sets or clears the local name (外字) of a check-in; audited (without the name), and pushed to every
    /// subscribed window.
    pub async fn set_local_name(
        &self,
        check_in_id: String,
        name: Sensitive,
    ) -> Result<Response, ErrorBody> {
        let name = name.expose().trim().to_owned();
        if name.chars().count() > MAX_LOCAL_NAME || name.chars().any(char::is_control) {
            return Err(bad_request(format!(
                "氏名は{MAX_LOCAL_NAME}文字以内で入力してください。The name must be at most {MAX_LOCAL_NAME} characters."
            )));
        }
        let store = self.store.clone();
        let id = check_in_id.clone();
        let (record, patient_ref) = blocking("setting the local name", move || {
            let Some(check_in) = store.check_in(&id)? else {
                return Err(StoreError::NotFound(format!("check-in {id}")));
            };
            store.set_local_name(
                &id,
                (!name.is_empty()).then_some(name.as_str()),
                store.now_millis(),
            )?;
            let patient_ref = check_in
                .patient
                .as_ref()
                .map(|p| store.patient_key_of(p).to_hex());
            let record = reception_records(&store, std::slice::from_ref(&check_in))?
                .pop()
                .ok_or_else(|| StoreError::NotFound(format!("check-in {id}")))?;
            Ok((record, patient_ref))
        })
        .await?;
        audit(
            &self.store,
            AuditEntry {
                actor: "reception".into(),
                action: "local_name_set".into(),
                patient_ref,
                items: Vec::new(),
                method: None,
                reason: None,
                detail: Some(format!("check-in {check_in_id}")),
            },
        )
        .await?;
        self.checkin.events().publish(Event::CheckIn {
            check_in: record.clone(),
        });
        Ok(Response::CheckIn { check_in: record })
    }

    /// 環境設定情報 from the central service (administrators only).
    pub async fn environment_settings(
        &self,
        peer: &PeerInfo,
        session: &Secret,
    ) -> Result<Response, ErrorBody> {
        self.accounts.administrator(peer, session).await?;
        let view: SettingsView = self
            .central
            .get_json(&["v1", "facility", "settings"])
            .await
            .map_err(central_error)?;
        Ok(view.into_response())
    }

    /// Replaces the 環境設定情報 at the central service with the facility's admin credential; audited with
    /// the old and new values.
    pub async fn set_environment_settings(
        &self,
        peer: &PeerInfo,
        session: &Secret,
        credential: &Secret,
        settings: serde_json::Value,
    ) -> Result<Response, ErrorBody> {
        let user = self.accounts.administrator(peer, session).await?;
        if !settings.is_object() {
            return Err(bad_request(
                "環境設定情報が正しくありません。The settings must be a JSON object.",
            ));
        }
        let before: Option<SettingsView> = self
            .central
            .get_json(&["v1", "facility", "settings"])
            .await
            .ok();
        let after: SettingsView = self
            .central
            .put_json_bearer(&["v1", "facility", "settings"], &settings, credential.expose())
            .await
            .map_err(|e| match e {
                central_client::CentralError::Status { status: 401, .. } => ErrorBody::new(
                    ErrorCode::Unauthenticated,
                    "管理アカウントの認証情報 (オンライン資格確認等システム) が正しくありません。The central \
                     service refused the admin credential.",
                ),
                central_client::CentralError::Status { status: 400, body } => bad_request(format!(
                    "オンライン資格確認等システムが設定を受け付けませんでした: {body}"
                )),
                other => central_error(other),
            })?;
        self.checkin.forget_settings();
        audit(
            &self.store,
            AuditEntry {
                actor: user.login().to_owned(),
                action: "environment_settings_changed".into(),
                patient_ref: None,
                items: Vec::new(),
                method: None,
                reason: None,
                detail: Some(
                    serde_json::json!({
                        "old": before.map(|b| b.settings),
                        "new": after.settings,
                    })
                    .to_string(),
                ),
            },
        )
        .await?;
        info!("environment settings changed at the central service");
        Ok(after.into_response())
    }

    /// A request file name no receipt computer uses: `app<millis><seq>`.
    fn request_name(&self, kind: MessageKind) -> Result<String, ErrorBody> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) % 10_000;
        let id = format!("app{}{seq:04}", self.store.now_millis());
        FileName::new(kind, Direction::Request, &id, "xml")
            .map(|n| n.to_string())
            .map_err(|e| internal("naming the request", e))
    }

    async fn send(&self, kind: MessageKind, message: &Message) -> Result<Vec<u8>, ErrorBody> {
        let name = self.request_name(kind)?;
        let body = write_message(message, Encoding::Utf8)
            .map_err(|e| internal("writing the request", e))?;
        let answer = self
            .central
            .send_message(&name, &body)
            .await
            .map_err(central_error)?;
        Ok(answer.body)
    }

    /// 資格確認 by 保険者番号・記号・番号・枝番・生年月日 (`OQSsiquc01`). Every check sent to the central service is
    /// an audit row, answered or not: who (the staff member of `session`, else reception and the OS user of
    /// the connection), the patient as the keyed reference other rows use, and the outcome. Nothing is shown
    /// when the row cannot be written.
    pub async fn manual_check(
        &self,
        peer: &PeerInfo,
        numbers: InsuranceNumbers,
        session: Option<&Secret>,
    ) -> Result<Response, ErrorBody> {
        let actor = match session {
            Some(session) => self
                .accounts
                .session(peer, session)
                .await?
                .login()
                .to_owned(),
            None => "reception".to_owned(),
        };
        let insurer = numbers.insurer_number.expose().trim().to_owned();
        if !(insurer.len() == 6 || insurer.len() == 8)
            || !insurer.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad_request(
                "保険者番号は6桁または8桁の数字です。The insurer number has 6 or 8 digits.",
            ));
        }
        if numbers.number.expose().trim().is_empty() {
            return Err(bad_request("番号を入力してください。The 番号 is required."));
        }
        let branch = numbers.branch.expose().trim();
        let two_digits = branch.len() == 2 && branch.chars().all(|c| c.is_ascii_digit());
        if !branch.is_empty() && !two_digits {
            return Err(bad_request("枝番は2桁の数字です。The 枝番 has 2 digits."));
        }
        let birth = compact_date(numbers.birth_date.expose(), "生年月日")?;
        let patient_ref = self
            .store
            .patient_key(
                &insurer,
                numbers.symbol.expose(),
                numbers.number.expose(),
                &birth,
            )
            .to_hex();
        let answered = self.check_by_numbers(&insurer, &numbers, birth).await;
        let (action, detail) = match &answered {
            Ok(view) => (
                "manual_check",
                serde_json::json!({
                    "uid": peer.identity.uid,
                    "connection": peer.connection_id,
                    "outcome": view.outcome,
                    "error_code": view.error_code,
                }),
            ),
            Err(e) => (
                "manual_check_failed",
                serde_json::json!({
                    "uid": peer.identity.uid,
                    "connection": peer.connection_id,
                    "error": e.code,
                }),
            ),
        };
        audit(
            &self.store,
            AuditEntry {
                actor,
                action: action.into(),
                patient_ref: Some(patient_ref),
                items: vec!["eligibility".into()],
                method: Some("insurance_numbers".into()),
                reason: None,
                detail: Some(detail.to_string()),
            },
        )
        .await?;
        Ok(Response::Eligibility { result: answered? })
    }

    /// The single check itself, at the central service.
    async fn check_by_numbers(
        &self,
        insurer: &str,
        numbers: &InsuranceNumbers,
        birth: String,
    ) -> Result<EligibilityView, ErrorBody> {
        let today = self.store.clock().ymd_jst();
        // Six-digit insurer numbers are sent left-padded with two spaces (docs/file-interface.md).
        let insurer_field = format!("{insurer:>8}");
        let request = Message::SingleCheckRequest(SingleCheckRequest {
            message_header: RequestHeader {
                qualification_confirmation_date: Some(today),
                medical_institution_code: Some(self.facility_code.clone()),
                arbitrary_file_identifier: None,
            },
            message_body: SingleCheckRequestBody {
                qualification_confirm_search_info: Some(QualificationConfirmSearchInfo {
                    insurer_number: Some(insurer_field),
                    insured_card_symbol: non_empty(&numbers.symbol),
                    insured_identification_number: non_empty(&numbers.number),
                    insured_branch_number: non_empty(&numbers.branch),
                    birthdate: Some(Pii::new(birth)),
                    // 限度額 information needs the patient's own consent at the card reader.
                    limit_application_certificate_related_cons_flg: Some(
                        ProvisionConsent::NotConsented,
                    ),
                    ..QualificationConfirmSearchInfo::default()
                }),
            },
        });
        let body = self.send(MessageKind::SingleCheck, &request).await?;
        let result = match read_message(&body, MessageKind::SingleCheck, Direction::Response) {
            Ok(decoded) => match decoded.message {
                Message::SingleCheckResult(r) => r,
                _ => return Err(internal("reading the answer", "not a single-check result")),
            },
            Err(e) => return Err(internal("reading the answer", e)),
        };
        let patient = patient_view_of(&result);
        // Nobody in the answer: the file's error (whole-file refusal) or the person's processing result.
        let error = result
            .message_body
            .result_list
            .as_ref()
            .and_then(|l| l.result_of_qualification_confirmation.first())
            .is_none()
            .then(|| {
                let h = &result.message_header;
                let b = &result.message_body;
                (
                    h.error_code
                        .clone()
                        .or_else(|| b.processing_result_code.clone()),
                    h.error_message
                        .clone()
                        .or_else(|| b.processing_result_message.clone()),
                )
            });
        let (error_code, error_message) = match error {
            Some((code, message)) => (
                Some(code.unwrap_or_else(|| "not_found".into())),
                Some(message.unwrap_or_else(|| "該当する資格情報がありません".into())),
            ),
            None => (None, None),
        };
        info!(outcome = ?outcome_of_result(&result), "check by numbers answered");
        Ok(EligibilityView {
            outcome: outcome_of_result(&result),
            patient: patient.map(Box::new),
            error_code,
            error_message,
            checked_at: oqs_clock::format_jst(self.store.clock().now()),
        })
    }

    /// A session that may view medical information (医療情報閲覧者 or 管理者).
    async fn viewer(&self, peer: &PeerInfo, session: &Secret) -> Result<SessionUser, ErrorBody> {
        let user = self.accounts.session(peer, session).await?;
        match user.account.role {
            facility_store::Role::MedicalInformationViewer
            | facility_store::Role::Administrator => Ok(user),
            facility_store::Role::Staff
            | facility_store::Role::Master
            | facility_store::Role::MasterReset => Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "診療情報の閲覧には医療情報閲覧者または管理者のアカウントが必要です。Viewing needs a \
                 medical-information viewer or an administrator account.",
            )),
        }
    }

    /// The valid consents grouped by patient, each with the check-in that gave them.
    async fn consented(&self) -> Result<Vec<Consented>, ErrorBody> {
        let store = self.store.clone();
        blocking("reading the consents", move || {
            let now = store.now_millis();
            let mut by_patient: BTreeMap<String, Vec<Consent>> = BTreeMap::new();
            for c in store.all_valid_consents(now)? {
                by_patient.entry(c.patient.to_hex()).or_default().push(c);
            }
            let mut out = Vec::new();
            for (patient_ref, consents) in by_patient {
                let check_in = consents
                    .iter()
                    .filter_map(|c| c.check_in_id.as_deref())
                    .find_map(|id| store.check_in(id).ok().flatten());
                if let Some(check_in) = check_in {
                    out.push(Consented {
                        patient_ref,
                        consents,
                        check_in,
                    });
                }
            }
            Ok::<_, facility_store::StoreError>(out)
        })
        .await
    }

    /// 同意取得済み患者一覧, latest consent first.
    pub async fn consented_patients(
        &self,
        peer: &PeerInfo,
        session: &Secret,
    ) -> Result<Response, ErrorBody> {
        self.viewer(peer, session).await?;
        let mut patients = Vec::new();
        for Consented {
            patient_ref,
            consents,
            check_in,
        } in self.consented().await?
        {
            let record = record_of(&check_in, &[], None);
            let Some(p) = record.patient else { continue };
            let has = |item: &str| consents.iter().any(|c| c.item == item);
            let granted = consents.iter().map(|c| c.granted_at).max().unwrap_or(0);
            let expires = consents.iter().map(|c| c.expires_at).min().unwrap_or(0);
            patients.push(ConsentedPatientView {
                patient_ref,
                name: p.name,
                kana: p.kana,
                sex: p.sex,
                birth_date: p.birth_date,
                insurer_number: p.insurer_number,
                consented_at: rfc3339(granted),
                expires_at: rfc3339(expires),
                medical: has("medical_and_medication"),
                surgery: has("surgery"),
                checkup: has("health_checkup"),
            });
        }
        patients.sort_by(|a, b| b.consented_at.cmp(&a.consented_at));
        Ok(Response::ConsentedPatients { patients })
    }

    /// The consented information of one patient for a period; audited whether or not it could be shown.
    pub async fn medical_info(
        &self,
        peer: &PeerInfo,
        session: &Secret,
        patient_ref: &str,
        info: MedicalInfoKind,
        from: &str,
        to: &str,
    ) -> Result<Response, ErrorBody> {
        let user = self.viewer(peer, session).await?;
        let from_d = compact_date(from, "期間 (自)")?;
        let to_d = compact_date(to, "期間 (至)")?;
        if from_d > to_d {
            return Err(bad_request(
                "期間の (自) が (至) より後です。The period starts after it ends.",
            ));
        }
        if to_d.as_str() < "20210901" {
            return Err(bad_request(
                "2021年9月より前の情報はありません。Nothing exists before 2021-09.",
            ));
        }
        let from_d = if from_d.as_str() < "20210901" {
            "20210901".to_owned()
        } else {
            from_d
        };
        let needed = match info {
            MedicalInfoKind::MedicationAndTreatment => "medical_and_medication",
            MedicalInfoKind::Surgery => "surgery",
            MedicalInfoKind::HealthCheckup => "health_checkup",
        };
        let found = self
            .consented()
            .await?
            .into_iter()
            .find(|c| c.patient_ref == patient_ref);
        let Some(Consented {
            consents, check_in, ..
        }) = found
        else {
            return Err(ErrorBody::new(
                ErrorCode::NotFound,
                "この患者さんの有効な閲覧同意がありません (同意は24時間で切れます)。No valid consent for this patient.",
            ));
        };
        if !consents.iter().any(|c| c.item == needed) {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "この情報の閲覧には患者さんの同意がありません。The patient did not consent to this information.",
            ));
        }
        let Some(p) = record_of(&check_in, &[], None).patient else {
            return Err(internal("reading the patient", "no identity stored"));
        };
        let header = MedicalInfoRequestHeader {
            medical_institution_code: Some(self.facility_code.clone()),
            insurer_number: Some(p.insurer_number.expose().to_owned()),
            insurance_card_symbol: non_empty(&p.symbol),
            insured_person_identification_number: non_empty(&p.number),
            branch_number: non_empty(&p.branch),
            arbitrary_file_identifier: None,
        };
        let result = match info {
            MedicalInfoKind::HealthCheckup => {
                let request = Message::CheckupRequest(MedicalInfoRequest {
                    message_header: header,
                    message_body: MedicalInfoRequestBody {
                        file_category: Some(FileCategory::DrugXml),
                        pr_di_inf_classification: Some("1".into()),
                        medical_treatment_flag: Some(MedicalTreatmentFlag::Outpatient),
                        ..MedicalInfoRequestBody::default()
                    },
                });
                let body = self.send(MessageKind::Checkup, &request).await?;
                match read_message(&body, MessageKind::Checkup, Direction::Response) {
                    Ok(d) => match d.message {
                        Message::CheckupResult(r) => checkup_view(&r, &from_d, &to_d),
                        _ => Err("not a checkup result".to_owned()),
                    },
                    Err(e) => Err(e.to_string()),
                }
            }
            _ => {
                let request = Message::MedicationRequest(MedicalInfoRequest {
                    message_header: header,
                    message_body: MedicalInfoRequestBody {
                        start_date: Some(from_d[..6].to_owned()),
                        end_date: Some(to_d[..6].to_owned()),
                        file_category: Some(FileCategory::DrugTreatmentXml),
                        pr_di_inf_classification: Some("1".into()),
                        medical_treatment_flag: Some(MedicalTreatmentFlag::Outpatient),
                    },
                });
                let body = self.send(MessageKind::Medication, &request).await?;
                match read_message(&body, MessageKind::Medication, Direction::Response) {
                    Ok(d) => match d.message {
                        Message::MedicationResult(r) => medication_lines(&r, info),
                        _ => Err("not a medication result".to_owned()),
                    },
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        let (lines, checkups, refused) = match result {
            Ok(Shown::Lines(lines)) => (lines, Vec::new(), None),
            Ok(Shown::Checkups(c)) => (Vec::new(), c, None),
            Err(message) => (Vec::new(), Vec::new(), Some(message)),
        };
        audit(
            &self.store,
            AuditEntry {
                actor: user.login().to_owned(),
                action: if refused.is_some() {
                    "view_medical_info_refused".into()
                } else {
                    "view_medical_info".into()
                },
                patient_ref: Some(patient_ref.to_owned()),
                items: vec![needed.to_owned()],
                method: Some("consent".into()),
                reason: None,
                detail: Some(
                    serde_json::json!({
                        "from": from_d, "to": to_d, "viewer": user.viewer_label(),
                        "lines": lines.len(), "checkups": checkups.len(),
                    })
                    .to_string(),
                ),
            },
        )
        .await?;
        if let Some(message) = refused {
            return Err(ErrorBody::new(
                ErrorCode::Other,
                format!("オンライン資格確認等システムが情報を返しませんでした: {message}"),
            ));
        }
        info!(info = ?info, lines = lines.len(), checkups = checkups.len(), "medical information shown");
        Ok(Response::MedicalInfo {
            view: MedicalInfoView {
                info,
                from: dashed(&from_d),
                to: dashed(&to_d),
                lines,
                checkups,
            },
        })
    }
}

/// A patient with valid consents, and the check-in that gave them.
struct Consented {
    patient_ref: String,
    consents: Vec<Consent>,
    check_in: facility_store::CheckIn,
}

#[derive(serde::Deserialize)]
struct SettingsView {
    facility_code: String,
    #[serde(default)]
    facility_name: String,
    settings: serde_json::Value,
}

impl SettingsView {
    fn into_response(self) -> Response {
        Response::EnvironmentSettings {
            facility_code: self.facility_code,
            facility_name: self.facility_name,
            settings: self.settings,
        }
    }
}

enum Shown {
    Lines(Vec<MedicalLine>),
    Checkups(Vec<CheckupView>),
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&chrono::Local)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

fn dashed(yyyymmdd: &str) -> String {
    format!("{}-{}-{}", &yyyymmdd[..4], &yyyymmdd[4..6], &yyyymmdd[6..8])
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// The treatment, prescription and dispensing lines (or the operations) of a `YZKsiquc01` result.
fn medication_lines(r: &MedicationResult, info: MedicalInfoKind) -> Result<Shown, String> {
    if r.message_header.result_code != Some(MedicalInfoResultCode::Success) {
        return Err(text(&r.message_header.message_contents));
    }
    let b = &r.message_body;
    let mut lines = Vec::new();
    if info == MedicalInfoKind::Surgery {
        for s in b.surgery_inf.iter().flat_map(|s| &s.surgery_month_inf) {
            lines.push(MedicalLine {
                date: s
                    .surgery_date
                    .clone()
                    .or_else(|| s.month.clone())
                    .unwrap_or_default(),
                facility: text(&s.ins_name),
                code: format!("手術 {}", text(&s.surgery_c)),
                name: text(&s.surgery_n),
                detail: None,
                quantity: None,
            });
        }
    } else {
        for m in &b.me_tr_month_inf {
            for t in m.treatment_infs.iter().flat_map(|t| &t.treatment_inf) {
                lines.push(MedicalLine {
                    date: text(&m.me_tr_month),
                    facility: text(&m.ins_name),
                    code: format!("診療 {}", text(&t.treatment_c)),
                    name: text(&t.treatment_n),
                    detail: m
                        .in_out_kbn
                        .as_deref()
                        .map(|k| if k == "1" { "入院" } else { "外来" }.to_owned()),
                    quantity: t.times.as_ref().map(|n| format!("{n}回")),
                });
            }
        }
        let groups = [
            ("処方", b.sh_pr_inf.as_ref().map(|x| &x.sh_pr_month_inf)),
            ("調剤", b.cz_di_inf.as_ref().map(|x| &x.cz_di_month_inf)),
        ];
        for (label, months) in groups {
            for m in months.into_iter().flatten() {
                for d in m.di_date_infs.iter().flat_map(|d| &d.di_date_inf) {
                    for drug in d.drug_infs.iter().flat_map(|x| &x.drug_inf) {
                        lines.push(MedicalLine {
                            date: text(&d.di_date),
                            facility: text(&m.ins_name),
                            code: format!("{label} {}", text(&drug.drug_c)),
                            name: text(&drug.drug_n),
                            detail: drug.usage_n.clone(),
                            quantity: Some(format!(
                                "{}{} {}",
                                text(&drug.qua1),
                                text(&drug.unit),
                                text(&drug.times)
                            ))
                            .map(|q| q.trim().to_owned())
                            .filter(|q| !q.is_empty()),
                        });
                    }
                }
            }
        }
    }
    lines.sort_by(|a, b| a.date.cmp(&b.date));
    Ok(Shown::Lines(lines))
}

/// Reference ranges of the common 特定健診 items (JLAC10 code prefix, low, high), for ▲ / ▽.
const RANGES: &[(&str, Option<f64>, Option<f64>, &str)] = &[
    ("9N011", Some(18.5), Some(25.0), "18.5〜24.9"), // BMI
    ("9N016", None, Some(85.0), "< 85"),             // 腹囲 (男性基準)
    ("9A751", None, Some(130.0), "< 130"),           // 収縮期血圧
    ("9A761", None, Some(85.0), "< 85"),             // 拡張期血圧
    ("3F015", None, Some(150.0), "< 150"),           // 中性脂肪
    ("3F070", Some(40.0), None, "≥ 40"),             // HDL
    ("3F077", None, Some(120.0), "< 120"),           // LDL
    ("3D010", None, Some(100.0), "< 100"),           // 空腹時血糖
    ("3D045", None, Some(5.6), "< 5.6"),             // HbA1c (JDS)
    ("3D046", None, Some(5.6), "< 5.6"),             // HbA1c (NGSP)
    ("3B035", None, Some(31.0), "≤ 30"),             // AST
    ("3B045", None, Some(31.0), "≤ 30"),             // ALT
    ("3B090", None, Some(51.0), "≤ 50"),             // γ-GT
];

fn flag_of(code: &str, value: &str) -> (Option<RangeFlag>, Option<String>) {
    let Some((_, low, high, shown)) = RANGES.iter().find(|(p, ..)| code.starts_with(p)) else {
        return (None, None);
    };
    let flag = value.trim().parse::<f64>().ok().and_then(|v| {
        if high.is_some_and(|h| v >= h) {
            Some(RangeFlag::High)
        } else if low.is_some_and(|l| v < l) {
            Some(RangeFlag::Low)
        } else {
            None
        }
    });
    (flag, Some((*shown).to_owned()))
}

/// The checkups of a `TKKsiquc01` result inside the period, newest first, with ▲ / ▽ marks.
fn checkup_view(r: &CheckupResult, from: &str, to: &str) -> Result<Shown, String> {
    if r.message_header.result_code != Some(MedicalInfoResultCode::Success) {
        return Err(text(&r.message_header.message_contents));
    }
    let mut out = Vec::new();
    for c in &r.message_body.specific_health_checkup_info {
        let date = text(&c.effective_time);
        if date.as_str() < from || date.as_str() > to {
            continue;
        }
        let values = c
            .health_checkup_result_and_question_infos
            .iter()
            .flat_map(|i| &i.health_checkup_result_and_question_info)
            .map(|v| {
                let code = text(&v.item_code);
                let value = v
                    .data_value_name
                    .clone()
                    .or_else(|| v.data_value.clone())
                    .unwrap_or_default();
                let (flag, range) = flag_of(&code, v.data_value.as_deref().unwrap_or(""));
                CheckupValue {
                    item: text(&v.item_name),
                    value,
                    unit: text(&v.unit),
                    flag,
                    range,
                }
            })
            .collect();
        out.push(CheckupView {
            date,
            facility: String::new(),
            values,
        });
    }
    out.sort_by(|a, b| b.date.cmp(&a.date));
    Ok(Shown::Checkups(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked_and_compacted() {
        assert_eq!(compact_date("1980-04-17", "x").unwrap(), "19800417");
        assert!(compact_date("1980-02-30", "x").is_err());
        assert!(compact_date("17/04/1980", "x").is_err());
        assert!(compact_date("", "x").is_err());
    }

    #[test]
    fn values_outside_the_range_are_marked() {
        assert_eq!(flag_of("9A751000000000001", "142").0, Some(RangeFlag::High));
        assert_eq!(flag_of("9A751000000000001", "118").0, None);
        assert_eq!(flag_of("3F070000002327101", "35").0, Some(RangeFlag::Low));
        assert_eq!(flag_of("9N001000000000001", "170").0, None);
        assert_eq!(flag_of("3D045000001906202", "abc").0, None);
    }
}
