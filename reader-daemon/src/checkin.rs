//! The check-in with the central service, and what happens to its result (DESIGN.md §3.1, §3.7).
//!
//! **Online**: `POST /v1/checkin/challenge`, the card signs the challenge after the PIN, the kiosk's
//! consents are added, `POST /v1/checkin` answers with an `OQSsiquc01res`. The result is stored (encrypted)
//! with the method and the consents (24 h), written to `face/` as
//! `OQSsiquc01res_face_<id>_<yyyyMMddHHmmss>.xml` (the name the clients read, see [`CheckinService::new_check_in_id`])
//! in the facility's 利用文字コード ([`crate::charset`]), and pushed to subscribers.
//!
//! **Outage**: a fresh server challenge cannot be had, so the card signs an *offline challenge* made by the
//! terminal at the time of the check-in ([`offline_challenge`]): SHA-256 over
//! `"oqs-offline-checkin"` ‖ facility code (10 ASCII digits) ‖ time taken (Unix ms, 8 bytes big-endian) ‖
//! 16 random bytes. The card always signs it next to the server challenge, so a check-in whose submission
//! fails after the PIN can still be completed later. Such a check-in is stored as 未確認 (通信障害) with its
//! proof (encrypted, as the check-in's document) and sent by [`CheckinService::run_pending`] when the link
//! returns; the central service accepts an offline proof for 24 h (docs/mock-central.md).
//!
//! **Exactly once across crashes.** The check-in is written ahead as 未確認 with its proof *before* it is
//! sent, so a crash at any later step leaves a row that [`CheckinService::run_pending`] sends again (the
//! central service answers a check-in sent again, same `ArbitraryFileIdentifier`, with its first answer). The
//! answer is delivered in three steps: the result is staged as `face/.<name>.staging` (same folder, so the
//! rename is atomic; no client reads a dot-file), then the row and its consents are answered in one
//! transaction, then the staged file is renamed to its final name. [`CheckinService::recover`] at start
//! renames a staged file whose row is answered and deletes one whose row is not: a result appears in
//! `face/` only by rename, whole, and once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use central_client::{CentralClient, CentralError};
use facility_store::{CheckIn, CheckInStatus, Consent, PatientIdentity, Store};
use oqs_protocol::{
    Direction, Message, MessageKind, QualificationValidity, SegmentOfResult, SingleCheckResult,
    read_message,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use terminal_ipc::{
    AuthMethod, CheckInOutcome, CheckInRecord, ConsentItem, Event, EventPublisher, PatientView,
    Sensitive, Visit,
};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::charset::FacilityEncoding;
use crate::kiosk::{ConsentAnswer, ConsentKind, Method, Refusal};
use crate::relay::write_atomic;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// The domain label of offline challenges; also in docs/mock-central.md.
pub const OFFLINE_LABEL: &[u8] = b"oqs-offline-checkin";
/// Consent lasts 24 hours (AvailableTime).
pub const CONSENT_MILLIS: i64 = 24 * 3600 * 1000;
/// How long cached environment settings are trusted before they are fetched again.
const SETTINGS_TTL: Duration = Duration::from_secs(600);
/// Store setting holding the last consent screens seen, so a restart during an outage keeps them.
const SETTINGS_KEY: &str = "kiosk.consent_screens";

/// Why a check-in could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum CheckinError {
    #[error(transparent)]
    Store(#[from] facility_store::StoreError),
    #[error(transparent)]
    Relay(#[from] crate::relay::RelayError),
    #[error("the check-in result could not be written: {0}")]
    Write(String),
    #[error("a background task failed: {0}")]
    Task(String),
}

/// The terminal-made challenge of an outage check-in; see the module doc.
pub fn offline_challenge(facility_code: &str, taken_at_ms: i64, nonce: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(OFFLINE_LABEL);
    h.update(facility_code.as_bytes());
    h.update(taken_at_ms.to_be_bytes());
    h.update(nonce);
    h.finalize().to_vec()
}

/// A challenge from `POST /v1/checkin/challenge`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerChallenge {
    pub challenge_id: String,
    pub challenge: String,
}

impl ServerChallenge {
    pub fn bytes(&self) -> Option<Vec<u8>> {
        B64.decode(self.challenge.trim()).ok()
    }
}

/// The offline proof's public part (the signature travels next to it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfflineProof {
    pub taken_at_ms: i64,
    /// 16 random bytes, base64.
    pub nonce: String,
}

impl OfflineProof {
    /// A fresh proof taken at `taken_at_ms` (now, by the store's clock).
    pub fn new(taken_at_ms: i64) -> Result<Self, CheckinError> {
        let nonce = os_keyring::SecretBytes::random(16)
            .map_err(|e| CheckinError::Task(format!("no randomness for the offline proof: {e}")))?;
        Ok(Self {
            taken_at_ms,
            nonce: B64.encode(nonce.expose()),
        })
    }

    pub fn challenge(&self, facility_code: &str) -> Vec<u8> {
        let nonce = B64.decode(&self.nonce).unwrap_or_default();
        offline_challenge(facility_code, self.taken_at_ms, &nonce)
    }
}

/// The consents in the central service's vocabulary.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Consents {
    pub pharmacists: bool,
    pub diagnosis: bool,
    pub operation: bool,
    pub checkup: bool,
    /// The answer to 「医療費助成の各種受給者証を利用しますか」; `None` when the kiosk did not ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medical_subsidy: Option<bool>,
}

impl Consents {
    pub fn from_answers(answers: &[ConsentAnswer]) -> Self {
        let mut c = Self::default();
        for a in answers {
            match (a.kind, a.given) {
                (ConsentKind::MedicalSubsidy, given) => c.medical_subsidy = Some(given),
                (_, false) => {}
                (ConsentKind::Surgery, true) => c.operation = true,
                (ConsentKind::DiagnosisAndMedication, true) => {
                    c.pharmacists = true;
                    c.diagnosis = true;
                }
                (ConsentKind::HealthCheckup, true) => c.checkup = true,
            }
        }
        c
    }
}

/// Everything needed to send one check-in, online or later. Kept (encrypted) as the pending check-in's
/// document during an outage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    pub check_in_id: String,
    pub at_ms: i64,
    pub reader: String,
    pub method: Method,
    /// DER, base64.
    pub auth_certificate: String,
    pub server: Option<SignedServerChallenge>,
    pub offline: OfflineProof,
    /// Signature over the offline challenge (absent for a staff visual check: no PIN, no signature).
    pub offline_signature: Option<String>,
    /// Face path: the reader's attestation over the server challenge, and over the offline challenge (sent
    /// instead when the check-in is completed after an outage).
    #[serde(default)]
    pub attestation: Option<crate::face::Attestation>,
    #[serde(default)]
    pub offline_attestation: Option<crate::face::Attestation>,
    pub consents: Consents,
    pub answers: Vec<ConsentAnswer>,
    /// The token was a smartphone (スマホ用電子証明書), not a card: the record says so.
    #[serde(default)]
    pub smartphone: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedServerChallenge {
    pub challenge_id: String,
    pub signature: String,
}

/// `POST /v1/checkin` body (docs/mock-central.md).
#[derive(Serialize)]
struct CheckinBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge_id: Option<&'a str>,
    auth_certificate: &'a str,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offline: Option<&'a OfflineProof>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attestation: Option<&'a crate::face::Attestation>,
    consents: Consents,
    arbitrary_file_identifier: &'a str,
}

/// How a submission ended.
#[derive(Debug, Clone)]
pub enum SubmitOutcome {
    Answered {
        outcome: CheckInOutcome,
    },
    Refused {
        refusal: Refusal,
        code: String,
    },
    /// The central service could not be reached; stored as pending.
    Deferred,
}

/// Facility environment settings, the part the kiosk needs.
#[derive(Debug, Clone, Deserialize)]
struct FacilitySettings {
    /// 利用文字コード (`UTF-8` / `Shift_JIS`): the encoding of `res/` and `face/` files.
    #[serde(default)]
    character_code: Option<String>,
    #[serde(default)]
    medication_info: bool,
    #[serde(default)]
    diagnosis_info: bool,
    #[serde(default)]
    operation_info: bool,
    #[serde(default)]
    checkup_info: bool,
    /// 医療費助成 (公費, PMH): ask 「医療費助成の各種受給者証を利用しますか」 after the consents.
    #[serde(default)]
    medical_subsidy_info: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct SettingsAnswer {
    settings: FacilitySettings,
}

/// The consent screens the settings call for, in the order of `seeds/001_…`.
fn screens_for(s: &FacilitySettings) -> Vec<ConsentKind> {
    let mut out = Vec::new();
    if s.operation_info {
        out.push(ConsentKind::Surgery);
    }
    if s.medication_info || s.diagnosis_info {
        out.push(ConsentKind::DiagnosisAndMedication);
    }
    if s.checkup_info {
        out.push(ConsentKind::HealthCheckup);
    }
    if s.medical_subsidy_info {
        out.push(ConsentKind::MedicalSubsidy);
    }
    out
}

/// Check-in submission, storage, face files and outage completion. Cheap to clone.
#[derive(Clone)]
pub struct CheckinService {
    inner: Arc<Inner>,
}

struct Inner {
    central: CentralClient,
    store: Arc<Store>,
    face_dir: PathBuf,
    facility_code: String,
    encoding: Arc<FacilityEncoding>,
    seq: AtomicU32,
    settings: Mutex<Option<(Instant, Vec<ConsentKind>)>>,
    pending: Notify,
    events: EventPublisher,
    /// Check-ins being sent by [`CheckinService::submit`] right now: their rows are 未確認 (written ahead),
    /// and the pending loop must not send them a second time.
    in_flight: Mutex<std::collections::HashSet<String>>,
}

/// Takes a check-in id out of the in-flight set when the submission ends, however it ends.
struct InFlight<'a> {
    set: &'a Mutex<std::collections::HashSet<String>>,
    id: String,
}

impl<'a> InFlight<'a> {
    /// Takes the check-in for the caller; `None` while someone else works on it.
    fn claim(set: &'a Mutex<std::collections::HashSet<String>>, id: &str) -> Option<Self> {
        let fresh = set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned());
        fresh.then(|| Self {
            set,
            id: id.to_owned(),
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// The check-in id of [`CheckinService::new_check_in_id`].
fn face_id<Tz: chrono::TimeZone>(facility_code: &str, at: &chrono::DateTime<Tz>, seq: u32) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!(
        "face_{facility_code}{}{:03}_{}",
        at.format("%Y%m%d%H%M%S%3f"),
        seq % 1_000,
        at.format("%Y%m%d%H%M%S")
    )
}

/// M reads `PrescriptionIssueSelect` only directly under `MessageBody`: a value the central service put in
/// the qualification is copied there (and kept where it was, which D and R ignore).
pub fn hoist_prescription_issue_select(result: &mut SingleCheckResult) {
    if result.message_body.prescription_issue_select.is_some() {
        return;
    }
    result.message_body.prescription_issue_select =
        result.message_body.result_list.as_ref().and_then(|l| {
            l.result_of_qualification_confirmation
                .iter()
                .find_map(|r| r.prescription_issue_select.clone())
        });
}

/// Makes the central service's answer to a check-in the `face/` document the clients read: the check-in's
/// id as `ArbitraryFileIdentifier`, `PrescriptionIssueSelect` where M reads it, and the DV・虐待 restriction
/// applied here too, whatever the central service sent.
fn face_document(result: &mut SingleCheckResult, check_in_id: &str) {
    result.message_header.arbitrary_file_identifier = Some(check_in_id.to_owned());
    hoist_prescription_issue_select(result);
    result.apply_disclosure_restriction();
}

/// The staged name of a `face/` result: a dot-file next to it, renamed into place once the store has the
/// answer.
fn staged_name(file_name: &str) -> String {
    format!(".{file_name}.staging")
}

/// The `face/` result file of a check-in.
fn face_file_name(check_in_id: &str) -> String {
    format!("OQSsiquc01res_{check_in_id}.xml")
}

impl CheckinService {
    pub fn new(
        central: CentralClient,
        store: Arc<Store>,
        face_dir: PathBuf,
        facility_code: String,
        encoding: Arc<FacilityEncoding>,
        events: EventPublisher,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                central,
                store,
                face_dir,
                facility_code,
                encoding,
                seq: AtomicU32::new(0),
                settings: Mutex::new(None),
                pending: Notify::new(),
                events,
                in_flight: Mutex::new(std::collections::HashSet::new()),
            }),
        }
    }

    pub fn facility_code(&self) -> &str {
        &self.inner.facility_code
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// Where check-in events go (every subscribed client).
    pub fn events(&self) -> &EventPublisher {
        &self.inner.events
    }

    /// The consent screens from the facility's environment settings: cached for a while, else fetched, else
    /// the last ones stored, else `fallback`.
    pub async fn consent_screens(&self, fallback: &[ConsentKind]) -> Vec<ConsentKind> {
        if let Ok(guard) = self.inner.settings.lock() {
            if let Some((at, screens)) = guard.as_ref() {
                if at.elapsed() < SETTINGS_TTL {
                    return screens.clone();
                }
            }
        }
        match self
            .inner
            .central
            .get_json::<SettingsAnswer>(&["v1", "facility", "settings"])
            .await
        {
            Ok(answer) => {
                if let Some(code) = &answer.settings.character_code {
                    self.inner.encoding.learn(code);
                }
                let screens = screens_for(&answer.settings);
                if let Ok(mut guard) = self.inner.settings.lock() {
                    *guard = Some((Instant::now(), screens.clone()));
                }
                if let Ok(text) = serde_json::to_string(&screens) {
                    if let Err(e) = self.inner.store.set_setting(
                        SETTINGS_KEY,
                        &text,
                        "oqs-readerd",
                        self.inner.store.now_millis(),
                    ) {
                        warn!(error = %e, "cannot keep the consent screens in the store");
                    }
                }
                screens
            }
            Err(e) => {
                debug!(error = %e, "environment settings not available; using the last known");
                let stored = self
                    .inner
                    .store
                    .setting(SETTINGS_KEY)
                    .ok()
                    .flatten()
                    .and_then(|t| serde_json::from_str::<Vec<ConsentKind>>(&t).ok());
                stored.unwrap_or_else(|| fallback.to_vec())
            }
        }
    }

    /// Takes environment settings an administrator just changed (or just read) at the central service: the
    /// 利用文字コード at once, for the next file in `res/` and `face/`, and the cached consent screens are
    /// forgotten, so the next card asks the central service again.
    pub fn settings_changed(&self, settings: &serde_json::Value) {
        self.learn_character_code(settings);
        if let Ok(mut guard) = self.inner.settings.lock() {
            *guard = None;
        }
    }

    /// Learns the 利用文字コード from environment settings as the central service sends them.
    pub fn learn_character_code(&self, settings: &serde_json::Value) {
        if let Some(code) = settings
            .get("character_code")
            .and_then(serde_json::Value::as_str)
        {
            self.inner.encoding.learn(code);
        }
    }

    /// The consent screens known without asking the central service (cache, then store), if any.
    pub fn known_consent_screens(&self) -> Option<Vec<ConsentKind>> {
        if let Ok(guard) = self.inner.settings.lock() {
            if let Some((_, screens)) = guard.as_ref() {
                return Some(screens.clone());
            }
        }
        self.inner
            .store
            .setting(SETTINGS_KEY)
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str::<Vec<ConsentKind>>(&t).ok())
    }

    /// A fresh challenge, or `None` when the central service cannot give one now (outage).
    pub async fn server_challenge(&self) -> Option<(ServerChallenge, Vec<u8>)> {
        match self
            .inner
            .central
            .post_json::<_, ServerChallenge>(
                &["v1", "checkin", "challenge"],
                &serde_json::json!({}),
                false,
            )
            .await
        {
            Ok(c) => {
                let bytes = c.bytes()?;
                Some((c, bytes))
            }
            Err(e) => {
                info!(error = %e, "no check-in challenge from the central service; taking the check-in offline");
                None
            }
        }
    }

    /// A new check-in id, `face_<医療機関コード><yyyyMMddHHmmssfff><seq3>_<yyyyMMddHHmmss>` in local time; also
    /// the id of the face file `OQSsiquc01res_<check-in id>.xml`. The clients' shape: R skips a face file
    /// whose name does not end `_<yyyyMMddHHmmss>.xml` (and today's), and its real example and D's imitation
    /// both put a 30-character id (the 10-digit code and 20 more characters) before it.
    pub fn new_check_in_id(&self, at_ms: i64) -> String {
        let local = chrono::DateTime::from_timestamp_millis(at_ms)
            .unwrap_or_default()
            .with_timezone(&chrono::Local);
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed) % 1_000;
        face_id(&self.inner.facility_code, &local, seq)
    }

    /// Sends a check-in taken at the kiosk now: answered, refused, or stored as pending.
    pub async fn submit(&self, submission: Submission) -> Result<SubmitOutcome, CheckinError> {
        crate::crash_point!("checkin::signed");
        // A new id is nobody else's; claimed before the row exists, so the pending loop never sends it too.
        let _in_flight = InFlight::claim(&self.inner.in_flight, &submission.check_in_id);
        // Written ahead: from here on a crash leaves a row that is sent again, never a lost check-in.
        let record = self.write_ahead(&submission).await?;
        crate::crash_point!("checkin::written");
        let online = match (&submission.server, submission.method) {
            (Some(server), _) => Some(
                self.post(&submission, Some(server.challenge_id.as_str()))
                    .await,
            ),
            // A staff visual check has no card signature; it still needs a fresh challenge online.
            (None, Method::StaffVisual) => match self.server_challenge().await {
                Some((c, _)) => Some(self.post(&submission, Some(c.challenge_id.as_str())).await),
                None => None,
            },
            (None, _) => None,
        };
        match online {
            Some(Ok(answer)) => {
                crate::crash_point!("checkin::sent");
                let outcome = self.record_answer(&submission, answer).await?;
                if matches!(outcome, SubmitOutcome::Refused { .. }) {
                    self.withdraw(&submission.check_in_id).await?;
                }
                Ok(outcome)
            }
            Some(Err(e)) if !e.is_transient() => {
                warn!(error = %e, "the central service refused the check-in request");
                self.withdraw(&submission.check_in_id).await?;
                Ok(SubmitOutcome::Refused {
                    refusal: Refusal::Other,
                    code: "OQS-E9001".into(),
                })
            }
            _ => {
                info!(check_in = %submission.check_in_id, "check-in stored as 未確認 (通信障害)");
                self.inner.events.publish(Event::CheckIn {
                    check_in: record_of(&record, &submission.answers, None),
                });
                self.inner.pending.notify_one();
                Ok(SubmitOutcome::Deferred)
            }
        }
    }

    /// A refused check-in taken now is withdrawn: the kiosk told the patient, and it never happened.
    async fn withdraw(&self, check_in_id: &str) -> Result<(), CheckinError> {
        let store = self.inner.store.clone();
        let id = check_in_id.to_owned();
        tokio::task::spawn_blocking(move || store.withdraw_check_in(&id))
            .await
            .map_err(|e| CheckinError::Task(e.to_string()))??;
        Ok(())
    }

    async fn complete_as_error(&self, check_in_id: &str) -> Result<(), CheckinError> {
        let store = self.inner.store.clone();
        let id = check_in_id.to_owned();
        tokio::task::spawn_blocking(move || {
            store.complete_check_in(&id, CheckInStatus::Error, None, None, store.now_millis())
        })
        .await
        .map_err(|e| CheckinError::Task(e.to_string()))??;
        Ok(())
    }

    /// Finishes what a crash interrupted: a staged `face/` result whose check-in is answered in the store is
    /// renamed into place (its rename had not happened); one whose check-in is still 未確認 is deleted (the
    /// check-in is sent again and staged anew). Call before the kiosk and the pending loop start.
    pub fn recover(&self) -> Result<(), CheckinError> {
        let dir = &self.inner.face_dir;
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(crate::relay::RelayError::io("read", dir, e).into()),
        };
        let mut changed = false;
        for entry in entries.flatten() {
            let staged = entry.file_name().to_string_lossy().into_owned();
            let Some(final_name) = staged
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(".staging"))
                .filter(|n| n.starts_with("OQSsiquc01res_") && n.ends_with(".xml"))
            else {
                continue;
            };
            let id = &final_name["OQSsiquc01res_".len()..final_name.len() - ".xml".len()];
            let answered = self
                .inner
                .store
                .check_in(id)?
                .is_some_and(|c| c.status != CheckInStatus::PendingOutage);
            let path = entry.path();
            if answered {
                let target = dir.join(final_name);
                std::fs::rename(&path, &target)
                    .map_err(|e| crate::relay::RelayError::io("rename", &target, e))?;
                info!(check_in = %id, "a staged check-in result was delivered after a restart");
            } else {
                std::fs::remove_file(&path)
                    .map_err(|e| crate::relay::RelayError::io("remove", &path, e))?;
                info!(check_in = %id, "a staged result of an unanswered check-in was discarded; it is sent again");
            }
            changed = true;
        }
        if changed {
            crate::relay::sync_dir(dir)?;
        }
        Ok(())
    }

    async fn post(
        &self,
        s: &Submission,
        challenge_id: Option<&str>,
    ) -> Result<central_client::RawAnswer, CentralError> {
        let (signature, offline, attestation) = match challenge_id {
            Some(_) => (
                s.server
                    .as_ref()
                    .map(|x| x.signature.as_str())
                    .filter(|sig| !sig.is_empty()),
                None,
                s.attestation.as_ref(),
            ),
            None => (
                s.offline_signature.as_deref(),
                Some(&s.offline),
                s.offline_attestation.as_ref(),
            ),
        };
        let body = CheckinBody {
            challenge_id,
            auth_certificate: &s.auth_certificate,
            method: match s.method {
                Method::Pin => "pin",
                Method::Face => "face",
                Method::StaffVisual => "visual",
                Method::Phone => "device",
            },
            signature,
            offline,
            attestation,
            consents: s.consents,
            arbitrary_file_identifier: &s.check_in_id,
        };
        self.inner
            .central
            .post_json_raw(&["v1", "checkin"], &body)
            .await
    }

    /// Stores the check-in as 未確認 with its proof before anything is sent; returns the row.
    async fn write_ahead(&self, s: &Submission) -> Result<CheckIn, CheckinError> {
        let doc = serde_json::to_vec(s).map_err(|e| CheckinError::Write(e.to_string()))?;
        let check_in = CheckIn {
            check_in_id: s.check_in_id.clone(),
            at: s.at_ms,
            reader: s.reader.clone(),
            method: method_str(s.method, s.smartphone).into(),
            status: CheckInStatus::PendingOutage,
            patient: None,
            result_document: Some(doc.into()),
            updated_at: self.inner.store.now_millis(),
        };
        let store = self.inner.store.clone();
        let record = check_in.clone();
        let expiry = certificate_expiry(s);
        tokio::task::spawn_blocking(move || store.insert_card_check_in(&record, expiry))
            .await
            .map_err(|e| CheckinError::Task(e.to_string()))??;
        Ok(check_in)
    }

    /// Stores an answer to a check-in written ahead, delivers its `face/` file and tells subscribers.
    async fn record_answer(
        &self,
        s: &Submission,
        answer: central_client::RawAnswer,
    ) -> Result<SubmitOutcome, CheckinError> {
        let decoded = read_message(&answer.body, MessageKind::SingleCheck, Direction::Response);
        let mut result = match decoded {
            Ok(d) => match d.message {
                Message::SingleCheckResult(r) => r,
                _ => return Err(CheckinError::Write("unexpected message kind".into())),
            },
            Err(e) => {
                warn!(error = %e, "the check-in answer could not be read");
                return Ok(SubmitOutcome::Refused {
                    refusal: Refusal::Other,
                    code: e.code().to_owned(),
                });
            }
        };
        if matches!(
            result.message_header.segment_of_result,
            Some(SegmentOfResult::Abnormal)
        ) {
            let code = answer
                .header("x-oqs-error-code")
                .map(str::to_owned)
                .or_else(|| result.message_header.error_code.clone())
                .unwrap_or_default();
            info!(check_in = %s.check_in_id, code = %code, "the central service refused the check-in");
            return Ok(SubmitOutcome::Refused {
                refusal: refusal_of(&code),
                code,
            });
        }
        face_document(&mut result, &s.check_in_id);
        let outcome = outcome_of_result(&result);
        let patient = identity_of(&result);
        let message = Message::SingleCheckResult(result);
        let (bytes, replaced) = self
            .inner
            .encoding
            .write(&message)
            .map_err(|e| CheckinError::Write(e.to_string()))?;
        if !replaced.is_empty() {
            info!(check_in = %s.check_in_id, "the name has characters the facility's encoding cannot hold: reception types the local name (外字)");
        }
        let status = status_of(outcome);
        let store = self.inner.store.clone();
        let face_dir = self.inner.face_dir.clone();
        let file_name = face_file_name(&s.check_in_id);
        let sub = s.clone();
        let patient_for_store = patient.clone();
        let event_document = bytes.clone();
        let delivered = tokio::task::spawn_blocking(move || -> Result<bool, CheckinError> {
            let now = store.now_millis();
            // Staged next to its final name, then answered in the store, then renamed: see the module doc.
            let staged = staged_name(&file_name);
            write_atomic(&face_dir, &staged, &bytes)?;
            crate::crash_point!("checkin::staged");
            let consents: Vec<Consent> = match &patient_for_store {
                Some(p) => {
                    let key = store.patient_key_of(p);
                    sub.answers
                        .iter()
                        // The 医療費助成 answer is not a viewing consent: it travels in the result document.
                        .filter(|a| a.given && a.kind != ConsentKind::MedicalSubsidy)
                        .map(|a| Consent {
                            patient: key,
                            item: consent_item_str(a.kind).into(),
                            granted_at: now,
                            expires_at: now + CONSENT_MILLIS,
                            check_in_id: Some(sub.check_in_id.clone()),
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            let answered_now = store.answer_check_in(
                &sub.check_in_id,
                status,
                patient_for_store.as_ref(),
                &bytes,
                &consents,
                now,
            )?;
            if !answered_now {
                // Answered by another send first, which delivers its own file: this one is not delivered.
                let path = face_dir.join(&staged);
                std::fs::remove_file(&path)
                    .map_err(|e| crate::relay::RelayError::io("remove", &path, e))?;
                return Ok(false);
            }
            crate::crash_point!("checkin::stored");
            let target = face_dir.join(&file_name);
            std::fs::rename(face_dir.join(&staged), &target)
                .map_err(|e| crate::relay::RelayError::io("rename", &target, e))?;
            crate::relay::sync_dir(&face_dir)?;
            crate::crash_point!("checkin::delivered");
            Ok(true)
        })
        .await
        .map_err(|e| CheckinError::Task(e.to_string()))??;
        if !delivered {
            warn!(check_in = %s.check_in_id, "the check-in was already answered; the second answer is not delivered");
            return Ok(SubmitOutcome::Answered { outcome });
        }
        info!(check_in = %s.check_in_id, outcome = ?outcome, "check-in answered; result written to face/");
        let record = CheckIn {
            check_in_id: s.check_in_id.clone(),
            at: s.at_ms,
            reader: s.reader.clone(),
            method: method_str(s.method, s.smartphone).into(),
            status,
            patient: None,
            result_document: Some(event_document.into()),
            updated_at: self.inner.store.now_millis(),
        };
        self.inner.events.publish(Event::CheckIn {
            check_in: with_certificate_dates(
                record_of(&record, &s.answers, patient.as_ref()),
                certificate_expiry(s),
            ),
        });
        Ok(SubmitOutcome::Answered { outcome })
    }

    /// Sends pending check-ins whenever the link may be back, oldest first, each answered once.
    pub async fn run_pending(self, probe_interval: Duration) {
        let mut link = self.inner.central.link();
        loop {
            if let Err(e) = self.send_pending().await {
                warn!(error = %e, "pending check-ins could not be completed; retrying");
            }
            tokio::select! {
                () = self.inner.pending.notified() => {}
                _ = link.changed() => {}
                () = tokio::time::sleep(probe_interval.max(Duration::from_millis(200))) => {}
            }
        }
    }

    async fn send_pending(&self) -> Result<(), CheckinError> {
        let store = self.inner.store.clone();
        let pending = tokio::task::spawn_blocking(move || store.pending_outage_check_ins())
            .await
            .map_err(|e| CheckinError::Task(e.to_string()))??;
        if !pending.is_empty() {
            // Lets a test widen the window between this list and the claims below.
            crate::__fail::fail_point!("checkin::pending_listed");
        }
        for row in pending {
            let Some(_claim) = InFlight::claim(&self.inner.in_flight, &row.check_in_id) else {
                continue;
            };
            // The list was read before the claim: a submission may have answered the row since (it then
            // delivered the face/ file, and sending it again would deliver a second one).
            let store = self.inner.store.clone();
            let id = row.check_in_id.clone();
            let current = tokio::task::spawn_blocking(move || store.check_in(&id))
                .await
                .map_err(|e| CheckinError::Task(e.to_string()))??;
            if !current.is_some_and(|c| c.status == CheckInStatus::PendingOutage) {
                continue;
            }
            let Some(doc) = &row.result_document else {
                continue;
            };
            let s: Submission = match serde_json::from_slice(doc.as_bytes()) {
                Ok(s) => s,
                Err(e) => {
                    warn!(check_in = %row.check_in_id, error = %e, "a pending check-in cannot be read; marked as error");
                    self.inner.store.complete_check_in(
                        &row.check_in_id,
                        CheckInStatus::Error,
                        None,
                        None,
                        self.inner.store.now_millis(),
                    )?;
                    continue;
                }
            };
            match self.post(&s, None).await {
                Ok(answer) => {
                    // A check-in from the outage that is refused now stays listed, as an error.
                    if let SubmitOutcome::Refused { .. } = self.record_answer(&s, answer).await? {
                        self.complete_as_error(&s.check_in_id).await?;
                    }
                }
                Err(e) if e.is_transient() => {
                    debug!(error = %e, "central service still unreachable; pending check-ins wait");
                    return Ok(());
                }
                Err(e) => {
                    warn!(check_in = %s.check_in_id, error = %e, "a pending check-in was refused");
                    self.inner.store.complete_check_in(
                        &s.check_in_id,
                        CheckInStatus::Error,
                        None,
                        None,
                        self.inner.store.now_millis(),
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// The method as the check-in row keeps it: card or phone, and how the holder was confirmed.
fn method_str(m: Method, smartphone: bool) -> &'static str {
    match m {
        Method::Pin if smartphone => "smartphone_pin",
        Method::Pin => "pin",
        Method::Face => "face",
        Method::StaffVisual => "staff_visual",
        Method::Phone => "phone",
    }
}

pub fn auth_method(m: Method) -> AuthMethod {
    match m {
        Method::Pin => AuthMethod::Pin,
        Method::Face => AuthMethod::Face,
        Method::StaffVisual => AuthMethod::StaffVisual,
        Method::Phone => AuthMethod::Phone,
    }
}

fn consent_item_str(k: ConsentKind) -> &'static str {
    match k {
        ConsentKind::Surgery => "surgery",
        ConsentKind::DiagnosisAndMedication => "medical_and_medication",
        ConsentKind::HealthCheckup => "health_checkup",
        ConsentKind::MedicalSubsidy => "medical_subsidy",
    }
}

pub fn consent_item(k: ConsentKind) -> ConsentItem {
    match k {
        ConsentKind::Surgery => ConsentItem::Surgery,
        ConsentKind::DiagnosisAndMedication => ConsentItem::MedicalAndMedication,
        ConsentKind::HealthCheckup => ConsentItem::HealthCheckup,
        ConsentKind::MedicalSubsidy => ConsentItem::MedicalSubsidy,
    }
}

fn refusal_of(code: &str) -> Refusal {
    match code {
        "OQS-C2104" => Refusal::CertificateRevoked,
        "OQS-C2103" => Refusal::CertificateExpired,
        "OQS-C2108" => Refusal::NotRegistered,
        "OQS-C2105" | "OQS-C2106" | "OQS-C2107" => Refusal::VerificationFailed,
        _ => Refusal::Other,
    }
}

/// The eligibility a 資格確認 result says.
pub fn outcome_of_result(r: &SingleCheckResult) -> CheckInOutcome {
    match &r.message_body.qualification_validity {
        Some(QualificationValidity::Valid) | Some(QualificationValidity::ValidUnregistered) => {
            CheckInOutcome::Valid
        }
        Some(QualificationValidity::Invalid)
        | Some(QualificationValidity::InvalidNewQualification) => CheckInOutcome::Invalid,
        Some(QualificationValidity::NoQualification) => CheckInOutcome::NoQualification,
        _ => CheckInOutcome::Other,
    }
}

pub fn status_of(o: CheckInOutcome) -> CheckInStatus {
    match o {
        CheckInOutcome::Valid => CheckInStatus::Valid,
        CheckInOutcome::Invalid => CheckInStatus::Invalid,
        CheckInOutcome::NoQualification => CheckInStatus::NoQualification,
        CheckInOutcome::PendingOutage => CheckInStatus::PendingOutage,
        CheckInOutcome::Other => CheckInStatus::Error,
    }
}

pub fn outcome_of_status(s: CheckInStatus) -> CheckInOutcome {
    match s {
        CheckInStatus::Valid => CheckInOutcome::Valid,
        CheckInStatus::Invalid => CheckInOutcome::Invalid,
        CheckInStatus::NoQualification => CheckInOutcome::NoQualification,
        CheckInStatus::PendingOutage => CheckInOutcome::PendingOutage,
        CheckInStatus::Error => CheckInOutcome::Other,
    }
}

/// The identity of the first qualification in a 資格確認 result, as the store keeps it.
pub fn identity_of(r: &SingleCheckResult) -> Option<PatientIdentity> {
    let first = r
        .message_body
        .result_list
        .as_ref()?
        .result_of_qualification_confirmation
        .first()?;
    let text = |p: &Option<oqs_protocol::Pii>| p.as_ref().map(|v| v.expose().to_owned());
    Some(PatientIdentity {
        name: text(&first.name).unwrap_or_default(),
        kana: text(&first.name_kana).unwrap_or_default(),
        sex: first
            .sex1
            .as_ref()
            .map(|s| s.code().to_owned())
            .unwrap_or_default(),
        birth_date: text(&first.birthdate).unwrap_or_default(),
        insurer_number: first.insurer_number.clone().unwrap_or_default(),
        symbol: text(&first.insured_card_symbol).unwrap_or_default(),
        number: text(&first.insured_identification_number).unwrap_or_default(),
        branch: text(&first.insured_branch_number).unwrap_or_default(),
    })
}

/// What reception shows of the person in a 資格確認 result (card check-in or check by numbers): the first
/// health-insurance qualification (else the 医療扶助 one), with its end date, insurer name and the 限度額 /
/// 特定疾病 markers, and the 医療扶助 (A1) qualification with its tickets.
pub fn patient_view_of(r: &SingleCheckResult) -> Option<PatientView> {
    let records = &r
        .message_body
        .result_list
        .as_ref()?
        .result_of_qualification_confirmation;
    let first = records
        .iter()
        .find(|q| !q.is_medical_assistance())
        .or_else(|| records.first())?;
    let restricted = records.iter().any(|q| q.is_restricted());
    let medical_aid = records
        .iter()
        .find(|q| q.is_medical_assistance())
        .map(|aid| medical_aid_view(aid, r.message_body.qualification_validity.as_ref()));
    let text = |p: &Option<oqs_protocol::Pii>| {
        Sensitive::new(
            p.as_ref()
                .map(|v| v.expose().to_owned())
                .unwrap_or_default(),
        )
    };
    Some(with_wareki_dates(PatientView {
        name: text(&first.name),
        kana: text(&first.name_kana),
        sex: sex_of_code(first.sex1.as_ref().map(|s| s.code()).unwrap_or_default()),
        birth_date: text(&first.birthdate),
        insurer_number: Sensitive::new(first.insurer_number.clone().unwrap_or_default()),
        symbol: text(&first.insured_card_symbol),
        number: text(&first.insured_identification_number),
        branch: text(&first.insured_branch_number),
        valid_until: first.insured_card_expiration_date.clone(),
        insurer_name: first.insurer_name.clone(),
        local_name: None,
        name_needs_local: first
            .name
            .as_ref()
            .is_some_and(|n| n.expose().contains([oqs_protocol::SUBSTITUTE, '●'])),
        limit_certificate: first.limit_application_certificate_related_info.is_some(),
        specific_disease: first
            .specific_diseases_certificate_list
            .as_ref()
            .is_some_and(|l| !l.specific_diseases_certificate_info.is_empty()),
        postal_code: first
            .post_number
            .as_ref()
            .filter(|_| !restricted)
            .map(|v| Sensitive::new(v.expose().to_owned())),
        address: first
            .address
            .as_ref()
            .filter(|_| !restricted)
            .map(|v| Sensitive::new(v.expose().to_owned())),
        disqualified_on: first.disqualification_date.clone(),
        medical_aid,
        restricted,
        subsidies: first
            .medical_subsidy_certificate_list
            .as_ref()
            .map(|l| l.medical_subsidy_certificate_info.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|c| terminal_ipc::SubsidyView {
                public_expense_number: c.subsidy_public_expense_number.clone().unwrap_or_default(),
                beneficiary_number: Sensitive::new(
                    c.subsidy_beneficiary_number
                        .as_ref()
                        .map(|v| v.expose())
                        .unwrap_or_default(),
                ),
                name: c.medical_subsidy_name.clone(),
                self_pay_limit: c.self_pay_limit.clone(),
                valid_to: c.subsidy_valid_end_date.clone(),
            })
            .collect(),
        birth_date_wareki: Sensitive::default(),
        valid_until_wareki: None,
        disqualified_on_wareki: None,
    }))
}

/// Fills the 和暦 labels of a patient's dates (`H 2. 1. 5`), as reception's list shows them.
fn with_wareki_dates(mut p: PatientView) -> PatientView {
    let short = |date: &str| {
        wareki::Date::parse(date)
            .map(wareki::Date::short_wareki)
            .ok()
    };
    p.birth_date_wareki = Sensitive::new(short(p.birth_date.expose()).unwrap_or_default());
    p.valid_until_wareki = p.valid_until.as_deref().and_then(short);
    p.disqualified_on_wareki = p.disqualified_on.as_deref().and_then(short);
    p
}

/// 医療扶助 of an A1 qualification. The ticket codes follow the project's convention (docs/file-interface.md,
/// "医療扶助"): a code it does not know is shown as sent.
fn medical_aid_view(
    aid: &oqs_protocol::ResultOfQualificationConfirmation,
    validity: Option<&QualificationValidity>,
) -> terminal_ipc::MedicalAidView {
    let sensitive = |p: &Option<oqs_protocol::Pii>| p.as_ref().map(|v| Sensitive::new(v.expose()));
    let tickets: Vec<terminal_ipc::MedicalTicketView> = aid
        .public_expense_result_list
        .as_ref()
        .map(|l| l.medical_ticket_info.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|t| terminal_ipc::MedicalTicketView {
            kind: match t.ticket_type.as_deref().map(str::trim) {
                Some("1") => "医療券".into(),
                Some("2") => "調剤券".into(),
                Some(other) => other.into(),
                None => "医療券・調剤券".into(),
            },
            issue_number: t.issue_number.clone(),
            treatment_month: t.medical_treatment_month.clone(),
            valid_from: t.medical_ticket_valid_date.clone(),
            valid_to: t.medical_ticket_expiration_date.clone(),
            designated_institution: t.designated_medical_institution_name.clone(),
            injuries: [&t.injury_name1, &t.injury_name2, &t.injury_name3]
                .into_iter()
                .filter_map(sensitive)
                .collect(),
            self_pay: t.self_pay_amount.clone(),
            district_contact: sensitive(&t.district_contact_name),
            use_with_insurance: t.single_or_combined_use.as_deref().map(|c| match c.trim() {
                "1" => "単独".into(),
                "2" => "併用".into(),
                other => other.into(),
            }),
        })
        .collect();
    terminal_ipc::MedicalAidView {
        public_expense_number: aid
            .insurer_number
            .as_deref()
            .or(aid.public_expense_number.as_deref())
            .unwrap_or_default()
            .trim()
            .to_owned(),
        beneficiary_number: Sensitive::new(
            aid.insured_identification_number
                .as_ref()
                .or(aid.beneficiary_number.as_ref())
                .map(|v| v.expose())
                .unwrap_or_default(),
        ),
        welfare_office: aid
            .welfare_office_name
            .clone()
            .or_else(|| aid.insurer_name.clone()),
        since: aid.qualification_date.clone(),
        unregistered: tickets.is_empty()
            || validity == Some(&QualificationValidity::ValidUnregistered),
        tickets,
    }
}

fn sex_of_code(code: &str) -> terminal_ipc::Sex {
    if code == "2" {
        terminal_ipc::Sex::Female
    } else {
        terminal_ipc::Sex::Male
    }
}

/// A stored (or just written) result document, read back.
pub fn stored_result(document: &[u8]) -> Option<SingleCheckResult> {
    match read_message(document, MessageKind::SingleCheck, Direction::Response) {
        Ok(decoded) => match decoded.message {
            Message::SingleCheckResult(r) => Some(r),
            _ => None,
        },
        Err(e) => {
            warn!(error = %e, "a stored check-in result cannot be read back");
            None
        }
    }
}

/// The reception view of a check-in. The person comes from the result document when there is one (it has
/// the end date and markers), else from the stored identity.
pub fn record_of(
    c: &CheckIn,
    answers: &[ConsentAnswer],
    patient: Option<&PatientIdentity>,
) -> CheckInRecord {
    // Japan's time whatever the PC's time zone is: reception reads 処理時間 as the receipt computer does.
    let at = chrono::DateTime::from_timestamp_millis(c.at).unwrap_or_default();
    let at = match chrono::FixedOffset::east_opt(9 * 3600) {
        Some(jst) => at
            .with_timezone(&jst)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        None => at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let method = match c.method.as_str() {
        "face" => AuthMethod::Face,
        "staff_visual" => AuthMethod::StaffVisual,
        "insurance_numbers" => AuthMethod::InsuranceNumbers,
        "phone" => AuthMethod::Phone,
        "smartphone_pin" => AuthMethod::SmartphonePin,
        _ => AuthMethod::Pin,
    };
    let stored = c
        .result_document
        .as_ref()
        .and_then(|d| stored_result(d.as_bytes()));
    let from_document = stored.as_ref().and_then(patient_view_of);
    let from_identity = || {
        patient
            .or(c.patient.as_ref())
            .map(|p| PatientView {
                name: Sensitive::new(p.name.clone()),
                kana: Sensitive::new(p.kana.clone()),
                sex: sex_of_code(&p.sex),
                birth_date: Sensitive::new(p.birth_date.clone()),
                insurer_number: Sensitive::new(p.insurer_number.clone()),
                symbol: Sensitive::new(p.symbol.clone()),
                number: Sensitive::new(p.number.clone()),
                branch: Sensitive::new(p.branch.clone()),
                valid_until: None,
                insurer_name: None,
                local_name: None,
                name_needs_local: p.name.contains([oqs_protocol::SUBSTITUTE, '●']),
                limit_certificate: false,
                specific_disease: false,
                postal_code: None,
                address: None,
                disqualified_on: None,
                medical_aid: None,
                restricted: false,
                subsidies: Vec::new(),
                birth_date_wareki: Sensitive::default(),
                valid_until_wareki: None,
                disqualified_on_wareki: None,
            })
            .map(with_wareki_dates)
    };
    CheckInRecord {
        check_in_id: c.check_in_id.clone(),
        at,
        reader: c.reader.clone(),
        method,
        outcome: outcome_of_status(c.status),
        patient: from_document.or_else(from_identity).map(Box::new),
        consents: answers
            .iter()
            .filter(|a| a.given)
            .map(|a| consent_item(a.kind))
            .collect(),
        validity: stored.as_ref().and_then(crate::reception_list::validity_of),
        certificate: crate::reception_list::certificate_of(method, stored.as_ref()),
        visit: Visit::default(),
        certificate_expires_on: None,
        certificate_grace_until: None,
    }
}

/// When the submission's certificate expires (ms), for the renewal slip; `None` when it cannot be read.
fn certificate_expiry(s: &Submission) -> Option<i64> {
    B64.decode(s.auth_certificate.trim())
        .ok()
        .and_then(|der| myna_card::certificate::not_after(&der).ok())
        .map(oqs_clock::millis)
}

/// The renewal slip's dates on a check-in's record, from its certificate's expiry (ms): the expiry day, and
/// for a certificate in its grace the last day it confirms qualification.
pub fn with_certificate_dates(mut record: CheckInRecord, expiry: Option<i64>) -> CheckInRecord {
    if let Some(expiry) = expiry {
        let end = oqs_clock::from_millis(expiry);
        let day =
            |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
        record.certificate_expires_on = Some(day(oqs_clock::to_jst(end).date()));
        if record.certificate == Some(terminal_ipc::CertificateState::ExpiredInGrace) {
            record.certificate_grace_until = Some(day(oqs_clock::certificate_grace_last_day(end)));
        }
    }
    record
}

/// The consent item of a stored consent row (`Consent::item`).
pub fn consent_item_of_str(item: &str) -> ConsentItem {
    match item {
        "medical_and_medication" => ConsentItem::MedicalAndMedication,
        "surgery" => ConsentItem::Surgery,
        "health_checkup" => ConsentItem::HealthCheckup,
        "medical_subsidy" => ConsentItem::MedicalSubsidy,
        _ => ConsentItem::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_challenge_is_fixed_for_its_inputs() {
        // The same vector is checked by crates/mock-central (offline check-ins).
        let c = offline_challenge("1710100014", 1_790_000_000_000, &[7u8; 16]);
        let hex: String = c.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "3c4460d7f0564c073e7f15c8eae1baf0e023ec4c06885d984e8ef48dcbbfd8ff"
        );
        assert_ne!(
            c,
            offline_challenge("1710100014", 1_790_000_000_001, &[7u8; 16])
        );
        assert_ne!(
            c,
            offline_challenge("1710100015", 1_790_000_000_000, &[7u8; 16])
        );
    }

    #[test]
    fn consents_map_to_the_central_vocabulary() {
        let c = Consents::from_answers(&[
            ConsentAnswer {
                kind: ConsentKind::Surgery,
                given: false,
            },
            ConsentAnswer {
                kind: ConsentKind::DiagnosisAndMedication,
                given: true,
            },
        ]);
        assert!(c.pharmacists && c.diagnosis && !c.operation && !c.checkup);
    }

    /// The shape R accepts (`^OQSsiquc01res_face_.+_(\d{14})\.xml$`, the 14 digits the check-in's local
    /// time) with the 30-character id of R's real example and D's imitation (医療機関コード + 20).
    #[test]
    fn face_file_names_have_the_clients_shape() {
        use chrono::TimeZone;
        let at = chrono::FixedOffset::east_opt(9 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 9, 29, 16, 1, 12)
            .unwrap()
            + chrono::Duration::milliseconds(345);
        let id = face_id("2714206386", &at, 7);
        let name = face_file_name(&id);
        assert_eq!(
            name,
            "OQSsiquc01res_face_271420638620260929160112345007_20260929160112.xml"
        );
        let middle = id
            .strip_prefix("face_")
            .and_then(|r| r.split_once('_'))
            .unwrap();
        assert_eq!(middle.0.len(), 30);
        assert_eq!(middle.1.len(), 14);
        assert!(middle.1.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(face_id("2714206386", &at, 1007), id);
    }

    /// Golden test of the `face/` file against R, the client that reads that folder (oqs-clients.md §8,
    /// `tests/data/oqs/clients/OQSsiquc01res_face_R.xml`): from a central answer, the file the daemon writes
    /// in either 利用文字コード holds every element R reads, one `ResultList` with one qualification, declares
    /// the facility's encoding, and its name passes R's rule with today's local time.
    #[test]
    fn face_files_hold_what_r_reads() {
        use chrono::TimeZone;
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/oqs");
        let central =
            std::fs::read(data.join("valid/OQSsiquc01res_20240401093000123.xml")).unwrap();
        let sample_name = "OQSsiquc01res_face_R.xml";
        let sample = std::fs::read(data.join("clients").join(sample_name)).unwrap();
        let at = chrono::FixedOffset::east_opt(9 * 3600)
            .unwrap()
            .with_ymd_and_hms(2024, 4, 1, 9, 30, 2)
            .unwrap();
        let id = face_id("1311234567", &at, 1);
        let name = face_file_name(&id);
        // R: `^OQSsiquc01res_face_.+_(\d{14})\.xml$`, the 14 digits today's (the check-in's) local time.
        let stem = name
            .strip_prefix("OQSsiquc01res_face_")
            .and_then(|r| r.strip_suffix(".xml"))
            .expect("R's prefix and extension");
        let (before, time) = stem.rsplit_once('_').expect("`_` before the time");
        assert!(!before.is_empty());
        assert_eq!(time, at.format("%Y%m%d%H%M%S").to_string());

        let dir = tempfile::tempdir().unwrap();
        let store = crate::charset::test_store(dir.path());
        let encoding = FacilityEncoding::new(store, oqs_protocol::Encoding::Utf8);
        for (setting, label) in [("UTF-8", "UTF-8"), ("Shift_JIS", "Shift_JIS")] {
            encoding.learn(setting);
            let Message::SingleCheckResult(mut result) =
                oqs_protocol::read_file("OQSsiquc01res_1.xml", &central)
                    .unwrap()
                    .message
            else {
                panic!("a single result")
            };
            face_document(&mut result, &id);
            let (bytes, _) = encoding.write(&Message::SingleCheckResult(result)).unwrap();
            let declaration = format!("<?xml version=\"1.0\" encoding=\"{label}\"");
            assert!(bytes.starts_with(declaration.as_bytes()), "{setting}");
            if let Err(e) =
                oqs_protocol::golden::check_holds(sample_name, &sample, &[(&name, &bytes)])
            {
                panic!("{setting}: {e}");
            }
            let Message::SingleCheckResult(read) =
                oqs_protocol::read_file(&name, &bytes).unwrap().message
            else {
                panic!("a single result")
            };
            let list = read
                .message_body
                .result_list
                .expect("exactly one ResultList");
            assert_eq!(
                list.result_of_qualification_confirmation.len(),
                1,
                "{setting}"
            );
            assert_eq!(
                read.message_header.arbitrary_file_identifier.as_deref(),
                Some(id.as_str())
            );
        }
    }

    /// Reception's list prints 生年月日, 有効期限 and 資格喪失年月日 in short 和暦 as the receipt computer does
    /// (seed 003, ORCA P031: `H 2. 1. 5`); a date the central service did not send stays absent.
    #[test]
    fn a_patient_s_dates_come_in_short_wareki() {
        let mut r = SingleCheckResult::default();
        r.message_body.result_list = Some(oqs_protocol::ResultList {
            result_of_qualification_confirmation: vec![
                oqs_protocol::ResultOfQualificationConfirmation {
                    birthdate: Some(oqs_protocol::Pii::new("19900105".to_owned())),
                    insured_card_expiration_date: Some("20230331".into()),
                    ..Default::default()
                },
            ],
        });
        let p = patient_view_of(&r).unwrap();
        assert_eq!(p.birth_date_wareki.expose(), "H 2. 1. 5");
        assert_eq!(p.valid_until_wareki.as_deref(), Some("R 5. 3.31"));
        assert_eq!(p.disqualified_on_wareki, None);
    }

    /// A name written with 〓 (the facility's encoding could not carry a character) is flagged for the local
    /// name typed at reception.
    #[test]
    fn a_substituted_name_asks_for_the_local_name() {
        let result = |name: &str| {
            let mut r = SingleCheckResult::default();
            r.message_body.result_list = Some(oqs_protocol::ResultList {
                result_of_qualification_confirmation: vec![
                    oqs_protocol::ResultOfQualificationConfirmation {
                        name: Some(oqs_protocol::Pii::new(name.to_owned())),
                        ..Default::default()
                    },
                ],
            });
            r
        };
        assert!(
            patient_view_of(&result("〓田　凛"))
                .unwrap()
                .name_needs_local
        );
        assert!(
            !patient_view_of(&result("吉田　凛"))
                .unwrap()
                .name_needs_local
        );
    }

    #[test]
    fn prescription_issue_select_is_copied_to_the_message_body() {
        let mut r = SingleCheckResult::default();
        r.message_body.result_list = Some(oqs_protocol::ResultList {
            result_of_qualification_confirmation: vec![
                oqs_protocol::ResultOfQualificationConfirmation {
                    prescription_issue_select: Some(oqs_protocol::PrescriptionIssueSelect::Paper),
                    ..Default::default()
                },
            ],
        });
        hoist_prescription_issue_select(&mut r);
        assert_eq!(
            r.message_body.prescription_issue_select,
            Some(oqs_protocol::PrescriptionIssueSelect::Paper)
        );
    }

    #[test]
    fn screens_follow_the_settings() {
        let s = FacilitySettings {
            character_code: None,
            medication_info: true,
            diagnosis_info: false,
            operation_info: false,
            checkup_info: true,
            medical_subsidy_info: false,
        };
        assert_eq!(
            screens_for(&s),
            vec![
                ConsentKind::DiagnosisAndMedication,
                ConsentKind::HealthCheckup
            ]
        );
    }
}
