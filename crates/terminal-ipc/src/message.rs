//! The messages both sides exchange, as serde types shared by the daemon and its clients.
//!
//! A connection goes: client [`Hello`] → server [`HandshakeReply`] (welcome or refused) → any number of
//! [`ClientFrame`]s answered by [`ServerFrame::Response`], with [`ServerFrame::Event`]s interleaved once the
//! client subscribed. All enums are internally tagged JSON (`"type"`, `"kind"`, `"event"`, `"action"` …) in
//! snake_case, so a frame reads well in a log of the wire and stays stable when variants are added.
//!
//! On the wire (each line one frame; the unit test `wire_examples` keeps these true):
//! ```text
//! → {"type":"hello","protocol":1,"token":"9f…","client":"oqs 0.1.0","scope":{"role":"staff"}}
//! ← {"type":"welcome","protocol":1,"server":"oqs-readerd 0.1.0","scope":{"role":"staff"}}
//! → {"type":"request","id":1,"request":{"kind":"subscribe","topics":["check_in"]}}
//! ← {"type":"response","id":1,"outcome":{"status":"ok","response":{"kind":"subscribed","topics":["check_in"]}}}
//! → {"type":"request","id":2,"request":{"kind":"kiosk","action":{"action":"enter_pin","pin":"1234"}}}
//! ← {"type":"response","id":2,"outcome":{"status":"err","error":{"code":"invalid_state","message":"no card"}}}
//! ← {"type":"event","event":{"event":"outbox","counts":{"received":3,"sending":0,"answered":0,"failed":0}}}
//! ```
//!
//! **Frozen across versions:** the hello (`{"type":"hello","protocol":N,…}`) and the handshake reply
//! (`{"type":"welcome"|"refused",…}`). Every past and future version reads and writes these the same way, so a
//! client of another version always gets a refusal it can print instead of garbage.

use serde::{Deserialize, Serialize};

use crate::sensitive::{Pin, Secret, Sensitive};

/// The protocol version this build speaks. Bump on any change that an older peer would misread.
pub const PROTOCOL_VERSION: u32 = 1;
/// The oldest client version this server still serves.
pub const MIN_SUPPORTED_PROTOCOL: u32 = 1;

/// The client's first frame. Frozen: see the module doc.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "hello")]
pub struct Hello {
    pub protocol: u32,
    /// The token from the OS keyring, hex; absent when the client could not read one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Free text naming the client, for the daemon's log ("oqs 0.1.0", "oqs-terminal reception").
    #[serde(default)]
    pub client: String,
    /// What this connection may ask, for its whole life (absent: [`Scope::Staff`], as every client before
    /// scopes existed was a staff client).
    #[serde(default)]
    pub scope: Scope,
}

/// What a connection may ask. Declared once in the [`Hello`], echoed in the welcome, and enforced by the
/// daemon's server on every request and every event; no request changes it. The scope narrows what the
/// token allows, it does not prove anything: whoever holds the token may open a staff connection. It is the
/// trusted side (the app's shell, which alone holds the token) that opens the patient screen's connection as
/// a kiosk, so a compromised kiosk webview gets only what a kiosk needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Scope {
    /// Reception, viewing, emergency and administration windows, and the `oqs` tool: every request (each
    /// still checks its own session and permission).
    #[default]
    Staff,
    /// The patient's screen at a card reader: the status, the kiosk screen and the patient's own answers
    /// (method, PIN, consent, cancel) of `reader` (any reader when `None`: a terminal with one reader), and
    /// only reader and kiosk events.
    Kiosk {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reader: Option<String>,
    },
}

impl Scope {
    /// Event topics a kiosk connection may subscribe to.
    pub const KIOSK_TOPICS: [Topic; 2] = [Topic::Reader, Topic::Kiosk];

    /// Whether a connection of this scope may send `request`. An allow-list: a request not named here,
    /// including any added later, is refused to a kiosk.
    pub fn permits(&self, request: &Request) -> bool {
        let bound = match self {
            Scope::Staff => return true,
            Scope::Kiosk { reader } => reader,
        };
        match request {
            Request::Status | Request::Unsubscribe => true,
            Request::Subscribe { topics } => {
                !topics.is_empty() && topics.iter().all(|t| Self::KIOSK_TOPICS.contains(t))
            }
            Request::Kiosk { reader, action } => {
                let patients_own = matches!(
                    action,
                    KioskAction::ChooseMethod { .. }
                        | KioskAction::EnterPin { .. }
                        | KioskAction::AnswerConsent { .. }
                        | KioskAction::Cancel
                        | KioskAction::Continue
                );
                patients_own && (bound.is_none() || reader == bound)
            }
            _ => false,
        }
    }

    /// Whether a connection of this scope may receive `event` (on top of its subscription's topics).
    pub fn sees(&self, event: &Event) -> bool {
        let bound = match self {
            Scope::Staff => return true,
            Scope::Kiosk { reader } => reader,
        };
        match event {
            Event::Kiosk { reader, .. } | Event::Reader { reader, .. } => {
                bound.as_ref().is_none_or(|b| b == reader)
            }
            Event::Lagged { .. } => true,
            _ => false,
        }
    }
}

impl std::fmt::Debug for Hello {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hello")
            .field("protocol", &self.protocol)
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .field("client", &self.client)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The server's answer to [`Hello`]. Frozen: see the module doc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HandshakeReply {
    Welcome {
        protocol: u32,
        server: String,
        /// The scope the daemon granted (the hello's). Absent from daemons before scopes, which a kiosk
        /// client must not talk to: they would serve it every request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<Scope>,
    },
    Refused(Refusal),
}

/// Why the server would not talk to a client. Sent once, then the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub reason: RefusalReason,
    /// A sentence for the person at the client (Japanese and English).
    pub message: String,
    /// The versions this server accepts, so a client can say which side to update.
    pub server_protocol_min: u32,
    pub server_protocol_max: u32,
}

/// Machine-readable refusal reasons. Unknown reasons from a newer server read as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The connecting process runs as another OS user (and not in the configured group).
    WrongUser,
    /// The hello carried no token.
    MissingToken,
    /// The token does not match the daemon's.
    WrongToken,
    /// The client speaks an older protocol than the server supports.
    ClientTooOld,
    /// The client speaks a newer protocol than the server knows.
    ClientTooNew,
    /// The first frame was not a hello (or not readable at all), or it did not come in time.
    BadHello,
    /// The daemon is shutting down or at its connection limit.
    Unavailable,
    #[serde(other)]
    Other,
}

/// Everything a client sends after the handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// A request; the response carries the same `id`. Ids are chosen by the client and should not repeat.
    Request { id: u64, request: Request },
}

/// Everything the server sends after the handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Response {
        id: u64,
        outcome: Outcome,
    },
    Event {
        event: Event,
    },
    /// A frame the server could not attribute to a request (unreadable JSON). The connection stays open.
    Error {
        error: ErrorBody,
    },
}

/// The result of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Ok { response: Response },
    Err { error: ErrorBody },
}

/// A typed error for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// A sentence a clerk or an IT vendor can act on. Never contains patient identifiers or secrets.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

/// Error classes a client can branch on. Unknown codes from a newer server read as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request did not parse or its values are invalid.
    BadRequest,
    /// The daemon knows the request but does not handle it (yet, or in this configuration).
    Unsupported,
    NotFound,
    /// No valid login session for a request that needs one.
    Unauthenticated,
    /// Logged in, but the account lacks the permission (e.g. 救急時医療情報閲覧権限).
    Forbidden,
    /// Too many failed logins: the account is locked for a while.
    LockedOut,
    /// The password was set at set-up or by a reset: change it ([`Request::ChangePassword`]) first.
    PasswordChangeRequired,
    /// The request does not fit the current state (e.g. a PIN while the kiosk shows the consent screen).
    InvalidState,
    /// The central service cannot be reached; the request was kept and will be answered later if it can.
    CentralUnavailable,
    /// The daemon failed; details are in its log.
    Internal,
    /// Logged in with the password only; this needs the second factor (TOTP) too.
    SecondFactorRequired,
    /// Several patients match the facts given: ask for more facts (the others are never listed).
    MoreFactsNeeded,
    /// 災害時医療情報閲覧 is not open for this facility's area now.
    DisasterModeClosed,
    /// This terminal is a 閲覧用端末 (`[terminal] role = "viewer"`): no reader, no folders, no reception work.
    ViewerTerminal,
    /// The facility server (院内サーバ, `[store] shared`) cannot be reached: accounts and the facility's
    /// settings cannot be changed until it returns (logins go on from the terminal's cache).
    SharedStoreUnavailable,
    #[serde(other)]
    Other,
}

/// What a terminal is for (`[terminal] role` in the daemon's configuration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalRole {
    /// A reception PC: card readers, the receipt computer's folders, every screen.
    #[default]
    Reception,
    /// A 閲覧用端末 in a consultation room: no card reader and no folders; it shows the consented patients'
    /// information and the emergency view from the facility-wide store, nothing else.
    Viewer,
}

/// Event classes a client can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Reader,
    Kiosk,
    CheckIn,
    Outbox,
    CentralLink,
    /// The link to the facility-wide store (院内サーバ), on terminals that have one.
    SharedStore,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Reader,
        Topic::Kiosk,
        Topic::CheckIn,
        Topic::Outbox,
        Topic::CentralLink,
        Topic::SharedStore,
    ];
}

/// Requests. Variants marked "foreseen" are defined now so clients and daemon agree on their shape; a daemon
/// that does not handle one yet answers [`ErrorCode::Unsupported`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// Daemon, readers, central link and outbox at a glance (`oqs status`).
    Status,
    /// Start receiving events of these topics (all when empty). Answered by [`Response::Subscribed`]; replaces
    /// any earlier subscription of this connection.
    Subscribe {
        topics: Vec<Topic>,
    },
    /// Stop receiving events.
    Unsubscribe,
    /// Answer the kiosk screen of a reader (or the only reader when `reader` is absent).
    Kiosk {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reader: Option<String>,
        action: KioskAction,
    },
    /// Today's check-ins, newest first.
    TodayCheckIns,
    /// The check-ins of one day in Japan (`YYYY-MM-DD`, JST 00:00–24:00; today by the daemon's clock when
    /// absent), newest first: reception browses past days (前日 / 次日). Answered by [`Response::DayCheckIns`].
    CheckInsOfDay {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        date: Option<String>,
    },
    /// マイナ保険証利用率 by month, check-ins by hour and failures by reason over the last `months` months
    /// (counts only, no patient data). Answered by [`Response::Usage`].
    Usage {
        months: u32,
    },
    /// One check-in in full.
    CheckInDetail {
        check_in_id: String,
    },
    /// Eligibility check by the numbers on an insurance card or 資格確認書; answered by
    /// [`Response::Eligibility`]. Audited: with the staff member of `session` when one is given, else as
    /// reception and the connection's OS user.
    ManualCheck {
        numbers: InsuranceNumbers,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<Secret>,
        /// 事前確認: a reservation checked ahead of the visit (the bulk check), not an arrival, so not a
        /// check-in of the reception list. A check at the counter (false) is a check-in (◎).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ahead: bool,
    },
    /// Counts of the outbox by state.
    OutboxSummary,
    /// Sets (empty: clears) the name shown at this facility for a check-in whose name has 外字 the central
    /// service could not show. Answered by [`Response::CheckIn`]; subscribers get the updated check-in.
    SetLocalName {
        check_in_id: String,
        name: Sensitive,
    },
    /// Tags a check-in's visit 外来 / 訪問 / オンライン; the 閲覧 requests made for it carry the matching
    /// `MedicalTreatmentFlag`. Answered by [`Response::CheckIn`]; subscribers get the updated check-in.
    SetVisit {
        check_in_id: String,
        visit: Visit,
    },
    /// 保発0710第1号: reception could not confirm a visit's qualification and took one of the official paths;
    /// the daemon checks the claimed numbers at once and, unless that confirms them, keeps the visit in the
    /// 要再確認 list, re-checked at the set time. Answered by [`Response::Unconfirmed`].
    OpenUnconfirmed {
        /// The check-in of the visit, when there was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check_in_id: Option<String>,
        reason: UnconfirmedReason,
        path: FallbackPath,
        /// The share billed meanwhile, in 割 (1, 2 or 3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        share: Option<u8>,
        #[serde(default)]
        claim: ClaimedNumbers,
    },
    /// The 要再確認 list: every open entry, and those opened in the last `days` days (default 31) whatever
    /// their state, with the last scheduled re-check. Answered by [`Response::UnconfirmedList`].
    UnconfirmedList {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        days: Option<u32>,
    },
    /// Re-checks every open entry now (as the scheduled run does). Answered by [`Response::RecheckRun`].
    RecheckUnconfirmed,
    /// A staff member closes an open entry by hand, saying what was done; needs a session.
    CloseUnconfirmed {
        session: Secret,
        id: i64,
        resolution: String,
    },
    /// The 要再確認 list as CSV (UTF-8 with BOM, for Excel), as [`Request::UnconfirmedList`] selects it.
    /// Answered by [`Response::Export`].
    ExportUnconfirmed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        days: Option<u32>,
    },
    /// 同意取得済み患者一覧: patients whose consent to view medical information is valid now. Needs a session of
    /// a medical-information viewer or an administrator.
    ConsentedPatients {
        session: Secret,
    },
    /// Consented medical information of one patient (`patient_ref` from [`Response::ConsentedPatients`]).
    /// `from`/`to` are `YYYY-MM-DD`; nothing before 2021-09 exists. Every view is audited.
    MedicalInfo {
        session: Secret,
        patient_ref: String,
        info: MedicalInfoKind,
        from: String,
        to: String,
    },
    /// The facility's 環境設定情報 as the central service holds them (an administrator's session).
    EnvironmentSettings {
        session: Secret,
    },
    /// Replaces the 環境設定情報 at the central service: an administrator's session and the facility's admin
    /// credential for the central service. Takes effect at the staff's next login (and the kiosk's next card).
    SetEnvironmentSettings {
        session: Secret,
        credential: Secret,
        settings: serde_json::Value,
    },
    /// Staff login with password and second factor (foreseen; emergency mode needs it).
    Login {
        account: String,
        password: Secret,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        totp: Option<Secret>,
    },
    Logout {
        session: Secret,
    },
    /// 救急時医療情報閲覧: identify a patient and fetch the emergency summary. Needs a session logged in with
    /// both factors by an account holding 救急時医療情報閲覧権限. `patient` is `card` (no PIN, no consent) or
    /// `four_facts`. Answered by [`Response::MedicalView`].
    EmergencyLookup {
        session: Secret,
        reason: String,
        patient: PatientLookup,
    },
    /// Start TOTP enrolment for the session's own account: a new secret, its `otpauth://` URI and a QR code.
    /// Nothing is stored until [`Request::ConfirmTotpEnrolment`] proves the authenticator app has it.
    BeginTotpEnrolment {
        session: Secret,
    },
    /// Finish enrolment with a current 6-digit code from the authenticator app.
    ConfirmTotpEnrolment {
        session: Secret,
        code: Secret,
    },
    /// Administrator: every account. Answered by [`Response::Accounts`].
    ListAccounts {
        session: Secret,
    },
    /// Administrator: a new account (no second factor yet; its owner enrols one after the first login).
    CreateAccount {
        session: Secret,
        account: String,
        display_name: String,
        role: Role,
        password: Secret,
    },
    /// Administrator: grant or revoke 救急時医療情報閲覧権限.
    SetEmergencyPermission {
        session: Secret,
        account: String,
        granted: bool,
    },
    /// Administrator: change an account's role.
    SetAccountRole {
        session: Secret,
        account: String,
        role: Role,
    },
    /// Administrator: disable (or enable again) an account; a disabled account cannot log in.
    SetAccountDisabled {
        session: Secret,
        account: String,
        disabled: bool,
    },
    /// Administrator: lift a lockout after repeated failed logins.
    UnlockAccount {
        session: Secret,
        account: String,
    },
    /// Administrator: set a new password (e.g. forgotten); the account's sessions end.
    ResetPassword {
        session: Secret,
        account: String,
        password: Secret,
    },
    /// The session's owner changes their own password (`current` is checked and counted like a login).
    /// The only request, with logout, that a session whose password must be changed may make. Answered by
    /// [`Response::Account`].
    ChangePassword {
        session: Secret,
        current: Secret,
        new_password: Secret,
    },
    /// Administrator: remove an account's TOTP secret (lost phone); its owner enrols again.
    ResetTotp {
        session: Secret,
        account: String,
    },
    /// Administrator: the facility's own emergency-viewing settings (救急専用端末, the summary's order and
    /// period). Answered by [`Response::FacilityOptions`].
    FacilityOptions {
        session: Secret,
    },
    /// Administrator: change one of the facility's settings (key = value; the keys are those of
    /// [`FacilityOptionsView`]: `emergency_terminals`, `emergency_summary_order`, `emergency_summary_months`).
    /// Any other key, or a value the key does not take, is refused. Logged with the old and new value.
    ChangeSetting {
        session: Secret,
        key: String,
        value: String,
    },
    /// Whether 災害時医療情報閲覧 is open for this facility now (asks the central service). Answered by
    /// [`Response::DisasterStatus`]; needs no session, so the app can show or hide the disaster button.
    DisasterStatus,
    /// 災害時医療情報閲覧: only while a window is open for the facility's area. Needs a logged-in session of a
    /// medical-information viewer or of an account with emergency permission. `patient` is `four_facts` or
    /// `insurance_numbers`; the patient's oral consent (or why it could not be had) is recorded.
    DisasterLookup {
        session: Secret,
        consent: DisasterConsent,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        patient: PatientLookup,
    },
    /// Administrator: every emergency view logged from `from` to `to` (`YYYY-MM-DD`, JST days, both included),
    /// for the regular log review; with `export`, also written as CSV and PDF into the daemon's reports folder.
    /// Answered by [`Response::EmergencyReview`].
    EmergencyReview {
        session: Secret,
        from: String,
        to: String,
        #[serde(default)]
        export: bool,
    },
    /// Administrator: check the audit log's hash chain. Answered by [`Response::AuditVerdict`].
    VerifyAudit {
        session: Secret,
    },
}

/// How the patient's consent to a disaster-time view was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisasterConsent {
    /// 口頭同意: the patient agreed orally.
    Oral,
    /// 同意取得困難: the patient cannot answer (unconscious …).
    Unobtainable,
}

/// What a client may do on the kiosk screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum KioskAction {
    ChooseMethod {
        method: AuthMethod,
    },
    /// The whole PIN at once; the daemon sends it only to the card.
    EnterPin {
        pin: Pin,
    },
    AnswerConsent {
        item: ConsentItem,
        agreed: bool,
    },
    /// The patient pressed 戻る / cancel.
    Cancel,
    /// The patient pressed 「続ける」 during the countdown before the inactivity time-out: the daemon restarts
    /// its timer and the patient keeps the screen.
    Continue,
    /// A staff member switches this reader to 目視確認 (needs a staff login session).
    StartStaffVisualCheck {
        session: Secret,
    },
    /// The staff member compared the patient with the card photo.
    ConfirmStaffVisualCheck {
        session: Secret,
        same_person: bool,
    },
}

/// How the patient is identified at the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Face,
    Pin,
    StaffVisual,
    /// スマートフォン (iPhone): the phone authenticated its holder itself; no PIN on the reader. A kiosk never
    /// chooses it: the daemon goes on by itself when an iPhone is tapped.
    Phone,
    /// スマートフォン (Android) with the スマホ用電子証明書's own PIN entered on the kiosk. Recorded for the
    /// check-in; on the kiosk the patient chooses `pin`.
    SmartphonePin,
    /// A check by the numbers on an insurance card or 資格確認書 at reception (◎ on the receipt computer's
    /// list); never a kiosk method.
    InsuranceNumbers,
}

/// Consent screens at the kiosk (the 限度額 screen no longer exists since 2024-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentItem {
    /// 診療・薬剤情報
    MedicalAndMedication,
    /// 手術情報
    Surgery,
    /// 特定健診等情報
    HealthCheckup,
    /// 「医療費助成の各種受給者証を利用しますか」 (公費, PMH): 利用する / 利用しない. Not a viewing consent.
    MedicalSubsidy,
    #[serde(other)]
    Other,
}

/// Kinds of consented medical information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MedicalInfoKind {
    MedicationAndTreatment,
    Surgery,
    HealthCheckup,
}

/// The numbers on an insurance card or 資格確認書.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsuranceNumbers {
    /// 保険者番号 (6 or 8 digits).
    pub insurer_number: Sensitive,
    /// 記号 (may be empty).
    #[serde(default)]
    pub symbol: Sensitive,
    /// 番号.
    pub number: Sensitive,
    /// 枝番 (2 digits, may be empty on older cards).
    #[serde(default)]
    pub branch: Sensitive,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: Sensitive,
}

/// How an emergency lookup identifies the patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum PatientLookup {
    /// The card in this reader (certificate only, no PIN).
    Card { reader: String },
    /// Four facts, all required; partial match only on `insurer_or_address`.
    FourFacts {
        name: Sensitive,
        birth_date: Sensitive,
        sex: Sex,
        insurer_or_address: Sensitive,
    },
    /// The numbers on an insurance card or 資格確認書 with the birth date (disaster mode only).
    InsuranceNumbers { numbers: InsuranceNumbers },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

/// Successful answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Status(StatusReport),
    Subscribed {
        topics: Vec<Topic>,
    },
    /// The request was taken; its effect arrives as events (kiosk actions).
    Accepted,
    CheckIns {
        check_ins: Vec<CheckInRecord>,
    },
    CheckIn {
        check_in: CheckInRecord,
    },
    /// The answer to [`Request::CheckInsOfDay`]: the day (`YYYY-MM-DD`, JST) and its check-ins.
    DayCheckIns {
        date: String,
        today: bool,
        check_ins: Vec<CheckInRecord>,
    },
    OutboxSummary {
        counts: OutboxCounts,
    },
    LoggedIn {
        session: Secret,
        role: Role,
        emergency_permission: bool,
        /// Both factors were checked (needed for emergency viewing).
        #[serde(default)]
        two_factor: bool,
        #[serde(default)]
        display_name: String,
        /// The session ends after this long without a request (and when the connection closes).
        #[serde(default)]
        idle_timeout_secs: u64,
        /// The password must be changed before anything else ([`Request::ChangePassword`]).
        #[serde(default)]
        must_change_password: bool,
    },
    LoggedOut,
    /// Payloads whose schema belongs to the message crate (medical information, emergency summary); carried as
    /// JSON until those types are shared.
    Document {
        schema: String,
        body: serde_json::Value,
    },
    /// A new TOTP secret to show once: as text, as an `otpauth://` URI and as a QR code (SVG markup).
    TotpEnrolment {
        secret_base32: Secret,
        otpauth_uri: Secret,
        qr_svg: Secret,
    },
    Accounts {
        accounts: Vec<AccountView>,
    },
    Account {
        account: AccountView,
    },
    /// An emergency or disaster view: what the screen shows.
    MedicalView(Box<MedicalView>),
    DisasterStatus(DisasterStatusView),
    AuditVerdict(AuditVerdictView),
    /// The answer to [`Request::EmergencyReview`]: the views, oldest first, and the files written.
    EmergencyReview {
        rows: Vec<EmergencyReviewRow>,
        #[serde(default)]
        files: Vec<String>,
        /// Set when the review could read only this terminal's log (the facility server was away): what
        /// the screen and the files say about it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice: Option<String>,
    },
    Unconfirmed {
        entry: Box<UnconfirmedView>,
    },
    UnconfirmedList {
        entries: Vec<UnconfirmedView>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_run: Option<RecheckRunView>,
    },
    RecheckRun {
        run: RecheckRunView,
    },
    /// A file's name and text, for the caller to save (`ExportUnconfirmed`).
    Export {
        file_name: String,
        text: String,
    },
    /// The answer to [`Request::ManualCheck`].
    Eligibility {
        result: EligibilityView,
    },
    ConsentedPatients {
        patients: Vec<ConsentedPatientView>,
    },
    MedicalInfo {
        view: MedicalInfoView,
    },
    /// The answer to [`Request::Usage`].
    Usage {
        usage: UsageView,
    },
    /// The 環境設定情報 (field names as the central service's JSON).
    EnvironmentSettings {
        facility_code: String,
        facility_name: String,
        settings: serde_json::Value,
    },
    /// The answer to [`Request::FacilityOptions`].
    FacilityOptions(FacilityOptionsView),
}

/// The facility's own emergency-viewing settings (seed 000: 項目表示順・表示対象とする期間; seed 004: 救急専用端末).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilityOptionsView {
    /// 救急専用端末: the terminals (host names) that may look up in an emergency; empty: every terminal.
    pub emergency_terminals: Vec<String>,
    /// How every list of the emergency summary is ordered.
    pub summary_order: SummaryOrder,
    /// The period of 受診歴・薬剤・診療・透析 in months (1–3; the national summary's is 3).
    pub summary_months: u8,
    /// The name of the terminal answering (what to list to make it a 救急専用端末).
    pub this_terminal: String,
}

/// The order of the emergency summary's lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryOrder {
    /// 新しい順 (the default).
    #[default]
    NewestFirst,
    /// 古い順.
    OldestFirst,
}

impl SummaryOrder {
    /// The setting's value (`newest_first`, `oldest_first`).
    pub fn as_str(self) -> &'static str {
        match self {
            SummaryOrder::NewestFirst => "newest_first",
            SummaryOrder::OldestFirst => "oldest_first",
        }
    }

    /// The inverse of [`SummaryOrder::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "newest_first" => Some(SummaryOrder::NewestFirst),
            "oldest_first" => Some(SummaryOrder::OldestFirst),
            _ => None,
        }
    }
}

/// One check by the numbers on an insurance card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityView {
    pub outcome: CheckInOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<Box<PatientView>>,
    /// The central service's error code when nobody could be checked (not found, several found …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Its message, to show as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// RFC 3339.
    pub checked_at: String,
}

/// A row of 同意取得済み患者一覧.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentedPatientView {
    /// Pseudonymous reference for [`Request::MedicalInfo`] (not an identifier of the patient).
    pub patient_ref: String,
    pub name: Sensitive,
    pub kana: Sensitive,
    pub sex: Sex,
    pub birth_date: Sensitive,
    pub insurer_number: Sensitive,
    /// RFC 3339, the latest consent.
    pub consented_at: String,
    /// RFC 3339, when the earliest of the consents ends.
    pub expires_at: String,
    /// 診: 診療・薬剤情報.
    pub medical: bool,
    /// 手: 手術情報.
    pub surgery: bool,
    /// 特定健診情報.
    pub checkup: bool,
    /// 記号, 番号, 枝番 (the 患者情報詳細 and the forms' header).
    #[serde(default)]
    pub symbol: Sensitive,
    #[serde(default)]
    pub number: Sensitive,
    #[serde(default)]
    pub branch: Sensitive,
    /// 保険者名称.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurer_name: Option<String>,
    /// 生年月日 in 和暦 (`昭和25年1月2日`, 患者情報詳細) and as the forms print it (`1962年5月21日`).
    #[serde(default)]
    pub birth_date_wareki: Sensitive,
    #[serde(default)]
    pub birth_date_long: Sensitive,
    /// Full years today (the store's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<u16>,
}

/// Consented medical information of one patient for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalInfoView {
    pub info: MedicalInfoKind,
    /// `YYYY-MM-DD`.
    pub from: String,
    pub to: String,
    /// Treatments, prescriptions, dispensing (medication) or operations (surgery), oldest first.
    #[serde(default)]
    pub lines: Vec<MedicalLine>,
    /// Health checkups (health_checkup), newest first.
    #[serde(default)]
    pub checkups: Vec<CheckupView>,
    /// 作成日 as the forms print it (`2023年3月27日`, the store's clock).
    #[serde(default)]
    pub created_on: String,
    /// The last month shown (`2023年2月`), for 「この診療／薬剤情報一覧は、…までの…」.
    #[serde(default)]
    pub through_month: String,
    /// The lines of 特定健康診査受診結果 in order (health_checkup), so that the form prints every line, with
    /// 「—」 where a checkup has no value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkup_form: Vec<CheckupFormRow>,
}

/// One line of the official 特定健康診査受診結果.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckupFormRow {
    /// 基本項目, 血圧, 脂質, 肝機能, 血糖, 尿検査, 詳細項目, or 所見 (既往歴・自覚症状・他覚症状).
    pub group: String,
    pub label: String,
    /// The 受診勧奨判定値 as printed (empty when the line has none).
    pub range: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalLine {
    /// `YYYYMMDD` (or `YYYYMM` for a month's treatment).
    pub date: String,
    pub facility: String,
    /// 区分 and code, e.g. `調剤 620000001`.
    pub code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// 診療, 処方, 調剤, 手術 or 透析.
    #[serde(default)]
    pub kind: String,
    /// 入外等: 入院 / 外来 (診療), the 処方区分 院内 / 院外 (処方・調剤).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_out: Option<String>,
    /// 使用区分 of a drug: 内服 / 屯服 / 外用.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_class: Option<String>,
    /// 成分名 of a drug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingredient: Option<String>,
    /// ＜1回用量＞ of a drug, e.g. `1回1錠` (its 【用法】 is `detail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<String>,
    /// 用法等の特別指示 of a drug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_instruction: Option<String>,
    /// The date as the official list prints it: `22年7月` and `19日` (no day for a month's treatment).
    #[serde(default)]
    pub month_label: String,
    #[serde(default)]
    pub day_label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckupView {
    /// `YYYYMMDD`.
    pub date: String,
    pub facility: String,
    pub values: Vec<CheckupValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckupValue {
    pub item: String,
    pub value: String,
    pub unit: String,
    /// ▲ at or above, ▽ at or below the 受診勧奨判定値; absent inside it or when the item has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<RangeFlag>,
    /// The 受診勧奨判定値 as the official form prints it, e.g. `▲140以上`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// JLAC10 項目コード.
    #[serde(default)]
    pub code: String,
    /// The form's group (基本項目, 血圧, 脂質, 肝機能, 血糖, 尿検査, 詳細項目, or 所見 for 既往歴・自覚症状・
    /// 他覚症状); absent for an item the official form does not print.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The line on the official form (its order), with `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u32>,
    /// The item's name as the official form prints it, with `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeFlag {
    High,
    Low,
}

/// An account as the administrator's screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub account: String,
    pub display_name: String,
    pub role: Role,
    /// 救急時医療情報閲覧権限.
    pub emergency_permission: bool,
    pub totp_enrolled: bool,
    pub disabled: bool,
    /// Locked after repeated failures until this time (RFC 3339), if locked now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<String>,
    pub failed_attempts: u32,
    /// A password set by set-up or a reset, to be changed at the next login.
    #[serde(default)]
    pub must_change_password: bool,
    /// The last complete login (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
}

/// One emergency view in the review list (who, when, which patient reference, why, how).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyReviewRow {
    pub audit_id: i64,
    /// `YYYY-MM-DD HH:MM:SS`: the central service's access time (what the patient sees), else the terminal's.
    pub at: String,
    /// Display name and account.
    pub viewer: String,
    /// The pseudonymous patient reference of the audit log (never an identifier of the patient).
    pub patient_ref: String,
    pub reason: String,
    /// How the patient was identified (card, four facts, insurance numbers).
    pub method: String,
    pub items: Vec<String>,
    /// What happened, in Japanese: 救急時医療情報閲覧, or a lookup whose outcome was never recorded
    /// (救急時医療情報閲覧（照会のみ記録・結果の記録なし）: the daemon stopped after sending it).
    #[serde(default)]
    pub action: String,
    /// The terminal whose log holds the row, with a facility-wide store (`audit_id` is that terminal's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<String>,
}

/// Which special viewing produced a [`MedicalView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewMode {
    /// 救急時医療情報閲覧
    Emergency,
    /// 災害時医療情報閲覧
    Disaster,
}

/// An emergency or disaster view. The screen must show `notice` and `viewer` plainly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalView {
    pub mode: ViewMode,
    /// What the screen states (an emergency view / an exceptional disaster-time view, and that it is logged).
    pub notice: String,
    /// Who is viewing: display name and account.
    pub viewer: String,
    /// When the central service recorded the access (`yyyyMMddHHmmss`, JST); the patient sees this time.
    pub accessed_at: String,
    /// How the patient was identified: `card`, `four_facts` or `insurance_numbers`.
    pub method: String,
    /// The items shown, as recorded in the audit log and at the central service.
    pub items: Vec<String>,
    pub patient: LookedUpPatient,
    pub summary: EmergencySummary,
    /// The facility's order of the summary's lists, as applied by the daemon.
    #[serde(default)]
    pub summary_order: SummaryOrder,
    /// The period of 受診歴・薬剤・診療・透析 in months, as applied (0 from a daemon before the setting).
    #[serde(default)]
    pub summary_months: u8,
}

/// The patient a special view found. Every identifier is [`Sensitive`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookedUpPatient {
    pub name: Sensitive,
    pub kana: Sensitive,
    pub sex: Sex,
    /// `YYYY-MM-DD`.
    pub birth_date: Sensitive,
    pub insurer_number: Sensitive,
    pub insurer_name: String,
    pub symbol: Sensitive,
    pub number: Sensitive,
    pub branch: Sensitive,
    /// OQSCD006 資格有効性 code (1 有効, 2 無効, 3 有効期限切れ …).
    pub qualification_validity: String,
}

/// 救急用サマリー, with the periods of the national service.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencySummary {
    /// 受診歴, 3 months.
    pub visits: Vec<SummaryItem>,
    /// 薬剤, 3 months.
    pub medications: Vec<SummaryItem>,
    /// 診療, 3 months.
    pub treatments: Vec<SummaryItem>,
    /// 手術, 5 years.
    pub surgeries: Vec<SummaryItem>,
    /// 透析, 3 months.
    pub dialysis: Vec<SummaryItem>,
    /// 電子処方箋, 45 days.
    pub e_prescriptions: Vec<SummaryItem>,
    /// 健診 dates (`YYYYMMDD`).
    pub checkup_dates: Vec<String>,
}

impl std::fmt::Debug for EmergencySummary {
    /// Medical information stays out of logs: only the counts.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmergencySummary")
            .field("visits", &self.visits.len())
            .field("medications", &self.medications.len())
            .field("treatments", &self.treatments.len())
            .field("surgeries", &self.surgeries.len())
            .field("dialysis", &self.dialysis.len())
            .field("e_prescriptions", &self.e_prescriptions.len())
            .field("checkup_dates", &self.checkup_dates.len())
            .finish()
    }
}

/// One dated line of the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryItem {
    /// `YYYYMMDD`.
    pub date: String,
    pub facility: String,
    #[serde(default)]
    pub code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Whether disaster-time viewing is open for the facility.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisasterStatusView {
    pub open: bool,
    /// The facility's prefecture code (JIS X 0401) as the central service knows it.
    pub prefecture: u8,
    /// Windows for the facility's prefecture (open, past and future); times `yyyyMMddHHmmss` JST.
    pub windows: Vec<DisasterWindow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisasterWindow {
    pub from: String,
    pub to: String,
}

/// The result of checking the audit log's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerdictView {
    pub intact: bool,
    /// Rows checked (when intact).
    pub rows: u64,
    /// The first row that does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_row: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 受付.
    Staff,
    /// 管理アカウント.
    Administrator,
    /// 医療情報閲覧アカウント.
    MedicalInformationViewer,
    /// マスタアカウント (made at set-up; administers accounts only).
    Master,
    /// マスタアカウントリセット用アカウント (its password is the 秘密の番号; resets the master's password only).
    MasterReset,
}

/// `oqs status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub daemon_version: String,
    pub protocol: u32,
    pub readers: Vec<ReaderStatus>,
    pub central: CentralLink,
    pub outbox: OutboxCounts,
    /// Seconds since the daemon started (0 from daemons that do not say).
    #[serde(default)]
    pub uptime_secs: u64,
    /// When the daemon started (local time, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When the central service last answered anything (local time, RFC 3339); `None`: not since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_central_contact: Option<String>,
    /// The facility-wide store (`[store] shared`); `None` on a terminal that has only its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_store: Option<SharedStoreLink>,
    /// What this terminal is for (reception unless a daemon says otherwise).
    #[serde(default)]
    pub role: TerminalRole,
}

/// The link to the facility-wide store (院内サーバ, PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedStoreLink {
    /// False: 「院内サーバに接続できません (この端末のみの表示)」; lists show this terminal's rows only.
    pub reachable: bool,
    /// This terminal's changes not yet in the facility-wide store.
    pub pending: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderStatus {
    pub name: String,
    pub card_present: bool,
    pub kiosk: KioskScreen,
    /// The facility's display for a new patient (the patient may change it on the first screen).
    #[serde(default)]
    pub display: KioskDisplay,
    /// Seconds left before the inactivity time-out, while the kiosk counts down (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countdown: Option<u32>,
}

/// How the kiosk is laid out for a new patient: the facility's default, which the patient may change on the
/// first screen for their own check-in (`[kiosk] default_layout`, `default_high_contrast`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskDisplay {
    #[serde(default)]
    pub layout: KioskLayout,
    /// 「大きな文字・白黒反転」: light text on black, larger type, every pair 7:1 or more.
    #[serde(default)]
    pub high_contrast: bool,
    /// The spoken guidance (`[kiosk] voice`, `voice_volume`).
    #[serde(default)]
    pub voice: KioskVoice,
}

/// The kiosk's spoken guidance: each screen's text and every notice said aloud in the patient's language,
/// made on the kiosk PC (Open JTalk, espeak-ng).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KioskVoice {
    /// False: the kiosk says nothing (its 🔊 button is not shown).
    pub on: bool,
    /// The playback volume, 0.0 to 1.0.
    pub volume: f32,
}

impl Default for KioskVoice {
    fn default() -> Self {
        Self {
            on: true,
            volume: 0.8,
        }
    }
}

/// The daemon's configuration check keeps `volume` within 0.0–1.0, never NaN, so equality is an equivalence.
impl Eq for KioskVoice {}

/// Where the kiosk's controls are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KioskLayout {
    #[default]
    Standard,
    /// 「車いす・座ったまま」: every control in the lower half of the screen, in reach from a wheelchair.
    Seated,
}

/// The link to the central service, as the health probe sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CentralLink {
    Up,
    /// 通信障害: since when (RFC 3339) and what the last probe saw.
    Down {
        since: String,
        reason: String,
    },
    Unknown,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxCounts {
    pub received: u64,
    pub sending: u64,
    pub answered: u64,
    pub failed: u64,
}

/// What the kiosk shows; the UI renders it as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
pub enum KioskScreen {
    Idle,
    CardPresent,
    MethodChoice {
        methods: Vec<AuthMethod>,
        /// The card's certificate, when the patient must be told to renew it (`expiring`: within three
        /// months; `expired_in_grace`: expired, qualification only). Absent when it is valid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate: Option<CertificateState>,
    },
    PinEntry {
        tries_left: u8,
    },
    /// 「カメラを見てください」: face matching, attempt `attempt` of `attempts`; `guidance` says what to change
    /// after an attempt that did not match (absent on the first).
    FaceCapture {
        #[serde(default)]
        attempt: u8,
        #[serde(default)]
        attempts: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        guidance: Option<FaceGuidance>,
    },
    StaffVisualCheck,
    Consent {
        item: ConsentItem,
    },
    Querying,
    Result {
        check_in_id: String,
        outcome: CheckInOutcome,
    },
    /// A stop with a message (locked card, removed card, timeout …); back to idle after the card is removed.
    Notice {
        notice: KioskNotice,
    },
}

/// What the patient should change before the next face attempt, with the message the kiosk shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceGuidance {
    /// `no_face`, `several_faces`, `too_small`, `cut_off`, `too_dark`, `too_bright`, `backlit`, `blurred`,
    /// `photo_or_screen` (a photo or a screen held up to the camera: the attempt failed), `not_matched` (a
    /// good picture that did not match the card photo) or `camera_error`.
    pub reason: String,
    /// The message for the patient (Japanese).
    pub message: String,
}

/// Messages the kiosk shows when a check-in cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KioskNotice {
    CardRemoved,
    Timeout,
    NotMyNumberCard,
    PinLocked,
    WrongPin,
    FaceOnlyCard,
    CertificateExpired,
    CertificateRevoked,
    /// The smartphone's certificate has expired (a phone has no three-month grace).
    PhoneCertificateExpired,
    ReaderError,
    /// The patient stopped the check-in on the kiosk (中止).
    Cancelled,
    #[serde(other)]
    Other,
}

/// Eligibility as the kiosk and reception see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckInOutcome {
    /// 有効
    Valid,
    /// 無効
    Invalid,
    /// 該当資格なし
    NoQualification,
    /// 未確認 (通信障害): taken during an outage, completed when the central service is back.
    PendingOutage,
    #[serde(other)]
    Other,
}

/// One check-in for the reception window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInRecord {
    pub check_in_id: String,
    /// RFC 3339.
    pub at: String,
    pub reader: String,
    pub method: AuthMethod,
    pub outcome: CheckInOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<Box<PatientView>>,
    #[serde(default)]
    pub consents: Vec<ConsentItem>,
    /// 資格有効性 of the central answer, as the code table (OQSCD006) has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
    /// The state of the card's electronic certificate (card check-ins answered by the central service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateState>,
    /// 受診区分 as reception tagged the visit (外来 unless changed).
    #[serde(default)]
    pub visit: Visit,
    /// When the card's 利用者証明用 certificate expires (`YYYY-MM-DD`, JST), where the kiosk read it: the
    /// renewal slip's date, from the card itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_expires_on: Option<String>,
    /// For a certificate in its grace, the last day it confirms qualification (`YYYY-MM-DD`, JST: the end of
    /// the third month after the expiry month).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_grace_until: Option<String>,
}

/// 受診区分 of a visit: where the patient is seen. The 閲覧 requests for the visit carry the matching
/// `MedicalTreatmentFlag` (OQSCD028: 1 外来, 2 訪問診療等, 3 オンライン診療等).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visit {
    /// 外来: at the facility.
    #[default]
    Outpatient,
    /// 訪問: a home visit (訪問診療・訪問看護等).
    HomeVisit,
    /// オンライン: an online consultation.
    Online,
}

impl Visit {
    /// The code the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Visit::Outpatient => "outpatient",
            Visit::HomeVisit => "home_visit",
            Visit::Online => "online",
        }
    }

    /// The visit of a stored code; `None` for a code this build does not know.
    pub fn parse(code: &str) -> Option<Self> {
        [Visit::Outpatient, Visit::HomeVisit, Visit::Online]
            .into_iter()
            .find(|v| v.as_str() == code)
    }
}

/// Why a visit's qualification could not be confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnconfirmedReason {
    /// 資格無効.
    Invalid,
    /// 該当資格なし.
    NoQualification,
    /// 未確認 (通信障害): the central service could not be reached.
    Outage,
    /// The card reader or the terminal failed.
    ReaderFault,
    /// A check by numbers found nobody.
    NotFound,
}

impl UnconfirmedReason {
    pub const ALL: [Self; 5] = [
        Self::Invalid,
        Self::NoQualification,
        Self::Outage,
        Self::ReaderFault,
        Self::NotFound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::NoQualification => "no_qualification",
            Self::Outage => "outage",
            Self::ReaderFault => "reader_fault",
            Self::NotFound => "not_found",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// The words reception reads.
    pub fn label(self) -> &'static str {
        match self {
            Self::Invalid => "資格無効",
            Self::NoQualification => "該当資格なし",
            Self::Outage => "通信障害",
            Self::ReaderFault => "機器の故障",
            Self::NotFound => "番号で該当なし",
        }
    }
}

/// The paths of 保発0710第1号 when the online check cannot confirm a qualification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackPath {
    /// The numbers on a 資格確認書, a 資格情報のお知らせ or an old 保険証, checked by numbers (照会区分 numbers).
    Numbers,
    /// The patient showed the 資格情報 screen of their own マイナポータル (recorded as such).
    Mynaportal,
    /// 被保険者資格申立書: printed pre-filled, signed by the patient, the share claimed recorded.
    Declaration,
    /// A returning patient billed on their last known qualification.
    LastKnown,
}

impl FallbackPath {
    pub const ALL: [Self; 4] = [
        Self::Numbers,
        Self::Mynaportal,
        Self::Declaration,
        Self::LastKnown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numbers => "numbers",
            Self::Mynaportal => "mynaportal",
            Self::Declaration => "declaration",
            Self::LastKnown => "last_known",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == code)
    }

    /// The words reception reads.
    pub fn label(self) -> &'static str {
        match self {
            Self::Numbers => "資格確認書等の番号",
            Self::Mynaportal => "マイナポータルの資格情報画面",
            Self::Declaration => "被保険者資格申立書",
            Self::LastKnown => "前回の資格（再来）",
        }
    }
}

/// What the patient claimed; any field may be empty when unknown (「不詳」).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedNumbers {
    #[serde(default)]
    pub insurer_number: Sensitive,
    #[serde(default)]
    pub symbol: Sensitive,
    #[serde(default)]
    pub number: Sensitive,
    #[serde(default)]
    pub branch: Sensitive,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub birth_date: Sensitive,
    /// 保険者名称 as the patient wrote it.
    #[serde(default)]
    pub insurer_name: Sensitive,
    /// The patient's name, when the check-in holds none.
    #[serde(default)]
    pub name: Sensitive,
}

/// One entry of the 要再確認 list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnconfirmedView {
    pub id: i64,
    /// RFC 3339.
    pub opened_at: String,
    pub opened_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_in_id: Option<String>,
    pub reason: UnconfirmedReason,
    pub path: FallbackPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<u8>,
    /// The patient's name (the check-in's, else the 申立書's) and kana.
    #[serde(default)]
    pub name: Sensitive,
    #[serde(default)]
    pub kana: Sensitive,
    pub claim: ClaimedNumbers,
    /// `open`, `confirmed` (a re-check found a valid qualification) or `closed` (by a staff member).
    pub state: String,
    pub checks: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked_at: Option<String>,
    /// `valid`, `invalid`, `no_qualification`, `not_found`, `other`, or `unreachable` (not answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
    /// What the last check found, in words.
    #[serde(default)]
    pub outcome_text: Sensitive,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    /// `recheck` when a re-check confirmed it, else the staff member's login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

/// One run of the re-check of open entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecheckRunView {
    /// RFC 3339.
    pub at: String,
    /// `daily` (the set time; made at start when the daemon was not running then), `before_receipt` (the
    /// monthly run before the レセプト), `manual`.
    pub kind: String,
    pub checked: u32,
    pub confirmed: u32,
    /// Entries without numbers to check (「不詳」): left for staff.
    pub without_numbers: u32,
    /// Checks the central service did not answer (kept open, tried at the next run).
    pub unanswered: u32,
    pub still_open: u32,
}

/// 資格有効性 (OQSCD006): the code and its meaning as the code table writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    /// `1`…`6`, or a code outside the table kept verbatim.
    pub code: String,
    /// 有効, 無効, 無効（新しい資格あり）, 該当資格なし, 複数該当（医療保険のみ）, 有効（未登録）（医療扶助のみ）.
    pub label: String,
}

/// The My Number Card's 利用者証明用電子証明書 as the central service judged it at a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateState {
    /// Valid for more than three months.
    Valid,
    /// Expires within three months: the patient should renew it at the municipality.
    Expiring,
    /// Expired, but within the three-month grace: qualification only, no medical information.
    ExpiredInGrace,
}

/// Usage figures of the facility, from its own check-in records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageView {
    pub months: Vec<UsageMonth>,
    /// Check-ins (all methods) by hour of day in JST over the whole period, 24 entries.
    pub by_hour: Vec<u32>,
    /// Check-ins that did not end 有効, by reason, over the whole period.
    pub failures: Vec<UsageFailure>,
    /// The 医療DX推進体制整備加算 thresholds known for the months shown.
    pub thresholds: Vec<UsageThreshold>,
}

/// One month (JST) of eligibility checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Check-ins with the card (PIN, face, 目視確認).
    pub card: u32,
    /// Checks by the numbers on an insurance card or 資格確認書.
    pub numbers: u32,
    /// マイナ保険証利用率 in percent: card ÷ (card + numbers); absent when there was no check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_percent: Option<f64>,
}

/// How many check-ins ended with one outcome other than 有効.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageFailure {
    pub outcome: CheckInOutcome,
    pub count: u32,
}

/// A fee tier's マイナ保険証利用率 threshold over a span of months.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageThreshold {
    /// `加算1`, `加算2`, `加算3`.
    pub tier: String,
    /// First and last month it applies to (`YYYY-MM`).
    pub from: String,
    pub to: String,
    pub percent: f64,
}

/// What reception shows of a patient. Every identifier is [`Sensitive`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientView {
    pub name: Sensitive,
    pub kana: Sensitive,
    pub sex: Sex,
    pub birth_date: Sensitive,
    pub insurer_number: Sensitive,
    pub symbol: Sensitive,
    pub number: Sensitive,
    pub branch: Sensitive,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// 保険者名称.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurer_name: Option<String>,
    /// The name reception typed because the central service's name has characters it could not show
    /// (外字, shown as ●); kept only at this facility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_name: Option<Sensitive>,
    /// The name holds 〓 (a character the facility's 利用文字コード cannot carry, replaced in the `face/` file)
    /// or ● (外字 the central service could not show): reception should type the local name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub name_needs_local: bool,
    /// 限度額適用認定証 information was provided (consented and present).
    #[serde(default)]
    pub limit_certificate: bool,
    /// 特定疾病療養受療証 information is present.
    #[serde(default)]
    pub specific_disease: bool,
    /// 郵便番号 (`123-4567`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Sensitive>,
    /// 住所.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Sensitive>,
    /// 資格喪失年月日 (`yyyyMMdd`) of a qualification that ended (無効, 無効（新しい資格あり）).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disqualified_on: Option<String>,
    /// 生年月日, 有効期限 and 資格喪失年月日 in 和暦 as the receipt computer's list prints them (`H 2. 1. 5`,
    /// crates/wareki), formatted by the daemon; empty / absent when the date is.
    #[serde(default)]
    pub birth_date_wareki: Sensitive,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until_wareki: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disqualified_on_wareki: Option<String>,
    /// 医療扶助 (生活保護) of the patient: the `InsuredCardClassification` A1 qualification of the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medical_aid: Option<MedicalAidView>,
    /// The record carries the DV・虐待 restriction: the address was removed by the daemon and staff must not
    /// tell anyone where the patient can be found.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restricted: bool,
    /// 医療費助成の受給者証 (公費, PMH) the patient chose to use at the kiosk (利用する).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsidies: Vec<SubsidyView>,
}

/// One 医療費助成 受給者証 (公費, PMH).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubsidyView {
    /// 公費負担者番号.
    pub public_expense_number: String,
    /// 受給者番号.
    pub beneficiary_number: Sensitive,
    /// 制度名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 自己負担上限額 per month (yen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_pay_limit: Option<String>,
    /// 有効終了日 (`yyyyMMdd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
}

/// 医療扶助 (生活保護) as reception sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalAidView {
    /// 公費負担者番号 (identifies the welfare office, not the person).
    pub public_expense_number: String,
    /// 受給者番号.
    pub beneficiary_number: Sensitive,
    /// 福祉事務所名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welfare_office: Option<String>,
    /// 保護開始日 (`yyyyMMdd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The 医療券・調剤券 of the answer.
    #[serde(default)]
    pub tickets: Vec<MedicalTicketView>,
    /// No ticket was registered by the welfare office (資格有効性 6 or an A1 record without tickets): the
    /// screen says 「未委託」 and what to do.
    #[serde(default)]
    pub unregistered: bool,
}

/// One 医療券 or 調剤券.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalTicketView {
    /// 医療券, 調剤券, or the code as sent when it is not one the project knows.
    pub kind: String,
    /// 交付番号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_number: Option<String>,
    /// 診療年月 (`yyyyMM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment_month: Option<String>,
    /// 有効開始日 / 有効終了日 (`yyyyMMdd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
    /// 指定医療機関名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub designated_institution: Option<String>,
    /// 傷病名 (up to three).
    #[serde(default)]
    pub injuries: Vec<Sensitive>,
    /// 本人支払額 (yen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_pay: Option<String>,
    /// 地区担当員名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_contact: Option<Sensitive>,
    /// 単独 or 併用 (or the code as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_with_insurance: Option<String>,
}

/// Events pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Reader {
        reader: String,
        change: ReaderChange,
    },
    Kiosk {
        reader: String,
        screen: KioskScreen,
        /// The facility's display for a new patient.
        #[serde(default)]
        display: KioskDisplay,
        /// Seconds left before the inactivity time-out, while the kiosk counts down (absent otherwise); the
        /// daemon sends one event per second of the countdown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        countdown: Option<u32>,
    },
    CheckIn {
        check_in: CheckInRecord,
    },
    Outbox {
        counts: OutboxCounts,
    },
    CentralLink {
        link: CentralLink,
    },
    /// The facility-wide store became reachable or unreachable (or its count of unsent changes moved).
    SharedStore {
        link: SharedStoreLink,
    },
    /// This subscriber was too slow and missed `missed` events; it should re-read state (e.g. `Status`).
    Lagged {
        missed: u64,
    },
}

impl Event {
    /// The topic this event belongs to; `None` for connection-level notices that every subscriber gets.
    pub fn topic(&self) -> Option<Topic> {
        match self {
            Event::Reader { .. } => Some(Topic::Reader),
            Event::Kiosk { .. } => Some(Topic::Kiosk),
            Event::CheckIn { .. } => Some(Topic::CheckIn),
            Event::Outbox { .. } => Some(Topic::Outbox),
            Event::CentralLink { .. } => Some(Topic::CentralLink),
            Event::SharedStore { .. } => Some(Topic::SharedStore),
            Event::Lagged { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderChange {
    Attached,
    Detached,
    CardInserted,
    CardRemoved,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn wire_examples() {
        let hello = Hello {
            protocol: 1,
            token: Some(Secret::new("9f")),
            client: "oqs 0.1.0".into(),
            scope: Scope::Staff,
        };
        assert_eq!(
            json(&hello),
            r#"{"type":"hello","protocol":1,"token":"9f","client":"oqs 0.1.0","scope":{"role":"staff"}}"#
        );
        let welcome = HandshakeReply::Welcome {
            protocol: 1,
            server: "oqs-readerd 0.1.0".into(),
            scope: Some(Scope::Staff),
        };
        assert_eq!(
            json(&welcome),
            r#"{"type":"welcome","protocol":1,"server":"oqs-readerd 0.1.0","scope":{"role":"staff"}}"#
        );
        let kiosk = Hello {
            protocol: 1,
            token: Some(Secret::new("9f")),
            client: "oqs-terminal kiosk".into(),
            scope: Scope::Kiosk {
                reader: Some("Reader A".into()),
            },
        };
        assert_eq!(
            json(&kiosk),
            r#"{"type":"hello","protocol":1,"token":"9f","client":"oqs-terminal kiosk","scope":{"role":"kiosk","reader":"Reader A"}}"#
        );
        // Clients from before scopes are staff clients; daemons from before scopes grant nothing a kiosk
        // could rely on.
        let old: Hello =
            serde_json::from_str(r#"{"type":"hello","protocol":1,"token":"9f","client":"oqs"}"#)
                .unwrap();
        assert_eq!(old.scope, Scope::Staff);
        let old: HandshakeReply =
            serde_json::from_str(r#"{"type":"welcome","protocol":1,"server":"old"}"#).unwrap();
        assert!(matches!(old, HandshakeReply::Welcome { scope: None, .. }));
        let subscribe = ClientFrame::Request {
            id: 1,
            request: Request::Subscribe {
                topics: vec![Topic::CheckIn],
            },
        };
        assert_eq!(
            json(&subscribe),
            r#"{"type":"request","id":1,"request":{"kind":"subscribe","topics":["check_in"]}}"#
        );
        let subscribed = ServerFrame::Response {
            id: 1,
            outcome: Outcome::Ok {
                response: Response::Subscribed {
                    topics: vec![Topic::CheckIn],
                },
            },
        };
        assert_eq!(
            json(&subscribed),
            r#"{"type":"response","id":1,"outcome":{"status":"ok","response":{"kind":"subscribed","topics":["check_in"]}}}"#
        );
        let pin = ClientFrame::Request {
            id: 2,
            request: Request::Kiosk {
                reader: None,
                action: KioskAction::EnterPin {
                    pin: Pin::new("1234").unwrap(),
                },
            },
        };
        assert_eq!(
            json(&pin),
            r#"{"type":"request","id":2,"request":{"kind":"kiosk","action":{"action":"enter_pin","pin":"1234"}}}"#
        );
        let error = ServerFrame::Response {
            id: 2,
            outcome: Outcome::Err {
                error: ErrorBody::new(ErrorCode::InvalidState, "no card"),
            },
        };
        assert_eq!(
            json(&error),
            r#"{"type":"response","id":2,"outcome":{"status":"err","error":{"code":"invalid_state","message":"no card"}}}"#
        );
        let event = ServerFrame::Event {
            event: Event::Outbox {
                counts: OutboxCounts {
                    received: 3,
                    ..OutboxCounts::default()
                },
            },
        };
        assert_eq!(
            json(&event),
            r#"{"type":"event","event":{"event":"outbox","counts":{"received":3,"sending":0,"answered":0,"failed":0}}}"#
        );
    }

    #[test]
    fn debug_of_messages_hides_secrets_and_identifiers() {
        let login = Request::Login {
            account: "dr".into(),
            password: Secret::new("hunter2"),
            totp: Some(Secret::new("123456")),
        };
        let numbers = Request::ManualCheck {
            numbers: InsuranceNumbers {
                insurer_number: Sensitive::new("06139876"),
                symbol: Sensitive::new("記号"),
                number: Sensitive::new("87654321"),
                branch: Sensitive::new("03"),
                birth_date: Sensitive::new("1980-04-17"),
            },
            session: None,
            ahead: false,
        };
        let hello = Hello {
            protocol: 1,
            token: Some(Secret::new("tok3n")),
            client: "c".into(),
            scope: Scope::Staff,
        };
        let debug = format!("{login:?} {numbers:?} {hello:?}");
        for secret in [
            "hunter2",
            "123456",
            "06139876",
            "記号",
            "87654321",
            "1980-04-17",
            "tok3n",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked into {debug}");
        }
    }
}
