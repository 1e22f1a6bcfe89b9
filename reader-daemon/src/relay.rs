//! The file relay (DESIGN.md §3.2): request files from `req/` to the central service, results to `res/`.
//!
//! Every request goes through the same steps, each of which survives a crash at any point:
//!
//! 1. **Pick-up**: the name is recorded in the outbox, then the file is renamed from `req/` into the
//!    private `processing/` folder (same file system, so the rename is atomic). After a crash between the
//!    two, the start-up scan finds the row or the file and finishes the move.
//! 2. **Send**: rows due are claimed (`received → sending`), the file is read, checked, and posted.
//!    A transient failure (service down, timeout, 5xx) puts the row back with a jittered delay; the
//!    file waits in `processing/`.
//! 3. **Delivery, exactly once**: the files to hand over (the result; or, for a rejected request, an error
//!    result, a copy of the request and its `.err`) are first written into a staging folder
//!    `outgoing/<request name>/`, then the outbox row is marked, then each staged file is renamed into
//!    `res/`. A rename moves the file, so after a crash a staged file that is still there has not been
//!    delivered and one that is gone has: nothing is delivered twice, nothing is lost. Staging writes into
//!    `outgoing/.<request>.staging` first; a crash there leaves an unfinished folder, discarded at start
//!    (the request is sent again). A staged delivery that cannot be finished (a rename into `res/` fails)
//!    is finished by the sweep of `outgoing/` at every rescan, and a new answer for the same request
//!    finishes the staged one instead of staging a second.
//! 4. **Keep**: the request moves to `done/` (answered) or `error/` (rejected). Nothing is deleted.
//!
//! Error results and `.err` files follow `docs/file-interface.md`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use central_client::{CentralClient, CentralError, RetryPolicy};
use facility_store::{OutboxEntry, OutboxState, Received, Store, StoreError};
use oqs_protocol::{
    CheckupResult, Encoding, FileName, MedicationResult, Message, MessageKind, ReadError,
    SingleCheckResult, ValidationIssue, read_file, render_err_file, unsupported_result_name,
};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore, broadcast};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::charset::FacilityEncoding;

/// The shared folders and the daemon's private working folders.
#[derive(Debug, Clone)]
pub struct Folders {
    /// Requests from the receipt computer.
    pub req: PathBuf,
    /// Results for the receipt computer.
    pub res: PathBuf,
    /// Check-in results for the receipt computer.
    pub face: PathBuf,
    /// The daemon's own working folder; must be on the same file system as `req/` and `res/`.
    pub work: PathBuf,
}

impl Folders {
    pub fn processing(&self) -> PathBuf {
        self.work.join("processing")
    }
    pub fn outgoing(&self) -> PathBuf {
        self.work.join("outgoing")
    }
    pub fn done(&self) -> PathBuf {
        self.work.join("done")
    }
    pub fn error(&self) -> PathBuf {
        self.work.join("error")
    }

    /// Creates every folder that is missing. The working folders are private to the daemon's user.
    pub fn ensure(&self) -> Result<(), RelayError> {
        for dir in [&self.req, &self.res, &self.face] {
            create_dir(dir, None)?;
        }
        create_dir(&self.work, Some(0o700))?;
        for dir in [
            self.processing(),
            self.outgoing(),
            self.done(),
            self.error(),
        ] {
            create_dir(&dir, Some(0o700))?;
        }
        Ok(())
    }
}

fn create_dir(dir: &Path, mode: Option<u32>) -> Result<(), RelayError> {
    std::fs::create_dir_all(dir).map_err(|e| RelayError::io("create folder", dir, e))?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        // Keep a setgid bit the installer set (work/ is setgid oqs-files): results staged here are renamed
        // into res/ and face/ and must arrive in the group the receipt computer reads with.
        let setgid = std::fs::metadata(dir)
            .map(|m| m.permissions().mode() & 0o2000)
            .unwrap_or(0);
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | setgid))
            .map_err(|e| RelayError::io("set permissions of", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

/// How the relay behaves.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Encoding of the result files written to `res/` until the central service's 利用文字コード is known
    /// ([`crate::charset::FacilityEncoding`]).
    pub result_encoding: Encoding,
    /// Requests sent to the central service at the same time.
    pub concurrency: usize,
    /// How often `req/` is scanned for files the notifications missed.
    pub rescan_interval: Duration,
    /// A file found only by the scan is picked up once it has not changed for this long (it may still be
    /// being copied over the network share).
    pub settle: Duration,
    /// Delays between attempts of a request while the central service is unreachable.
    pub retry: RetryPolicy,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            result_encoding: Encoding::Utf8,
            concurrency: 8,
            rescan_interval: Duration::from_secs(10),
            settle: Duration::from_secs(1),
            retry: RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(5),
            },
        }
    }
}

/// What can stop the relay. Problems with a single file never do: they become error results.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot {what} `{path}`: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot watch `{path}` for new files: {reason}")]
    Watch { path: PathBuf, reason: String },
}

impl RelayError {
    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        RelayError::Io {
            what,
            path: path.to_owned(),
            source,
        }
    }
}

/// What the relay tells subscribers (the reception app's outbox indicator, `oqs watch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "relay", rename_all = "snake_case")]
pub enum RelayEvent {
    PickedUp { request: String },
    Answered { request: String, result: String },
    Rejected { request: String, code: String },
    Waiting { request: String, reason: String },
}

/// The relay. Cheap to clone (shared state behind `Arc`s).
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    folders: Folders,
    settings: RelaySettings,
    encoding: Arc<FacilityEncoding>,
    store: Arc<Store>,
    central: CentralClient,
    wake: Notify,
    sending: Arc<Semaphore>,
    /// Requests with a task running (a send, or the sweep finishing a staged delivery), so a request is
    /// never worked on twice at once. A row claimed again while its task still runs (a retry due at once)
    /// waits in the slot and the running task sends it next: dropping it would leave the row `sending`
    /// with nobody working on it until the next restart.
    in_flight: Mutex<HashMap<String, Option<OutboxEntry>>>,
    events: broadcast::Sender<RelayEvent>,
}

impl Relay {
    pub fn new(
        folders: Folders,
        settings: RelaySettings,
        store: Arc<Store>,
        central: CentralClient,
    ) -> Self {
        let (events, _) = broadcast::channel(1024);
        let permits = settings.concurrency.max(1);
        let encoding = Arc::new(FacilityEncoding::new(
            store.clone(),
            settings.result_encoding,
        ));
        Self {
            inner: Arc::new(Inner {
                folders,
                settings,
                encoding,
                store,
                central,
                wake: Notify::new(),
                sending: Arc::new(Semaphore::new(permits)),
                in_flight: Mutex::new(HashMap::new()),
                events,
            }),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RelayEvent> {
        self.inner.events.subscribe()
    }

    pub fn folders(&self) -> &Folders {
        &self.inner.folders
    }

    /// The facility's 利用文字コード, shared with the check-in's `face/` files.
    pub fn encoding(&self) -> Arc<FacilityEncoding> {
        self.inner.encoding.clone()
    }

    /// Wakes the sender, e.g. when the central service is reachable again.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Finishes whatever a crash interrupted. Call once before [`Relay::run`].
    pub fn recover(&self) -> Result<(), RelayError> {
        let f = &self.inner.folders;
        f.ensure()?;
        let now = self.inner.store.now_millis();
        // 1. Staged deliveries first: their rows may still be `sending`. A `.<request>.staging` folder was
        //    cut short while being written: its files may be incomplete and its row was never marked, so
        //    it is discarded and the request is sent again.
        for staged in list_dir(&f.outgoing())? {
            let Some(request) = staged
                .file_name()
                .and_then(OsStr::to_str)
                .map(str::to_owned)
            else {
                continue;
            };
            if request.starts_with('.') {
                discard(&staged)?;
            } else if staged.is_dir() {
                self.finish_staged(&request, &staged)?;
            }
        }
        // 2. Attempts cut short go back to the queue.
        let requeued = self.inner.store.outbox_recover_in_flight(now)?;
        if requeued > 0 {
            info!(
                requeued,
                "requests interrupted by a restart are queued again"
            );
        }
        // 3. Files in processing/: recorded ones wait for the sender (or, if already answered, are kept);
        //    unrecorded ones (a crash between rename and insert cannot happen, but a restore can) are recorded.
        for path in list_dir(&f.processing())? {
            let Some(name) = path.file_name().and_then(OsStr::to_str).map(str::to_owned) else {
                continue;
            };
            match self.inner.store.outbox_get(&name)? {
                Some(entry) if matches!(entry.state, OutboxState::Answered) => {
                    move_file(&path, &f.done().join(&name))?;
                }
                Some(entry) if matches!(entry.state, OutboxState::Failed) => {
                    move_file(&path, &f.error().join(&name))?;
                }
                Some(_) => {}
                None => match FileName::parse(&name) {
                    Ok(parsed) => {
                        self.inner.store.outbox_receive(
                            &name,
                            parsed.kind().code(),
                            &path.to_string_lossy(),
                            now,
                        )?;
                    }
                    Err(_) => move_file(&path, &f.error().join(&name))?,
                },
            }
        }
        // 4. Whatever is in req/ now is picked up by the first scan of `run`.
        Ok(())
    }

    /// Watches `req/`, scans it periodically, and sends due requests until the task is dropped.
    pub async fn run(self) -> Result<(), RelayError> {
        let (tx, mut notified) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
        let req_dir = self.inner.folders.req.clone();
        let _watcher = watch_folder(&req_dir, tx)?;
        self.scan(true).await;
        let mut rescan = tokio::time::interval(self.inner.settings.rescan_interval);
        rescan.tick().await;
        loop {
            self.dispatch_due();
            let next_due = self.delay_until_next_due();
            tokio::select! {
                Some(path) = notified.recv() => {
                    self.pick_up_path(&path).await;
                    // Drain a burst without re-dispatching between every file.
                    while let Ok(path) = notified.try_recv() {
                        self.pick_up_path(&path).await;
                    }
                }
                _ = rescan.tick() => {
                    self.sweep_outgoing().await;
                    self.scan(false).await;
                }
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(next_due) => {}
            }
        }
    }

    async fn pick_up_path(&self, path: &Path) {
        let Some(name) = path.file_name().and_then(OsStr::to_str).map(str::to_owned) else {
            return;
        };
        if path.parent() != Some(self.inner.folders.req.as_path())
            || ignored(&name)
            || !path.is_file()
        {
            return;
        }
        let relay = self.clone();
        let outcome = tokio::task::spawn_blocking(move || relay.pick_up(&name)).await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(error = %e, "pick-up failed; the file stays in req/ and is retried at the next scan")
            }
            Err(e) => warn!(error = %e, "pick-up task failed"),
        }
    }

    /// Scans `req/`. At start every file is taken; later only files that have settled.
    async fn scan(&self, at_start: bool) {
        let relay = self.clone();
        let settle = if at_start {
            Duration::ZERO
        } else {
            self.inner.settings.settle
        };
        let outcome = tokio::task::spawn_blocking(move || -> Result<(), RelayError> {
            for path in list_dir(&relay.inner.folders.req)? {
                let Some(name) = path.file_name().and_then(OsStr::to_str).map(str::to_owned) else {
                    continue;
                };
                if ignored(&name) || !path.is_file() {
                    continue;
                }
                let age = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .unwrap_or(Duration::ZERO);
                if age >= settle {
                    if let Err(e) = relay.pick_up(&name) {
                        warn!(error = %e, "pick-up failed; retried at the next scan");
                    }
                }
            }
            Ok(())
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "scan of req/ failed"),
            Err(e) => warn!(error = %e, "scan task failed"),
        }
        self.inner.wake.notify_one();
    }

    /// Records and moves one file from `req/`. Blocking.
    fn pick_up(&self, name: &str) -> Result<(), RelayError> {
        let f = &self.inner.folders;
        let source = f.req.join(name);
        if !source.exists() {
            return Ok(()); // already taken (a notification and a scan raced)
        }
        let span = info_span!("pick_up", request = %name);
        let _enter = span.enter();
        crate::crash_point!("relay::picked_up");
        let parsed = match FileName::parse(name) {
            Ok(parsed) => parsed,
            Err(e) => return self.reject_unnamed(name, &source, &e.to_string(), e.code()),
        };
        let processing = f.processing().join(name);
        let now = self.inner.store.now_millis();
        match self.inner.store.outbox_receive(
            name,
            parsed.kind().code(),
            &processing.to_string_lossy(),
            now,
        )? {
            Received::New(_) => {}
            Received::Existing(entry)
                if !matches!(entry.state, OutboxState::Answered | OutboxState::Failed) =>
            {
                if processing.exists() {
                    // A second file under the name of a request still in flight: moving it would replace
                    // the first. It waits in req/; once the first is answered it is refused as a reused
                    // name (below) and kept.
                    debug!("a file of the same name is still in flight; this one waits");
                    return Ok(());
                }
                // Recorded before a crash but not moved yet: finish the move below.
            }
            Received::Existing(entry) => {
                // The name was used before and answered: a second request under the same name would make
                // two different results with one name. Refuse it and keep it.
                let issue = ValidationIssue {
                    code: "OQS-E1004",
                    element: String::new(),
                    message_ja: format!(
                        "このファイル名は既に処理済みです({})。新しいファイル名で置いてください",
                        entry.result_name.as_deref().unwrap_or("-")
                    ),
                    message_en: "this request file name was already processed; drop the request again under a new name"
                        .into(),
                };
                return self.reject_reused(name, &source, &parsed, &issue);
            }
        }
        crate::crash_point!("relay::outbox_written");
        move_file(&source, &processing)?;
        crate::crash_point!("relay::processing_renamed");
        debug!("picked up");
        let _ = self.inner.events.send(RelayEvent::PickedUp {
            request: name.to_owned(),
        });
        self.inner.wake.notify_one();
        Ok(())
    }

    fn delay_until_next_due(&self) -> Duration {
        match self.inner.store.outbox_next_due() {
            Ok(Some(due)) => Duration::from_millis(
                u64::try_from(due - self.inner.store.now_millis()).unwrap_or(0),
            ),
            Ok(None) => Duration::from_secs(3600),
            Err(e) => {
                warn!(error = %e, "cannot read the outbox; retrying in a second");
                Duration::from_secs(1)
            }
        }
    }

    /// Claims as many due requests as there are free senders and starts one task per request.
    fn dispatch_due(&self) {
        let free = self.inner.sending.available_permits();
        if free == 0 {
            return;
        }
        let claimed = match self
            .inner
            .store
            .outbox_claim_due(self.inner.store.now_millis(), free)
        {
            Ok(claimed) => claimed,
            Err(e) => {
                warn!(error = %e, "cannot claim requests from the outbox");
                return;
            }
        };
        for entry in claimed {
            let Ok(permit) = self.inner.sending.clone().try_acquire_owned() else {
                return;
            };
            let name = entry.request_name.clone();
            let entry = match self.reserve_or_hand_over(entry) {
                Some(entry) => entry,
                None => continue, // the task that holds the request sends it next
            };
            let relay = self.clone();
            let span = info_span!("relay", request = %name, attempt = entry.attempts);
            tokio::spawn(
                async move {
                    let mut entry = entry;
                    loop {
                        relay.send(entry).await;
                        // Lets a test widen the window in which a retry due at once is claimed again.
                        crate::__fail::fail_point!("relay::before_release");
                        match relay.release_or_next(&name) {
                            Some(next) => entry = next,
                            None => break,
                        }
                    }
                    drop(permit);
                    relay.inner.wake.notify_one();
                }
                .instrument(span),
            );
        }
    }

    /// Takes the request for a new task (returns the entry back), or, if a task holds it already, leaves
    /// the claimed entry for that task to send next (returns `None`).
    fn reserve_or_hand_over(&self, entry: OutboxEntry) -> Option<OutboxEntry> {
        let mut map = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match map.get_mut(&entry.request_name) {
            Some(slot) => {
                *slot = Some(entry);
                None
            }
            None => {
                map.insert(entry.request_name.clone(), None);
                Some(entry)
            }
        }
    }

    /// Takes the request for the caller unless a task holds it.
    fn try_reserve(&self, name: &str) -> bool {
        let mut map = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.contains_key(name) {
            return false;
        }
        map.insert(name.to_owned(), None);
        true
    }

    /// Ends the holding task's turn: the entry claimed meanwhile, if any (the request stays held), else
    /// the request is let go.
    fn release_or_next(&self, name: &str) -> Option<OutboxEntry> {
        let mut map = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match map.get_mut(name).and_then(Option::take) {
            Some(next) => Some(next),
            None => {
                map.remove(name);
                None
            }
        }
    }

    /// Finishes staged deliveries no task is working on: a rename into `res/` that failed, or an error
    /// result whose delivery failed, is retried here rather than only at the next start.
    async fn sweep_outgoing(&self) {
        let relay = self.clone();
        let outcome = tokio::task::spawn_blocking(move || -> Result<(), RelayError> {
            for staged in list_dir(&relay.inner.folders.outgoing())? {
                let Some(request) = staged
                    .file_name()
                    .and_then(OsStr::to_str)
                    .map(str::to_owned)
                else {
                    continue;
                };
                if request.starts_with('.') || !staged.is_dir() {
                    continue; // being staged by a running task
                }
                if !relay.try_reserve(&request) {
                    continue; // a running task delivers it
                }
                let span = info_span!("sweep", request = %request);
                let _enter = span.enter();
                match relay.finish_staged(&request, &staged) {
                    Ok(()) => info!("staged delivery finished by the sweep"),
                    Err(e) => {
                        warn!(error = %e, "staged delivery still fails; retried at the next sweep")
                    }
                }
                // A claim made meanwhile goes back to the queue: the row is terminal by now (and the
                // transition is refused), or its next attempt finishes this staged delivery.
                while relay.release_or_next(&request).is_some() {
                    let now = relay.inner.store.now_millis();
                    let _ = relay.inner.store.outbox_retry_later(
                        &request,
                        "held by the sweep of outgoing/",
                        now,
                        now,
                    );
                }
            }
            Ok(())
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "sweep of outgoing/ failed"),
            Err(e) => warn!(error = %e, "sweep task failed"),
        }
    }

    async fn send(&self, entry: OutboxEntry) {
        let name = entry.request_name.clone();
        let path = self.inner.folders.processing().join(&name);
        let Ok(parsed) = FileName::parse(&name) else {
            // Names were checked at pick-up; a row with another name came from outside the relay.
            warn!("outbox row with a name that is not a request name");
            let _ = self.inner.store.outbox_mark_failed(
                &name,
                "not a request file name",
                None,
                self.inner.store.now_millis(),
            );
            return;
        };
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && self.inner.folders.req.join(&name).is_file() =>
            {
                // Recorded but not moved yet (a crash or a failure between the two steps of the
                // pick-up): the next scan finishes the move.
                self.retry_later(&name, entry.attempts, "the pick-up is not finished yet");
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // The receipt computer still waits for an answer: give it an error result under the
                // normal result name and a `.err`, as for any request that cannot be answered.
                warn!(
                    code = "OQS-E1108",
                    "the request file vanished from processing/"
                );
                let issue = ValidationIssue {
                    code: "OQS-E1108",
                    element: String::new(),
                    message_ja: "要求ファイルが処理中に失われました。もう一度置いてください".into(),
                    message_en: "the request file disappeared from the terminal's processing folder before it was sent; drop it again under a new name".into(),
                };
                if !self
                    .blocking_reject(name.clone(), parsed, vec![issue])
                    .await
                {
                    self.retry_later(&name, entry.attempts, "error result not delivered yet");
                }
                return;
            }
            Err(e) => {
                self.retry_later(
                    &name,
                    entry.attempts,
                    &format!("cannot read the request: {e}"),
                );
                return;
            }
        };
        // Check the file here, so the vendor gets a precise message and the central service only sees
        // requests that can be answered.
        let issues = match read_file(&name, &bytes) {
            Ok(decoded) => decoded.message.validate(),
            Err(e) => vec![read_issue(&e)],
        };
        if !issues.is_empty() {
            if !self.blocking_reject(name.clone(), parsed, issues).await {
                self.retry_later(&name, entry.attempts, "error result not delivered yet");
            }
            return;
        }
        match self.inner.central.send_message(&name, &bytes).await {
            Ok(result) => {
                crate::crash_point!("relay::sent");
                let checked = check_result_name(&parsed, &result.name)
                    .and_then(|()| self.reencode(&result.name, result.body));
                let body = match checked {
                    Ok(body) => body,
                    Err(issue) => {
                        if !self
                            .blocking_reject(name.clone(), parsed, vec![issue])
                            .await
                        {
                            self.retry_later(
                                &name,
                                entry.attempts,
                                "error result not delivered yet",
                            );
                        }
                        return;
                    }
                };
                let relay = self.clone();
                let result_name = result.name.clone();
                let request = name.clone();
                let delivered = tokio::task::spawn_blocking(move || {
                    relay.deliver(
                        &request,
                        Outcome::Answered(result_name.clone()),
                        &[(result_name, body)],
                    )
                })
                .await;
                match delivered {
                    Ok(Ok(())) => {
                        info!(result = %result.name, "answered");
                        let _ = self.inner.events.send(RelayEvent::Answered {
                            request: name,
                            result: result.name,
                        });
                    }
                    Ok(Err(e)) => {
                        self.retry_later(&name, entry.attempts, &format!("delivery failed: {e}"))
                    }
                    Err(e) => self.retry_later(
                        &name,
                        entry.attempts,
                        &format!("delivery task failed: {e}"),
                    ),
                }
            }
            Err(e) if e.is_transient() => {
                self.retry_later(&name, entry.attempts, &e.to_string());
            }
            Err(e) => {
                let issue = central_issue(&e);
                if !self
                    .blocking_reject(name.clone(), parsed, vec![issue])
                    .await
                {
                    self.retry_later(&name, entry.attempts, "error result not delivered yet");
                }
            }
        }
    }

    fn retry_later(&self, name: &str, attempts: u32, reason: &str) {
        let delay = self.inner.settings.retry.delay(attempts.saturating_sub(1));
        let next = self.inner.store.now_millis()
            + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        debug!(?delay, reason, "request waits");
        if let Err(e) =
            self.inner
                .store
                .outbox_retry_later(name, reason, next, self.inner.store.now_millis())
        {
            warn!(error = %e, "cannot reschedule the request");
        }
        let _ = self.inner.events.send(RelayEvent::Waiting {
            request: name.to_owned(),
            reason: reason.to_owned(),
        });
    }

    fn reencode(&self, result_name: &str, body: Vec<u8>) -> Result<Vec<u8>, ValidationIssue> {
        result_for_facility(result_name, body, &self.inner.encoding)
    }

    /// Rejects the request; false if the error result could not be delivered (the caller re-queues the
    /// request, and a staged part of the delivery is finished by the sweep of `outgoing/`).
    async fn blocking_reject(
        &self,
        name: String,
        parsed: FileName,
        issues: Vec<ValidationIssue>,
    ) -> bool {
        let relay = self.clone();
        let code = issues
            .first()
            .map(|i| i.code)
            .unwrap_or("OQS-E1107")
            .to_owned();
        let request = name.clone();
        let outcome =
            tokio::task::spawn_blocking(move || relay.reject(&request, &parsed, &issues)).await;
        match outcome {
            Ok(Ok(())) => {
                info!(code, "rejected");
                let _ = self.inner.events.send(RelayEvent::Rejected {
                    request: name,
                    code,
                });
                true
            }
            Ok(Err(e)) => {
                warn!(error = %e, "could not write the error result; retried later");
                false
            }
            Err(e) => {
                warn!(error = %e, "reject task failed; retried later");
                false
            }
        }
    }

    /// A request that cannot be answered: an error result of its kind, a copy of the request and the
    /// `.err` file go to `res/`; the original goes to `error/`.
    fn reject(
        &self,
        name: &str,
        parsed: &FileName,
        issues: &[ValidationIssue],
    ) -> Result<(), RelayError> {
        let processing = self.inner.folders.processing().join(name);
        // A request that vanished from processing/ still gets its error result and `.err`, without a copy.
        let request_bytes = match std::fs::read(&processing) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(RelayError::io("read", &processing, e)),
        };
        let mut files = Vec::new();
        let fallback = ValidationIssue {
            code: "OQS-E1107",
            element: String::new(),
            message_ja: "要求ファイルを処理できませんでした".into(),
            message_en: "the request could not be processed".into(),
        };
        let first = issues.first().unwrap_or(&fallback);
        if let Ok(result_name) = parsed.result_name() {
            let message = error_result(parsed.kind(), first);
            if let Ok((bytes, _)) = self.inner.encoding.write(&message) {
                files.push((result_name, bytes));
            }
        }
        if let Some(request_bytes) = request_bytes {
            files.push((name.to_owned(), request_bytes));
        }
        files.push((parsed.err_name(), render_err_file(issues).into_bytes()));
        self.deliver(
            name,
            Outcome::Failed(format!("{} {}", first.code, first.message_en)),
            &files,
        )
    }

    fn reject_reused(
        &self,
        name: &str,
        source: &Path,
        parsed: &FileName,
        issue: &ValidationIssue,
    ) -> Result<(), RelayError> {
        // The outbox row belongs to the earlier request; this file only gets a copy and a `.err`.
        let bytes = std::fs::read(source).map_err(|e| RelayError::io("read", source, e))?;
        let err = render_err_file(std::slice::from_ref(issue));
        self.write_and_keep(
            name,
            source,
            &[(parsed.err_name(), err.into_bytes())],
            Some(bytes),
        )
    }

    /// A file whose name is not an OQS request name: a `.err` next to a copy, the original kept.
    fn reject_unnamed(
        &self,
        name: &str,
        source: &Path,
        reason: &str,
        code: &'static str,
    ) -> Result<(), RelayError> {
        let issue = ValidationIssue {
            code,
            element: String::new(),
            message_ja: if code == "OQS-E1002" {
                "この種類の要求ファイルには対応していません".into()
            } else {
                "ファイル名が要求ファイルの形式ではありません".into()
            },
            message_en: reason.to_owned(),
        };
        let bytes = std::fs::read(source).map_err(|e| RelayError::io("read", source, e))?;
        let err = render_err_file(std::slice::from_ref(&issue));
        info!(code, "file with an unknown name rejected");
        let mut files = Vec::new();
        // A request of a kind we do not handle (e.g. `CIPsiquc01req_…`) still names its result: the client
        // waits for that name, never for the `.err`.
        if let Some(result_name) = unsupported_result_name(name) {
            let message = unknown_kind_error_result(name, &issue);
            if let Ok((bytes, _)) = self.inner.encoding.write(&message) {
                files.push((result_name, bytes));
            }
        }
        files.push((format!("{name}.err"), err.into_bytes()));
        self.write_and_keep(name, source, &files, Some(bytes))
    }

    /// For files that never get an outbox row: write to `res/` atomically and move the original to
    /// `error/`. A crash in between at worst writes the `.err` twice under the same name.
    fn write_and_keep(
        &self,
        name: &str,
        source: &Path,
        files: &[(String, Vec<u8>)],
        copy: Option<Vec<u8>>,
    ) -> Result<(), RelayError> {
        let f = &self.inner.folders;
        if let Some(copy) = copy {
            write_atomic(&f.res, name, &copy)?;
        }
        for (file, bytes) in files {
            write_atomic(&f.res, file, bytes)?;
        }
        let kept = unique_path(&f.error(), name);
        move_file(source, &kept)
    }

    /// Stage, mark, move: see the module documentation.
    fn deliver(
        &self,
        request: &str,
        outcome: Outcome,
        files: &[(String, Vec<u8>)],
    ) -> Result<(), RelayError> {
        let staged = self.inner.folders.outgoing().join(request);
        let temporary = self
            .inner
            .folders
            .outgoing()
            .join(format!(".{request}.staging"));
        if temporary.exists() {
            discard(&temporary)?;
        }
        if staged.is_dir() {
            // An earlier attempt staged its delivery and could not finish it (its row went back to the
            // queue): that delivery was decided first and may be half in res/ already. Finish it; this
            // answer is not delivered, or the receipt computer would get a second result.
            info!("an earlier staged delivery is finished instead");
            return self.finish_staged(request, &staged);
        }
        create_dir(&temporary, Some(0o700))?;
        for (file, bytes) in files {
            write_synced(&temporary.join(file), bytes)?;
        }
        crate::crash_point!("relay::staging");
        write_synced(&temporary.join(OUTCOME_FILE), outcome.encode().as_bytes())?;
        sync_dir(&temporary)?;
        // The staging folder appears under its final name in one step.
        std::fs::rename(&temporary, &staged).map_err(|e| RelayError::io("stage", &staged, e))?;
        sync_dir(&self.inner.folders.outgoing())?;
        crate::crash_point!("relay::staged");
        self.finish_staged(request, &staged)
    }

    /// Marks the outbox row from the staged outcome and moves the staged files into `res/`.
    fn finish_staged(&self, request: &str, staged: &Path) -> Result<(), RelayError> {
        let f = &self.inner.folders;
        let outcome_path = staged.join(OUTCOME_FILE);
        let outcome = std::fs::read_to_string(&outcome_path)
            .ok()
            .and_then(|s| Outcome::decode(&s))
            .unwrap_or(Outcome::Failed("staged delivery without outcome".into()));
        let now = self.inner.store.now_millis();
        let store = &self.inner.store;
        if let Some(entry) = store.outbox_get(request)? {
            match (&outcome, entry.state) {
                (_, OutboxState::Answered | OutboxState::Failed) => {}
                // `sending` (the delivering task, or at start before `outbox_recover_in_flight`) or
                // `received` (re-queued after a failed finish, swept later): the staged outcome decides.
                (Outcome::Answered(result), OutboxState::Received) => {
                    store.outbox_mark_staged_answered(request, result, now)?;
                }
                (Outcome::Answered(result), OutboxState::Sending) => {
                    store.outbox_mark_answered(request, result, now)?;
                }
                (Outcome::Failed(reason), _) => {
                    store.outbox_mark_failed(request, reason, None, now)?;
                }
            }
        }
        crate::crash_point!("relay::marked");
        for path in list_dir(staged)? {
            let Some(file) = path.file_name().and_then(OsStr::to_str) else {
                continue;
            };
            if file == OUTCOME_FILE {
                continue;
            }
            let target = f.res.join(file);
            // Error injection for the tests of the sweep (a failed rename is retried, not forgotten).
            crate::__fail::fail_point!("relay::deliver_fails", |_| Err(RelayError::io(
                "deliver",
                &target,
                std::io::Error::other("injected failure")
            )));
            std::fs::rename(&path, &target).map_err(|e| RelayError::io("deliver", &target, e))?;
            // Both folders: the file must not come back in outgoing/ after a power cut (a second
            // delivery), nor vanish from res/.
            sync_dir(&f.res)?;
            sync_dir(staged)?;
            crate::crash_point!("relay::delivered_one");
        }
        let processing = f.processing().join(request);
        if processing.exists() {
            let keep = match outcome {
                Outcome::Answered(_) => f.done().join(request),
                Outcome::Failed(_) => unique_path(&f.error(), request),
            };
            move_file(&processing, &keep)?;
        }
        crate::crash_point!("relay::kept");
        discard(staged)?;
        Ok(())
    }
}

const OUTCOME_FILE: &str = ".outcome";

enum Outcome {
    Answered(String),
    Failed(String),
}

impl Outcome {
    fn encode(&self) -> String {
        match self {
            Outcome::Answered(result) => format!("answered\n{result}"),
            Outcome::Failed(reason) => format!("failed\n{reason}"),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        let (kind, rest) = s.split_once('\n')?;
        match kind {
            "answered" => Some(Outcome::Answered(rest.to_owned())),
            "failed" => Some(Outcome::Failed(rest.to_owned())),
            _ => None,
        }
    }
}

/// The error result of a request's kind, carrying the first problem's code and message.
pub fn error_result(kind: MessageKind, issue: &ValidationIssue) -> Message {
    let message = format!("{} / {}", issue.message_ja, issue.message_en);
    let single = SingleCheckResult::error(issue.code, message.clone());
    let header = single.message_header.clone();
    match kind {
        MessageKind::SingleCheck => Message::SingleCheckResult(single),
        MessageKind::BulkUpload => Message::BulkUploadReceipt(oqs_protocol::BulkUploadReceipt {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::BulkDownload => Message::BulkResult(oqs_protocol::BulkResult {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::RefNumberSingle => Message::RefNumberResult(oqs_protocol::RefNumberResult {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::RefNumberBulk | MessageKind::BulkQueryUpload(_) => {
            Message::BulkUploadReceipt(oqs_protocol::BulkUploadReceipt {
                message_header: header,
                ..Default::default()
            })
        }
        MessageKind::BulkQueryDownload(_) => Message::BulkResult(oqs_protocol::BulkResult {
            message_header: header,
            ..Default::default()
        }),
        MessageKind::RefNumberBulkDownload => {
            Message::RefNumberBulkResult(oqs_protocol::RefNumberBulkResult {
                message_header: header,
                ..Default::default()
            })
        }
        MessageKind::Medication => Message::MedicationResult(MedicationResult::error(message)),
        MessageKind::Checkup => Message::CheckupResult(CheckupResult::error(message)),
    }
}

/// The error result for a request of a kind the terminal does not know: the YZK/TKK form (`ResultCode` 2 +
/// `MessageContents`, what D reads for those prefixes) or the 資格確認 form (`SegmentOfResult` 9 +
/// `ErrorCode` / `ErrorMessage`, what D, M and R read for `OQS…`).
pub fn unknown_kind_error_result(name: &str, issue: &ValidationIssue) -> Message {
    if name.starts_with("YZK") || name.starts_with("TKK") {
        error_result(MessageKind::Medication, issue)
    } else {
        error_result(MessageKind::SingleCheck, issue)
    }
}

fn read_issue(e: &ReadError) -> ValidationIssue {
    ValidationIssue {
        code: e.code(),
        element: String::new(),
        message_ja: "ファイルを読み取れませんでした".into(),
        message_en: e.to_string(),
    }
}

fn central_issue(e: &CentralError) -> ValidationIssue {
    ValidationIssue {
        code: "OQS-E1401",
        element: String::new(),
        message_ja: "中央のサービスが要求を受け付けませんでした".into(),
        message_en: e.to_string(),
    }
}

/// Names the relay never touches: temporary files of writers, hidden files, our own `.err` files.
fn ignored(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp") || name.ends_with('~')
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, RelayError> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| RelayError::io("list", dir, e))? {
        let entry = entry.map_err(|e| RelayError::io("list", dir, e))?;
        paths.push(entry.path());
    }
    paths.sort();
    Ok(paths)
}

/// Renames `from` to `to` durably: the file's data is on disk before the rename (a power cut must not
/// leave an empty file under the new name), and both folders are synced after it (the move must not be
/// undone, nor the file be in neither folder, after a power cut).
fn move_file(from: &Path, to: &Path) -> Result<(), RelayError> {
    // Windows flushes a file only through a handle that may write (FlushFileBuffers on a read-only handle
    // is "access denied"); opening for writing neither truncates nor changes it.
    std::fs::OpenOptions::new()
        .read(true)
        .write(cfg!(windows))
        .open(from)
        .and_then(|f| f.sync_all())
        .map_err(|e| RelayError::io("sync", from, e))?;
    std::fs::rename(from, to).map_err(|e| RelayError::io("move", from, e))?;
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    if let Some(parent) = from.parent() {
        if Some(parent) != to.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Removes a staging folder (or a finished, emptied staged one).
fn discard(dir: &Path) -> Result<(), RelayError> {
    std::fs::remove_dir_all(dir).map_err(|e| RelayError::io("clear", dir, e))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// The central service's result must carry the request's result name: another name would be delivered
/// where the receipt computer never looks (or, with a path in it, outside `res/`), and the request would
/// seem unanswered.
fn check_result_name(request: &FileName, result_name: &str) -> Result<(), ValidationIssue> {
    let expected = request.result_name().map_err(|e| ValidationIssue {
        code: e.code(),
        element: String::new(),
        message_ja: "要求ファイルの結果ファイル名を決められません".into(),
        message_en: e.to_string(),
    })?;
    if result_name == expected {
        return Ok(());
    }
    Err(ValidationIssue {
        code: "OQS-E1402",
        element: String::new(),
        message_ja: "中央のサービスの結果ファイル名が要求と一致しません".into(),
        message_en: format!(
            "the central service answered with a result named `{}`, not `{expected}`",
            result_name.escape_debug()
        ),
    })
}

/// `dir/name`, or `dir/name.1`, `.2` … if taken: kept originals never overwrite each other.
fn unique_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    (1..)
        .map(|n| dir.join(format!("{name}.{n}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RelayError> {
    let mut file = std::fs::File::create(path).map_err(|e| RelayError::io("create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| RelayError::io("write", path, e))?;
    file.sync_all().map_err(|e| RelayError::io("sync", path, e))
}

/// Writes `dir/name` through `dir/name.tmp` + rename, so readers never see half a file.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RelayError> {
    let tmp = dir.join(format!("{name}.tmp"));
    write_synced(&tmp, bytes)?;
    let target = dir.join(name);
    std::fs::rename(&tmp, &target).map_err(|e| RelayError::io("rename", &target, e))?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), RelayError> {
    #[cfg(unix)]
    {
        let handle = std::fs::File::open(dir).map_err(|e| RelayError::io("open", dir, e))?;
        handle
            .sync_all()
            .map_err(|e| RelayError::io("sync", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Watches `dir` and sends the path of every file that was closed after writing or moved in.
fn watch_folder(
    dir: &Path,
    tx: tokio::sync::mpsc::UnboundedSender<PathBuf>,
) -> Result<notify::RecommendedWatcher, RelayError> {
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    use notify::{EventKind, RecursiveMode, Watcher};
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let ready = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
        );
        // A create comes before the data: such files are left to the close event or, where the platform
        // has none (network shares), to the scan once they have settled.
        if ready {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
    })
    .map_err(|e| RelayError::Watch {
        path: dir.to_owned(),
        reason: e.to_string(),
    })?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| RelayError::Watch {
            path: dir.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(watcher)
}

/// What goes to `res/` for the central service's answer: the DV・虐待 restriction applied again (the daemon
/// does it to every result it stores, shows or writes; docs/file-interface.md, "Restricted records"), in the
/// facility's encoding. Never in another encoding: characters the facility's cannot hold become 〓. The
/// central service's bytes go as they are when neither changes anything.
fn result_for_facility(
    result_name: &str,
    body: Vec<u8>,
    encoding: &FacilityEncoding,
) -> Result<Vec<u8>, ValidationIssue> {
    let mut decoded = read_file(result_name, &body).map_err(|e| read_issue(&e))?;
    let restricted = decoded.message.apply_disclosure_restriction();
    if !restricted && decoded.encoding == encoding.current() {
        return Ok(body);
    }
    encoding
        .write(&decoded.message)
        .map(|(bytes, _)| bytes)
        .map_err(|e| ValidationIssue {
            code: e.code(),
            element: String::new(),
            message_ja: "結果ファイルを書き出せませんでした".into(),
            message_en: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relayed single or bulk result of a restricted (DV・虐待) person reaches `res/` without the address,
    /// even when the central service sent one; an unrestricted result goes byte for byte.
    #[test]
    fn relayed_results_of_restricted_people_lose_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::charset::test_store(dir.path());
        let encoding = FacilityEncoding::new(store, Encoding::Utf8);
        let flag = oqs_protocol::DISCLOSURE_RESTRICTION_ELEMENT;
        let record = |restricted: bool| {
            format!(
                "<ResultOfQualificationConfirmation><InsuredCardClassification>01</InsuredCardClassification>\
                 <Name>大野　茂</Name><Address>東京都台東区浅草１－２－３</Address><PostNumber>111-0032</PostNumber>\
                 <{flag}>{}</{flag}></ResultOfQualificationConfirmation>",
                u8::from(restricted)
            )
        };
        let head = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?><XmlMsg><MessageHeader>\
            <SegmentOfResult>1</SegmentOfResult><CharacterCodeIdentifier>0</CharacterCodeIdentifier></MessageHeader>";
        let single = |restricted: bool| {
            format!(
                "{head}<MessageBody><ProcessingResultStatus>1</ProcessingResultStatus><ResultList>{}{}</ResultList></MessageBody></XmlMsg>",
                record(false),
                record(restricted)
            )
        };
        let bulk = format!(
            "{head}<MessageBody><BulkConfirmUnit><ProcessingResultStatus>1</ProcessingResultStatus>{}</BulkConfirmUnit>\
             <BulkConfirmUnit><ProcessingResultStatus>1</ProcessingResultStatus>{}</BulkConfirmUnit></MessageBody></XmlMsg>",
            record(true),
            record(false)
        );
        for (name, text, restricted_units) in [
            ("OQSsiquc01res_1.xml", single(true), 1),
            ("OQSmutic02res_1.xml", bulk, 1),
        ] {
            let out = result_for_facility(name, text.clone().into_bytes(), &encoding).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert_ne!(out, text);
            // Only the unrestricted bulk unit keeps its address.
            assert_eq!(
                out.matches("<Address>").count(),
                if name.starts_with("OQSmutic") { 1 } else { 0 },
                "{out}"
            );
            assert!(
                out.matches(&format!("<{flag}>1<")).count() >= restricted_units,
                "{out}"
            );
            assert!(
                !out.contains("<PostNumber>111-0032</PostNumber><{flag}>1"),
                "{out}"
            );
        }
        let plain = single(false);
        let out = result_for_facility("OQSsiquc01res_2.xml", plain.clone().into_bytes(), &encoding)
            .unwrap();
        assert_eq!(out, plain.into_bytes());
    }

    #[test]
    fn a_result_must_carry_the_requests_result_name() {
        let request = FileName::parse("OQSsiquc01req_0001.xml").unwrap();
        assert!(check_result_name(&request, "OQSsiquc01res_0001.xml").is_ok());
        for wrong in [
            "OQSsiquc01res_0002.xml",
            "OQSsiquc01req_0001.xml",
            "../OQSsiquc01res_0001.xml",
            "OQSsiquc01res_0001.xml/../../x",
            "",
        ] {
            let issue = check_result_name(&request, wrong).unwrap_err();
            assert_eq!(issue.code, "OQS-E1402", "{wrong:?}");
        }
    }
}
