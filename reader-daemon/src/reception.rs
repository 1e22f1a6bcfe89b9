//! Reception's requests beyond the kiosk: a check by the numbers on an insurance card or 資格確認書 (one at a
//! time, or row by row from a reservation list), 同意取得済み患者一覧, and the consented medical information
//! (診療・薬剤 / 手術 / 特定健診) for a period. Viewing needs a medical-information viewer or an administrator;
//! every view, answered or refused by the central service, is an audit row.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use central_client::CentralClient;
use facility_store::{AuditEntry, CheckIn, Consent, PatientIdentity, Store, StoreError};
use oqs_protocol::{
    CheckupResult, Direction, Encoding, FileCategory, FileName, MedicalInfoRequest,
    MedicalInfoRequestBody, MedicalInfoRequestHeader, MedicalInfoResultCode, MedicalTreatmentFlag,
    MedicationResult, MedicationSource, Message, MessageKind, Pii, ProvisionConsent,
    QualificationConfirmSearchInfo, RequestHeader, SingleCheckRequest, SingleCheckRequestBody,
    read_message, write_message,
};
use terminal_ipc::{
    CheckInRecord, CheckupFormRow, CheckupValue, CheckupView, ConsentedPatientView,
    EligibilityView, ErrorBody, ErrorCode, Event, InsuranceNumbers, MedicalInfoKind,
    MedicalInfoView, MedicalLine, PeerInfo, Response, Secret, Sensitive, Sex, Visit,
};
use tracing::info;

use crate::accounts::{Accounts, SessionUser, audit, blocking, internal};
use crate::checkin::{
    CheckinService, consent_item_of_str, identity_of, outcome_of_result, patient_view_of, record_of,
};
use crate::checkup_form;

mod unconfirmed;
pub use unconfirmed::{RecheckKind, due_recheck};

/// Check-ins as reception shows them: the record, the consents still valid for it, and the name typed at
/// reception for 外字 (blocking: call from `spawn_blocking`).
pub fn reception_records(
    store: &Store,
    rows: &[CheckIn],
) -> Result<Vec<CheckInRecord>, StoreError> {
    let consents = store.all_valid_consents(store.now_millis())?;
    let ids: Vec<&str> = rows.iter().map(|c| c.check_in_id.as_str()).collect();
    let local_names = store.local_names(&ids)?;
    let visits = store.visits(&ids)?;
    let expiries = store.certificate_expiries(&ids)?;
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
            record.visit = visits
                .get(&c.check_in_id)
                .and_then(|v| Visit::parse(v))
                .unwrap_or_default();
            crate::checkin::with_certificate_dates(record, expiries.get(&c.check_in_id).copied())
        })
        .collect())
}

/// The 診療区分 (OQSCD028) a 閲覧 request carries for a visit.
fn treatment_flag(visit: Visit) -> MedicalTreatmentFlag {
    match visit {
        Visit::Outpatient => MedicalTreatmentFlag::Outpatient,
        Visit::HomeVisit => MedicalTreatmentFlag::HomeVisit,
        Visit::Online => MedicalTreatmentFlag::Online,
    }
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
    /// To drop its cached environment settings and learn the 利用文字コード when an administrator changes them.
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

/// The 保険者番号 (trimmed) and the birth date (`YYYYMMDD`) of numbers typed at reception, or what is wrong
/// with them.
fn checked_numbers(numbers: &InsuranceNumbers) -> Result<(String, String), ErrorBody> {
    let insurer = numbers.insurer_number.expose().trim().to_owned();
    if !(insurer.len() == 6 || insurer.len() == 8) || !insurer.chars().all(|c| c.is_ascii_digit()) {
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
    Ok((insurer, birth))
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
        let detail = format!("check-in {check_in_id}");
        self.change_check_in(check_in_id, "local_name_set", detail, move |store, id| {
            store.set_local_name(
                id,
                (!name.is_empty()).then_some(name.as_str()),
                store.now_millis(),
            )
        })
        .await
    }

    /// Tags a check-in's visit 外来 / 訪問 / オンライン; audited, and pushed to every subscribed window.
    pub async fn set_visit(
        &self,
        check_in_id: String,
        visit: Visit,
    ) -> Result<Response, ErrorBody> {
        let detail = format!("check-in {check_in_id}: {}", visit.as_str());
        self.change_check_in(check_in_id, "visit_set", detail, move |store, id| {
            store.set_visit(id, visit.as_str(), store.now_millis())
        })
        .await
    }

    /// Applies reception's `change` to a check-in that must exist, audits it as `action` (by "reception",
    /// with the patient's reference and `detail`), and pushes the updated check-in to every subscribed window.
    async fn change_check_in(
        &self,
        check_in_id: String,
        action: &str,
        detail: String,
        change: impl FnOnce(&Store, &str) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<Response, ErrorBody> {
        let store = self.store.clone();
        let (record, patient_ref) = blocking("changing a check-in", move || {
            let Some(check_in) = store.check_in(&check_in_id)? else {
                return Err(StoreError::NotFound(format!("check-in {check_in_id}")));
            };
            change(&store, &check_in_id)?;
            let patient_ref = check_in
                .patient
                .as_ref()
                .map(|p| store.patient_key_of(p).to_hex());
            let record = reception_records(&store, std::slice::from_ref(&check_in))?
                .pop()
                .ok_or_else(|| StoreError::NotFound(format!("check-in {check_in_id}")))?;
            Ok((record, patient_ref))
        })
        .await?;
        audit(
            &self.store,
            AuditEntry {
                actor: "reception".into(),
                action: action.into(),
                patient_ref,
                items: Vec::new(),
                method: None,
                reason: None,
                detail: Some(detail),
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
        self.checkin.learn_character_code(&view.settings);
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
        self.checkin.settings_changed(&after.settings);
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
        ahead: bool,
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
        let (insurer, birth) = checked_numbers(&numbers)?;
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
        let entry = |action: &str, detail: serde_json::Value| AuditEntry {
            actor: actor.clone(),
            action: action.into(),
            patient_ref: Some(patient_ref.clone()),
            items: vec!["eligibility".into()],
            method: Some("insurance_numbers".into()),
            reason: None,
            detail: Some(detail.to_string()),
        };
        let answered = match answered {
            Ok(answered) => answered,
            Err(e) => {
                let detail = serde_json::json!({
                    "uid": peer.identity.uid,
                    "connection": peer.connection_id,
                    "error": e.code,
                });
                audit(&self.store, entry("manual_check_failed", detail)).await?;
                return Err(e);
            }
        };
        // A check by numbers at the counter that found the person is a check-in like one with the card (◎ in
        // the reception list), recorded with its audit row in one transaction. A reservation checked ahead, or
        // numbers nobody has (a typo, typed again), is audited only.
        let identity = match answered.identity {
            Some(identity) if !ahead => identity,
            _ => {
                let detail = serde_json::json!({
                    "uid": peer.identity.uid,
                    "connection": peer.connection_id,
                    "outcome": answered.view.outcome,
                    "error_code": answered.view.error_code,
                    "ahead": ahead,
                });
                audit(&self.store, entry("manual_check", detail)).await?;
                return Ok(Response::Eligibility {
                    result: answered.view,
                });
            }
        };
        let at = self.store.now_millis();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) % 10_000;
        let check_in_id = format!("numbers_{at}_{seq:04}");
        let detail = serde_json::json!({
            "uid": peer.identity.uid,
            "connection": peer.connection_id,
            "outcome": answered.view.outcome,
            "error_code": answered.view.error_code,
            "check_in": check_in_id,
        });
        let check_in = CheckIn {
            check_in_id,
            at,
            reader: "reception".into(),
            method: "insurance_numbers".into(),
            status: crate::checkin::status_of(answered.view.outcome),
            patient: Some(identity),
            result_document: Some(answered.document.into()),
            updated_at: at,
        };
        let store = self.store.clone();
        let entry = entry("manual_check", detail);
        let record = blocking("recording the check by numbers", move || {
            store.insert_check_in_audited(&check_in, &entry)?;
            Ok(reception_records(&store, std::slice::from_ref(&check_in))?.pop())
        })
        .await?;
        if let Some(check_in) = record {
            self.checkin.events().publish(Event::CheckIn { check_in });
        }
        Ok(Response::Eligibility {
            result: answered.view,
        })
    }

    /// The single check itself, at the central service.
    async fn check_by_numbers(
        &self,
        insurer: &str,
        numbers: &InsuranceNumbers,
        birth: String,
    ) -> Result<AnsweredCheck, ErrorBody> {
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
        let (mut result, encoding) =
            match read_message(&body, MessageKind::SingleCheck, Direction::Response) {
                Ok(decoded) => match decoded.message {
                    Message::SingleCheckResult(r) => (r, decoded.encoding),
                    _ => return Err(internal("reading the answer", "not a single-check result")),
                },
                Err(e) => return Err(internal("reading the answer", e)),
            };
        // A restricted (DV・虐待) record loses its address here too, also in the document kept for later.
        let body = if result.apply_disclosure_restriction() {
            oqs_protocol::write_message(&Message::SingleCheckResult(result.clone()), encoding)
                .map_err(|e| internal("writing the restricted answer", e))?
        } else {
            body
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
        Ok(AnsweredCheck {
            view: EligibilityView {
                outcome: outcome_of_result(&result),
                patient: patient.map(Box::new),
                error_code,
                error_message,
                checked_at: oqs_clock::format_jst(self.store.clock().now()),
            },
            identity: identity_of(&result),
            document: body,
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
            let born = wareki::Date::parse(p.birth_date.expose()).ok();
            let on_form =
                |f: fn(wareki::Date) -> String| Sensitive::new(born.map(f).unwrap_or_default());
            patients.push(ConsentedPatientView {
                patient_ref,
                birth_date_wareki: on_form(wareki::Date::long_wareki),
                birth_date_long: on_form(wareki::Date::long_western),
                age: born.map(|b| b.age_on(self.today())),
                name: p.name,
                kana: p.kana,
                sex: p.sex,
                birth_date: p.birth_date,
                insurer_number: p.insurer_number,
                symbol: p.symbol,
                number: p.number,
                branch: p.branch,
                insurer_name: p.insurer_name,
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
        let store = self.store.clone();
        let id = check_in.check_in_id.clone();
        let visit = blocking("reading the visit", move || store.visits(&[id.as_str()]))
            .await?
            .get(&check_in.check_in_id)
            .and_then(|v| Visit::parse(v))
            .unwrap_or_default();
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
                        medical_treatment_flag: Some(treatment_flag(visit)),
                        ..MedicalInfoRequestBody::default()
                    },
                });
                let body = self.send(MessageKind::Checkup, &request).await?;
                match read_message(&body, MessageKind::Checkup, Direction::Response) {
                    Ok(d) => match d.message {
                        Message::CheckupResult(r) => checkup_view(&r, &from_d, &to_d, Some(p.sex)),
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
                        medical_treatment_flag: Some(treatment_flag(visit)),
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
                        "visit": visit.as_str(),
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
                checkup_form: if info == MedicalInfoKind::HealthCheckup {
                    checkup_form::FORM_ITEMS
                        .iter()
                        .map(|i| CheckupFormRow {
                            group: i.group.label().to_owned(),
                            label: i.label.to_owned(),
                            range: i.shown.to_owned(),
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                created_on: self.today().long_western(),
                through_month: wareki::Date::parse(&to_d)
                    .map(|d| format!("{}年{}月", d.year, d.month))
                    .unwrap_or_default(),
            },
        })
    }

    /// Today (JST) on the store's clock.
    fn today(&self) -> wareki::Date {
        let d = self.store.clock().today_jst();
        wareki::Date::new(
            u16::try_from(d.year()).unwrap_or(0),
            u8::from(d.month()),
            d.day(),
        )
        .unwrap_or(wareki::Date {
            year: 1970,
            month: 1,
            day: 1,
        })
    }
}

/// The central answer to a check by numbers: what the screen shows, and what the check-in keeps.
struct AnsweredCheck {
    view: EligibilityView,
    identity: Option<PatientIdentity>,
    document: Vec<u8>,
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

/// RFC 3339 in Japan's time whatever the PC's time zone is (reception reads times as the receipt computer
/// does).
fn rfc3339(ms: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    oqs_clock::format_jst(t)
}

/// `YYYYMMDD` → `YYYY-MM-DD`; anything else unchanged (never a panic on a short or odd value).
fn dashed(yyyymmdd: &str) -> String {
    match (yyyymmdd.get(..4), yyyymmdd.get(4..6), yyyymmdd.get(6..8)) {
        (Some(y), Some(m), Some(d)) if yyyymmdd.len() == 8 => format!("{y}-{m}-{d}"),
        _ => yyyymmdd.to_owned(),
    }
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// `22年7月` and `19日` of a `YYYYMMDD` or `YYYYMM` date.
fn date_labels(date: &str) -> (String, String) {
    let day = if date.len() == 6 {
        format!("{date}01")
    } else {
        date.to_owned()
    };
    match wareki::Date::parse(&day) {
        Ok(d) if date.len() == 6 => (d.month_short(), String::new()),
        Ok(d) => (d.month_short(), format!("{}日", d.day)),
        Err(_) => (date.to_owned(), String::new()),
    }
}

/// One line of 診療／薬剤情報一覧.
fn line(kind: &str, date: String, facility: &Option<String>, code: &Option<String>) -> MedicalLine {
    let (month_label, day_label) = date_labels(&date);
    MedicalLine {
        date,
        facility: text(facility),
        code: format!("{kind} {}", text(code)),
        name: String::new(),
        detail: None,
        quantity: None,
        kind: kind.to_owned(),
        in_out: None,
        usage_class: None,
        ingredient: None,
        dose: None,
        special_instruction: None,
        month_label,
        day_label,
    }
}

/// 入外 of a 診療実績 month (`InOut`) in words: `1` 外来, `2` 入院 (our convention, docs/file-interface.md; the
/// values are not public).
fn in_out_label(code: &str) -> String {
    match code {
        "2" => "入院",
        _ => "外来",
    }
    .to_owned()
}

/// 処方区分 of a month of 処方・調剤 (`ShPrCl`, `CzPrCl`): `1` 院内, `2` 院外 (our convention).
fn dispensing_label(code: Option<&str>) -> Option<String> {
    match code? {
        "1" => Some("院内".to_owned()),
        "2" => Some("院外".to_owned()),
        _ => None,
    }
}

/// 使用区分 of a drug from its 診療識別 (`MeTrIdCl`), and the word after its 日数・回数 (`28日分`, `10回分`,
/// `1処方分`).
fn usage_class(code: Option<&str>) -> Option<(&'static str, &'static str)> {
    match code? {
        "21" => Some(("内服", "日分")),
        "22" => Some(("屯服", "回分")),
        "23" => Some(("外用", "処方分")),
        _ => None,
    }
}

/// 数量/日数/回数 of a drug: `1錠 28日分`.
fn drug_quantity(drug: &oqs_protocol::ShDrugInf, per: Option<&str>) -> Option<String> {
    let amount = format!("{}{}", text(&drug.quantity), text(&drug.unit));
    let times = drug
        .times
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| format!("{t}{}", per.unwrap_or_default()))
        .unwrap_or_default();
    Some(format!("{amount} {times}").trim().to_owned()).filter(|q| !q.is_empty())
}

/// The lines of a `YZKsiquc01` result: 手術 only, or 手術・診療・薬剤 (処方・調剤) and 透析 in one go as the
/// official 診療／薬剤情報一覧 shows them.
fn medication_lines(r: &MedicationResult, info: MedicalInfoKind) -> Result<Shown, String> {
    if r.message_header.result_code != Some(MedicalInfoResultCode::Success) {
        return Err(text(&r.message_header.message_contents));
    }
    let b = &r.message_body;
    let mut lines = Vec::new();
    for s in b.surgery_inf.iter().flat_map(|s| &s.surgery_month_inf) {
        let date = s
            .surgery_date
            .clone()
            .or_else(|| s.month.clone())
            .unwrap_or_default();
        lines.push(MedicalLine {
            name: text(&s.surgery_n),
            ..line("手術", date, &s.ins_name, &s.surgery_c)
        });
    }
    if info != MedicalInfoKind::Surgery {
        // 診療行為 from 診療実績; drugs from 処方 and 調剤 (a 診療実績 month may list the same drugs again:
        // they are shown once, from the prescription and the dispensing).
        for (source, m) in b.months() {
            let label = match source {
                MedicationSource::Treatment => "診療",
                MedicationSource::Prescription => "処方",
                MedicationSource::Dispensing => "調剤",
            };
            let facility = m
                .treating_name
                .clone()
                .or_else(|| m.prescriber_name.clone());
            for d in &m.dates {
                let date = d
                    .date
                    .clone()
                    .or_else(|| m.month.clone())
                    .unwrap_or_default();
                for act in &d.acts {
                    lines.push(MedicalLine {
                        name: text(&act.name),
                        in_out: m.class.as_deref().map(in_out_label),
                        detail: None,
                        quantity: act.times.as_ref().map(|n| format!("{n}回")),
                        ..line(label, date.clone(), &facility, &act.code)
                    });
                }
                if source == MedicationSource::Treatment {
                    continue;
                }
                for drug in &d.drugs {
                    let class = usage_class(drug.treatment_class.as_deref());
                    lines.push(MedicalLine {
                        name: text(&drug.name),
                        detail: drug.usage.clone().filter(|u| !u.is_empty()),
                        quantity: drug_quantity(drug, class.map(|(_, per)| per)),
                        in_out: dispensing_label(m.class.as_deref()),
                        usage_class: class.map(|(name, _)| name.to_owned()),
                        ingredient: drug.ingredient.clone().filter(|i| !i.is_empty()),
                        dose: drug
                            .once_quantity
                            .as_deref()
                            .filter(|q| !q.is_empty())
                            .map(|q| format!("1回{q}{}", text(&drug.unit))),
                        special_instruction: drug
                            .special_instruction
                            .clone()
                            .filter(|i| !i.is_empty()),
                        ..line(label, date.clone(), &facility, &drug.code)
                    });
                }
            }
        }
        for d in b.dialysis_inf.iter().flat_map(|d| &d.dialysis_month_inf) {
            lines.push(MedicalLine {
                name: d.dialysis_kind.clone().unwrap_or_else(|| "人工透析".into()),
                quantity: d.times.as_ref().map(|n| format!("{n}回")),
                ..line("透析", text(&d.month), &d.ins_name, &None)
            });
        }
    }
    lines.sort_by(|a, b| a.date.cmp(&b.date));
    Ok(Shown::Lines(lines))
}

/// The checkups of a `TKKsiquc01` result inside the period, newest first, with ▲ / ▽ marks.
fn checkup_view(
    r: &CheckupResult,
    from: &str,
    to: &str,
    sex: Option<Sex>,
) -> Result<Shown, String> {
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
                // A number (`PQ`) is judged; a code or text (尿糖 (-), 既往歴 …) is shown as its name.
                let measured = match v.data_type.as_deref() {
                    Some(t) => t == "PQ",
                    None => v.data_value_name.is_none(),
                };
                let value = if measured {
                    v.data_value.clone()
                } else {
                    v.data_value_name.clone().or_else(|| v.data_value.clone())
                }
                .unwrap_or_default();
                let flag = if measured {
                    checkup_form::mark(&code, &value, sex)
                } else {
                    None
                };
                let on_form = checkup_form::form_item(&code);
                CheckupValue {
                    item: text(&v.item_name),
                    value,
                    unit: text(&v.unit),
                    flag,
                    range: on_form
                        .map(|(_, i)| i.shown)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                    code,
                    group: on_form.map(|(_, i)| i.group.label().to_owned()),
                    row: on_form.and_then(|(n, _)| u32::try_from(n).ok()),
                    label: on_form.map(|(_, i)| i.label.to_owned()),
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
    use terminal_ipc::RangeFlag;

    #[test]
    fn dates_are_checked_and_compacted() {
        assert_eq!(compact_date("1980-04-17", "x").unwrap(), "19800417");
        assert!(compact_date("1980-02-30", "x").is_err());
        assert!(compact_date("17/04/1980", "x").is_err());
        assert!(compact_date("", "x").is_err());
    }

    /// The 特定健康診査受診結果 sample of seed 003 (実施日 2020/06/15, 女 60歳): (JLAC10 code, 型, value).
    pub(crate) const SEED_003_SAMPLE: &[(&str, &str, &str)] = &[
        (
            "9N056160400000049",
            "ST",
            "高血圧症、腎炎、胆嚢(腎・膵臓)結石",
        ),
        ("9N061160800000049", "ST", "特記すべきことなし"),
        ("9N066160800000049", "ST", "特記すべきことなし"),
        ("9N001000000000001", "PQ", "157.1"),
        ("9N006000000000001", "PQ", "59.4"),
        ("9N016160100000001", "PQ", "87.0"),
        ("9N011000000000001", "PQ", "24.1"),
        ("9A751000000000001", "PQ", "117"),
        ("9A761000000000001", "PQ", "70"),
        ("3F015000002327101", "PQ", "190"),
        ("3F070000002327101", "PQ", "52"),
        ("3F077000002327101", "PQ", "154"),
        ("3B035000002327201", "PQ", "18"),
        ("3B045000002327201", "PQ", "22"),
        ("3B090000002327101", "PQ", "41"),
        ("3D010000001926101", "PQ", "114"),
        ("3D046000001906202", "PQ", "6.1"),
        ("1A020000000190111", "CO", "(-)"),
        ("1A010000000190111", "CO", "(-)"),
    ];

    fn seed_003_result() -> CheckupResult {
        use oqs_protocol::{
            HealthCheckupResultAndQuestionInfo, HealthCheckupResultAndQuestionInfos,
            SpecificHealthCheckupInfo,
        };
        let items = SEED_003_SAMPLE
            .iter()
            .map(|(code, kind, value)| HealthCheckupResultAndQuestionInfo {
                item_code: Some((*code).to_owned()),
                data_type: Some((*kind).to_owned()),
                data_value: Some(if *kind == "CO" { "1" } else { value }.to_owned()),
                data_value_name: (*kind == "CO").then(|| (*value).to_owned()),
                ..Default::default()
            })
            .collect();
        let mut r = CheckupResult::error("");
        r.message_header.result_code = Some(MedicalInfoResultCode::Success);
        r.message_header.message_contents = None;
        r.message_body.specific_health_checkup_info = vec![SpecificHealthCheckupInfo {
            effective_time: Some("20200615".into()),
            health_checkup_result_and_question_infos: Some(HealthCheckupResultAndQuestionInfos {
                health_checkup_result_and_question_info: items,
            }),
        }];
        r
    }

    /// The seed's sample, written as the central service's XML and read back as the daemon reads a result,
    /// carries exactly the official marks: ▲ on LDL 154 and nothing on TG 190, 血糖 114 or HbA1c 6.1.
    #[test]
    fn the_seed_003_sample_carries_only_the_official_marks() {
        let bytes =
            write_message(&Message::CheckupResult(seed_003_result()), Encoding::Utf8).unwrap();
        let decoded = read_message(&bytes, MessageKind::Checkup, Direction::Response).unwrap();
        let Message::CheckupResult(r) = decoded.message else {
            panic!("not a checkup result")
        };
        let Shown::Checkups(views) =
            checkup_view(&r, "20200101", "20201231", Some(Sex::Female)).unwrap()
        else {
            panic!("not checkups")
        };
        assert_eq!(views.len(), 1);
        let marked: Vec<(&str, &str, Option<RangeFlag>)> = views[0]
            .values
            .iter()
            .filter(|v| v.flag.is_some())
            .map(|v| (v.label.as_deref().unwrap_or(""), v.value.as_str(), v.flag))
            .collect();
        assert_eq!(
            marked,
            [("LDLコレステロール", "154", Some(RangeFlag::High))]
        );
        let shown = |label: &str| {
            views[0]
                .values
                .iter()
                .find(|v| v.label.as_deref() == Some(label))
                .map(|v| (v.value.clone(), v.range.clone(), v.group.clone()))
                .unwrap()
        };
        assert_eq!(
            shown("中性脂肪"),
            ("190".into(), Some("▲300以上".into()), Some("脂質".into()))
        );
        assert_eq!(shown("尿糖").0, "(-)");
        assert_eq!(shown("他覚症状 (医師記載)").0, "特記すべきことなし");
        assert_eq!(shown("他覚症状 (医師記載)").2.as_deref(), Some("所見"));
        // Every line of the sample is on the form.
        assert!(views[0].values.iter().all(|v| v.row.is_some()));
    }

    /// 手術・診療・薬剤 and 透析 in one go, each drug with its 成分名 and 用法等の特別指示, and the list's dates.
    #[test]
    fn the_list_holds_every_kind_in_one_go() {
        use oqs_protocol::{
            CzDiDateInf, CzDiDateInfs, CzDiInf, CzDiMonthInf, CzDrugInf, CzDrugInfs, DiDateInf,
            DiDateInfs, DialysisInf, DialysisMonthInf, MeTrInf, MeTrInfs, MeTrMonthInf, SurgeryInf,
            SurgeryMonthInf,
        };
        let s = |v: &str| Some(v.to_owned());
        let mut r = MedicationResult::error("");
        r.message_header.result_code = Some(MedicalInfoResultCode::Success);
        let b = &mut r.message_body;
        b.me_tr_month_inf = vec![MeTrMonthInf {
            month: s("202207"),
            treating_code: s("1310000011"),
            treating_name: s("資格クリニック"),
            class: s("1"),
            dates: Some(DiDateInfs {
                list: vec![DiDateInf {
                    date: s("20220715"),
                    acts: Some(MeTrInfs {
                        list: vec![MeTrInf {
                            code: s("120001210"),
                            name: s("薬剤情報提供料"),
                            times: s("1"),
                            ..Default::default()
                        }],
                    }),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        }];
        b.cz_di_inf = Some(CzDiInf {
            months: vec![CzDiMonthInf {
                month: s("202207"),
                treating_name: s("ひかり薬局"),
                prescriber_name: s("資格クリニック"),
                dates: Some(CzDiDateInfs {
                    list: vec![CzDiDateInf {
                        date: s("20220719"),
                        drugs: Some(CzDrugInfs {
                            list: vec![CzDrugInf {
                                name: s("アセトアミノフェン錠２００ｍｇ"),
                                ingredient: s("アセトアミノフェン"),
                                usage: s("疼痛時"),
                                special_instruction: s("１日３回まで"),
                                ..Default::default()
                            }],
                        }),
                        ..Default::default()
                    }],
                }),
                ..Default::default()
            }],
        });
        b.surgery_inf = Some(SurgeryInf {
            surgery_month_inf: vec![SurgeryMonthInf {
                surgery_date: s("20220601"),
                surgery_n: s("水晶体再建術"),
                ..Default::default()
            }],
        });
        b.dialysis_inf = Some(DialysisInf {
            dialysis_month_inf: vec![DialysisMonthInf {
                month: s("202205"),
                times: s("13"),
                ..Default::default()
            }],
        });
        let Shown::Lines(lines) =
            medication_lines(&r, MedicalInfoKind::MedicationAndTreatment).unwrap()
        else {
            panic!("not lines")
        };
        let kinds: Vec<&str> = lines.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(kinds, ["透析", "手術", "診療", "調剤"]);
        let drug = &lines[3];
        assert_eq!(drug.ingredient.as_deref(), Some("アセトアミノフェン"));
        assert_eq!(drug.special_instruction.as_deref(), Some("１日３回まで"));
        assert_eq!(
            (drug.month_label.as_str(), drug.day_label.as_str()),
            ("22年7月", "19日")
        );
        assert_eq!(lines[2].in_out.as_deref(), Some("外来"));
        assert_eq!(lines[3].facility, "ひかり薬局");
        assert_eq!(
            (lines[2].month_label.as_str(), lines[2].day_label.as_str()),
            ("22年7月", "15日")
        );
        assert_eq!(drug.in_out, None, "no 処方区分 sent, none guessed");
        // 手術 alone when only 手術 is asked for.
        let Shown::Lines(only) = medication_lines(&r, MedicalInfoKind::Surgery).unwrap() else {
            panic!("not lines")
        };
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].kind, "手術");
    }

    /// A drug line as seed 001/003 print it: 処方区分 (院内/院外) and 使用区分 (内服/屯服/外用) in 入外等, the
    /// 薬剤数量 with its 日分/回分/処方分, and the 1回用量 apart from it (shown as ＜1回用量＞ after 【用法】).
    #[test]
    fn drug_lines_carry_the_dispensing_the_usage_class_and_the_dose() {
        use oqs_protocol::{
            ShDrugInf, ShDrugInfs, ShPrDateInf, ShPrDateInfs, ShPrInf, ShPrMonthInf,
        };
        let s = |v: &str| Some(v.to_owned());
        let drug =
            |name: &str, qua1: &str, unit: &str, times: &str, class: &str, once: Option<&str>| {
                ShDrugInf {
                    name: s(name),
                    quantity: s(qua1),
                    unit: s(unit),
                    times: s(times),
                    usage: s("１日１回朝食後"),
                    treatment_class: s(class),
                    once_quantity: once.map(str::to_owned),
                    ..Default::default()
                }
            };
        let month = |class: &str, drugs: Vec<ShDrugInf>| ShPrMonthInf {
            month: s("202209"),
            treating_name: s("医療法人 社内科クリニック"),
            class: s(class),
            dates: Some(ShPrDateInfs {
                list: vec![ShPrDateInf {
                    date: s("20220910"),
                    drugs: Some(ShDrugInfs { list: drugs }),
                }],
            }),
            ..Default::default()
        };
        let mut r = MedicationResult::error("");
        r.message_header.result_code = Some(MedicalInfoResultCode::Success);
        r.message_body.sh_pr_inf = Some(ShPrInf {
            months: vec![
                month(
                    "1",
                    vec![
                        drug("アムロジピン錠２．５ｍｇ", "1", "錠", "30", "21", Some("1")),
                        drug(
                            "アセトアミノフェン錠２００ｍｇ",
                            "1",
                            "錠",
                            "10",
                            "22",
                            Some("1"),
                        ),
                    ],
                ),
                month(
                    "2",
                    vec![drug("オキナゾールクリーム１％", "8", "g", "1", "23", None)],
                ),
            ],
        });
        let Shown::Lines(lines) =
            medication_lines(&r, MedicalInfoKind::MedicationAndTreatment).unwrap()
        else {
            panic!("not lines")
        };
        // 入外等 (処方区分, 使用区分), 数量/日数/回数 and ＜1回用量＞ of each line.
        type Cells<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let shown: Vec<Cells<'_>> = lines
            .iter()
            .map(|l| {
                (
                    l.in_out.as_deref(),
                    l.usage_class.as_deref(),
                    l.quantity.as_deref(),
                    l.dose.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    Some("院内"),
                    Some("内服"),
                    Some("1錠 30日分"),
                    Some("1回1錠")
                ),
                (
                    Some("院内"),
                    Some("屯服"),
                    Some("1錠 10回分"),
                    Some("1回1錠")
                ),
                (Some("院外"), Some("外用"), Some("8g 1処方分"), None),
            ]
        );
        assert_eq!(lines[0].detail.as_deref(), Some("１日１回朝食後"));
        assert_eq!(lines[0].kind, "処方");
    }
}
