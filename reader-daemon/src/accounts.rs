//! Staff logins over the local socket: password (Argon2id, in the store) and a TOTP second factor, short
//! sessions bound to the socket connection that logged in, permission checks, and the administrator's
//! account operations. Every login (accepted or not) and every account or setting change is appended to the
//! audit log.
//!
//! A session is a random token known only to the connection that logged in: a token replayed on another
//! connection is refused, and the session ends when its connection closes, after `session_idle_timeout_secs`
//! without a request, or at logout. Emergency viewing also needs the login to be younger than
//! `emergency_session_secs`, so an unattended emergency screen does not stay usable for long.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use facility_store::{Account, AuditEntry, LoginOutcome, NewAccount, Store};
use os_keyring::SecretBytes;
use serde::Deserialize;
use terminal_ipc::{AccountView, ErrorBody, ErrorCode, PeerInfo, Response, Role, Secret};
use totp_rs::{Algorithm, TOTP};
use tracing::{info, warn};
use zeroize::Zeroizing;

/// The issuer an authenticator app shows next to the account.
const TOTP_ISSUER: &str = "OQS-Terminal";
/// 30-second steps, 6 digits, SHA-1: what every authenticator app supports (RFC 6238 defaults).
const TOTP_STEP: u64 = 30;
/// 160-bit secrets (RFC 4226 recommends at least 128).
const TOTP_SECRET_LEN: usize = 20;

/// `[accounts]` of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// A session ends after this long without a request.
    pub session_idle_timeout_secs: u64,
    /// Emergency viewing needs a login younger than this (log in again afterwards).
    pub emergency_session_secs: u64,
    /// Failed logins (wrong password or wrong code) before the account locks.
    pub max_failures: u32,
    /// How long a locked account stays locked.
    pub lockout_minutes: u64,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            session_idle_timeout_secs: 600,
            emergency_session_secs: 300,
            max_failures: 5,
            lockout_minutes: 15,
        }
    }
}

impl AccountSettings {
    pub fn lockout_policy(&self) -> facility_store::LockoutPolicy {
        facility_store::LockoutPolicy {
            max_failures: self.max_failures.max(1),
            lock_millis: i64::try_from(self.lockout_minutes.saturating_mul(60_000))
                .unwrap_or(i64::MAX),
        }
    }
}

/// Who a valid session belongs to, re-read from the store at every request so that a revoked permission
/// or a disabled account takes effect at once.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub account: Account,
    pub two_factor: bool,
    pub logged_in: Instant,
}

impl SessionUser {
    pub fn login(&self) -> &str {
        &self.account.login
    }

    /// "表示名 (login)" for the screen and the report.
    pub fn viewer_label(&self) -> String {
        format!("{} ({})", self.account.display_name, self.account.login)
    }
}

struct Session {
    login: String,
    connection_id: u64,
    two_factor: bool,
    logged_in: Instant,
    last_used: Instant,
    /// A TOTP secret between enrolment and its confirmation; wiped on drop.
    pending_totp: Option<Zeroizing<Vec<u8>>>,
}

/// Logins, sessions and account administration.
pub struct Accounts {
    store: Arc<Store>,
    settings: AccountSettings,
    sessions: Mutex<HashMap<String, Session>>,
}

pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> ErrorBody {
    warn!(error = %e, "{what} failed");
    ErrorBody::new(
        ErrorCode::Internal,
        format!("{what} failed; the daemon's log has the details"),
    )
}

fn unauthenticated() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Unauthenticated,
        "ログインしてください（セッションが無効か期限切れです）。Log in again: the session is unknown, expired or \
         belongs to another window.",
    )
}

/// The one answer to every refused login (wrong password, unknown account, locked, disabled, wrong or reused
/// one-time code): the same code and words, so the answer does not tell which accounts exist or which are
/// locked. The audit log keeps the reason for the administrator.
fn login_refused() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Unauthenticated,
        "ログインできません。ID・パスワード・ワンタイムパスワードを確認してください。失敗が続くとロックされます（管理者が\
         解除できます）。Login refused: check the account name, password and one-time code. Repeated failures \
         lock the account; an administrator can unlock it.",
    )
}

/// Enrolment over an enrolled second factor with a password-only session (issue 13 item 1).
fn reenrolment_needs_two_factors() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::SecondFactorRequired,
        "ワンタイムパスワードは登録済みです。登録し直すには、パスワードとワンタイムパスワードでログインするか、管理者に\
         リセットを依頼してください。A one-time password is already enrolled: to replace it, log in with the \
         password and the one-time code, or ask an administrator to reset it.",
    )
}

fn forbidden(message: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::Forbidden, message)
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, facility_store::StoreError> + Send + 'static,
) -> Result<T, ErrorBody> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(what, e))?
        .map_err(|e| match e {
            facility_store::StoreError::NotFound(what) => {
                ErrorBody::new(ErrorCode::NotFound, format!("not found: {what}"))
            }
            facility_store::StoreError::AccountExists(login) => ErrorBody::new(
                ErrorCode::BadRequest,
                format!("an account named `{login}` already exists"),
            ),
            facility_store::StoreError::TotpAlreadyEnrolled(_) => reenrolment_needs_two_factors(),
            facility_store::StoreError::Conflict(what) => {
                ErrorBody::new(ErrorCode::BadRequest, format!("cannot change {what}"))
            }
            facility_store::StoreError::SharedUnavailable(reason) => {
                warn!(%reason, "{what}: the facility server cannot be reached");
                shared_store_unavailable("アカウント", "accounts")
            }
            facility_store::StoreError::LastAdministrator => ErrorBody::new(
                ErrorCode::BadRequest,
                "有効な管理者アカウントが1つもなくなるため、この変更はできません。The change would leave no enabled \
                 administrator account.",
            ),
            other => internal(what, other),
        })
}

/// A change of `what` refused because the facility server cannot be reached (`[store] shared`): nothing was
/// changed, here or anywhere.
pub(crate) fn shared_store_unavailable(what_ja: &str, what_en: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::SharedStoreUnavailable,
        format!(
            "院内サーバに接続できないため、{what_ja}の変更はできません。接続が戻ってから、もう一度行ってください。The \
             facility server cannot be reached, so {what_en} cannot be changed now; nothing was changed. Try again \
             once it is back."
        ),
    )
}

/// Appends one audit row; a failure is an internal error, so nothing is shown that was not logged.
pub(crate) async fn audit(store: &Arc<Store>, entry: AuditEntry) -> Result<i64, ErrorBody> {
    let store = store.clone();
    blocking("writing the audit log", move || {
        store.append_audit(&entry, store.now_millis())
    })
    .await
}

pub fn role_to_ipc(role: facility_store::Role) -> Role {
    match role {
        facility_store::Role::Staff => Role::Staff,
        facility_store::Role::Administrator => Role::Administrator,
        facility_store::Role::MedicalInformationViewer => Role::MedicalInformationViewer,
        facility_store::Role::Master => Role::Master,
        facility_store::Role::MasterReset => Role::MasterReset,
    }
}

pub fn role_from_ipc(role: Role) -> facility_store::Role {
    match role {
        Role::Staff => facility_store::Role::Staff,
        Role::Administrator => facility_store::Role::Administrator,
        Role::MedicalInformationViewer => facility_store::Role::MedicalInformationViewer,
        Role::Master => facility_store::Role::Master,
        Role::MasterReset => facility_store::Role::MasterReset,
    }
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        })
        .unwrap_or_default()
}

pub fn account_view(a: &Account, now: i64) -> AccountView {
    AccountView {
        account: a.login.clone(),
        display_name: a.display_name.clone(),
        role: role_to_ipc(a.role),
        emergency_permission: a.emergency_permission,
        totp_enrolled: a.totp_enrolled,
        disabled: a.disabled,
        locked_until: a.locked_until.filter(|&u| u > now).map(rfc3339),
        failed_attempts: a.failed_attempts,
        must_change_password: a.must_change_password,
        last_login: a.last_login_at.map(rfc3339),
    }
}

fn totp_for(login: &str, secret: Vec<u8>) -> Result<TOTP, ErrorBody> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        0,
        TOTP_STEP,
        secret,
        Some(TOTP_ISSUER.to_string()),
        login.to_string(),
    )
    .map_err(|e| {
        ErrorBody::new(
            ErrorCode::BadRequest,
            format!("a one-time-password cannot be made for this account name: {e}"),
        )
    })
}

/// The TOTP step `code` is valid for (at `now`, seconds since the epoch, or one step either side for clock
/// drift), if any.
fn matching_step(totp: &TOTP, code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    [now.saturating_sub(TOTP_STEP), now, now + TOTP_STEP]
        .into_iter()
        .find(|&t| totp.check(code, t))
        .map(|t| t / TOTP_STEP)
}

fn new_token() -> Result<String, ErrorBody> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| internal("making a session token", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The audit actor of a login refused for an unknown account (the typed text is not recorded).
pub const UNKNOWN_ACTOR: &str = "(unknown account)";

fn login_entry(login: &str, action: &str, detail: &str) -> AuditEntry {
    AuditEntry {
        actor: login.to_string(),
        action: action.to_string(),
        method: Some("password+totp".into()).filter(|_| detail.contains("totp")),
        detail: Some(detail.to_string()),
        ..AuditEntry::default()
    }
}

impl Accounts {
    pub fn new(store: Arc<Store>, settings: AccountSettings) -> Self {
        Self {
            store,
            settings,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &AccountSettings {
        &self.settings
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.session_idle_timeout_secs.max(1))
    }

    /// Password, then (when given) the TOTP code. Wrong passwords and wrong codes count towards the lockout.
    pub async fn login(
        &self,
        peer: &PeerInfo,
        login: String,
        password: Secret,
        totp: Option<Secret>,
    ) -> Result<Response, ErrorBody> {
        let store = self.store.clone();
        let who = login.clone();
        let outcome = blocking("checking the password", move || {
            // The counter is reset below, only once the login is complete (see `record_success`).
            store.verify_first_factor(&who, password.expose(), store.now_millis())
        })
        .await?;
        let refusal = match outcome {
            LoginOutcome::PasswordAccepted(account) => Ok(account),
            LoginOutcome::Rejected { .. } => Err("wrong password"),
            LoginOutcome::UnknownAccount => Err("unknown account"),
            LoginOutcome::LockedOut { .. } => Err("account locked"),
            LoginOutcome::Disabled => Err("account disabled"),
        };
        let account = match refusal {
            Ok(account) => account,
            Err(reason) => {
                // What was typed for an unknown account is not a user id, and may be a password typed in the
                // wrong field: it is never written down.
                let actor = if reason == "unknown account" {
                    UNKNOWN_ACTOR
                } else {
                    login.as_str()
                };
                audit(&self.store, login_entry(actor, "login_failed", reason)).await?;
                return Err(login_refused());
            }
        };
        // The store counted this attempt as a failure before checking the password (so parallel guesses
        // cannot outrun the lockout); the second factor decides what becomes of it.
        let two_factor = match totp {
            None => false,
            Some(code) => {
                self.check_totp(&account, &code).await?;
                true
            }
        };
        let store = self.store.clone();
        let who = account.login.clone();
        let complete = two_factor || !account.totp_enrolled;
        blocking("recording the login", move || {
            let now = store.now_millis();
            if complete {
                store.record_login_success(&who, now)
            } else {
                // A password-only login of an account with a second factor does not wipe failed codes:
                // otherwise one-time codes could be guessed without end, five at a time.
                store.release_login_attempt(&who, now)
            }
        })
        .await?;
        let detail = if two_factor {
            "password+totp"
        } else {
            "password only"
        };
        // Logged before the session exists: no session without its audit row.
        audit(&self.store, login_entry(&account.login, "login", detail)).await?;
        let token = new_token()?;
        let now = Instant::now();
        self.sessions().insert(
            token.clone(),
            Session {
                login: account.login.clone(),
                connection_id: peer.connection_id,
                two_factor,
                logged_in: now,
                last_used: now,
                pending_totp: None,
            },
        );
        info!(two_factor, "staff login");
        Ok(Response::LoggedIn {
            session: Secret::new(token),
            role: role_to_ipc(account.role),
            emergency_permission: account.emergency_permission,
            two_factor,
            display_name: account.display_name.clone(),
            idle_timeout_secs: self.idle_timeout().as_secs(),
            must_change_password: account.must_change_password,
        })
    }

    /// Checks the one-time code of a login whose password was right. A wrong or reused code is the failure
    /// the store already counted for this attempt.
    async fn check_totp(&self, account: &Account, code: &Secret) -> Result<(), ErrorBody> {
        let store = self.store.clone();
        let login = account.login.clone();
        let secret: Option<SecretBytes> =
            blocking("reading the TOTP secret", move || store.totp_secret(&login)).await?;
        let Some(secret) = secret else {
            let store = self.store.clone();
            let login = account.login.clone();
            blocking("recording the login", move || {
                store.release_login_attempt(&login, store.now_millis())
            })
            .await?;
            audit(
                &self.store,
                login_entry(&account.login, "login_failed", "no second factor enrolled"),
            )
            .await?;
            return Err(ErrorBody::new(
                ErrorCode::SecondFactorRequired,
                "二要素認証（ワンタイムパスワード）が未登録です。パスワードでログインして登録してください。No one-time \
                 password is enrolled for this account: log in with the password and enrol one first.",
            ));
        };
        let totp = totp_for(&account.login, secret.expose().to_vec())?;
        drop(secret);
        let step = matching_step(&totp, code.expose(), self.store.clock().now_secs());
        let fresh = match step {
            // The last accepted step is kept per account in the store, so a code stays used across restarts.
            Some(step) => {
                let store = self.store.clone();
                let login = account.login.clone();
                blocking("checking the one-time code", move || {
                    store.claim_totp_step(&login, step)
                })
                .await?
            }
            None => false,
        };
        if fresh {
            return Ok(());
        }
        let store = self.store.clone();
        let login = account.login.clone();
        blocking("counting the failed login", move || {
            store.second_factor_failed(&login, store.now_millis())
        })
        .await?;
        let reason = if step.is_some() {
            "one-time code already used (totp)"
        } else {
            "wrong one-time code (totp)"
        };
        audit(
            &self.store,
            login_entry(&account.login, "login_failed", reason),
        )
        .await?;
        Err(login_refused())
    }

    pub async fn logout(&self, peer: &PeerInfo, token: &Secret) -> Result<Response, ErrorBody> {
        let user = self.session(peer, token).await?;
        self.sessions().remove(token.expose());
        audit(
            &self.store,
            AuditEntry {
                actor: user.login().to_string(),
                action: "logout".into(),
                ..AuditEntry::default()
            },
        )
        .await?;
        Ok(Response::LoggedOut)
    }

    /// Ends every session of a closed connection.
    pub fn disconnected(&self, connection_id: u64) {
        self.sessions()
            .retain(|_, s| s.connection_id != connection_id);
    }

    /// The user of a valid session of this connection, for the work of staff: refused while the password
    /// must be changed, and for the master accounts, which administer accounts and do nothing else.
    pub async fn session(&self, peer: &PeerInfo, token: &Secret) -> Result<SessionUser, ErrorBody> {
        let user = self.any_session(peer, token).await?;
        check_password_fresh(&user)?;
        if matches!(
            user.account.role,
            facility_store::Role::Master | facility_store::Role::MasterReset
        ) {
            return Err(forbidden(
                "マスタアカウントはアカウントの管理専用です。管理アカウントでログインしてください。The master accounts \
                 only administer accounts; log in with an administrator account.",
            ));
        }
        Ok(user)
    }

    /// A session that may administer accounts: an administrator, the マスタアカウント, or the リセット用
    /// アカウント (whose one permitted change [`may_change`] checks).
    async fn account_admin(
        &self,
        peer: &PeerInfo,
        token: &Secret,
    ) -> Result<SessionUser, ErrorBody> {
        let user = self.any_session(peer, token).await?;
        check_password_fresh(&user)?;
        match user.account.role {
            facility_store::Role::Administrator
            | facility_store::Role::Master
            | facility_store::Role::MasterReset => Ok(user),
            _ => Err(forbidden(
                "管理者アカウントでログインしてください。This needs an administrator account.",
            )),
        }
    }

    /// The user of a valid session of this connection, whatever the account; refreshes its idle timer.
    async fn any_session(&self, peer: &PeerInfo, token: &Secret) -> Result<SessionUser, ErrorBody> {
        let (login, two_factor, logged_in) = {
            let mut sessions = self.sessions();
            let now = Instant::now();
            let idle = self.idle_timeout();
            sessions.retain(|_, s| now.duration_since(s.last_used) < idle);
            let Some(s) = sessions.get_mut(token.expose()) else {
                return Err(unauthenticated());
            };
            if s.connection_id != peer.connection_id {
                warn!(
                    connection_id = peer.connection_id,
                    "a session token was presented on another connection"
                );
                return Err(unauthenticated());
            }
            s.last_used = now;
            (s.login.clone(), s.two_factor, s.logged_in)
        };
        let store = self.store.clone();
        let who = login.clone();
        let account = blocking("reading the account", move || store.account(&who)).await?;
        match account {
            Some(account) if !account.disabled => Ok(SessionUser {
                account,
                two_factor,
                logged_in,
            }),
            _ => {
                self.sessions().remove(token.expose());
                Err(unauthenticated())
            }
        }
    }

    /// A session of an administrator.
    pub async fn administrator(
        &self,
        peer: &PeerInfo,
        token: &Secret,
    ) -> Result<SessionUser, ErrorBody> {
        let user = self.session(peer, token).await?;
        if user.account.role != facility_store::Role::Administrator {
            return Err(forbidden(
                "管理者アカウントでログインしてください。This needs an administrator account.",
            ));
        }
        Ok(user)
    }

    /// A session fit for 救急時医療情報閲覧: the permission, both factors, and a recent login.
    pub async fn emergency_viewer(
        &self,
        peer: &PeerInfo,
        token: &Secret,
    ) -> Result<SessionUser, ErrorBody> {
        let user = self.session(peer, token).await?;
        if !user.account.emergency_permission {
            return Err(forbidden(
                "このアカウントには救急時医療情報閲覧権限がありません。This account has no emergency viewing \
                 permission (救急時医療情報閲覧権限); an administrator grants it.",
            ));
        }
        if !user.two_factor {
            return Err(ErrorBody::new(
                ErrorCode::SecondFactorRequired,
                "救急時医療情報閲覧には二要素認証（パスワードとワンタイムパスワード）でのログインが必要です。Emergency \
                 viewing needs a login with both the password and the one-time code.",
            ));
        }
        let limit = Duration::from_secs(self.settings.emergency_session_secs.max(1));
        if user.logged_in.elapsed() >= limit {
            return Err(ErrorBody::new(
                ErrorCode::Unauthenticated,
                "救急時閲覧の時間が過ぎました。もう一度ログインしてください。The emergency session timed out; log in \
                 again with both factors.",
            ));
        }
        Ok(user)
    }

    /// Starts TOTP enrolment for the session's own account. The first enrolment may follow a password login;
    /// replacing an enrolled factor needs a session that logged in with it (or an administrator's reset
    /// first), so a stolen password alone cannot take over the second factor.
    pub async fn begin_totp(&self, peer: &PeerInfo, token: &Secret) -> Result<Response, ErrorBody> {
        let user = self.session(peer, token).await?;
        if user.account.totp_enrolled && !user.two_factor {
            audit(
                &self.store,
                login_entry(
                    user.login(),
                    "totp_enrolment_refused",
                    "a factor is enrolled and the session has the password only",
                ),
            )
            .await?;
            return Err(reenrolment_needs_two_factors());
        }
        let mut secret = Zeroizing::new(vec![0u8; TOTP_SECRET_LEN]);
        getrandom::fill(secret.as_mut_slice()).map_err(|e| internal("making a TOTP secret", e))?;
        let totp = totp_for(user.login(), secret.to_vec())?;
        let uri = totp.get_url();
        let svg = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| internal("drawing the enrolment QR code", e))?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build();
        let base32 = totp.get_secret_base32();
        if let Some(s) = self.sessions().get_mut(token.expose()) {
            s.pending_totp = Some(secret);
        }
        Ok(Response::TotpEnrolment {
            secret_base32: Secret::new(base32),
            otpauth_uri: Secret::new(uri),
            qr_svg: Secret::new(svg),
        })
    }

    /// Keeps the pending secret once a code made from it is shown.
    pub async fn confirm_totp(
        &self,
        peer: &PeerInfo,
        token: &Secret,
        code: &Secret,
    ) -> Result<Response, ErrorBody> {
        let user = self.session(peer, token).await?;
        let pending = self
            .sessions()
            .get(token.expose())
            .and_then(|s| s.pending_totp.clone());
        let Some(secret) = pending else {
            return Err(ErrorBody::new(
                ErrorCode::InvalidState,
                "先にワンタイムパスワードの登録を開始してください。Start the enrolment first.",
            ));
        };
        let totp = totp_for(user.login(), secret.to_vec())?;
        let Some(step) = matching_step(&totp, code.expose(), self.store.clock().now_secs()) else {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "確認コードが違います。認証アプリの最新のコードを入力してください。The code does not match; enter the \
                 current code from the authenticator app.",
            ));
        };
        let store = self.store.clone();
        let login = user.login().to_string();
        let stored = SecretBytes::new(secret.to_vec());
        drop(secret);
        let replace = user.two_factor;
        // The store refuses a first enrolment over an enrolled factor (one may have been enrolled since
        // `begin_totp`), and writes the secret and its audit row together.
        blocking("storing the TOTP secret", move || {
            let now = store.now_millis();
            if replace {
                store.replace_totp(&login, &stored, step, now)
            } else {
                store.enrol_first_totp(&login, &stored, step, now)
            }
        })
        .await?;
        if let Some(s) = self.sessions().get_mut(token.expose()) {
            s.pending_totp = None;
        }
        let account = self.session(peer, token).await?.account;
        Ok(Response::Account {
            account: account_view(&account, self.store.now_millis()),
        })
    }

    /// Every account (the master sees the administrators' IDs this way; no password is ever answered).
    pub async fn list(&self, peer: &PeerInfo, token: &Secret) -> Result<Response, ErrorBody> {
        let user = self.account_admin(peer, token).await?;
        if user.account.role == facility_store::Role::MasterReset {
            return Err(reset_account_only());
        }
        let store = self.store.clone();
        let accounts = blocking("listing the accounts", move || store.accounts()).await?;
        let now = self.store.now_millis();
        Ok(Response::Accounts {
            accounts: accounts.iter().map(|a| account_view(a, now)).collect(),
        })
    }

    pub async fn create(
        &self,
        peer: &PeerInfo,
        token: &Secret,
        login: String,
        display_name: String,
        role: Role,
        password: Secret,
    ) -> Result<Response, ErrorBody> {
        let admin = self.account_admin(peer, token).await?;
        if admin.account.role == facility_store::Role::MasterReset {
            return Err(reset_account_only());
        }
        if matches!(role, Role::Master | Role::MasterReset) {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "マスタアカウントとリセット用アカウントは導入時にだけ作られます (oqs account setup)。The master accounts \
                 are made at set-up only.",
            ));
        }
        check_new_account(&login, password.expose())?;
        let store = self.store.clone();
        let actor = admin.login().to_string();
        // The account and its audit row are written in one transaction.
        let account = blocking("creating the account", move || {
            store.create_account(
                &NewAccount {
                    login: &login,
                    display_name: &display_name,
                    role: role_from_ipc(role),
                    password: password.expose(),
                },
                &actor,
                store.now_millis(),
            )
        })
        .await?;
        Ok(Response::Account {
            account: account_view(&account, self.store.now_millis()),
        })
    }

    /// One administrator change of an account, audited, answered with the account as it is now.
    pub async fn change(
        &self,
        peer: &PeerInfo,
        token: &Secret,
        login: String,
        change: AccountChange,
    ) -> Result<Response, ErrorBody> {
        let admin = self.account_admin(peer, token).await?;
        let store = self.store.clone();
        let who = login.clone();
        let target = blocking("reading the account", move || store.account(&who))
            .await?
            .ok_or_else(|| {
                ErrorBody::new(ErrorCode::NotFound, format!("not found: account {login}"))
            })?;
        if let Err(refusal) = may_change(admin.account.role, target.role, &change) {
            audit(
                &self.store,
                account_refusal_entry(admin.login(), &login, &change),
            )
            .await?;
            return Err(refusal);
        }
        if let AccountChange::Password(p) = &change {
            check_password_rules(p.expose())?;
        }
        if login == admin.login()
            && matches!(
                change,
                AccountChange::Disabled(true)
                    | AccountChange::Role(Role::Staff | Role::MedicalInformationViewer)
            )
        {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "自分自身の管理者権限は外せません。An administrator cannot disable or demote their own account.",
            ));
        }
        let store = self.store.clone();
        let who = login.clone();
        let ends_sessions = matches!(
            change,
            AccountChange::Disabled(true) | AccountChange::Password(_) | AccountChange::ResetTotp
        );
        let actor = admin.login().to_string();
        // Each store call writes the change and its audit row in one transaction.
        let account = blocking("changing the account", move || {
            let now = store.now_millis();
            let actor = actor.as_str();
            match change {
                AccountChange::EmergencyPermission(g) => {
                    store.set_emergency_permission(&who, g, actor, now)?
                }
                AccountChange::Role(r) => store.set_role(&who, role_from_ipc(r), actor, now)?,
                AccountChange::Disabled(d) => store.set_disabled(&who, d, actor, now)?,
                AccountChange::Unlock => store.unlock_account(&who, actor, now)?,
                AccountChange::Password(p) => store.set_password(&who, p.expose(), actor, now)?,
                AccountChange::ResetTotp => store.reset_totp(&who, actor, now)?,
            }
            store
                .account(&who)?
                .ok_or_else(|| facility_store::StoreError::NotFound(format!("account {who}")))
        })
        .await?;
        if ends_sessions {
            self.sessions().retain(|_, s| s.login != login);
        }
        Ok(Response::Account {
            account: account_view(&account, self.store.now_millis()),
        })
    }

    /// The session's owner changes their own password. The current one is checked like a login (a wrong one
    /// counts towards the lockout); a password set at set-up or by a reset stops being required to change.
    pub async fn change_password(
        &self,
        peer: &PeerInfo,
        token: &Secret,
        current: Secret,
        new_password: Secret,
    ) -> Result<Response, ErrorBody> {
        let user = self.any_session(peer, token).await?;
        let login = user.login().to_string();
        if user.account.role == facility_store::Role::MasterReset {
            check_secret_number(new_password.expose())?;
        } else {
            check_password_rules(new_password.expose())?;
        }
        if current.expose() == new_password.expose() {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "新しいパスワードは今のパスワードと違うものにしてください。The new password must differ from the current one.",
            ));
        }
        let store = self.store.clone();
        let who = login.clone();
        let outcome = blocking("checking the password", move || {
            store.verify_password(&who, current.expose(), store.now_millis())
        })
        .await?;
        if !matches!(outcome, LoginOutcome::PasswordAccepted(_)) {
            audit(
                &self.store,
                login_entry(&login, "password_change_failed", "wrong current password"),
            )
            .await?;
            if matches!(outcome, LoginOutcome::LockedOut { .. }) {
                self.sessions().retain(|_, s| s.login != login);
            }
            return Err(ErrorBody::new(
                ErrorCode::Unauthenticated,
                "今のパスワードが違います。失敗が続くとロックされます。The current password is wrong; repeated failures \
                 lock the account.",
            ));
        }
        let store = self.store.clone();
        let who = login.clone();
        // The new hash and its audit row are written in one transaction.
        let account = blocking("changing the password", move || {
            store.change_own_password(&who, new_password.expose(), store.now_millis())?;
            store
                .account(&who)?
                .ok_or_else(|| facility_store::StoreError::NotFound(format!("account {who}")))
        })
        .await?;
        // Other sessions of the account end; this one goes on with the new password.
        self.sessions()
            .retain(|t, s| s.login != login || t == token.expose());
        Ok(Response::Account {
            account: account_view(&account, self.store.now_millis()),
        })
    }

    /// Administrator: one of the facility's options (`crate::facility_options`), written with its audit row.
    pub async fn change_setting(
        &self,
        peer: &PeerInfo,
        token: &Secret,
        key: String,
        value: String,
    ) -> Result<Response, ErrorBody> {
        let admin = self.administrator(peer, token).await?;
        // Only the facility's own options, each with a value it takes: the other settings are the daemon's.
        let value = crate::facility_options::checked_setting(&key, &value)
            .map_err(|message| ErrorBody::new(ErrorCode::BadRequest, message))?;
        // The store writes the change and its audit row (old and new value) in one transaction.
        let store = self.store.clone();
        let actor = admin.login().to_string();
        blocking("changing the setting", move || {
            store.set_facility_setting(&key, &value, &actor, store.now_millis())
        })
        .await
        .map_err(|e| match e.code {
            ErrorCode::SharedStoreUnavailable => {
                shared_store_unavailable("施設の設定", "the facility's settings")
            }
            _ => e,
        })?;
        Ok(Response::Accepted)
    }
}

fn check_password_fresh(user: &SessionUser) -> Result<(), ErrorBody> {
    if user.account.must_change_password {
        return Err(ErrorBody::new(
            ErrorCode::PasswordChangeRequired,
            "パスワードの変更が必要です。新しいパスワードを設定してください。The password was set by someone else: \
             change it before anything else.",
        ));
    }
    Ok(())
}

fn reset_account_only() -> ErrorBody {
    forbidden(
        "リセット用アカウントはマスタアカウントのパスワードの初期化だけができます。The reset account can only reset \
         the master account's password.",
    )
}

/// Who may make which change to whom. The master accounts are touched only through their own paths: the
/// リセット用アカウント resets the master's password (and nothing else), an administrator or the master may
/// unlock the リセット用アカウント, and nobody else changes either of them.
pub fn may_change(
    actor: facility_store::Role,
    target: facility_store::Role,
    change: &AccountChange,
) -> Result<(), ErrorBody> {
    use facility_store::Role as R;
    if actor == R::MasterReset {
        return if target == R::Master && matches!(change, AccountChange::Password(_)) {
            Ok(())
        } else {
            Err(reset_account_only())
        };
    }
    match target {
        R::MasterReset if matches!(change, AccountChange::Unlock) => return Ok(()),
        R::Master | R::MasterReset => {
            return Err(forbidden(
                "マスタアカウントとリセット用アカウントは変更できません (マスタのパスワードはリセット用アカウントで初期化します)。\
                 The master accounts cannot be changed here; the master's password is reset with the reset account.",
            ));
        }
        _ => {}
    }
    match change {
        AccountChange::Role(Role::Master | Role::MasterReset) => Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "マスタアカウントの種別は付けられません。No account can be made a master account.",
        )),
        AccountChange::EmergencyPermission(true)
            if !matches!(target, R::Administrator | R::MedicalInformationViewer) =>
        {
            Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "救急時医療情報閲覧権限は医療情報閲覧アカウントか管理アカウントにだけ付けられます。The emergency \
                 permission is for medical-information viewers and administrators only.",
            ))
        }
        _ => Ok(()),
    }
}

fn change_name(change: &AccountChange) -> &'static str {
    match change {
        AccountChange::EmergencyPermission(true) => "grant_emergency",
        AccountChange::EmergencyPermission(false) => "revoke_emergency",
        AccountChange::Role(_) => "set_role",
        AccountChange::Disabled(true) => "disable",
        AccountChange::Disabled(false) => "enable",
        AccountChange::Unlock => "unlock",
        AccountChange::Password(_) => "reset_password",
        AccountChange::ResetTotp => "reset_2fa",
    }
}

fn account_refusal_entry(actor: &str, login: &str, change: &AccountChange) -> AuditEntry {
    AuditEntry {
        actor: actor.to_string(),
        action: "account_change_refused".into(),
        detail: Some(format!("account={login} change={}", change_name(change))),
        ..AuditEntry::default()
    }
}

/// What an administrator changes on an account.
pub enum AccountChange {
    EmergencyPermission(bool),
    Role(Role),
    Disabled(bool),
    Unlock,
    Password(Secret),
    ResetTotp,
}

/// Why the first administrator could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FirstAdminError {
    /// The account name or password breaks the rules of [`check_new_account`].
    #[error("{0}")]
    Rejected(String),
    /// The facility already has an administrator: this set-up path makes the first one only.
    #[error(
        "an administrator account (`{0}`) already exists: add others in the app (管理 → アカウント) or with \
         `oqs account create --as LOGIN`, which an administrator authorises"
    )]
    AdministratorExists(String),
    #[error(transparent)]
    Store(#[from] facility_store::StoreError),
}

/// The first administrator, made at set-up before anyone can log in (`oqs-readerd --create-admin` and
/// `oqs account create-admin` both come here): the same rules as any new account, and an audit row.
pub fn create_first_admin(
    store: &Store,
    login: &str,
    display_name: &str,
    password: &str,
) -> Result<Account, FirstAdminError> {
    check_new_account(login, password).map_err(|e| FirstAdminError::Rejected(e.message))?;
    // The マスタアカウント does not count: the set-up makes it first, and it must change its password before it
    // can do anything. With a facility-wide store the store checks the facility's accounts.
    store
        .create_first_administrator(login, display_name, password, "setup", store.now_millis())
        .map_err(|e| match e {
            facility_store::StoreError::AdministratorExists(existing) => {
                FirstAdminError::AdministratorExists(existing)
            }
            other => FirstAdminError::Store(other),
        })
}

/// The user name of the マスタアカウント (seed 001).
pub const MASTER_LOGIN: &str = "マスタアカウント";
/// The user name of the マスタアカウントリセット用アカウント.
pub const MASTER_RESET_LOGIN: &str = "マスタアカウントリセット用アカウント";

/// The 秘密の番号 of the リセット用アカウント: exactly four digits (seed 003).
pub fn check_secret_number(number: &str) -> Result<(), ErrorBody> {
    if number.len() != 4 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "秘密の番号は4桁の数字です。The secret number is four digits.",
        ));
    }
    Ok(())
}

/// The set-up of a facility (`oqs account setup`): the マスタアカウント, whose password must be changed at its
/// first login, and the リセット用アカウント with the 4-digit 秘密の番号. Both or neither, with an audit row.
pub fn create_master_accounts(
    store: &Store,
    master_password: &str,
    secret_number: &str,
) -> Result<(), FirstAdminError> {
    check_password_rules(master_password).map_err(|e| FirstAdminError::Rejected(e.message))?;
    check_secret_number(secret_number).map_err(|e| FirstAdminError::Rejected(e.message))?;
    store.create_master_accounts(
        MASTER_LOGIN,
        master_password,
        MASTER_RESET_LOGIN,
        secret_number,
        store.now_millis(),
    )?;
    Ok(())
}

/// Account names go into audit rows and TOTP URIs; passwords must not be trivially short.
pub fn check_new_account(login: &str, password: &str) -> Result<(), ErrorBody> {
    let login_ok = (1..=64).contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if !login_ok {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "アカウント名は半角英数字と - _ . @ の64文字以内です。The account name must be 1–64 of A–Z a–z 0–9 - _ . @",
        ));
    }
    check_password_rules(password)
}

/// Passwords must not be trivially short.
pub fn check_password_rules(password: &str) -> Result<(), ErrorBody> {
    if password.chars().count() < 10 {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "パスワードは10文字以上にしてください。The password must have at least 10 characters.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_codes_match_their_step_only() {
        let totp = totp_for("dr", vec![7u8; TOTP_SECRET_LEN]).unwrap();
        let now = oqs_clock::test_clock().now_secs();
        let code = totp.generate(now);
        assert_eq!(matching_step(&totp, &code, now), Some(now / TOTP_STEP));
        let old = totp.generate(now - 10 * TOTP_STEP);
        if old != code {
            assert_eq!(matching_step(&totp, &old, now), None);
        }
        assert_eq!(matching_step(&totp, "12345", now), None);
        assert_eq!(matching_step(&totp, "abcdef", now), None);
    }

    #[test]
    fn new_accounts_need_a_plain_name_and_a_long_password() {
        assert!(check_new_account("dr.tanaka", "long enough pw").is_ok());
        assert!(check_new_account("dr:tanaka", "long enough pw").is_err());
        assert!(check_new_account("", "long enough pw").is_err());
        assert!(check_new_account("dr", "short").is_err());
    }
}
