//! The daemon's one configuration file (TOML), with defaults that work out of the box.
//!
//! Every path may be relative; relative paths are taken from the folder of the configuration file, so a
//! configuration and its certificates can be moved together. See `reader-daemon/oqs-readerd.example.toml`
//! for every key and its default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oqs_protocol::Encoding;
use serde::Deserialize;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration `{path}` is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the configuration `{path}` is not valid: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub facility: FacilityConfig,
    #[serde(default)]
    pub folders: FoldersConfig,
    #[serde(default)]
    pub central: CentralSection,
    #[serde(default)]
    pub relay: RelaySection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub ipc: IpcSection,
    #[serde(default)]
    pub readers: ReadersSection,
    #[serde(default)]
    pub kiosk: KioskSection,
    #[serde(default)]
    pub face: FaceSection,
    /// When the 要再確認 list is checked again.
    #[serde(default)]
    pub recheck: RecheckSection,
    /// Staff logins and sessions (see [`crate::accounts::AccountSettings`]).
    #[serde(default)]
    pub accounts: crate::accounts::AccountSettings,
    /// Where "now" comes from: the system clock unless a test pins it.
    #[serde(default)]
    pub clock: ClockSection,
    /// What this terminal is for: a reception PC, or a 閲覧用端末.
    #[serde(default)]
    pub terminal: TerminalSection,
    /// The folder the file was read from; relative paths are resolved against it.
    #[serde(skip)]
    pub base: PathBuf,
}

/// `[terminal]`. `role = "viewer"` makes a 閲覧用端末 (a PC in a consultation room): the same daemon and app
/// with no card reader and no receipt-computer folders, showing the consented patients' information and the
/// emergency view from the facility-wide store (so it needs `[store] shared`). The daemon refuses every
/// reception request on it ([`terminal_ipc::ErrorCode::ViewerTerminal`]), whatever the app shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalSection {
    pub role: terminal_ipc::TerminalRole,
}

impl Config {
    /// A 閲覧用端末: no readers, no folders, no reception requests.
    pub fn is_viewer(&self) -> bool {
        self.terminal.role == terminal_ipc::TerminalRole::Viewer
    }
}

/// `[clock]`: for tests and training only. With `pinned` set the daemon's calendar starts at that instant
/// (RFC 3339, or `yyyyMMddHHmmss` JST) and advances in real time; the readiness check fails such a terminal,
/// because its consents, audit rows and result files would carry a date that is not today.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockSection {
    pub pinned: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FacilityConfig {
    /// 医療機関コード (10 digits).
    pub medical_institution_code: String,
}

impl Default for FacilityConfig {
    fn default() -> Self {
        Self {
            medical_institution_code: "1311111111".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FoldersConfig {
    pub req: PathBuf,
    pub res: PathBuf,
    pub face: PathBuf,
    /// The daemon's private working folder (processing, staged results, kept requests).
    pub work: PathBuf,
}

impl Default for FoldersConfig {
    fn default() -> Self {
        Self {
            req: "req".into(),
            res: "res".into(),
            face: "face".into(),
            work: "work".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CentralSection {
    pub url: String,
    pub ca_cert: PathBuf,
    pub terminal_cert: PathBuf,
    pub terminal_key: PathBuf,
    /// Name of the secret in the OS keyring holding the key's passphrase, if the key is encrypted.
    pub key_passphrase_secret: Option<String>,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    /// How often the link is probed while the central service is unreachable.
    pub probe_interval_ms: u64,
}

impl Default for CentralSection {
    fn default() -> Self {
        Self {
            url: "https://127.0.0.1:8443/".into(),
            ca_cert: "central/ca.crt".into(),
            terminal_cert: "central/terminal.crt".into(),
            terminal_key: "central/terminal.key".into(),
            key_passphrase_secret: None,
            connect_timeout_ms: 3_000,
            request_timeout_ms: 10_000,
            probe_interval_ms: 2_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaySection {
    /// `UTF-8` or `Shift_JIS` (利用文字コード of the result files).
    pub result_encoding: Encoding,
    pub concurrency: usize,
    pub rescan_interval_ms: u64,
    pub settle_ms: u64,
}

impl Default for RelaySection {
    fn default() -> Self {
        Self {
            result_encoding: Encoding::Utf8,
            concurrency: 8,
            rescan_interval_ms: 10_000,
            settle_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    pub path: PathBuf,
    /// Name of the store's data key in the OS keyring.
    pub key_secret: String,
    /// Keep the data key in this file (mode 0600) instead of the OS keyring: for a system service, whose
    /// keyutils keyring is emptied at every reboot. Created on first start; back it up with the database.
    pub key_file: Option<PathBuf>,
    /// The facility-wide store on PostgreSQL (`host=/run/postgresql dbname=oqs user=oqs`, or a
    /// `postgres://` URL): check-ins and consents of every terminal. Unset: this terminal's SQLite only.
    /// Every terminal of the facility must be given the same data key (`key_file`) at set-up.
    pub shared: Option<String>,
    /// This terminal's id in the facility-wide store (letters, digits, `-`, `_`, `.`; unique in the
    /// facility). Needed with `shared`.
    pub terminal_id: Option<String>,
    /// The facility's CA certificate (PEM) for a PostgreSQL server on another machine: the connection is
    /// TLS, the server's certificate must chain to this CA alone and name the host in `shared`. Unset: only
    /// a Unix socket or this machine is accepted.
    pub shared_ca: Option<PathBuf>,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            path: "work/facility.sqlite3".into(),
            key_secret: "facility-store-key".into(),
            key_file: None,
            shared: None,
            terminal_id: None,
            shared_ca: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpcSection {
    /// The socket; its folder is created with mode 0700.
    pub socket: PathBuf,
    /// Name of the client token in the OS keyring.
    pub token_secret: String,
    /// Keep the client token in this file instead of the OS keyring (a system service: clients run as other
    /// users and cannot see the service's keyring). Written at every start, mode 0640, group `group`.
    pub token_file: Option<PathBuf>,
    /// An OS group whose members may connect besides the daemon's own user (the reception PC's desktop
    /// user, the administrator running `oqs status`). It also owns the token file and the socket folder.
    pub group: Option<String>,
}

impl Default for IpcSection {
    fn default() -> Self {
        Self {
            socket: "run/oqs-readerd.sock".into(),
            token_secret: "ipc-token".into(),
            token_file: None,
            group: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadersSection {
    /// Reader names to use (exact PC/SC names); empty = every reader.
    pub names: Vec<String>,
    /// Readers with a card-face scanner and a camera (face matching offered).
    pub face_capable: Vec<String>,
    /// Test builds only (feature `virtual-reader`): read cards from this folder instead of PC/SC, each
    /// sub-folder a reader and its `card.toml` a virtual card (see `reader_daemon::virtual_reader`). A
    /// production build refuses the setting.
    pub virtual_dir: Option<PathBuf>,
}

/// `[kiosk]`. Its sub-tables are kiosks that own several readers: `[kiosk.east] readers = ["face reader",
/// "NFC reader"]` makes one patient screen, `east`, of a face reader and a generic NFC reader next to it (for
/// smartphones); a card or phone on either starts that patient's flow and the other is ignored until it ends.
/// (No `deny_unknown_fields`: serde cannot combine it with the flattened kiosks; a mistyped setting still fails,
/// as a kiosk that is not a table.)
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KioskSection {
    /// Seconds without input before the kiosk gives up on a patient.
    pub inactivity_timeout_secs: u64,
    pub max_face_attempts: u8,
    /// The last seconds before the time-out during which the kiosk counts down aloud
    /// (「あと N 秒で最初の画面に戻ります」 with 「続ける」, a tone each second); 0: no countdown. Less than
    /// `inactivity_timeout_secs`.
    pub countdown_secs: u64,
    /// The layout each new patient starts with: `standard`, or `seated` (「車いす・座ったまま」: every control
    /// in the lower half of the screen). The patient may change it on the first screen.
    pub default_layout: terminal_ipc::KioskLayout,
    /// Each new patient starts in 「大きな文字・白黒反転」 (high contrast, extra large).
    pub default_high_contrast: bool,
    /// Spoken guidance: each screen's text and every notice said aloud in the patient's language (made on the
    /// kiosk PC by Open JTalk or espeak-ng), with a 🔊 button that repeats it.
    pub voice: bool,
    /// The spoken guidance's volume, from 0.0 (silent) to 1.0.
    pub voice_volume: f32,
    /// Kiosks of several readers, by the kiosk's name (the name its patient screen follows); anything else
    /// under `[kiosk]` is refused by name when the file is checked.
    #[serde(flatten)]
    pub pools: std::collections::BTreeMap<String, KioskEntry>,
}

/// `[kiosk.NAME]`: the readers of one patient screen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskPool {
    pub readers: Vec<String>,
}

/// A key under `[kiosk]` that is not one of its settings: a kiosk of several readers, or a mistake.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum KioskEntry {
    Pool(KioskPool),
    Unknown(toml::Value),
}

impl KioskSection {
    /// The kiosks of several readers (after [`Config::load`] has refused anything else).
    pub fn kiosk_pools(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.pools
            .iter()
            .filter_map(|(name, e)| match e {
                KioskEntry::Pool(p) => Some((name.clone(), p.readers.clone())),
                KioskEntry::Unknown(_) => None,
            })
            .collect()
    }
}

impl KioskSection {
    /// The display a new patient starts with.
    pub fn display(&self) -> terminal_ipc::KioskDisplay {
        terminal_ipc::KioskDisplay {
            layout: self.default_layout,
            high_contrast: self.default_high_contrast,
            voice: terminal_ipc::KioskVoice {
                on: self.voice,
                volume: self.voice_volume,
            },
        }
    }
}

/// Face matching on the readers named in `readers.face_capable`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaceSection {
    /// Folder holding the two model files (scripts/fetch-face-models.sh); empty: `$OQS_FACE_MODELS`, then
    /// `target/face-models` of the source tree, then `/usr/share/oqs-terminal/face-models`.
    pub models: PathBuf,
    /// The camera: `v4l2:/dev/video0`, or `folder:PATH` / `file:PATH` (pictures, for tests and the demo).
    /// Empty: no camera, so face matching is not offered.
    pub camera: String,
    /// Frames looked at in one attempt before it counts as not matched.
    pub frames_per_attempt: u32,
    /// Pause between two frames of an attempt, in milliseconds.
    pub frame_interval_ms: u64,
    /// This reader's id registered with the central service, and its Ed25519 signing key (PEM PKCS#8).
    pub reader_id: String,
    pub reader_key: PathBuf,
}

impl Default for FaceSection {
    fn default() -> Self {
        Self {
            models: PathBuf::new(),
            camera: String::new(),
            frames_per_attempt: 10,
            frame_interval_ms: 200,
            reader_id: "reader-01".into(),
            reader_key: "reader-01.key".into(),
        }
    }
}

/// `[recheck]`: the 要再確認 list (visits the central service could not confirm) is checked again by the
/// numbers the patient gave, every day at `at` (JST) unless `daily = false`, and always on `receipt_day` of
/// the month, before the monthly レセプト run. A run missed while the daemon was not running is made when it
/// starts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecheckSection {
    /// `HH:MM`, Japan time.
    pub at: String,
    pub daily: bool,
    /// Day of the month (1–28) of the run before the レセプト.
    pub receipt_day: u8,
}

impl Default for RecheckSection {
    fn default() -> Self {
        Self {
            at: "07:30".into(),
            daily: true,
            receipt_day: 1,
        }
    }
}

impl RecheckSection {
    /// The time of day of the runs as minutes after midnight; `None` when `at` is not `HH:MM`.
    pub fn minute_of_day(&self) -> Option<u16> {
        let (h, m) = self.at.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    }
}

impl Default for KioskSection {
    fn default() -> Self {
        Self {
            inactivity_timeout_secs: 60,
            max_face_attempts: 3,
            countdown_secs: 10,
            default_layout: terminal_ipc::KioskLayout::Standard,
            default_high_contrast: false,
            voice: true,
            voice_volume: 0.8,
            pools: std::collections::BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |problem: String| ConfigError::Invalid {
            path: path.to_owned(),
            problem,
        };
        let code = &self.facility.medical_institution_code;
        if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "facility.medical_institution_code must be 10 digits, not `{code}`"
            )));
        }
        if self.readers.virtual_dir.is_some() && !cfg!(feature = "virtual-reader") {
            return Err(invalid(
                "readers.virtual_dir is for test builds only (the feature `virtual-reader`); this build \
                 reads the PC/SC readers: remove the setting"
                    .into(),
            ));
        }
        let url: url::Url = self
            .central
            .url
            .parse()
            .map_err(|e| invalid(format!("central.url `{}`: {e}", self.central.url)))?;
        if url.scheme() != "https" {
            return Err(invalid("central.url must be https (mutual TLS)".into()));
        }
        if !self.face.camera.is_empty() {
            self.face
                .camera
                .parse::<face_match::camera::CameraSpec>()
                .map_err(|e| invalid(format!("face.camera: {e}")))?;
        }
        let kiosk = &self.kiosk;
        if kiosk.countdown_secs > 0 && kiosk.countdown_secs >= kiosk.inactivity_timeout_secs {
            return Err(invalid(format!(
                "kiosk.countdown_secs ({}) must be less than kiosk.inactivity_timeout_secs ({}): the countdown \
                 is the end of the wait, not all of it (0 turns it off)",
                kiosk.countdown_secs, kiosk.inactivity_timeout_secs
            )));
        }
        if !(0.0..=1.0).contains(&kiosk.voice_volume) {
            return Err(invalid(format!(
                "kiosk.voice_volume ({}) must be from 0.0 (silent) to 1.0 (full volume); to turn the spoken \
                 guidance off set kiosk.voice = false",
                kiosk.voice_volume
            )));
        }
        let mut pooled: Vec<&String> = Vec::new();
        for (name, entry) in &kiosk.pools {
            let KioskEntry::Pool(pool) = entry else {
                return Err(invalid(format!(
                    "kiosk.{name} is not a setting of [kiosk] (a kiosk of several readers is a table: \
                     [kiosk.NAME] readers = [\"…\", \"…\"])"
                )));
            };
            if pool.readers.is_empty() {
                return Err(invalid(format!("kiosk.{name}.readers names no reader")));
            }
            if self.readers.names.contains(name) {
                return Err(invalid(format!(
                    "kiosk.{name}: a kiosk cannot have the name of a reader"
                )));
            }
            for reader in &pool.readers {
                if pooled.contains(&reader) {
                    return Err(invalid(format!(
                        "kiosk.{name}: the reader `{reader}` belongs to two kiosks"
                    )));
                }
                if !self.readers.names.is_empty() && !self.readers.names.contains(reader) {
                    return Err(invalid(format!(
                        "kiosk.{name}: the reader `{reader}` is not in readers.names"
                    )));
                }
                pooled.push(reader);
            }
        }
        if self.relay.concurrency == 0 {
            return Err(invalid("relay.concurrency must be at least 1".into()));
        }
        if self.recheck.minute_of_day().is_none() {
            return Err(invalid(format!(
                "recheck.at `{}` must be a time of day as HH:MM (e.g. \"07:30\")",
                self.recheck.at
            )));
        }
        if !(1..=28).contains(&self.recheck.receipt_day) {
            return Err(invalid(format!(
                "recheck.receipt_day {} must be a day of the month from 1 to 28",
                self.recheck.receipt_day
            )));
        }
        oqs_clock::Clock::from_setting(self.clock.pinned.as_deref())
            .map_err(|e| invalid(format!("clock.pinned: {e}")))?;
        if self.is_viewer() {
            if self.store.shared.is_none() {
                return Err(invalid(
                    "terminal.role = \"viewer\" needs [store] shared: a 閲覧用端末 shows what the facility's \
                     other terminals recorded, and has nothing of its own"
                        .into(),
                ));
            }
            if !self.readers.names.is_empty()
                || !self.readers.face_capable.is_empty()
                || !kiosk.pools.is_empty()
            {
                return Err(invalid(
                    "terminal.role = \"viewer\" has no card reader: remove readers.names, \
                     readers.face_capable and the [kiosk.NAME] tables (or make it a reception terminal)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// `[store] shared` and `terminal_id` as [`facility_store::Store::with_shared`] takes them; `None` on a
    /// terminal without a facility-wide store.
    pub fn shared_store(&self) -> anyhow::Result<Option<facility_store::SharedConfig>> {
        let Some(url) = &self.store.shared else {
            return Ok(None);
        };
        let terminal_id = self.store.terminal_id.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "[store] shared needs [store] terminal_id, this terminal's id in the facility"
            )
        })?;
        Ok(Some(facility_store::SharedConfig {
            url: url.clone(),
            terminal_id,
            ca: self.store.shared_ca.as_ref().map(|ca| self.resolve(ca)),
        }))
    }

    /// The clock the daemon runs on: the system clock, or `[clock] pinned` (checked when the file was read).
    pub fn clock(&self) -> oqs_clock::Clock {
        oqs_clock::Clock::from_setting(self.clock.pinned.as_deref()).unwrap_or_default()
    }

    /// `p` made absolute against the configuration's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    pub fn relay_folders(&self) -> crate::relay::Folders {
        crate::relay::Folders {
            req: self.resolve(&self.folders.req),
            res: self.resolve(&self.folders.res),
            face: self.resolve(&self.folders.face),
            work: self.resolve(&self.folders.work),
        }
    }

    pub fn central_config(&self) -> Result<central_client::CentralConfig, ConfigError> {
        let url = self.central.url.parse().map_err(|e| ConfigError::Invalid {
            path: self.base.clone(),
            problem: format!("central.url: {e}"),
        })?;
        let mut c = central_client::CentralConfig::new(
            url,
            self.resolve(&self.central.ca_cert),
            self.resolve(&self.central.terminal_cert),
            self.resolve(&self.central.terminal_key),
        );
        c.connect_timeout = Duration::from_millis(self.central.connect_timeout_ms);
        c.request_timeout = Duration::from_millis(self.central.request_timeout_ms);
        Ok(c)
    }

    /// Windows: `ipc.group` as the SID of the group whose members may open the pipe (`S-1-5-…`; a group
    /// name is refused, since resolving it would depend on the domain the PC is in at the time).
    pub fn ipc_group_sid(&self) -> Result<Option<String>, ConfigError> {
        match &self.ipc.group {
            None => Ok(None),
            Some(sid) if terminal_ipc::is_sid(sid) => Ok(Some(sid.clone())),
            Some(other) => Err(ConfigError::Invalid {
                path: self.base.clone(),
                problem: format!(
                    "ipc.group: `{other}` is not a SID; on Windows give the group's SID (S-1-5-…), \
                     e.g. from `Get-LocalGroup NAME | Select SID`"
                ),
            }),
        }
    }

    /// Windows has no numeric groups: `ipc.group` is a SID there ([`Config::ipc_group_sid`]).
    #[cfg(windows)]
    pub fn ipc_group_id(&self) -> Result<Option<u32>, ConfigError> {
        Ok(None)
    }

    /// The numeric id of `ipc.group`, looked up in `/etc/group`.
    #[cfg(not(windows))]
    pub fn ipc_group_id(&self) -> Result<Option<u32>, ConfigError> {
        let Some(name) = &self.ipc.group else {
            return Ok(None);
        };
        let groups = std::fs::read_to_string("/etc/group").map_err(|source| ConfigError::Read {
            path: "/etc/group".into(),
            source,
        })?;
        group_id(&groups, name)
            .map(Some)
            .ok_or_else(|| ConfigError::Invalid {
                path: self.base.clone(),
                problem: format!("ipc.group: there is no group `{name}` in /etc/group"),
            })
    }

    pub fn relay_settings(&self) -> crate::relay::RelaySettings {
        crate::relay::RelaySettings {
            result_encoding: self.relay.result_encoding,
            concurrency: self.relay.concurrency,
            rescan_interval: Duration::from_millis(self.relay.rescan_interval_ms),
            settle: Duration::from_millis(self.relay.settle_ms),
            ..crate::relay::RelaySettings::default()
        }
    }
}

/// The id of group `name` in the text of an `/etc/group` file (`name:password:gid:members`).
#[cfg_attr(windows, allow(dead_code))]
fn group_id(etc_group: &str, name: &str) -> Option<u32> {
    etc_group.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name)
            .then(|| fields.nth(1)?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oqs-readerd.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    #[test]
    fn the_windows_ipc_group_is_a_sid() {
        assert_eq!(load("").unwrap().ipc_group_sid().unwrap(), None);
        let config = load("[ipc]\ngroup = \"S-1-5-21-1-2-3-1001\"\n").unwrap();
        assert_eq!(
            config.ipc_group_sid().unwrap().as_deref(),
            Some("S-1-5-21-1-2-3-1001")
        );
        let config = load("[ipc]\ngroup = \"oqs-users\"\n").unwrap();
        let e = config.ipc_group_sid().unwrap_err().to_string();
        assert!(e.contains("is not a SID"), "{e}");
    }

    #[test]
    fn virtual_readers_only_in_a_test_build() {
        let loaded = load("[readers]\nvirtual_dir = \"cards\"\n");
        if cfg!(feature = "virtual-reader") {
            let config = loaded.unwrap();
            assert_eq!(config.readers.virtual_dir, Some(PathBuf::from("cards")));
        } else {
            let e = loaded.unwrap_err().to_string();
            assert!(e.contains("test builds only"), "{e}");
        }
    }

    #[test]
    fn empty_file_gives_working_defaults() {
        let config = load("").unwrap();
        assert_eq!(config.relay.concurrency, 8);
        assert!(config.relay_folders().req.ends_with("req"));
        assert!(config.relay_folders().req.is_absolute());
    }

    #[test]
    fn a_partial_section_keeps_the_other_defaults() {
        let config = load("[relay]\nconcurrency = 2\n").unwrap();
        assert_eq!(config.relay.concurrency, 2);
        assert_eq!(config.relay.settle_ms, 1_000);
    }

    #[test]
    fn the_example_file_is_valid() {
        let example = include_str!("../oqs-readerd.example.toml");
        let config = load(example).unwrap();
        assert_eq!(config.facility.medical_institution_code, "1311111111");
    }

    #[test]
    fn the_kiosk_display_defaults_and_countdown_are_read_and_checked() {
        let config = load("").unwrap();
        assert_eq!(
            config.kiosk.display(),
            terminal_ipc::KioskDisplay::default()
        );
        assert_eq!(config.kiosk.countdown_secs, 10);
        let config = load(
            "[kiosk]\ninactivity_timeout_secs = 30\ncountdown_secs = 5\n\
             default_layout = \"seated\"\ndefault_high_contrast = true\n",
        )
        .unwrap();
        assert_eq!(
            config.kiosk.display(),
            terminal_ipc::KioskDisplay {
                layout: terminal_ipc::KioskLayout::Seated,
                high_contrast: true,
                voice: terminal_ipc::KioskVoice::default(),
            }
        );
        assert_eq!(config.kiosk.countdown_secs, 5);
        let err = load("[kiosk]\ndefault_layout = \"wheelchair\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("wheelchair") && err.contains("seated") && err.contains("default_layout"),
            "{err}"
        );
        let err = load("[kiosk]\ndefault_high_contrast = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("default_high_contrast"), "{err}");
        let err = load("[kiosk]\ninactivity_timeout_secs = 10\ncountdown_secs = 10\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kiosk.countdown_secs (10) must be less than"),
            "{err}"
        );
        assert!(load("[kiosk]\ninactivity_timeout_secs = 10\ncountdown_secs = 0\n").is_ok());
    }

    #[test]
    fn the_kiosk_voice_is_on_by_default_and_its_volume_is_checked() {
        let voice = load("").unwrap().kiosk.display().voice;
        assert!(voice.on);
        assert!((voice.volume - 0.8).abs() < f32::EPSILON);
        let voice = load("[kiosk]\nvoice = false\nvoice_volume = 0.5\n")
            .unwrap()
            .kiosk
            .display()
            .voice;
        assert!(!voice.on);
        assert!((voice.volume - 0.5).abs() < f32::EPSILON);
        assert!(load("[kiosk]\nvoice_volume = 0.0\n").is_ok());
        assert!(load("[kiosk]\nvoice_volume = 1.0\n").is_ok());
        for bad in ["1.5", "-0.1", "nan"] {
            let err = load(&format!("[kiosk]\nvoice_volume = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("kiosk.voice_volume") && err.contains("0.0 (silent) to 1.0"),
                "{bad}: {err}"
            );
        }
        let err = load("[kiosk]\nvoice = \"yes\"\n").unwrap_err().to_string();
        assert!(err.contains("voice"), "{err}");
    }

    #[test]
    fn a_viewer_terminal_needs_the_shared_store_and_has_no_reader() {
        let shared =
            "[store]\nshared = \"host=/run/postgresql dbname=oqs\"\nterminal_id = \"room-3\"\n";
        let ok = load(&format!("[terminal]\nrole = \"viewer\"\n{shared}")).unwrap();
        assert!(ok.is_viewer());
        let shared_config = ok.shared_store().unwrap().unwrap();
        assert_eq!(shared_config.terminal_id, "room-3");
        assert_eq!(shared_config.ca, None);
        // The facility's CA, next to the configuration unless absolute.
        let with_ca = load(&format!("{shared}shared_ca = \"facility-db-ca.pem\"\n")).unwrap();
        let ca = with_ca.shared_store().unwrap().unwrap().ca.unwrap();
        assert!(
            ca.is_absolute() && ca.ends_with("facility-db-ca.pem"),
            "{ca:?}"
        );
        assert!(!load(shared).unwrap().is_viewer(), "reception by default");
        let err = load("[terminal]\nrole = \"viewer\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs [store] shared"), "{err}");
        for readers in [
            "[readers]\nnames = [\"A\"]\n",
            "[readers]\nface_capable = [\"A\"]\n",
            "[kiosk.east]\nreaders = [\"A\"]\n",
        ] {
            let err = load(&format!("[terminal]\nrole = \"viewer\"\n{shared}{readers}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("has no card reader"), "{readers}: {err}");
        }
        let err = load("[terminal]\nrole = \"doctor\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("doctor"), "{err}");
    }

    #[test]
    fn groups_are_found_by_name() {
        let etc = "root:x:0:\noqs:x:997:\nbroken\nweird:x:notanumber:\n";
        assert_eq!(group_id(etc, "oqs"), Some(997));
        assert_eq!(group_id(etc, "root"), Some(0));
        assert_eq!(group_id(etc, "weird"), None);
        assert_eq!(group_id(etc, "missing"), None);
        assert_eq!(group_id(etc, "broken"), None);
    }

    proptest::proptest! {
        #[test]
        fn group_lookup_never_panics(text in ".{0,200}", name in "[a-z:]{0,8}") {
            let _ = group_id(&text, &name);
        }
    }

    #[test]
    fn mistakes_are_named() {
        let err = load("[relay]\nconcurency = 3\n").unwrap_err().to_string();
        assert!(err.contains("concurency"), "{err}");
        let err = load("[facility]\nmedical_institution_code = \"123\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("10 digits"), "{err}");
        let err = load("[central]\nurl = \"http://x/\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("https"), "{err}");
        for at in ["7:30", "24:00", "07:60", "0730", "ab:cd"] {
            let err = load(&format!("[recheck]\nat = \"{at}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("recheck.at") && err.contains("HH:MM"), "{err}");
        }
        let ok = load(
            "[readers]\nnames = [\"A\", \"B\"]\n[kiosk]\ninactivity_timeout_secs = 60\n\
             [kiosk.east]\nreaders = [\"A\", \"B\"]\n",
        )
        .unwrap();
        assert_eq!(ok.kiosk.kiosk_pools()["east"], ["A", "B"]);
        for (text, want) in [
            ("[kiosk.east]\nreaders = []\n", "names no reader"),
            (
                "[readers]\nnames = [\"A\"]\n[kiosk.east]\nreaders = [\"A\", \"C\"]\n",
                "not in readers.names",
            ),
            (
                "[kiosk.east]\nreaders = [\"A\"]\n[kiosk.west]\nreaders = [\"A\"]\n",
                "two kiosks",
            ),
            (
                "[readers]\nnames = [\"A\"]\n[kiosk.A]\nreaders = [\"A\"]\n",
                "name of a reader",
            ),
            (
                "[kiosk]\ninactivity_timeot_secs = 3\n",
                "inactivity_timeot_secs",
            ),
        ] {
            let err = load(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
        let err = load("[recheck]\nreceipt_day = 31\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("receipt_day"), "{err}");
        let ok = load("[recheck]\nat = \"23:59\"\ndaily = false\nreceipt_day = 28\n").unwrap();
        assert_eq!(ok.recheck.minute_of_day(), Some(23 * 60 + 59));
        let err = load("[relay]\nresult_encoding = \"EUC-JP\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("EUC-JP") || err.contains("unknown variant"),
            "{err}"
        );
    }
}
