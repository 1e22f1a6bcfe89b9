//! The daemon's side of the local socket: requests from the app and the `oqs` tool, answered from the
//! kiosk task, the store, the relay and the central link. Errors are typed ([`ErrorCode`]) with a sentence
//! a clerk or an IT vendor can act on; internal details stay in the daemon's log.

use std::sync::Arc;
use std::time::Instant;

use central_client::{CentralClient, LinkState};
use facility_store::Store;
use terminal_ipc::{
    CentralLink, ErrorBody, ErrorCode, Handler, IpcToken, OutboxCounts, PROTOCOL_VERSION, PeerInfo,
    Request, Response, StatusReport,
};
use tracing::warn;

use crate::accounts::{AccountChange, Accounts};
use crate::emergency::SpecialViews;
use crate::reception::{Reception, reception_records};
use crate::station::StationHandle;

/// Answers requests on the local socket.
pub struct DaemonHandler {
    pub station: StationHandle,
    pub store: Arc<Store>,
    pub central: CentralClient,
    pub started: Instant,
    /// Wall-clock start, reported so an operator can match it with the journal.
    pub started_at: std::time::SystemTime,
    /// Logins, sessions and account administration ([`crate::accounts`]).
    pub accounts: Arc<Accounts>,
    /// Emergency and disaster viewing ([`crate::emergency`]).
    pub views: Arc<SpecialViews>,
    /// Checks by numbers and consented-information viewing ([`crate::reception`]).
    pub reception: Arc<Reception>,
    /// A 閲覧用端末 answers only what [`viewer_permits`] lets through.
    pub role: terminal_ipc::TerminalRole,
}

/// What a 閲覧用端末 (`[terminal] role = "viewer"`) answers: the lists and the facility's consented patients'
/// information, logins, the emergency and disaster views and the audit checks. Kiosk, checks, the receipt
/// computer's outbox, the 要再確認 list's changes, settings and account administration are a reception
/// terminal's. Every request is named here, so a new one has to be classified.
pub fn viewer_permits(request: &Request) -> bool {
    match request {
        Request::Status
        | Request::Subscribe { .. }
        | Request::Unsubscribe
        | Request::TodayCheckIns
        | Request::CheckInsOfDay { .. }
        | Request::CheckInDetail { .. }
        | Request::ConsentedPatients { .. }
        | Request::MedicalInfo { .. }
        | Request::Login { .. }
        | Request::Logout { .. }
        | Request::BeginTotpEnrolment { .. }
        | Request::ConfirmTotpEnrolment { .. }
        | Request::ChangePassword { .. }
        | Request::EmergencyLookup { .. }
        | Request::EmergencyReview { .. }
        | Request::DisasterStatus
        | Request::DisasterLookup { .. }
        | Request::VerifyAudit { .. } => true,
        Request::Kiosk { .. }
        | Request::Usage { .. }
        | Request::ManualCheck { .. }
        | Request::OutboxSummary
        | Request::SetLocalName { .. }
        | Request::SetVisit { .. }
        | Request::OpenUnconfirmed { .. }
        | Request::UnconfirmedList { .. }
        | Request::RecheckUnconfirmed
        | Request::CloseUnconfirmed { .. }
        | Request::ExportUnconfirmed { .. }
        | Request::EnvironmentSettings { .. }
        | Request::SetEnvironmentSettings { .. }
        | Request::ListAccounts { .. }
        | Request::CreateAccount { .. }
        | Request::SetEmergencyPermission { .. }
        | Request::SetAccountRole { .. }
        | Request::SetAccountDisabled { .. }
        | Request::UnlockAccount { .. }
        | Request::ResetPassword { .. }
        | Request::ResetTotp { .. }
        | Request::FacilityOptions { .. }
        | Request::ChangeSetting { .. } => false,
    }
}

fn local_rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .with_timezone(&chrono::Local)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Writes a fresh client token to `path` (mode 0640, group `group`) and returns it. Written to a temporary
/// name and renamed, so a client never reads half a token; a new token at every start means a token copied
/// from an old run is useless. (On Windows the file takes the ACL of its folder, set by the installer.)
pub fn write_token_file(path: &std::path::Path, group: Option<u32>) -> std::io::Result<IpcToken> {
    use std::io::Write;
    let token = IpcToken::generate().map_err(std::io::Error::other)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(".token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(token.expose().as_bytes())?;
    file.sync_all()?;
    #[cfg(unix)]
    if let Some(gid) = group {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::chown(&tmp, None, Some(gid))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o640))?;
    }
    #[cfg(not(unix))]
    let _ = group;
    std::fs::rename(&tmp, path)?;
    // The rename is durable only once the folder is synced: clients must not find an old token after a
    // power cut while the daemon runs with the new one.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(token)
}

/// The token written by [`write_token_file`].
pub fn read_token_file(path: &std::path::Path) -> std::io::Result<IpcToken> {
    IpcToken::read_file(path)
}

fn internal(what: &str, e: impl std::fmt::Display) -> ErrorBody {
    warn!(error = %e, "{what} failed");
    ErrorBody::new(
        ErrorCode::Internal,
        format!("{what} failed; the daemon's log has the details"),
    )
}

/// The link as clients see it.
pub fn link_view(state: &LinkState) -> CentralLink {
    match state {
        LinkState::Unknown => CentralLink::Unknown,
        LinkState::Up { .. } => CentralLink::Up,
        LinkState::Down { since, reason } => CentralLink::Down {
            since: chrono::DateTime::<chrono::Utc>::from(*since)
                .with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            reason: reason.clone(),
        },
    }
}

pub fn outbox_counts(store: &Store) -> Result<OutboxCounts, facility_store::StoreError> {
    let c = store.outbox_counts()?;
    Ok(OutboxCounts {
        received: c.received,
        sending: c.sending,
        answered: c.answered,
        failed: c.failed,
    })
}

impl Handler for DaemonHandler {
    fn disconnected(&self, peer: &PeerInfo) {
        self.accounts.disconnected(peer.connection_id);
    }

    async fn handle(&self, peer: &PeerInfo, request: Request) -> Result<Response, ErrorBody> {
        // The server already refuses what the connection's scope does not permit; checked again here so the
        // rule holds for any way a request reaches this handler.
        if !peer.scope.permits(&request) {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!(
                    "この画面からは実行できません。This connection may not send `{}`.",
                    request_name(&request)
                ),
            ));
        }
        if self.role == terminal_ipc::TerminalRole::Viewer && !viewer_permits(&request) {
            return Err(ErrorBody::new(
                ErrorCode::ViewerTerminal,
                format!(
                    "閲覧用端末では受付の操作はできません。受付端末で行ってください。This is a viewing terminal \
                     (no reader, no folders): `{}` is done at a reception terminal.",
                    request_name(&request)
                ),
            ));
        }
        match request {
            Request::Status => {
                let store = self.store.clone();
                let outbox = tokio::task::spawn_blocking(move || outbox_counts(&store))
                    .await
                    .map_err(|e| internal("reading the outbox", e))?
                    .map_err(|e| internal("reading the outbox", e))?;
                // A patient's screen bound to a reader sees that reader (or kiosk) only, not what the other
                // kiosks show.
                let mut readers = self.station.readers().await;
                if let terminal_ipc::Scope::Kiosk { reader: Some(own) } = &peer.scope {
                    readers.retain(|r| &r.name == own);
                }
                Ok(Response::Status(StatusReport {
                    daemon_version: format!("oqs-readerd {}", env!("CARGO_PKG_VERSION")),
                    protocol: PROTOCOL_VERSION,
                    readers,
                    central: link_view(&self.central.link_state()),
                    outbox,
                    uptime_secs: self.started.elapsed().as_secs(),
                    started_at: Some(local_rfc3339(self.started_at)),
                    last_central_contact: self.central.last_contact().map(local_rfc3339),
                    shared_store: self.store.shared_status().map(|s| {
                        terminal_ipc::SharedStoreLink {
                            reachable: s.reachable,
                            pending: s.pending,
                        }
                    }),
                    role: self.role,
                }))
            }
            Request::Kiosk { reader, action } => {
                // 目視確認 replaces the card's PIN or face check: only a logged-in staff member may do it, and
                // the kiosk task writes its audit row, naming that account, before it moves.
                let staff =
                    crate::audit_hooks::visual_check_staff(&self.accounts, peer, &action).await?;
                self.station.kiosk(reader, action, staff).await?;
                Ok(Response::Accepted)
            }
            other @ (Request::Login { .. }
            | Request::Logout { .. }
            | Request::BeginTotpEnrolment { .. }
            | Request::ConfirmTotpEnrolment { .. }
            | Request::ListAccounts { .. }
            | Request::CreateAccount { .. }
            | Request::SetEmergencyPermission { .. }
            | Request::SetAccountRole { .. }
            | Request::SetAccountDisabled { .. }
            | Request::UnlockAccount { .. }
            | Request::ResetPassword { .. }
            | Request::ResetTotp { .. }
            | Request::ChangePassword { .. }
            | Request::ChangeSetting { .. }
            | Request::FacilityOptions { .. }
            | Request::EmergencyLookup { .. }
            | Request::DisasterStatus
            | Request::DisasterLookup { .. }
            | Request::VerifyAudit { .. }
            | Request::EmergencyReview { .. }) => self.staff_request(peer, other).await,
            Request::TodayCheckIns => {
                let (from, to) = self.store.clock().today_bounds_jst();
                let store = self.store.clone();
                let check_ins = tokio::task::spawn_blocking(move || {
                    reception_records(&store, &store.check_ins_between(from, to)?)
                })
                .await
                .map_err(|e| internal("reading today's check-ins", e))?
                .map_err(|e| internal("reading today's check-ins", e))?;
                Ok(Response::CheckIns { check_ins })
            }
            Request::CheckInsOfDay { date } => {
                crate::reception_list::check_ins_of_day(&self.store, date.as_deref()).await
            }
            Request::Usage { months } => crate::reception_list::usage(&self.store, months).await,
            Request::SetLocalName { check_in_id, name } => {
                self.reception.set_local_name(check_in_id, name).await
            }
            Request::SetVisit { check_in_id, visit } => {
                self.reception.set_visit(check_in_id, visit).await
            }
            Request::OpenUnconfirmed {
                check_in_id,
                reason,
                path,
                share,
                claim,
            } => {
                self.reception
                    .open_unconfirmed(check_in_id, reason, path, share, claim)
                    .await
            }
            Request::UnconfirmedList { days } => self.reception.unconfirmed_list(days).await,
            Request::ExportUnconfirmed { days } => self.reception.export_unconfirmed(days).await,
            Request::RecheckUnconfirmed => {
                let marks = facility_store::RecheckMarks::default();
                let run = self
                    .reception
                    .recheck_all(crate::reception::RecheckKind::Manual, marks)
                    .await?;
                Ok(Response::RecheckRun { run })
            }
            Request::CloseUnconfirmed {
                session,
                id,
                resolution,
            } => {
                self.reception
                    .close_unconfirmed(peer, &session, id, resolution)
                    .await
            }
            Request::ManualCheck {
                numbers,
                session,
                ahead,
            } => {
                self.reception
                    .manual_check(peer, numbers, session.as_ref(), ahead)
                    .await
            }
            Request::EnvironmentSettings { session } => {
                self.reception.environment_settings(peer, &session).await
            }
            Request::SetEnvironmentSettings {
                session,
                credential,
                settings,
            } => {
                self.reception
                    .set_environment_settings(peer, &session, &credential, settings)
                    .await
            }
            Request::ConsentedPatients { session } => {
                self.reception.consented_patients(peer, &session).await
            }
            Request::MedicalInfo {
                session,
                patient_ref,
                info,
                from,
                to,
            } => {
                self.reception
                    .medical_info(peer, &session, &patient_ref, info, &from, &to)
                    .await
            }
            Request::CheckInDetail { check_in_id } => {
                let store = self.store.clone();
                let id = check_in_id.clone();
                let record = tokio::task::spawn_blocking(move || match store.check_in(&id)? {
                    Some(c) => Ok(reception_records(&store, &[c])?.pop()),
                    None => Ok(None),
                })
                .await
                .map_err(|e| internal("reading the check-in", e))?
                .map_err(|e: facility_store::StoreError| internal("reading the check-in", e))?;
                match record {
                    Some(check_in) => Ok(Response::CheckIn { check_in }),
                    None => Err(ErrorBody::new(
                        ErrorCode::NotFound,
                        format!("no check-in `{check_in_id}`"),
                    )),
                }
            }
            Request::OutboxSummary => {
                let store = self.store.clone();
                let counts = tokio::task::spawn_blocking(move || outbox_counts(&store))
                    .await
                    .map_err(|e| internal("reading the outbox", e))?
                    .map_err(|e| internal("reading the outbox", e))?;
                Ok(Response::OutboxSummary { counts })
            }
            other => Err(ErrorBody::new(
                ErrorCode::Unsupported,
                format!("this daemon does not handle `{}` yet", request_name(&other)),
            )),
        }
    }
}

impl DaemonHandler {
    /// Requests of logged-in staff: accounts, emergency and disaster viewing, the audit log.
    async fn staff_request(
        &self,
        peer: &PeerInfo,
        request: Request,
    ) -> Result<Response, ErrorBody> {
        let accounts = &self.accounts;
        match request {
            Request::Login {
                account,
                password,
                totp,
            } => accounts.login(peer, account, password, totp).await,
            Request::Logout { session } => accounts.logout(peer, &session).await,
            Request::BeginTotpEnrolment { session } => accounts.begin_totp(peer, &session).await,
            Request::ConfirmTotpEnrolment { session, code } => {
                accounts.confirm_totp(peer, &session, &code).await
            }
            Request::ListAccounts { session } => accounts.list(peer, &session).await,
            Request::CreateAccount {
                session,
                account,
                display_name,
                role,
                password,
            } => {
                accounts
                    .create(peer, &session, account, display_name, role, password)
                    .await
            }
            Request::SetEmergencyPermission {
                session,
                account,
                granted,
            } => {
                let change = AccountChange::EmergencyPermission(granted);
                accounts.change(peer, &session, account, change).await
            }
            Request::SetAccountRole {
                session,
                account,
                role,
            } => {
                let change = AccountChange::Role(role);
                accounts.change(peer, &session, account, change).await
            }
            Request::SetAccountDisabled {
                session,
                account,
                disabled,
            } => {
                let change = AccountChange::Disabled(disabled);
                accounts.change(peer, &session, account, change).await
            }
            Request::UnlockAccount { session, account } => {
                accounts
                    .change(peer, &session, account, AccountChange::Unlock)
                    .await
            }
            Request::ResetPassword {
                session,
                account,
                password,
            } => {
                let change = AccountChange::Password(password);
                accounts.change(peer, &session, account, change).await
            }
            Request::ResetTotp { session, account } => {
                accounts
                    .change(peer, &session, account, AccountChange::ResetTotp)
                    .await
            }
            Request::ChangeSetting {
                session,
                key,
                value,
            } => accounts.change_setting(peer, &session, key, value).await,
            Request::FacilityOptions { session } => {
                accounts.administrator(peer, &session).await?;
                let store = self.store.clone();
                let options =
                    crate::accounts::blocking("reading the facility's settings", move || {
                        crate::facility_options::FacilityOptions::read(&store)
                    })
                    .await?;
                Ok(Response::FacilityOptions(
                    options.view(crate::emergency::terminal_name()),
                ))
            }
            Request::ChangePassword {
                session,
                current,
                new_password,
            } => {
                accounts
                    .change_password(peer, &session, current, new_password)
                    .await
            }
            Request::EmergencyLookup {
                session,
                reason,
                patient,
            } => {
                self.views
                    .emergency(peer, &session, &reason, &patient)
                    .await
            }
            Request::DisasterStatus => self.views.disaster_status().await,
            Request::DisasterLookup {
                session,
                consent,
                reason,
                patient,
            } => {
                self.views
                    .disaster(peer, &session, consent, reason.as_deref(), &patient)
                    .await
            }
            Request::EmergencyReview {
                session,
                from,
                to,
                export,
            } => {
                crate::review::answer(accounts, &self.store, peer, &session, from, to, export).await
            }
            Request::VerifyAudit { session } => {
                accounts.administrator(peer, &session).await?;
                let store = self.store.clone();
                let verdict = tokio::task::spawn_blocking(move || store.verify_audit_chain())
                    .await
                    .map_err(|e| internal("checking the audit log", e))?
                    .map_err(|e| internal("checking the audit log", e))?;
                Ok(Response::AuditVerdict(crate::audit_hooks::verdict_view(
                    &verdict,
                )))
            }
            other => Err(ErrorBody::new(
                ErrorCode::Unsupported,
                format!(
                    "this daemon does not handle `{}` here",
                    request_name(&other)
                ),
            )),
        }
    }
}

fn request_name(r: &Request) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "request".into())
}
